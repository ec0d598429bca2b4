/**
 * The Runner slot: one Runner per connected resource (a Docker engine, a Kubernetes cluster,
 * a VM's Docker engine over SSH). Runner plugins register a resource *type* and a factory that
 * turns a stored resource (URL + decrypted credentials) into a Runner. The domain (ledger,
 * scheduler, reconciler) talks only to this interface.
 */
import type { FieldError } from '../kernel/errors.ts';
import { serviceKey } from '../kernel/services.ts';

/** Labels IARNet puts on every workload it creates; the reconciler finds workloads by them. */
export const LABELS = {
  node: 'iarnet.node',
  alloc: 'iarnet.alloc',
  app: 'iarnet.app',
  resource: 'iarnet.resource',
} as const;

export interface WorkloadResources {
  /** Cores, fractional. */
  cpu: number;
  /** Bytes. */
  memory: number;
  /** Whole cards. */
  gpu: number;
}

export interface PortMapping {
  containerPort: number;
  /** Host port; 0 or absent lets the engine choose. */
  hostPort?: number;
  protocol: 'tcp' | 'udp';
}

export interface WorkloadSpec {
  /** Deterministic name, so a retried start never creates a second workload. */
  name: string;
  image: string;
  command?: string[];
  env?: Record<string, string>;
  resources: WorkloadResources;
  ports?: PortMapping[];
  labels: Record<string, string>;
  restartPolicy?: 'no' | 'on-failure' | 'always' | 'unless-stopped';
  /**
   * Identical copies to keep running (default 1). `resources` are per copy. Only runners that
   * declare `replicated` accept more than one; they run the copies as one workload the engine
   * keeps at that count (a Kubernetes Deployment), so one id, one allocation of replicas × resources.
   */
  replicas?: number;
}

export type WorkloadState =
  | 'created'
  | 'running'
  | 'paused'
  | 'restarting'
  | 'exited'
  | 'dead'
  | 'removing'
  | 'unknown';

export interface WorkloadInfo {
  /** Engine id (container id / pod uid). */
  id: string;
  name: string;
  image: string;
  state: WorkloadState;
  /** Exit code when exited. */
  exitCode?: number;
  /** Why it is not running, when the engine says (image pull failure, OOM, unschedulable). */
  reason?: string;
  labels: Record<string, string>;
  resources: WorkloadResources;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  ports: (PortMapping & { hostIp?: string })[];
  /**
   * For a replicated workload: how many copies it should run and how many are ready (its
   * `resources` are then the total of all copies, what its allocation books).
   */
  replicas?: { desired: number; ready: number };
}

export interface WorkloadStats {
  /** Percent of one core × cores (Docker's convention: 200 = two full cores). */
  cpuPercent: number;
  memoryBytes: number;
  memoryLimitBytes: number;
  networkRxBytes: number;
  networkTxBytes: number;
  blockReadBytes: number;
  blockWriteBytes: number;
  at: string;
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  /** RFC 3339 timestamp from the engine. */
  timestamp: string;
  message: string;
}

export interface LogOptions {
  follow?: boolean;
  /** Last N lines. */
  tail?: number;
  /** Only lines after this time (RFC 3339 or unix seconds). */
  since?: string;
  signal?: AbortSignal;
}

export type RunnerEvent =
  | {
      type: 'workload:started' | 'workload:exited' | 'workload:removed' | 'workload:oom';
      id: string;
      labels: Record<string, string>;
      exitCode?: number;
      at: string;
    }
  | { type: 'pull:progress'; image: string; status: string; progress?: string }
  | { type: 'engine:disconnected' | 'engine:connected'; at: string; reason?: string };

export interface Capacity {
  cpu: number;
  memory: number;
  gpu: number;
  /** Bytes; undefined when the engine does not say. */
  storage?: number;
  /** Free text for the operator: engine version, OS, node count. */
  description?: string;
}

/**
 * What an image is built from: a directory on this machine (a checkout the caller prepared).
 * Implementations send it as it is: symlinks travel as links and are never followed, nothing
 * outside `dir` is read.
 */
export interface BuildContext {
  dir: string;
  /** Top-level entries not to send (e.g. `.git`). */
  exclude?: string[];
}

export interface BuildOptions {
  /** Repository:tag to give the image. */
  tag: string;
  /** The Dockerfile's path inside the context; default `Dockerfile`. */
  dockerfile?: string;
  labels?: Record<string, string>;
  /** The whole build (upload included) is stopped after this. */
  timeoutMs?: number;
  /** A context larger than this is refused before anything is sent. */
  maxContextBytes?: number;
  /** Limits for the build's own containers (bytes, cores). */
  memory?: number;
  cpu?: number;
  signal?: AbortSignal;
  /** Each line of build output as it arrives. */
  onOutput?: (line: string) => void;
}

/** A build that could not produce an image; the message is safe to show to the operator. */
export class ImageBuildError extends Error {
  override name = 'ImageBuildError';
  readonly reason: 'context' | 'timeout' | 'failed';
  constructor(reason: 'context' | 'timeout' | 'failed', message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.reason = reason;
  }
}

