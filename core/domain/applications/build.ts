/**
 * Building an application's image from its Git repository on a Docker resource:
 *
 *   check out the branch (the git service: hardened, shallow, inside its workspace; symlinks
 *   that leave the checkout are deleted) → refuse a Dockerfile that is, or was, a symlink → use
 *   the repository's Dockerfile or write one for the recognised runtime → send the checkout
 *   (without .git, bounded) to a resource whose runner can build → remove the checkout.
 *
 * Output lines go on the event bus as `application:build` events, batched (a busy build must not
 * push run events out of the bus's replay buffer), and the last lines are kept for the status.
 * Nothing is reserved in the ledger while building, so a failed build holds no quota; the runner
 * removes the build's intermediate containers.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, lstatSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError, unavailable } from '../../kernel/errors.ts';
import type { Logger } from '../../kernel/logger.ts';
import type { GitService } from '../../slots/git.ts';
import { ImageBuildError, type Runner, RunnerUnreachableError } from '../../slots/runner.ts';
import type { EventBus } from '../events.ts';
import type { LedgerReader } from '../ledger/types.ts';
import { effectiveCapacity, type ResourceCatalog } from '../resources/types.ts';
import type { BaseImages } from './config.ts';
import { detectBuildRuntime, generateDockerfile, pythonEntry } from './dockerfile.ts';
import type { ApplicationRow } from './schema.ts';
import { gitApiError } from './service.ts';

const GiB = 2 ** 30;
const BATCH_MS = 250;
const BATCH_LINES = 100;
const KEEP_LINES = 200;

export interface BuildDeps {
  git: () => GitService | undefined;
  catalog: () => ResourceCatalog | undefined;
  ledger: () => LedgerReader | undefined;
  events: () => EventBus | undefined;
  gitToken: (row: ApplicationRow) => string | undefined;
  baseImages: BaseImages;
  timeoutMs: number;
  maxContextBytes: number;
  /** Limits of the build's own containers. */
  memory: number;
  cpu: number;
  nodeId: () => string | undefined;
  logger: Logger;
}

export interface BuildLine {
  at: string;
  text: string;
}

export interface BuiltImage {
  image: string;
  imageId: string;
  /** The resource the image exists on: the instances are placed there. */
  resourceId: string;
  commitHash: string;
  /** `docker` (the repository's Dockerfile) or the runtime a Dockerfile was generated for. */
  runtime: string;
}

/** The image tag of a build: the application's name and the commit. */
export const imageTag = (name: string, commit: string) => `iarnet/${name}:${commit.slice(0, 12)}`;

export class ApplicationBuilder {
  readonly #d: BuildDeps;
  readonly #recent = new Map<string, BuildLine[]>();
  readonly #running = new Map<string, AbortController>();

  constructor(deps: BuildDeps) {
    this.#d = deps;
  }

  /** Refuse, before anything changes, what cannot be built at all. */
  precheck(row: ApplicationRow): GitService {
    if (!row.gitUrl) {
      throw new ApiError(
        422,
        'IMAGE_REQUIRED',
        'Unprocessable',
        'The application has neither an image nor a gitUrl',
      );
    }
    const git = this.#d.git();
    if (!git) {
      throw unavailable('Building from Git needs the git plugin, which is not loaded', 'GIT_UNAVAILABLE');
    }
    return git;
  }

  /** The last build's output lines (most recent last). */
  recentOutput(appId: string): BuildLine[] {
    return this.#recent.get(appId) ?? [];
  }

  /** A build of this application is running now. */
  building(appId: string): boolean {
    return this.#running.has(appId);
  }

  /** Cancel a build in progress (the application is being stopped or the node shuts down). */
  cancel(appId: string): void {
    this.#running.get(appId)?.abort();
  }

