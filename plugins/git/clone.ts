/**
 * One shallow clone with the system `git`, hardened for untrusted URLs and servers:
 *
 * - started with execFile-style argv (never a shell), URL and directory after `--`;
 * - `protocol.allow=never` plus one `protocol.<scheme>.allow=always` per configured scheme, and
 *   GIT_ALLOW_PROTOCOL (which git also applies to submodules and helpers), so ext::, ssh and fd
 *   are unusable even if a URL slipped past the syntax checks;
 * - a private environment: no inherited GIT_* variables, no system or global config, an empty
 *   HOME, no terminal or askpass prompts, no credential helpers, no hooks, no submodules, no
 *   redirects (a redirect could lead to an address the policy refuses, or carry the token away);
 * - the host's address resolved and checked beforehand and pinned (http.curloptResolve for
 *   http(s), the IP literal for git://), so a second DNS answer cannot swap the target;
 * - the access token only in an http.extraHeader passed through GIT_CONFIG_COUNT/KEY/VALUE, so
 *   it is in no argv (visible in ps), log line or error;
 * - a wall-clock limit and a size limit on the checkout, enforced by killing the process group
 *   (git forks remote helpers, which must die too).
 */
import { spawn } from 'node:child_process';
import { lstatSync, readdirSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Logger } from '../../core/kernel/logger.ts';
import { GitFetchError } from '../../core/slots/git.ts';
import { GIT_SCHEMES, type GitScheme } from './config.ts';
import { type CheckedUrl, redactUrl } from './url.ts';

export interface CloneOptions {
  url: CheckedUrl;
  /** Omitted: the remote's default branch. */
  branch?: string;
  /** Directory to create; must not exist. */
  dest: string;
  /** An empty directory to serve as HOME. */
  home: string;
  allowSchemes: readonly GitScheme[];
  /** The checked addresses of the host, to connect to instead of resolving again (not for file://). */
  addresses?: string[];
  token?: string;
  timeoutMs: number;
  maxBytes: number;
  logger?: Logger;
  /** The git executable (tests may point elsewhere). */
  gitBinary?: string;
}

export interface CloneResult {
  commitHash: string;
  branch: string;
  /** Symlinks removed because they pointed outside the checkout (relative paths). */
  removedSymlinks: string[];
}

const STDERR_KEEP = 8 * 1024;
const SIZE_POLL_MS = 100;

/** The environment git runs with: nothing inherited except PATH. */
export function gitEnv(opts: {
  home: string;
  allowSchemes: readonly GitScheme[];
  config?: [string, string][];
}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: opts.home,
    XDG_CONFIG_HOME: join(opts.home, '.config'),
    LANG: 'C',
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    SSH_ASKPASS: '/bin/false',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_ALLOW_PROTOCOL: opts.allowSchemes.join(':'),
    GIT_PROTOCOL_FROM_USER: '0',
    GIT_LFS_SKIP_SMUDGE: '1',
  };
  const config = opts.config ?? [];
  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

/** `-c` options every git invocation gets. */
export function hardeningArgs(allowSchemes: readonly GitScheme[]): string[] {
  const args = ['-c', 'protocol.allow=never'];
  for (const s of GIT_SCHEMES) {
    args.push('-c', `protocol.${s}.allow=${allowSchemes.includes(s) ? 'always' : 'never'}`);
  }
  args.push(
    '-c',
    'protocol.ext.allow=never',
    '-c',
    'protocol.ssh.allow=never',
    '-c',
    'http.followRedirects=false',
    '-c',
    'credential.helper=',
    '-c',
    'core.hooksPath=/dev/null',
    '-c',
    'core.fsmonitor=false',
    '-c',
    'submodule.recurse=false',
    '-c',
    'core.askPass=/bin/false',
    '-c',
    'init.templateDir=',
  );
  return args;
}

/**
 * Approximate disk use under `dir` (lstat sizes, at least 512 bytes per entry, 4 KiB per
 * directory; symlinks not followed); stops counting once past `limit`.
 */
