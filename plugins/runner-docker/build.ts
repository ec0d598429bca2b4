/**
 * Image builds on a Docker engine (POST /build, the classic builder): the context directory is
 * sent as a tar written by tar.ts (symlinks as links, nothing outside the directory, bounded in
 * size), the Dockerfile must be a regular file in it, and output lines are handed to the caller
 * as they arrive.
 *
 * `rm` and `forcerm` make the engine remove every intermediate container, also when a step
 * fails, so a failed build leaves no container. The whole build has one deadline; when it
 * passes, or the caller aborts, the connection is cut, which cancels the build on the engine.
 */
import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import {
  type BuildContext,
  type BuildOptions,
  ImageBuildError,
  RunnerUnreachableError,
} from '../../core/slots/runner.ts';
import { readDockerignore } from './dockerignore.ts';
import { engineMessage, isEngineHttpError, statusOf, truncate } from './errors.ts';
import { ndjson } from './events.ts';
import { ContextError, collectEntries, tarStream } from './tar.ts';

/** Lower-case repository[:tag] only: the tag is ours, not a registry reference to resolve. */
const TAG_RE =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DOCKERFILE_RE = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/;
const DEFAULT_TIMEOUT_MS = 30 * 60_000;
const MAX_LINE = 2_000;

export interface BuildDeps {
  docker: Docker;
  /** The runner's call(): deadline, caller's signal, runner lifetime, connection errors translated. */
  call<T>(
    fn: (signal: AbortSignal) => Promise<T>,
    opts: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<T>;
}

interface BuildMessage {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

export async function buildImage(
  deps: BuildDeps,
  context: BuildContext,
  opts: BuildOptions,
): Promise<{ imageId: string }> {
  if (!TAG_RE.test(opts.tag)) throw new ImageBuildError('context', 'the image tag is not valid');
  const dockerfile = opts.dockerfile ?? 'Dockerfile';
  if (!DOCKERFILE_RE.test(dockerfile) || dockerfile.split('/').includes('..')) {
    throw new ImageBuildError('context', 'the Dockerfile path must be relative and inside the context');
  }
  let entries: ReturnType<typeof collectEntries>['entries'];
  try {
    const filter = readDockerignore(context.dir, [dockerfile]);
    entries = collectEntries(context.dir, {
      ...(context.exclude ? { exclude: context.exclude } : {}),
      ...(filter ? { filter } : {}),
      ...(opts.maxContextBytes !== undefined ? { maxBytes: opts.maxContextBytes } : {}),
    }).entries;
  } catch (err) {
    if (err instanceof ContextError) throw new ImageBuildError('context', err.message);
    throw new ImageBuildError('context', 'the build context cannot be read', { cause: err });
  }
  const df = entries.find((e) => e.path === dockerfile);
  if (!df) throw new ImageBuildError('context', `${dockerfile} is missing from the build context`);
  if (df.type !== 'file') {
    // A symlinked Dockerfile could make the engine read a file the repository does not hold.
    throw new ImageBuildError(
      'context',
      `${dockerfile} is a ${df.type === 'symlink' ? 'symlink' : 'directory'}, not a file`,
    );
  }

  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  const signal = AbortSignal.any([deadline.signal, ...(opts.signal ? [opts.signal] : [])]);
  const body = Readable.from(tarStream(context.dir, entries));
  let contextFailure: unknown;
  body.on('error', (err) => {
    contextFailure = err;
  });
  const query: Record<string, unknown> = {
    t: opts.tag,
    dockerfile,
    rm: true,
    forcerm: true,
    ...(opts.labels ? { labels: opts.labels } : {}),
    ...(opts.memory ? { memory: Math.round(opts.memory), memswap: Math.round(opts.memory) } : {}),
    ...(opts.cpu ? { cpuperiod: 100_000, cpuquota: Math.max(1_000, Math.round(opts.cpu * 100_000)) } : {}),
  };

  let failure: string | undefined;
  let imageId: string | undefined;
  try {
    let stream: Readable;
    try {
      stream = (await deps.call(
        (s) => deps.docker.buildImage(body as unknown as NodeJS.ReadableStream, { ...query, abortSignal: s }),
        { timeoutMs, signal },
      )) as Readable;
    } catch (err) {
      throw failed(err, deadline.signal, contextFailure);
    }
    const cut = () => stream.destroy();
    signal.addEventListener('abort', cut, { once: true });
    try {
      for await (const msg of ndjson<BuildMessage>(stream)) {
        const error = msg.errorDetail?.message ?? msg.error;
        if (error) {
          failure = String(error);
          opts.onOutput?.(truncate(failure, MAX_LINE));
          continue;
        }
        if (msg.aux?.ID) imageId = msg.aux.ID;
        const text = msg.stream ?? msg.status;
        if (text) {
          for (const line of text.split('\n')) {
            const trimmed = line.replace(/\r+$/, '');
            if (trimmed.trim()) opts.onOutput?.(truncate(trimmed, MAX_LINE));
            const built = /^Successfully built ([0-9a-f]{12,64})$/.exec(trimmed.trim());
            if (built && !imageId) imageId = built[1];
          }
        }
      }
    } catch (err) {
      if (!signal.aborted) throw failed(err, deadline.signal, contextFailure);
    } finally {
      signal.removeEventListener('abort', cut);
    }
    if (deadline.signal.aborted) {
      throw new ImageBuildError(
        'timeout',
        `the build did not finish within ${Math.round(timeoutMs / 1000)} s`,
      );
    }
    opts.signal?.throwIfAborted();
    if (failure) throw new ImageBuildError('failed', `the build failed: ${truncate(failure, 500)}`);
  } finally {
    clearTimeout(timer);
    body.destroy();
  }
  // The stream may end without an ID (an old engine, a proxy cutting it short): ask for the tag.
  try {
    const info = await deps.call(
      (s) => deps.docker.getImage(opts.tag).inspect({ abortSignal: s } as object),
      {},
    );
    return { imageId: info.Id };
  } catch (err) {
    if (err instanceof RunnerUnreachableError) throw err;
    if (statusOf(err) === 404) {
      throw new ImageBuildError('failed', 'the build ended without producing an image');
    }
    if (imageId) return { imageId };
    throw failed(err, deadline.signal, undefined);
  }
}

function failed(err: unknown, deadline: AbortSignal, contextFailure: unknown): unknown {
  if (deadline.aborted)
    return new ImageBuildError('timeout', 'the build did not finish in time', { cause: err });
  if (contextFailure instanceof ContextError) return new ImageBuildError('context', contextFailure.message);
  if (err instanceof RunnerUnreachableError || err instanceof ImageBuildError) return err;
  if (isEngineHttpError(err)) {
    return new ImageBuildError(
      'failed',
      `the engine refused the build: ${truncate(engineMessage(err), 500)}`,
      {
        cause: err,
      },
    );
  }
  return err;
}