export interface Runner {
  readonly type: string;
  /** Total capacity as the engine reports it. Throws RunnerUnreachableError when it cannot be reached. */
  capacity(): Promise<Capacity>;
  /** Pull the image if missing (emitting progress events), create and start. Returns the started workload. */
  start(spec: WorkloadSpec, opts?: { signal?: AbortSignal }): Promise<WorkloadInfo>;
  /** Stop gracefully (timeout in seconds, then kill). Stopping a stopped workload is not an error. */
  stop(id: string, opts?: { timeoutSeconds?: number }): Promise<void>;
  restart(id: string, opts?: { timeoutSeconds?: number }): Promise<void>;
  /** Remove (force-stops first). Removing a gone workload is not an error. */
  remove(id: string): Promise<void>;
  /** Workloads whose labels include every given label. */
  list(filter: { labels: Record<string, string> }): Promise<WorkloadInfo[]>;
  /** undefined when it does not exist. */
  inspect(id: string): Promise<WorkloadInfo | undefined>;
  logs(id: string, opts: LogOptions): AsyncIterable<LogLine>;
  /** One sample with a correct CPU percentage (computed from two readings). */
  stats(id: string): Promise<WorkloadStats>;
  /**
   * Build an image from a context directory (optional: runners that cannot build omit it). A
   * failed build leaves no container behind. Throws ImageBuildError (or RunnerUnreachableError).
   */
  build?(context: BuildContext, opts: BuildOptions): Promise<{ imageId: string }>;
  /**
   * Remove the images carrying every given label (images IARNet built), except those tagged with
   * one of `keep`. An image a container still uses is left (the engine refuses). Returns how many
   * were removed. Optional, like build().
   */
  pruneImages?(filter: { labels: Record<string, string> }, keep: string[]): Promise<number>;
  /** Engine events until the signal aborts. */
  events(opts: { signal: AbortSignal }): AsyncIterable<RunnerEvent>;
  /** Release connections. */
  close(): Promise<void>;
  /**
   * Optional: check that the credentials allow everything the runner needs (a connection test
   * calls it after capacity). Throws RunnerPermissionError naming what is missing.
   */
  checkAccess?(): Promise<void>;
  /**
   * Optional: what IARNet's workloads on this resource measurably use now, as the engine's
   * metrics say (Kubernetes: metrics.k8s.io), next to the ledger's reservations. undefined when
   * the engine serves no such metrics (or the credentials may not read them); never throws for that.
   */
  usage?(): Promise<MeasuredUsage | undefined>;
}

/**
 * Usage measured by the engine, not reserved: reservations (requests) say what a workload may
 * use, this says what it uses. Advisory only; the ledger never books from it.
 */
export interface MeasuredUsage {
  /** Cores in use (the engine's rate over its sampling window). */
  cpu: number;
  /** Bytes of memory in use (working set). */
  memory: number;
  /** When the engine sampled it (the oldest sample included), RFC 3339. */
  at: string;
  /**
   * What was measured. `workloads`: only IARNet's workloads on the resource (every IARNet node's,
   * e.g. pods labelled iarnet.alloc in the cluster resource's namespace): comparable to `used`.
   */
  scope: 'workloads';
  /** How many workloads the figure covers (those the engine has a sample for). */
  count: number;
}

/** A stored resource as a runner factory receives it: credentials already decrypted. */
export interface ResourceConnection {
  id: string;
  type: string;
  url: string;
  /** Bearer token, SSH password, etc. Never logged. */
  token?: string;
  tls?: { ca?: string; cert?: string; key?: string; skipVerify?: boolean };
  ssh?: { username: string; privateKey?: string; password?: string; port?: number };
  /** Kubernetes namespace and similar per-type options. */
  options?: Record<string, unknown>;
}

export class RunnerUnreachableError extends Error {
  override name = 'RunnerUnreachableError';
}
export class ImagePullError extends Error {
  override name = 'ImagePullError';
}
/** The credentials work but lack rights; `missing` are short phrases safe to show (e.g. "create pods in namespace x"). */
export class RunnerPermissionError extends Error {
  override name = 'RunnerPermissionError';
  readonly missing: string[];
  constructor(missing: string[]) {
    super(`the credentials lack: ${missing.join(', ')}`);
    this.missing = missing;
  }
}

export interface RunnerFactory {
  type: string;
  /** Its runners accept `WorkloadSpec.replicas` > 1 (the scheduler places replicated runs only there). */
  replicated?: boolean;
  /**
   * What its runners can never run of a request (e.g. host ports on Kubernetes), as field errors;
   * empty or absent when they can. The scheduler skips such resources, and a run pinned to one is
   * refused with these errors before anything is booked.
   */
  unsupported?(request: { ports?: PortMapping[] }): FieldError[];
  create(connection: ResourceConnection): Runner;
  /** The resource the node registers by itself in its mode (the local Docker engine in standalone). */
  detectDefault?(): Promise<ResourceConnection | undefined>;
}

/** Runner plugins add their factory here; the resource manager looks types up in it. */
export interface RunnerTypes {
  register(factory: RunnerFactory): void;
  get(type: string): RunnerFactory | undefined;
  types(): string[];
}

export const RunnerTypesKey = serviceKey<RunnerTypes>('runner-types');