export function dirSize(dir: string, limit = Number.POSITIVE_INFINITY): number {
  let total = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        stack.push(p);
        total += 4096;
      } else {
        try {
          // Every entry costs at least a block: a million empty files is not a small repository.
          total += Math.max(lstatSync(p).size, 512);
        } catch {
          // git renames temporary files while we look
        }
      }
      if (total > limit) return total;
    }
  }
  return total;
}

/**
 * Remove every symlink in the working tree whose target lies outside `root` (absolute targets,
 * `..` beyond the root, or a resolved path outside it), so nothing reading the checkout later —
 * detection, an image build — can be led to the host's files.
 */
export function removeEscapingSymlinks(root: string): string[] {
  const realRoot = realpathSync.native(root);
  const removed: string[] = [];
  const inside = (p: string) => p === realRoot || p.startsWith(realRoot + sep);
  const stack = [root];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (!(d === root && e.name === '.git')) stack.push(p);
        continue;
      }
      if (!e.isSymbolicLink()) continue;
      const target = readlinkSync(p);
      let escapes = isAbsolute(target) || !inside(resolve(realRoot, relative(root, dirname(p)), target));
      if (!escapes) {
        try {
          escapes = !inside(realpathSync.native(p));
        } catch {
          // Dangling or a loop: harmless to keep only if it stays inside lexically (checked above).
        }
      }
      if (escapes) {
        rmSync(p, { force: true });
        removed.push(relative(root, p));
      }
    }
  }
  return removed;
}

function classify(stderr: string, branch?: string): GitFetchError {
  if (/Remote branch .* not found|couldn't find remote ref/i.test(stderr)) {
    return new GitFetchError(
      'not-found',
      `the branch ${branch ?? ''} does not exist in the repository`.replace('  ', ' '),
    );
  }
  if (
    /Could not resolve host|Connection refused|Failed to connect|unable to connect|Connection timed out|Network is unreachable|unable to look up/i.test(
      stderr,
    )
  ) {
    return new GitFetchError('unreachable', 'the Git server could not be reached');
  }
  if (/redirect/i.test(stderr)) {
    return new GitFetchError(
      'failed',
      'the Git server answered with a redirect, which IARNet does not follow',
    );
  }
  if (
    /not found|does not appear to be a git repository|Authentication failed|could not read Username|returned error: 40[134]|access denied|not exported/i.test(
      stderr,
    )
  ) {
    return new GitFetchError('not-found', 'the repository was not found or access was denied');
  }
  return new GitFetchError('failed', 'the repository could not be cloned');
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  killed?: 'timeout' | 'too-large';
}

/** Run git in its own process group with limits. The token never enters argv. */
function runGit(
  args: string[],
  env: Record<string, string>,
  opts: { timeoutMs: number; watchDir?: string; maxBytes?: number; gitBinary?: string; cwd?: string },
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(opts.gitBinary ?? 'git', args, {
      env,
      cwd: opts.cwd ?? env.HOME,
      detached: true, // its own process group: killing -pid takes remote helpers too
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: false,
    });
    let stdout = '';
    let stderr = '';
    let killed: RunResult['killed'];
    const killGroup = (why: RunResult['killed']) => {
      if (killed) return;
      killed = why;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < STDERR_KEEP) stdout += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-STDERR_KEEP);
    });
    const timer = setTimeout(() => killGroup('timeout'), opts.timeoutMs);
    const watcher =
      opts.watchDir && opts.maxBytes
        ? setInterval(() => {
            if (dirSize(opts.watchDir!, opts.maxBytes) > opts.maxBytes!) killGroup('too-large');
          }, SIZE_POLL_MS)
        : undefined;
    child.on('error', (err) => {
      clearTimeout(timer);
      clearInterval(watcher);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      clearInterval(watcher);
      // A last look: a clone that finished between two polls may still be over the limit.
      if (
        !killed &&
        opts.watchDir &&
        opts.maxBytes &&
        dirSize(opts.watchDir, opts.maxBytes) > opts.maxBytes
      ) {
        killed = 'too-large';
      }
      resolvePromise({ code, stdout, stderr, ...(killed ? { killed } : {}) });
    });
  });
}

