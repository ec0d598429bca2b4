/**
 * A Runner on one Docker engine (local socket, TCP/TLS, or a VM's engine over SSH).
 *
 * Every call that can hang has a deadline (config `request_timeout_ms`; stop/restart add the
 * grace period; pulls have their own bound). Connection failures become RunnerUnreachableError
 * with a generic message. Workloads are never created privileged, with host mounts, host
 * network/PID, added capabilities or devices other than the GPU request the spec asks for.
 */
import { statfs } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { conflict, notFound } from '../../core/kernel/errors.ts';
import type { Logger } from '../../core/kernel/logger.ts';
import {
  type BuildContext,
  type BuildOptions,
  type Capacity,
  ImagePullError,
  LABELS,
  type LogLine,
  type LogOptions,
  type PortMapping,
  type ResourceConnection,
  type Runner,
  type RunnerEvent,
  RunnerUnreachableError,
  type WorkloadInfo,
  type WorkloadSpec,
  type WorkloadState,
  type WorkloadStats,
} from '../../core/slots/runner.ts';
import { buildImage } from './build.ts';
import { DEFAULT_RUNNER_DOCKER_CONFIG, type RunnerDockerConfig } from './config.ts';
import {
  type DockerConnectionOptions,
  describeEndpoint,
  dockerOptionsFor,
  type Endpoint,
  parseEndpoint,
} from './connection.ts';
import {
  connectionFailureKind,
  DockerEngineError,
  DockerUnreachableError,
  engineMessage,
  isEngineHttpError,
  statusOf,
  translate,
  truncate,
  unreachable,
} from './errors.ts';
import { AsyncQueue, type EngineEventSource, ndjson, sleep, watchEngineEvents } from './events.ts';
import { decodeLogBuffer, decodeLogStream } from './logs.ts';
import { type DockerStatsSample, hasCpuSample, toWorkloadStats } from './stats.ts';

export interface DockerRunnerOptions {
  config?: Partial<RunnerDockerConfig>;
  logger?: Pick<Logger, 'warn' | 'debug'>;
}

/** Container ids and names: nothing that could change the API path they are put into. */
const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$/;
/** Image references: registry[:port]/path[:tag][@digest], no '..' or other path tricks. */
const IMAGE_RE =
  /^[a-zA-Z0-9][a-zA-Z0-9.-]*(?::\d{1,5})?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const LOGS_TIMEOUT_MS = 60_000;
const LIST_CONCURRENCY = 8;
const EVENT_FILTERS = { type: ['container'], event: ['start', 'die', 'destroy', 'oom'] };
const ZERO_TIME = '0001-01-01T00:00:00Z';

const STATES: Record<string, WorkloadState> = {
  created: 'created',
  running: 'running',
  paused: 'paused',
  restarting: 'restarting',
  removing: 'removing',
  exited: 'exited',
  dead: 'dead',
};

export class DockerRunner implements Runner {
  readonly type: string;
  readonly resourceId: string;
  readonly endpoint: Endpoint;
  private readonly docker: Docker;
  private readonly connection: ResourceConnection;
  private readonly options: DockerConnectionOptions;
  private readonly config: RunnerDockerConfig;
  private readonly logger: Pick<Logger, 'warn' | 'debug'> | undefined;
  private readonly closed = new AbortController();
  private readonly listeners = new Set<(e: RunnerEvent) => void>();

  constructor(connection: ResourceConnection, opts: DockerRunnerOptions = {}) {
    this.connection = connection;
    this.type = connection.type;
    this.resourceId = connection.id;
    this.config = { ...DEFAULT_RUNNER_DOCKER_CONFIG, ...opts.config };
    this.logger = opts.logger;
    this.endpoint = parseEndpoint(connection);
    this.options = dockerOptionsFor(connection, { timeoutMs: this.config.request_timeout_ms });
    this.docker = new Docker(this.options);
  }

  /** Where this runner connects, without credentials. */
  describe(): string {
    return describeEndpoint(this.endpoint);
  }

  // ---------------------------------------------------------------- capacity