  cancelAll(): void {
    for (const c of this.#running.values()) c.abort();
  }

  async build(row: ApplicationRow): Promise<BuiltImage> {
    const git = this.precheck(row);
    const { runner, resourceId } = await this.#builder(row);
    const dir = join(git.workspace, `build-${row.id}-${randomBytes(6).toString('hex')}`);
    const lines: BuildLine[] = [];
    this.#recent.set(row.id, lines);
    const out = this.#output(row, lines);
    const controller = new AbortController();
    this.#running.set(row.id, controller);
    try {
      out.line(`Cloning ${row.gitUrl} (${row.branch})`);
      let checkout: Awaited<ReturnType<GitService['checkout']>>;
      try {
        const token = this.#d.gitToken(row);
        checkout = await git.checkout(row.gitUrl, row.branch, dir, token ? { token } : undefined);
      } catch (err) {
        const api = gitApiError(err);
        throw api instanceof ApiError
          ? new ApiError(422, 'BUILD_FAILED', 'Image build failed', `${api.message}: ${api.details}`)
          : api;
      }
      out.line(`Checked out ${checkout.commitHash}`);
      const { dockerfile, runtime } = this.#dockerfile(row, dir, checkout.removedSymlinks ?? []);
      if (dockerfile) out.line(`No Dockerfile: generated one for ${runtime}`);
      const tag = imageTag(row.name, checkout.commitHash);
      out.line(`Building ${tag} on ${resourceId}`);
      const nodeId = this.#d.nodeId();
      const { imageId } = await runner.build!(
        { dir, exclude: ['.git'] },
        {
          tag,
          labels: { 'iarnet.app': row.id, ...(nodeId ? { 'iarnet.node': nodeId } : {}) },
          timeoutMs: this.#d.timeoutMs,
          maxContextBytes: this.#d.maxContextBytes,
          memory: this.#d.memory,
          cpu: this.#d.cpu,
          signal: controller.signal,
          onOutput: (line) => out.line(line),
        },
      );
      out.line(`Built ${tag} (${imageId})`);
      return { image: tag, imageId, resourceId, commitHash: checkout.commitHash, runtime };
    } catch (err) {
      const failure = buildError(err);
      out.line(`Build failed: ${failure.details ?? failure.message}`);
      throw failure;
    } finally {
      this.#running.delete(row.id);
      out.flush();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /**
   * Remove images built for the application except `keep` (its current image): after a deploy on
   * the resource that built it, and on every resource when the application is deleted. Each
   * redeploy of a new commit builds a new image, and nothing else ever removed the old ones.
   * Images a container still runs are left; failures are logged, never raised.
   */
  async prune(appId: string, keep: string[], resourceId?: string): Promise<void> {
    const catalog = this.#d.catalog();
    if (!catalog) return;
    const ids = resourceId
      ? [resourceId]
      : (await catalog.list()).filter((r) => r.status === 'connected').map((r) => r.id);
    for (const id of ids) {
      try {
        const runner = await catalog.runner(id);
        const removed = (await runner.pruneImages?.({ labels: { 'iarnet.app': appId } }, keep)) ?? 0;
        if (removed) this.#d.logger.info({ app: appId, resource: id, removed }, 'removed old built images');
      } catch (err) {
        this.#d.logger.warn({ app: appId, resource: id, err }, 'could not remove old built images');
      }
    }
  }

  /**
   * The Dockerfile to use: the repository's (a regular file), else a generated one. A Dockerfile
   * that is a symlink — or was one, deleted by the checkout because it led outside — is refused:
   * following it would build from a file of the host.
   */
  #dockerfile(row: ApplicationRow, dir: string, removed: string[]): { dockerfile: boolean; runtime: string } {
    const path = join(dir, 'Dockerfile');
    let st: ReturnType<typeof lstatSync> | undefined;
    try {
      st = lstatSync(path);
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink() || removed.includes('Dockerfile')) {
      throw new ApiError(
        422,
        'BUILD_REFUSED',
        'Image build refused',
        'the repository’s Dockerfile is a symlink; it must be a regular file',
      );
    }
    if (st?.isFile()) return { dockerfile: false, runtime: 'docker' };
    if (st) {
      throw new ApiError(
        422,
        'BUILD_REFUSED',
        'Image build refused',
        'the repository’s Dockerfile is not a file',
      );
    }
    const runtime = detectBuildRuntime(dir);
    if (!runtime) {
      throw new ApiError(
        422,
        'BUILD_REFUSED',
        'Image build refused',
        'the repository has no Dockerfile and no recognised runtime (Node, Python, Go or a static site)',
      );
    }
    const port = row.ports.find((p) => p.protocol === 'TCP')?.containerPort;
    const entry = runtime === 'python' ? pythonEntry(dir) : undefined;
    const text = generateDockerfile({
      runtime,
      baseImages: this.#d.baseImages,
      ...(port !== undefined ? { port } : {}),
      ...(entry ? { pythonEntry: entry } : {}),
    });
    // O_EXCL | O_NOFOLLOW: never write through a link or over a file that appeared meanwhile.
    const fd = openSync(
      path,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0),
      0o644,
    );
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    return { dockerfile: true, runtime };
  }

  /** A connected resource whose runner can build, preferring one with room for every instance. */
  async #builder(row: ApplicationRow): Promise<{ runner: Runner; resourceId: string }> {
    const catalog = this.#d.catalog();
    if (!catalog)
      throw unavailable('Building needs the resources module, which is not loaded', 'PLATFORM_UNAVAILABLE');
    const usage = (await this.#d.ledger()?.usageByResource()) ?? new Map();
    const need = {
      cpu: row.cpu * row.instances,
      memory: row.memory * GiB * row.instances,
      gpu: row.gpu * row.instances,
    };
    const candidates: { runner: Runner; resourceId: string; fits: boolean; free: number }[] = [];
    for (const r of await catalog.list()) {
      if (r.status !== 'connected') continue;
      let runner: Runner;
      try {
        runner = await catalog.runner(r.id);
      } catch {
        continue;
      }
      if (typeof runner.build !== 'function') continue;
      const cap = effectiveCapacity(r);
      const used = usage.get(r.id) ?? { cpuMilli: 0, memory: 0, gpu: 0 };
      const free = cap
        ? { cpu: cap.cpu - used.cpuMilli / 1000, memory: cap.memory - used.memory, gpu: cap.gpu - used.gpu }
        : undefined;
      const fits = !!free && free.cpu >= need.cpu && free.memory >= need.memory && free.gpu >= need.gpu;
      candidates.push({ runner, resourceId: r.id, fits, free: free?.cpu ?? 0 });
    }
    candidates.sort((a, b) => Number(b.fits) - Number(a.fits) || b.free - a.free);
    const best = candidates[0];
    if (!best) {
      throw new ApiError(
        503,
        'NO_BUILDER',
        'No resource can build',
        'No connected resource can build images (a Docker engine is needed)',
      );
    }
    return best;
  }

  /** Lines → kept (last KEEP_LINES) and emitted in batches. */
  #output(row: ApplicationRow, kept: BuildLine[]) {
    let batch: string[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (!batch.length) return;
      this.#d.events()?.emit('application:build', { applicationId: row.id, name: row.name, lines: batch });
      batch = [];
    };
    return {
      line: (text: string) => {
        kept.push({ at: new Date().toISOString(), text });
        if (kept.length > KEEP_LINES) kept.splice(0, kept.length - KEEP_LINES);
        batch.push(text);
        if (batch.length >= BATCH_LINES) flush();
        else if (!timer) timer = setTimeout(flush, BATCH_MS);
      },
      flush,
    };
  }
}

/** Any build failure as a client error with a reason the operator can act on. */
function buildError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ImageBuildError) {
    return new ApiError(
      err.reason === 'timeout' ? 504 : 422,
      err.reason === 'timeout'
        ? 'BUILD_TIMEOUT'
        : err.reason === 'context'
          ? 'BUILD_REFUSED'
          : 'BUILD_FAILED',
      'Image build failed',
      err.message,
    );
  }
  if (err instanceof RunnerUnreachableError) {
    return new ApiError(
      503,
      'RESOURCE_UNREACHABLE',
      'Resource unavailable',
      'The building resource could not be reached',
    );
  }
  if (err instanceof Error && err.name === 'AbortError') {
    return new ApiError(409, 'BUILD_CANCELLED', 'Conflict', 'The build was cancelled');
  }
  return new ApiError(502, 'BUILD_FAILED', 'Image build failed', 'The engine could not build the image');
}
