/**
 * The git plugin: provides {@link GitServiceKey} — check, inspect (`parse`) and check out Git
 * repositories with the system `git`, hardened as clone.ts describes. Clones live under
 * `git.workspace` (default `<data_dir>/git`); `parse` removes its clone before it returns.
 *
 * Config: see config.ts (`git:` — workspace, allow_schemes, timeout_seconds, max_repo_bytes,
 * max_concurrent, outbound.allow/deny).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import {
  AddressPolicy,
  AddressRefusedError,
  AddressUnresolvedError,
} from '../../core/domain/address-policy.ts';
import type { Logger } from '../../core/kernel/logger.ts';
import { definePlugin } from '../../core/kernel/plugin.ts';
import {
  type GitAuth,
  GitInputError,
  type GitService,
  GitServiceKey,
  type RepoInfo,
} from '../../core/slots/git.ts';
import { VERSION } from '../../core/version.ts';
import { shallowClone } from './clone.ts';
import { type GitConfig, gitConfigSchema } from './config.ts';
import { detect, nameFromUrl } from './detect.ts';
import { type CheckedUrl, checkBranch, checkUrl } from './url.ts';

const MAX_TOKEN = 4096;

/** At most `n` tasks at once; the rest wait in order. */
class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

export class GitServiceImpl implements GitService {
  readonly workspace: string;
  readonly #config: GitConfig;
  readonly #policy: AddressPolicy;
  readonly #logger: Logger | undefined;
  readonly #limit: Semaphore;

  constructor(opts: { config: GitConfig; workspace: string; logger?: Logger; policy?: AddressPolicy }) {
    this.#config = opts.config;
    mkdirSync(opts.workspace, { recursive: true, mode: 0o700 });
    this.workspace = realpathSync(opts.workspace);
    this.#policy = opts.policy ?? new AddressPolicy(opts.config.outbound);
    this.#logger = opts.logger;
    this.#limit = new Semaphore(opts.config.max_concurrent);
  }

  validate(url: string, branch?: string): string {
    const checked = checkUrl(url, this.#config.allow_schemes);
    if (branch !== undefined) checkBranch(branch);
    return checked.url;
  }

  #token(url: CheckedUrl, auth?: GitAuth): string | undefined {
    const token = auth?.token;
    if (token === undefined || token === '') return undefined;
    // The token becomes an HTTP header line: a CR or LF in it would add headers of the caller's choosing.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    if (token.length > MAX_TOKEN || /[\u0000-\u001f\u007f]/.test(token)) {
      throw new GitInputError('gitUrl', 'the access token is too long or contains control characters');
    }
    if (url.scheme !== 'https' && url.scheme !== 'http') {
      throw new GitInputError('gitUrl', 'an access token can only be used with https URLs');
    }
    return token;
  }

  /** The checked addresses to connect to; refuses hosts the outbound policy does not allow. */
  async #addresses(url: CheckedUrl): Promise<string[] | undefined> {
    if (url.scheme === 'file') return undefined;
    try {
      return await this.#policy.resolve(url.host, { timeoutMs: 5_000 });
    } catch (err) {
      if (err instanceof AddressUnresolvedError) {
        throw new GitInputError('gitUrl', `the host ${url.host} does not resolve`);
      }
      if (err instanceof AddressRefusedError) {
        throw new GitInputError('gitUrl', `the host ${url.host} is not allowed: ${err.message}`);
      }
      throw err;
    }
  }

  async #clone(url: string, branch: string | undefined, dest: string, auth?: GitAuth) {
    const checked = checkUrl(url, this.#config.allow_schemes);
    if (branch !== undefined) checkBranch(branch);
    const token = this.#token(checked, auth);
    const addresses = await this.#addresses(checked);
    return this.#limit.run(async () => {
      const home = mkdtempSync(join(this.workspace, '.home-'));
      try {
        return await shallowClone({
          url: checked,
          ...(branch !== undefined ? { branch } : {}),
          dest,
          home,
          allowSchemes: this.#config.allow_schemes,
          ...(addresses ? { addresses } : {}),
          ...(token ? { token } : {}),
          timeoutMs: this.#config.timeout_seconds * 1000,
          maxBytes: this.#config.max_repo_bytes,
          ...(this.#logger ? { logger: this.#logger } : {}),
        });
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    });
  }

  async parse(url: string, branch?: string, auth?: GitAuth): Promise<RepoInfo> {
    // Validate before creating anything, so a refused input leaves no directory behind.
    const checked = checkUrl(url, this.#config.allow_schemes);
    if (branch !== undefined) checkBranch(branch);
    this.#token(checked, auth);
    const work = join(this.workspace, `parse-${randomBytes(8).toString('hex')}`);
    try {
      const dest = join(work, 'repo');
      mkdirSync(work, { mode: 0o700 });
      const cloned = await this.#clone(url, branch, dest, auth);
      const found = detect(dest);
      if (found.ignoredSymlinks.length) {
        this.#logger?.warn({ files: found.ignoredSymlinks }, 'ignored symlinked files while detecting');
      }
      return {
        name: nameFromUrl(checked.url),
        type: found.type,
        runtime: found.runtime,
        defaultPort: found.defaultPort,
        commitHash: cloned.commitHash,
        branch: cloned.branch,
        hasDockerfile: found.hasDockerfile,
      };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  async checkout(url: string, branch: string, dest: string, auth?: GitAuth) {
    checkBranch(branch);
    const target = isAbsolute(dest) ? resolve(dest) : resolve(this.workspace, dest);
    // The parent must really be inside the workspace (symlinked parents included).
    const parent = dirname(target);
    const realParent = existsSync(parent) ? realpathSync(parent) : undefined;
    if (!realParent || !(realParent === this.workspace || realParent.startsWith(this.workspace + sep))) {
      throw new GitInputError('dest', 'the checkout directory must be inside the Git workspace');
    }
    if (existsSync(target)) throw new GitInputError('dest', 'the checkout directory already exists');
    const cloned = await this.#clone(url, branch, target, auth);
    return { commitHash: cloned.commitHash, removedSymlinks: cloned.removedSymlinks };
  }
}

export default definePlugin({
  name: 'git',
  version: VERSION,
  configSchema: gitConfigSchema,
  setup(ctx) {
    const { config } = ctx;
    const workspace = isAbsolute(config.workspace) ? config.workspace : join(ctx.dataDir, config.workspace);
    const service = new GitServiceImpl({ config, workspace, logger: ctx.logger });
    // Leftovers of parses interrupted by a crash: nothing else lives under these names.
    for (const entry of readdirSync(service.workspace)) {
      if (entry.startsWith('parse-') || entry.startsWith('.home-')) {
        rmSync(join(service.workspace, entry), { recursive: true, force: true });
      }
    }
    ctx.provide(GitServiceKey, service);
    if (config.allow_schemes.some((s) => s !== 'https')) {
      ctx.logger.warn(
        { allow_schemes: config.allow_schemes },
        'git.allow_schemes allows more than https: only do this on trusted networks',
      );
    }
  },
});