  async capacity(): Promise<Capacity> {
    const info = await this.call((signal) => engineInfo(this.docker, signal));
    const declared = Number(this.connection.options?.gpu);
    const reported = gpusFromGenericResources(info.GenericResources);
    const hasNvidia = !!info.Runtimes && Object.keys(info.Runtimes).some((r) => r.includes('nvidia'));
    const gpu = Number.isInteger(declared) && declared >= 0 ? declared : reported;
    const parts = [
      `Docker ${info.ServerVersion ?? 'unknown version'}`,
      info.OperatingSystem ? `on ${info.OperatingSystem}` : undefined,
      info.Architecture ? `(${info.OSType ?? 'linux'}/${info.Architecture})` : undefined,
    ];
    if (hasNvidia && gpu === 0)
      parts.push('- nvidia runtime present, GPU count not reported (set options.gpu)');
    return {
      cpu: Number(info.NCPU) || 0,
      memory: Number(info.MemTotal) || 0,
      gpu,
      storage: storageFromDriverStatus(info.DriverStatus) ?? (await this.localDiskSize(info.DockerRootDir)),
      description: parts.filter(Boolean).join(' '),
    };
  }

  /** Size of the disk holding the engine's data root, when the engine is on this machine. */
  private async localDiskSize(root: unknown): Promise<number | undefined> {
    if (this.endpoint.kind !== 'unix' || typeof root !== 'string' || !root.startsWith('/')) return undefined;
    try {
      // When IARNet itself runs in a container the path is usually absent: then no answer.
      const s = await statfs(root);
      return s.blocks * s.bsize;
    } catch {
      return undefined;
    }
  }

  // ---------------------------------------------------------------- start

  async start(spec: WorkloadSpec, opts: { signal?: AbortSignal } = {}): Promise<WorkloadInfo> {
    checkSpec(spec);
    const signal = opts.signal;
    const existing = await this.byName(spec.name, signal);
    if (existing) return this.adopt(existing, spec, signal);

    await this.ensureImage(spec.image, signal);

    let id: string;
    try {
      const body = createBody(spec, this.config.gpu_driver);
      const container = await this.call((s) => this.docker.createContainer({ ...body, abortSignal: s }), {
        signal,
      });
      id = container.id;
    } catch (err) {
      if (statusOf(err) === 409) {
        // A concurrent or earlier attempt won the name: same allocation → that is our container.
        const again = await this.byName(spec.name, signal);
        if (again) return this.adopt(again, spec, signal);
      }
      throw engineError('create the container', err);
    }

    try {
      await this.startContainer(id, signal);
    } catch (err) {
      // Leave nothing half-made: a created-but-never-started container would hold the name.
      await this.remove(id).catch(() => undefined);
      throw err;
    }
    const info = await this.inspect(id);
    if (!info) throw new DockerEngineError('start the container', gone(id));
    return info;
  }

  /** The container with exactly this name (the engine also resolves ID prefixes, which must not count). */
  private async byName(name: string, signal?: AbortSignal): Promise<Docker.ContainerInspectInfo | undefined> {
    const raw = await this.inspectRaw(name, signal);
    return raw?.Name === `/${name}` ? raw : undefined;
  }

  /** A container with the spec's name exists: ours (same allocation) → finish starting it; else 409. */
  private async adopt(raw: Docker.ContainerInspectInfo, spec: WorkloadSpec, signal?: AbortSignal) {
    const alloc = spec.labels[LABELS.alloc];
    if (alloc === undefined || raw.Config?.Labels?.[LABELS.alloc] !== alloc) {
      throw conflict(`a container named "${spec.name}" already exists and belongs to another allocation`);
    }
    if (raw.State?.Status === 'created') await this.startContainer(raw.Id, signal);
    const info = await this.inspect(raw.Id);
    if (!info) throw new DockerEngineError('start the container', gone(raw.Id));
    return info;
  }