/** Clone, then read the commit and branch. On any failure `dest` is removed. */
export async function shallowClone(o: CloneOptions): Promise<CloneResult> {
  const started = Date.now();
  const config: [string, string][] = [];
  let url = o.url.url;
  if (o.url.scheme === 'https' || o.url.scheme === 'http') {
    if (o.addresses?.length) {
      // curl connects only to these (every one of them was checked), never to a fresh DNS answer.
      const list = o.addresses.map((a) => (a.includes(':') ? `[${a}]` : a)).join(',');
      const host = o.url.host.includes(':') ? `[${o.url.host}]` : o.url.host;
      config.push(['http.curloptResolve', `${host}:${o.url.port}:${list}`]);
    }
    if (o.token) {
      const basic = Buffer.from(`x-access-token:${o.token}`, 'utf8').toString('base64');
      config.push(['http.extraHeader', `Authorization: Basic ${basic}`]);
    }
  } else if (o.url.scheme === 'git' && o.addresses?.length) {
    // git:// has no TLS name to keep: connect to a checked address itself (IPv4 first, as most
    // daemons listen there).
    const address = o.addresses.find((a) => !a.includes(':')) ?? o.addresses[0]!;
    const u = new URL(o.url.url);
    u.hostname = address.includes(':') ? `[${address}]` : address;
    url = u.toString();
  }
  const env = gitEnv({ home: o.home, allowSchemes: o.allowSchemes, config });
  const args = [
    ...hardeningArgs(o.allowSchemes),
    'clone',
    '--quiet',
    '--depth',
    '1',
    '--single-branch',
    '--no-recurse-submodules',
    '--no-tags',
    ...(o.branch ? ['--branch', o.branch] : []),
    '--',
    url,
    o.dest,
  ];
  const log = { url: redactUrl(o.url.url), branch: o.branch };
  const fail = (err: GitFetchError, detail?: string): never => {
    rmSync(o.dest, { recursive: true, force: true });
    o.logger?.info(
      { ...log, reason: err.reason, ms: Date.now() - started, ...(detail ? { stderr: detail } : {}) },
      'git clone failed',
    );
    throw err;
  };
  const scrub = (text: string) => {
    let t = text;
    if (o.token) t = t.split(o.token).join('[redacted]');
    return redactUrl(t).slice(-1000);
  };

  const res = await runGit(args, env, {
    timeoutMs: o.timeoutMs,
    watchDir: o.dest,
    maxBytes: o.maxBytes,
    ...(o.gitBinary ? { gitBinary: o.gitBinary } : {}),
  });
  if (res.killed === 'timeout') {
    fail(new GitFetchError('timeout', `cloning took longer than ${Math.round(o.timeoutMs / 1000)} s`));
  }
  if (res.killed === 'too-large') {
    fail(new GitFetchError('too-large', `the repository is larger than ${o.maxBytes} bytes`));
  }
  if (res.code !== 0) fail(classify(res.stderr, o.branch), scrub(res.stderr));

  // Read what was checked out, with the same sealed environment (the .git/config is our own).
  const plain = gitEnv({ home: o.home, allowSchemes: o.allowSchemes });
  const rev = await runGit([...hardeningArgs(o.allowSchemes), '-C', o.dest, 'rev-parse', 'HEAD'], plain, {
    timeoutMs: 10_000,
  });
  const commitHash = rev.stdout.trim();
  if (rev.code !== 0 || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commitHash)) {
    fail(new GitFetchError('failed', 'the clone has no commit'), scrub(rev.stderr));
  }
  let branch = o.branch;
  if (!branch) {
    const head = await runGit(
      [...hardeningArgs(o.allowSchemes), '-C', o.dest, 'symbolic-ref', '--short', '-q', 'HEAD'],
      plain,
      { timeoutMs: 10_000 },
    );
    branch = head.code === 0 ? head.stdout.trim() : 'HEAD';
  }
  const removedSymlinks = removeEscapingSymlinks(o.dest);
  if (removedSymlinks.length) {
    o.logger?.warn(
      { ...log, removed: removedSymlinks.slice(0, 20) },
      'removed symlinks that led outside the checkout',
    );
  }
  o.logger?.info({ ...log, commit: commitHash, ms: Date.now() - started }, 'git clone done');
  return { commitHash, branch, removedSymlinks };
}
