/**
 * A runner that runs nothing: start() answers a running WorkloadInfo at once, so a benchmark
 * measures admission (HTTP, auth, validation, catalog, ledger) and not an engine. It registers
 * under the type `docker` (the catalog only knows docker, kubernetes and vm), so load it in a node
 * WITHOUT plugins/runner-docker; its detectDefault() makes the node register it as the built-in
 * `local-docker` resource on a socket path that does not exist. Capacity is as large as the
 * catalog accepts, so only the node's resource_limits can bind.
 */
import { randomBytes } from 'node:crypto';
import { definePlugin } from '../../core/kernel/plugin.ts';
import {
  type Capacity,
  type LogLine,
  type ResourceConnection,
  type Runner,
  type RunnerEvent,
  type RunnerFactory,
  RunnerTypesKey,
  type WorkloadInfo,
  type WorkloadSpec,
  type WorkloadStats,
} from '../../core/slots/runner.ts';

export const NOOP_SOCKET_URL = 'unix:///run/iarnet-bench-noop.sock';

/** Largest capacity the catalog's sanity check accepts (connection-test.ts LIMITS). */
const CAPACITY: Capacity = { cpu: 1_000_000, memory: 2 ** 60, gpu: 0, description: 'no-op bench runner' };

export class NoopRunner implements Runner {
  readonly type = 'docker';
  /** What it "runs", so the reconciler's list() agrees with the ledger. */
  readonly #workloads = new Map<string, WorkloadInfo>();
  readonly #byName = new Map<string, WorkloadInfo>();

  async capacity(): Promise<Capacity> {
    return CAPACITY;
  }

  async start(spec: WorkloadSpec): Promise<WorkloadInfo> {
    const existing = this.#byName.get(spec.name);
    if (existing) return existing;
    const now = new Date().toISOString();
    const info: WorkloadInfo = {
      id: randomBytes(32).toString('hex'),
      name: spec.name,
      image: spec.image,
      state: 'running',
      labels: spec.labels,
      resources: spec.resources,
      createdAt: now,
      startedAt: now,
      ports: [],
    };
    this.#workloads.set(info.id, info);
    this.#byName.set(info.name, info);
    return info;
  }

  async stop(id: string): Promise<void> {
    const w = this.#workloads.get(id);
    if (w) w.state = 'exited';
  }

  async restart(): Promise<void> {}

  async remove(idOrName: string): Promise<void> {
    const w = this.#workloads.get(idOrName) ?? this.#byName.get(idOrName);
    if (!w) return;
    this.#workloads.delete(w.id);
    this.#byName.delete(w.name);
  }

  async list(filter: { labels: Record<string, string> }): Promise<WorkloadInfo[]> {
    const wanted = Object.entries(filter.labels);
    return [...this.#workloads.values()].filter((w) => wanted.every(([k, v]) => w.labels[k] === v));
  }

  async inspect(id: string): Promise<WorkloadInfo | undefined> {
    return this.#workloads.get(id);
  }

  async *logs(): AsyncIterable<LogLine> {}

  async stats(): Promise<WorkloadStats> {
    return {
      cpuPercent: 0,
      memoryBytes: 0,
      memoryLimitBytes: 0,
      networkRxBytes: 0,
      networkTxBytes: 0,
      blockReadBytes: 0,
      blockWriteBytes: 0,
      at: new Date().toISOString(),
    };
  }

  /** No events until the caller stops listening. */
  async *events(opts: { signal: AbortSignal }): AsyncIterable<RunnerEvent> {
    if (opts.signal.aborted) return;
    await new Promise<void>((resolve) =>
      opts.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
  }

  async close(): Promise<void> {}
}

export function noopRunnerFactory(): RunnerFactory {
  return {
    type: 'docker',
    create: (_connection: ResourceConnection) => new NoopRunner(),
    detectDefault: async () => ({ id: 'local-docker', type: 'docker', url: NOOP_SOCKET_URL }),
  };
}

/** Registers the no-op factory as type `docker`. Do not load together with runner-docker. */
export const noopRunnerPlugin = definePlugin({
  name: 'bench-noop-runner',
  version: '0.0.0',
  dependencies: ['resources'],
  setup(ctx) {
    ctx.use(RunnerTypesKey).register(noopRunnerFactory());
  },
});