  private async startContainer(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.call((s) => this.docker.getContainer(id).start({ abortSignal: s }), { signal });
    } catch (err) {
      if (statusOf(err) === 304) return; // already running
      throw engineError('start the container', err);
    }
  }

  private async ensureImage(image: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.call(() => this.docker.getImage(image).inspect(), { signal });
      return;
    } catch (err) {
      if (statusOf(err) !== 404) throw engineError('inspect the image', err);
    }
    await this.pull(image, signal);
  }

  private async pull(image: string, signal?: AbortSignal): Promise<void> {
    let stream: Readable;
    try {
      stream = (await this.call((s) => this.docker.pull(image, { abortSignal: s }), { signal })) as Readable;
    } catch (err) {
      if (isEngineHttpError(err)) throw pullError(image, engineMessage(err), err);
      throw err;
    }
    // Progress is read with our own NDJSON reader rather than modem.followProgress: that one
    // JSON.parses inside a 'data' handler, so one malformed line from an engine would throw
    // out of the event loop and take the process down.
    let timedOut = false;
    const cut = () => stream.destroy();
    const timer = setTimeout(() => {
      timedOut = true;
      cut();
    }, this.config.pull_timeout_ms);
    signal?.addEventListener('abort', cut, { once: true });
    this.closed.signal.addEventListener('abort', cut, { once: true });
    let failure: string | undefined;
    let broken: unknown;
    try {
      for await (const ev of ndjson<PullMessage>(stream)) {
        const error = ev.errorDetail?.message ?? ev.error;
        if (error) {
          failure = String(error);
          continue;
        }
        this.emit({
          type: 'pull:progress',
          image,
          status: truncate(String(ev.status ?? ''), 200),
          ...(ev.progress ? { progress: truncate(String(ev.progress), 200) } : {}),
        });
      }
    } catch (err) {
      broken = err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', cut);
      this.closed.signal.removeEventListener('abort', cut);
    }
    if (timedOut) {
      const secs = Math.round(this.config.pull_timeout_ms / 1000);
      throw new ImagePullError(`image "${image}" could not be pulled: no result within ${secs} s`);
    }
    signal?.throwIfAborted();
    if (this.closed.signal.aborted) throw unreachable(this.resourceId, 'runner closed');
    if (failure) throw pullError(image, failure);
    if (broken) throw translate(this.resourceId, broken);
    // The stream can end cleanly without the image (e.g. a proxy cut it short): check.
    try {
      await this.call(() => this.docker.getImage(image).inspect(), { signal });
    } catch (err) {
      if (statusOf(err) === 404) throw pullError(image, 'image missing after pull');
      throw engineError('inspect the image', err);
    }
  }

  // ---------------------------------------------------------------- build

  /** See build.ts: tar of the context (links never followed), classic builder, no leftovers. */
  async build(context: BuildContext, opts: BuildOptions): Promise<{ imageId: string }> {
    return buildImage(
      {
        docker: this.docker,
        // One second of slack: the build's own deadline, not the transport's, should report a timeout.
        call: (fn, o) =>
          this.call(fn, { ...o, ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs + 1_000 } : {}) }),
      },
      context,
      opts,
    );
  }

  async pruneImages(filter: { labels: Record<string, string> }, keep: string[]): Promise<number> {
    const images = await this.call(() =>
      this.docker.listImages({
        filters: { label: Object.entries(filter.labels).map(([k, v]) => `${k}=${v}`) },
      }),
    );
    let removed = 0;
    for (const image of images) {
      if ((image.RepoTags ?? []).some((t) => keep.includes(t))) continue;
      try {
        // By id, so every tag of it goes (a rebuilt commit leaves its old image untagged).
        await this.call(() => this.docker.getImage(image.Id).remove({ force: false }));
        removed++;
      } catch (err) {
        // In use by a container (409) or already gone (404): left as it is.
        if (!isEngineHttpError(err) || (err.statusCode !== 409 && err.statusCode !== 404)) throw err;
      }
    }
    return removed;
  }

  // ---------------------------------------------------------------- lifecycle

  async stop(id: string, opts: { timeoutSeconds?: number } = {}): Promise<void> {
    const t = opts.timeoutSeconds ?? this.config.stop_timeout_seconds;
    if (!ID_RE.test(id)) throw notFound(`workload ${safeId(id)}`);
    try {
      await this.call((s) => this.docker.getContainer(id).stop({ t, abortSignal: s } as { t: number }), {
        timeoutMs: this.config.request_timeout_ms + t * 1000,
      });
    } catch (err) {
      if (statusOf(err) === 304) return; // already stopped
      if (statusOf(err) === 404) throw notFound(`workload ${id}`);
      throw engineError('stop the container', err);
    }
  }

  async restart(id: string, opts: { timeoutSeconds?: number } = {}): Promise<void> {
    const t = opts.timeoutSeconds ?? this.config.stop_timeout_seconds;
    if (!ID_RE.test(id)) throw notFound(`workload ${safeId(id)}`);
    try {
      await this.call((s) => this.docker.getContainer(id).restart({ t, abortSignal: s } as { t: number }), {
        timeoutMs: this.config.request_timeout_ms + t * 1000,
      });
    } catch (err) {
      if (statusOf(err) === 404) throw notFound(`workload ${id}`);
      throw engineError('restart the container', err);
    }
  }

  async remove(id: string): Promise<void> {
    if (!ID_RE.test(id)) return;
    try {
      await this.call((s) =>
        this.docker.getContainer(id).remove({ force: true, v: true, abortSignal: s } as { force: boolean }),
      );
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) return; // already gone
      if (status === 409 && /already in progress/i.test(engineMessage(err))) return;
      throw engineError('remove the container', err);
    }
  }

  // ---------------------------------------------------------------- queries

  async inspect(id: string): Promise<WorkloadInfo | undefined> {
    const raw = await this.inspectRaw(id);
    return raw ? toWorkloadInfo(raw) : undefined;
  }

  private async inspectRaw(
    id: string,
    signal?: AbortSignal,
  ): Promise<Docker.ContainerInspectInfo | undefined> {
    if (!ID_RE.test(id)) return undefined;
    try {
      return await this.call((s) => this.docker.getContainer(id).inspect({ abortSignal: s }), { signal });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw engineError('inspect the container', err);
    }
  }

  async list(filter: { labels: Record<string, string> }): Promise<WorkloadInfo[]> {
    const label = Object.entries(filter.labels).map(([k, v]) => `${k}=${v}`);
    let summaries: Docker.ContainerInfo[];
    try {
      summaries = await this.call((s) =>
        this.docker.listContainers({
          all: true,
          filters: { label },
          abortSignal: s,
        } as Docker.ContainerListOptions),
      );
    } catch (err) {
      throw engineError('list containers', err);
    }
    // The summary lacks limits, exit code and times; inspect each (a vanished one is skipped).
    const infos = await mapLimit(summaries, LIST_CONCURRENCY, (c) => this.inspect(c.Id));
    return infos.filter((i): i is WorkloadInfo => i !== undefined);
  }

  async *logs(id: string, opts: LogOptions): AsyncGenerator<LogLine> {
    const raw = await this.inspectRaw(id, opts.signal);
    if (!raw) throw notFound(`workload ${safeId(id)}`);
    const tty = !!raw.Config?.Tty;
    const query: Record<string, unknown> = { stdout: true, stderr: true, timestamps: true };
    if (opts.tail !== undefined) {
      if (!Number.isInteger(opts.tail) || opts.tail < 0)
        throw new RangeError('tail must be a whole number ≥ 0');
      query.tail = opts.tail;
    }
    if (opts.since !== undefined) query.since = toDockerSince(opts.since);
    const container = this.docker.getContainer(raw.Id);

    if (!opts.follow) {
      const out = await this.call(
        (s) => container.logs({ ...query, follow: false, abortSignal: s } as { follow: false }),
        { signal: opts.signal, timeoutMs: Math.max(LOGS_TIMEOUT_MS, this.config.request_timeout_ms) },
      ).catch((err) => {
        throw statusOf(err) === 404 ? notFound(`workload ${raw.Id}`) : engineError('read logs', err);
      });
      const buf = Buffer.isBuffer(out)
        ? out
        : Buffer.from(typeof out === 'string' ? out : JSON.stringify(out));
      yield* decodeLogBuffer(buf, { tty });
      return;
    }

    if (opts.signal?.aborted) return;
    const stream = (await this.call(
      (s) => container.logs({ ...query, follow: true, abortSignal: s } as { follow: true }),
      { signal: opts.signal },
    ).catch((err) => {
      if (opts.signal?.aborted) return undefined;
      throw statusOf(err) === 404 ? notFound(`workload ${raw.Id}`) : engineError('read logs', err);
    })) as Readable | undefined;
    if (!stream) return;
    const stop = () => stream.destroy();
    opts.signal?.addEventListener('abort', stop, { once: true });
    this.closed.signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const line of decodeLogStream(stream, { tty })) yield line;
    } catch (err) {
      if (opts.signal?.aborted || this.closed.signal.aborted) return;
      throw translate(this.resourceId, err);
    } finally {
      opts.signal?.removeEventListener('abort', stop);
      this.closed.signal.removeEventListener('abort', stop);
      stream.destroy();
    }
  }

  async stats(id: string): Promise<WorkloadStats> {
    if (!ID_RE.test(id)) throw notFound(`workload ${safeId(id)}`);
    const container = this.docker.getContainer(id);
    const read = async () => {
      try {
        return (await this.call((s) =>
          container.stats({ stream: false, abortSignal: s } as { stream: false }),
        )) as DockerStatsSample;
      } catch (err) {
        if (statusOf(err) === 404) throw notFound(`workload ${id}`);
        throw engineError('read stats', err);
      }
    };
    const first = await read();
    if (!hasCpuSample(first.cpu_stats)) return toWorkloadStats(first, undefined); // not running
    if (hasCpuSample(first.precpu_stats)) return toWorkloadStats(first, first.precpu_stats);
    // No previous reading from the engine: take our own second one.
    await sleep(this.config.stats_sample_ms, this.closed.signal);
    const second = await read();
    return toWorkloadStats(second, first.cpu_stats);
  }

  // ---------------------------------------------------------------- events

  async *events(opts: { signal: AbortSignal }): AsyncGenerator<RunnerEvent> {
    const local = new AbortController();
    const stop = AbortSignal.any([opts.signal, this.closed.signal, local.signal]);
    const queue = new AsyncQueue<RunnerEvent>();
    const push = (e: RunnerEvent) => queue.push(e);
    const onStop = () => queue.close();
    if (stop.aborted) return;
    stop.addEventListener('abort', onStop, { once: true });
    this.listeners.add(push);
    // Ends by itself when `stop` aborts (consumer done, caller's signal, or close()).
    void watchEngineEvents(this.eventSource(), push, stop, {
      backoffInitialMs: this.config.events_backoff_initial_ms,
      backoffMaxMs: this.config.events_backoff_max_ms,
      pingIntervalMs: this.config.events_ping_interval_ms,
    }).catch((err) => this.logger?.warn({ err, resource: this.resourceId }, 'docker event watcher failed'));
    try {
      yield* queue;
    } finally {
      this.listeners.delete(push);
      stop.removeEventListener('abort', onStop);
      local.abort();
      queue.close();
    }
  }

  private eventSource(): EngineEventSource {
    return {
      open: (since, signal) =>
        this.call(
          (s) =>
            this.docker.getEvents({
              ...(since !== undefined ? { since } : {}),
              filters: EVENT_FILTERS,
              abortSignal: s,
            } as Docker.GetEventsOptions) as Promise<Readable>,
          { signal },
        ),
      engineTime: async (signal) => {
        const info = await this.call((s) => engineInfo(this.docker, s), { signal });
        const t = Date.parse(String(info.SystemTime ?? ''));
        return Number.isNaN(t) ? undefined : t / 1000;
      },
      ping: async (signal) => {
        await this.call((s) => enginePing(this.docker, s), { signal });
      },
      describe: (err) =>
        err instanceof DockerUnreachableError
          ? err.kind
          : (connectionFailureKind(err) ??
            (isEngineHttpError(err) ? `engine answered HTTP ${err.statusCode}` : 'event stream failed')),
    };
  }

  private emit(e: RunnerEvent): void {
    for (const l of this.listeners) l(e);
  }

  async close(): Promise<void> {
    this.closed.abort();
    this.listeners.clear();
    this.options.agent?.destroy();
  }

  // ---------------------------------------------------------------- plumbing

  /**
   * Runs one engine call under a deadline, the caller's signal and the runner's lifetime.
   * The race makes the deadline hold even where the HTTP layer ignores the abort signal.
   */
  private async call<T>(
    fn: (signal: AbortSignal) => Promise<T>,
    opts: { timeoutMs?: number; signal?: AbortSignal | undefined } = {},
  ): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? this.config.request_timeout_ms;
    if (this.closed.signal.aborted) throw unreachable(this.resourceId, 'runner closed');
    opts.signal?.throwIfAborted();
    const deadline = new AbortController();
    const signal = AbortSignal.any([
      deadline.signal,
      this.closed.signal,
      ...(opts.signal ? [opts.signal] : []),
    ]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopListening = () => {};
    const interrupted = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(unreachable(this.resourceId, `no answer within ${formatSeconds(timeoutMs)}`));
        deadline.abort();
      }, timeoutMs);
      const onAbort = () =>
        reject(opts.signal?.aborted ? opts.signal.reason : unreachable(this.resourceId, 'runner closed'));
      signal.addEventListener('abort', onAbort, { once: true });
      stopListening = () => signal.removeEventListener('abort', onAbort);
    });
    try {
      // Promise.resolve().then: a synchronous throw from fn lands in the same path as a rejection.
      return await Promise.race([Promise.resolve().then(() => fn(signal)), interrupted]);
    } catch (err) {
      if (err instanceof RunnerUnreachableError) throw err;
      if (opts.signal?.aborted) throw opts.signal.reason ?? err;
      const kind = connectionFailureKind(err);
      if (kind) throw unreachable(this.resourceId, kind, err);
      throw err;
    } finally {
      clearTimeout(timer);
      stopListening();
    }
  }
}

function engineError(what: string, err: unknown): unknown {
  if (err instanceof RunnerUnreachableError || !isEngineHttpError(err)) return err;
  return new DockerEngineError(`docker engine could not ${what}`, err);
}

function pullError(image: string, engineText: string, cause?: unknown): ImagePullError {
  return new ImagePullError(`image "${image}" could not be pulled: ${pullFailureKind(engineText)}`, {
    cause,
  });
}

/**
 * A few words for why a pull failed. Not the engine's text: the registry address is the user's
 * choice, and "connection refused" vs "no such host" for arbitrary addresses would make the
 * engine a network scanner. The full text stays in `cause` for operators.
 */
export function pullFailureKind(text: string): string {
  if (/invalid reference format|repository name must|invalid tag|invalid reference/i.test(text)) {
    return 'invalid image reference';
  }
  if (
    /manifest unknown|not found|does not exist|pull access denied|unauthorized|authentication required|denied/i.test(
      text,
    )
  ) {
    return 'image not found or access denied';
  }
  if (
    /no such host|lookup |dial tcp|connection refused|timeout|timed out|unreachable|TLS|certificate|EOF|server gave HTTP response|proxyconnect/i.test(
      text,
    )
  ) {
    return 'registry unreachable';
  }
  if (/no space left/i.test(text)) return 'no disk space left on the engine';
  return 'pull failed';
}

function gone(id: string) {
  return Object.assign(new Error(`container ${id} vanished right after start`), { statusCode: 404 });
}

function safeId(id: string): string {
  return truncate(id.replace(/[^\w.-]/g, '?'), 80);
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

function checkSpec(spec: WorkloadSpec): void {
  if (!ID_RE.test(spec.name)) throw new RangeError('workload name must match [a-zA-Z0-9][a-zA-Z0-9_.-]*');
  if (!IMAGE_RE.test(spec.image) || spec.image.includes('..'))
    throw new RangeError('image is not a valid reference');
  const { cpu, memory, gpu } = spec.resources;
  if (!Number.isFinite(cpu) || cpu < 0) throw new RangeError('cpu must be a finite number ≥ 0');
  if (!Number.isFinite(memory) || memory < 0) throw new RangeError('memory must be a finite number ≥ 0');
  if (!Number.isInteger(gpu) || gpu < 0) throw new RangeError('gpu must be a whole number ≥ 0');
  for (const key of Object.keys(spec.env ?? {})) {
    if (!key || key.includes('=') || key.includes('\0'))
      throw new RangeError(`invalid environment variable name`);
  }
}

/** The engine's create body. Deliberately no Privileged, Binds, Mounts, NetworkMode/PidMode host, CapAdd or Devices. */
export function createBody(spec: WorkloadSpec, gpuDriver: string): Docker.ContainerCreateOptions {
  const { cpu, memory, gpu } = spec.resources;
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostPort: string }[]> = {};
  for (const p of spec.ports ?? []) {
    const key = `${p.containerPort}/${p.protocol}`;
    exposed[key] = {};
    const list = bindings[key] ?? [];
    list.push({ HostPort: p.hostPort ? String(p.hostPort) : '' });
    bindings[key] = list;
  }
  const hostConfig: Docker.HostConfig = {
    RestartPolicy:
      spec.restartPolicy === 'on-failure'
        ? { Name: 'on-failure', MaximumRetryCount: 0 }
        : { Name: spec.restartPolicy && spec.restartPolicy !== 'no' ? spec.restartPolicy : '' },
  };
  if (cpu > 0) hostConfig.NanoCpus = Math.round(cpu * 1e9);
  if (memory > 0) {
    hostConfig.Memory = Math.round(memory);
    // Equal to Memory: no swap on top of the limit, so the quota is the real ceiling.
    hostConfig.MemorySwap = Math.round(memory);
  }
  if (gpu > 0) hostConfig.DeviceRequests = [{ Driver: gpuDriver, Count: gpu, Capabilities: [['gpu']] }];
  if (Object.keys(bindings).length) hostConfig.PortBindings = bindings;
  return {
    name: spec.name,
    Image: spec.image,
    ...(spec.command?.length ? { Cmd: spec.command } : {}),
    Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
    Labels: { ...spec.labels },
    ...(Object.keys(exposed).length ? { ExposedPorts: exposed } : {}),
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    HostConfig: hostConfig,
  };
}

export function toWorkloadState(status: string | undefined): WorkloadState {
  return (status && STATES[status]) || 'unknown';
}

export function toWorkloadInfo(raw: Docker.ContainerInspectInfo): WorkloadInfo {
  const state = toWorkloadState(raw.State?.Status);
  const host = raw.HostConfig ?? {};
  const nano = host.NanoCpus ?? 0;
  const cpu = nano > 0 ? nano / 1e9 : host.CpuQuota && host.CpuPeriod ? host.CpuQuota / host.CpuPeriod : 0;
  const gpu = (host.DeviceRequests ?? [])
    .filter((d) => d.Capabilities?.some((caps) => caps.includes('gpu')))
    .reduce((n, d) => n + (d.Count && d.Count > 0 ? d.Count : (d.DeviceIDs?.length ?? 0)), 0);
  const info: WorkloadInfo = {
    id: raw.Id,
    name: (raw.Name ?? '').replace(/^\//, ''),
    image: raw.Config?.Image ?? raw.Image,
    state,
    labels: { ...(raw.Config?.Labels ?? {}) },
    resources: { cpu, memory: host.Memory ?? 0, gpu },
    createdAt: raw.Created,
    ports: portsOf(raw),
  };
  const s = raw.State;
  if (s?.StartedAt && s.StartedAt !== ZERO_TIME) info.startedAt = s.StartedAt;
  if (s?.FinishedAt && s.FinishedAt !== ZERO_TIME) info.finishedAt = s.FinishedAt;
  if (state === 'exited' || state === 'dead') {
    info.exitCode = s.ExitCode;
    info.reason = s.OOMKilled
      ? 'OOMKilled'
      : s.Error
        ? truncate(s.Error, 500)
        : s.ExitCode === 0
          ? 'Completed'
          : 'Error';
  } else if (state === 'created' && s?.Error) {
    info.reason = truncate(s.Error, 500);
  }
  return info;
}

function portsOf(raw: Docker.ContainerInspectInfo): WorkloadInfo['ports'] {
  const live = raw.NetworkSettings?.Ports ?? {};
  const configured = (raw.HostConfig?.PortBindings ?? {}) as Record<
    string,
    { HostIp?: string; HostPort?: string }[] | null
  >;
  const source = Object.keys(live).length ? live : configured;
  const out: WorkloadInfo['ports'] = [];
  for (const [key, bindings] of Object.entries(source)) {
    const [port, proto] = key.split('/');
    const containerPort = Number(port);
    if (!Number.isInteger(containerPort)) continue;
    const protocol: PortMapping['protocol'] = proto === 'udp' ? 'udp' : 'tcp';
    if (!bindings?.length) {
      out.push({ containerPort, protocol });
      continue;
    }
    for (const b of bindings) {
      const hostPort = Number(b.HostPort);
      out.push({
        containerPort,
        protocol,
        ...(hostPort > 0 ? { hostPort } : {}),
        ...(b.HostIp ? { hostIp: b.HostIp } : {}),
      });
    }
  }
  return out;
}

/** GPUs an engine advertises as generic resources (swarm-style `NVIDIA-GPU` / `gpu` kinds). */
export function gpusFromGenericResources(resources: unknown): number {
  if (!Array.isArray(resources)) return 0;
  let n = 0;
  for (const r of resources as {
    DiscreteResourceSpec?: { Kind?: string; Value?: number };
    NamedResourceSpec?: { Kind?: string };
  }[]) {
    if (/gpu/i.test(r.DiscreteResourceSpec?.Kind ?? '')) n += Number(r.DiscreteResourceSpec?.Value) || 0;
    if (/gpu/i.test(r.NamedResourceSpec?.Kind ?? '')) n += 1;
  }
  return n;
}

/** Storage drivers that report their pool size (devicemapper: "Data Space Total" = "107.4 GB"). */
export function storageFromDriverStatus(status: unknown): number | undefined {
  if (!Array.isArray(status)) return undefined;
  for (const entry of status as unknown[]) {
    if (!Array.isArray(entry) || entry[0] !== 'Data Space Total') continue;
    const m = /^([\d.]+)\s*([KMGTP]?i?B)$/i.exec(String(entry[1]).trim());
    if (!m) return undefined;
    const unit = m[2]!.toUpperCase();
    const pow = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'].indexOf(unit.replace('IB', 'B'));
    const base = unit.includes('I') ? 1024 : 1000;
    return pow >= 0 ? Math.round(Number(m[1]) * base ** pow) : undefined;
  }
  return undefined;
}

/** RFC 3339 (nanoseconds kept) or unix seconds → Docker's "seconds[.nanoseconds]". */
export function toDockerSince(since: string): string {
  const s = since.trim();
  if (/^\d{1,12}(\.\d{1,9})?$/.test(s)) return s;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(s);
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : Number.NaN;
  if (!m || Number.isNaN(ms)) throw new RangeError('since must be an RFC 3339 time or unix seconds');
  const secs = Math.floor(ms / 1000);
  return m[2] ? `${secs}.${m[2].padEnd(9, '0')}` : String(secs);
}

/** One line of a pull's progress stream. */
interface PullMessage {
  status?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** What `GET /info` answers (the parts used here). */
interface EngineInfo {
  NCPU?: number;
  MemTotal?: number;
  GenericResources?: unknown;
  Runtimes?: Record<string, unknown>;
  ServerVersion?: string;
  OperatingSystem?: string;
  OSType?: string;
  Architecture?: string;
  DriverStatus?: unknown;
  DockerRootDir?: string;
  SystemTime?: string;
}

type Signalled = { abortSignal: AbortSignal };

// dockerode honours `abortSignal` on these two; its type definitions omit the parameter.
function engineInfo(d: Docker, abortSignal: AbortSignal): Promise<EngineInfo> {
  return (d.info as unknown as (o: Signalled) => Promise<EngineInfo>).call(d, { abortSignal });
}
function enginePing(d: Docker, abortSignal: AbortSignal): Promise<unknown> {
  return (d.ping as unknown as (o: Signalled) => Promise<unknown>).call(d, { abortSignal });
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
