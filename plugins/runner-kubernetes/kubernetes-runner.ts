/**
 * A Runner on one Kubernetes cluster, in one namespace. Workloads are pods (pod-spec.ts) named
 * by the workload name, which is also their id: a retried start finds the pod it made (409 →
 * read → same allocation label → adopt), never a second one.
 *
 * Every non-streaming call has a deadline (`request_timeout_ms`); connection failures become
 * RunnerUnreachableError with a generic kind; a ResourceQuota refusal becomes 503 with the API
 * server's details; image pull failures ImagePullError; an unschedulable pod a 503 naming why.
 */
import {
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Pod,
  VersionApi,
  Watch,
} from '@kubernetes/client-node';
import { conflict, notFound } from '../../core/kernel/errors.ts';
import type { Logger } from '../../core/kernel/logger.ts';
import { interleave, newestLast } from '../../core/slots/log-merge.ts';
import {
  type Capacity,
  LABELS,
  type LogLine,
  type LogOptions,
  type ResourceConnection,
  type Runner,
  type RunnerEvent,
  RunnerPermissionError,
  type WorkloadInfo,
  type WorkloadSpec,
  type WorkloadStats,
} from '../../core/slots/runner.ts';
import { linkSignals } from './abort.ts';
import { kubeConfigFor, poolConnections } from './client.ts';
import { DEFAULT_RUNNER_KUBERNETES_CONFIG, NAMESPACE_RE, type RunnerKubernetesConfig } from './config.ts';
import { Deployments } from './deployments.ts';
import {
  connectionFailureKind,
  KubernetesApiError,
  KubernetesTimeoutError,
  startProblemError,
  statusOf,
  translate,
} from './errors.ts';
import { watchPodEvents } from './events.ts';
import { followLog } from './log-stream.ts';
import { afterSince, logQuery, parseLogBody, parseLogLine } from './logs.ts';
import { labelSelector } from './names.ts';
import { missingPermissions } from './permissions.ts';
import {
  buildPod,
  CONTAINER,
  checkSpec,
  GPU_RESOURCE,
  podProblem,
  podState,
  toWorkloadInfo,
} from './pod-spec.ts';
import { sumQuantities } from './quantity.ts';
import { metricsUnavailable, type PodMetricsObject, toWorkloadStats } from './stats.ts';
import { measuredUsage } from './usage.ts';

export interface KubernetesRunnerOptions {
  config?: Partial<RunnerKubernetesConfig>;
  logger?: Pick<Logger, 'warn' | 'debug'>;
}

/** How long a successful access check is trusted (refreshes call it every few seconds). */
const ACCESS_TTL_MS = 5 * 60_000;
/** Poll delays while waiting for a pod: quick at first (kwok/fast clusters), then gentler. */
/** How long a pod creation is retried while the API server answers "busy". */
const CREATE_RETRY_MS = 15_000;

/** An answer that means "try again shortly", not "no". */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof KubernetesApiError)) return false;
  const s = err.statusCode;
  if (s === 429 || s === 500 || s === 502 || s === 503 || s === 504) return true;
  // Admission plugins just after the API server started, and a new namespace whose "default"
  // ServiceAccount the controller-manager has not created yet (the ServiceAccount admission
  // plugin needs it even though the pod mounts no token).
  return s === 403 && /not yet ready|error looking up service account/i.test(err.message);
}

export const POLL_MS = [20, 30, 50, 50, 100, 100, 200, 200, 300, 500];

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export function namespaceOf(connection: ResourceConnection, fallback: string): string {
  const ns = connection.options?.namespace;
  if (ns === undefined) return fallback;
  if (typeof ns !== 'string' || !NAMESPACE_RE.test(ns)) {
    throw new RangeError('options.namespace must be a namespace name (DNS-1123 label)');
  }
  return ns;
}

/** A pod being re-created by restart(): the uid it had and how it is reported meanwhile. */
interface Restarting {
  oldUid: string | undefined;
  info: WorkloadInfo;
}

export class KubernetesRunner implements Runner {
  readonly type: string;
  readonly resourceId: string;
  readonly namespace: string;
  readonly kc: KubeConfig;
  private readonly core: CoreV1Api;
  /** Replicated workloads (WorkloadSpec.replicas > 1), run as Deployments. */
  private readonly deployments: Deployments;
  private readonly config: RunnerKubernetesConfig;
  private readonly logger: Pick<Logger, 'warn' | 'debug'> | undefined;
  private readonly closed = new AbortController();
  private accessCheckedAt = 0;
  private readonly closePool: () => void;
  /**
   * Pods being restarted (deleted and created again), by name, with the old pod's uid. Between
   * the delete and the new pod running, list/inspect report them as `restarting`, so the
   * reconciler does not release an allocation whose pod is only being replaced.
   */
  private readonly restarting = new Map<string, Restarting>();

  constructor(connection: ResourceConnection, opts: KubernetesRunnerOptions = {}) {
    this.type = connection.type;
    this.resourceId = connection.id;
    this.config = { ...DEFAULT_RUNNER_KUBERNETES_CONFIG, ...opts.config };
    this.logger = opts.logger;
    this.namespace = namespaceOf(connection, this.config.namespace);
    this.kc = kubeConfigFor(connection);
    this.closePool = poolConnections(this.kc);
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.deployments = new Deployments({
      namespace: this.namespace,
      apps: this.kc.makeApiClient(AppsV1Api),
      core: this.core,
      call: (what, fn) => this.call(what, fn),
      create: (what, fn, signal) => this.create(what, fn, signal),
      startTimeoutMs: this.config.start_timeout_ms,
      terminationGraceSeconds: this.config.stop_timeout_seconds,
      sleep,
      pollMs: (i) => POLL_MS[Math.min(i, POLL_MS.length - 1)]!,
    });
  }

  // ---------------------------------------------------------------- plumbing

  /** One API call with a deadline; errors translated (unreachable, quota, API answer). */
  private async call<T>(
    what: string,
    fn: () => Promise<T>,
    timeoutMs = this.config.request_timeout_ms,
  ): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const work = fn();
    // A late failure after the deadline has nobody to report to.
    work.catch(() => undefined);
    try {
      return await Promise.race([
        work,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new KubernetesTimeoutError(`${what}: no answer within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      throw translate(this.resourceId, what, this.namespace, err);
    } finally {
      clearTimeout(timer);
    }
  }

  private async readPod(name: string): Promise<V1Pod | undefined> {
    try {
      return await this.call('read the pod', () =>
        this.core.readNamespacedPod({ name, namespace: this.namespace }),
      );
    } catch (err) {
      if (err instanceof KubernetesApiError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  // ---------------------------------------------------------------- capacity and access

  async capacity(): Promise<Capacity> {
    const [nodes, version] = await Promise.all([
      this.call('list nodes', () => this.core.listNode({})).catch(async (err) => {
        // Refused: say which rights are missing (all of them, not just this first one).
        if (err instanceof KubernetesApiError && err.statusCode === 403) await this.checkAccess(true);
        throw err;
      }),
      this.call('read the version', () => this.kc.makeApiClient(VersionApi).getCode()).catch(() => undefined),
    ]);
    // Cordoned nodes take no new pods: their room is not capacity.
    const usable = nodes.items.filter((n) => !n.spec?.unschedulable);
    const lists = usable.map(
      (n) => (n.status?.allocatable ?? n.status?.capacity) as Record<string, string> | undefined,
    );
    const storage = sumQuantities(lists, 'ephemeral-storage');
    return {
      cpu: sumQuantities(lists, 'cpu'),
      memory: Math.floor(sumQuantities(lists, 'memory')),
      gpu: Math.floor(sumQuantities(lists, GPU_RESOURCE)),
      ...(storage > 0 ? { storage: Math.floor(storage) } : {}),
      description:
        `Kubernetes ${version?.gitVersion ?? ''} - ${usable.length} schedulable node${usable.length === 1 ? '' : 's'}, namespace ${this.namespace}`.replace(
          '  ',
          ' ',
        ),
    };
  }

  /** What IARNet's pods in the namespace use now (metrics.k8s.io); undefined without the metrics API. */
  usage() {
    return measuredUsage((what, fn) => this.call(what, fn), this.kc, this.namespace);
  }

  async checkAccess(force = false): Promise<void> {
    if (!force && Date.now() - this.accessCheckedAt < ACCESS_TTL_MS) return;
    const api = this.kc.makeApiClient(AuthorizationV1Api);
    const missing = await this.call('review access', () => missingPermissions(api, this.namespace));
    if (missing.length) throw new RunnerPermissionError(missing);
    this.accessCheckedAt = Date.now();
  }

  // ---------------------------------------------------------------- start

  async start(spec: WorkloadSpec, opts: { signal?: AbortSignal } = {}): Promise<WorkloadInfo> {
    checkSpec(spec);
    if ((spec.replicas ?? 1) > 1) return this.deployments.start(spec, opts.signal);
    const body = buildPod(spec, this.namespace, {
      terminationGraceSeconds: this.config.stop_timeout_seconds,
    });
    let pod: V1Pod;
    try {
      pod = await this.create(
        'create the pod',
        () => this.core.createNamespacedPod({ namespace: this.namespace, body }),
        opts.signal,
      );
    } catch (err) {
      if (!(err instanceof KubernetesApiError && err.statusCode === 409)) throw err;
      // The name is taken: an earlier attempt of this allocation (adopt it) or someone else (409).
      const existing = await this.readPod(spec.name);
      if (!existing) throw err;
      const alloc = spec.labels[LABELS.alloc];
      if (alloc === undefined || existing.metadata?.labels?.[LABELS.alloc] !== alloc) {
        throw conflict(`a pod named "${spec.name}" already exists and belongs to another allocation`);
      }
      if (existing.metadata?.deletionTimestamp) {
        throw conflict(`the pod "${spec.name}" is being deleted; try again`);
      }
      pod = existing;
    }
    return this.waitStarted(spec.name, pod, opts.signal);
  }

  /**
   * Create, retrying while the API server says it is briefly unable (429, 5xx, or an admission
   * plugin "not yet ready" just after it started). Safe: the name is deterministic, so a create
   * that did land answers 409 on the retry and is adopted.
   */
  private async create<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const deadline = Date.now() + Math.min(this.config.start_timeout_ms, CREATE_RETRY_MS);
    for (let delay = 100; ; delay = Math.min(delay * 2, 1_000)) {
      try {
        return await this.call(what, fn);
      } catch (err) {
        if (!isTransient(err) || Date.now() + delay > deadline || signal?.aborted) throw err;
        this.logger?.debug({ resource: this.resourceId, err }, `${what}: API server busy; retrying`);
        await sleep(delay, signal);
      }
    }
  }

  /** Wait until the pod runs (or has already finished), or fail with the reason it will not. */
  private async waitStarted(name: string, first: V1Pod, signal?: AbortSignal): Promise<WorkloadInfo> {
    const deadline = Date.now() + this.config.start_timeout_ms;
    let pod: V1Pod | undefined = first;
    for (let i = 0; ; i++) {
      if (pod) {
        const state = podState(pod);
        if (state === 'running' || state === 'exited' || state === 'restarting') return toWorkloadInfo(pod);
        const problem = podProblem(pod);
        if (problem) {
          throw startProblemError(problem, {
            image: pod.spec?.containers?.[0]?.image ?? '',
            namespace: this.namespace,
            what: 'start the pod',
          });
        }
        if (state === 'removing') throw conflict(`the pod "${name}" is being deleted`);
      } else {
        throw new KubernetesApiError(
          'start the pod',
          Object.assign(new Error('the pod vanished while starting'), { statusCode: 404 }),
        );
      }
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      if (Date.now() > deadline) {
        throw new KubernetesApiError(
          'start the pod',
          Object.assign(
            new Error(
              `the pod did not run within ${Math.round(this.config.start_timeout_ms / 1000)} s (phase ${pod.status?.phase ?? 'unknown'})`,
            ),
            { statusCode: 504 },
          ),
        );
      }
      await sleep(POLL_MS[Math.min(i, POLL_MS.length - 1)]!, signal);
      pod = await this.readPod(name);
    }
  }

  // ---------------------------------------------------------------- stop / restart / remove

  /** Delete the pod (a pod cannot be stopped and kept) and wait until it is gone, within the grace + 10 s. */
  async stop(id: string, opts: { timeoutSeconds?: number } = {}): Promise<void> {
    const grace = opts.timeoutSeconds ?? this.config.stop_timeout_seconds;
    // A pod first: the common case costs one call; only a name no pod has can be a Deployment.
    if (await this.deletePod(id, grace)) await this.waitGone(id, (grace + 10) * 1000);
    else if (await this.deployments.delete(id)) await this.deployments.waitGone(id, (grace + 30) * 1000);
  }

  async remove(id: string): Promise<void> {
    if (await this.deletePod(id, 0)) await this.waitGone(id, 10_000);
    else if (await this.deployments.delete(id)) await this.deployments.waitGone(id, 30_000);
  }

  /** Delete and create again from the same spec (a pod's containers cannot be restarted through the API). */
  async restart(id: string, opts: { timeoutSeconds?: number } = {}): Promise<void> {
    const pod = await this.readPod(id);
    if (!pod) {
      if (await this.deployments.read(id)) return this.deployments.restart(id);
      throw notFound(`Pod ${id}`);
    }
    const fresh: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: pod.metadata?.name ?? id,
        namespace: this.namespace,
        labels: { ...(pod.metadata?.labels ?? {}) },
        ...(pod.metadata?.annotations ? { annotations: { ...pod.metadata.annotations } } : {}),
      },
      // The scheduler places it again (its old node may be why it is being restarted).
      spec: { ...pod.spec!, nodeName: undefined } as V1Pod['spec'],
    };
    const grace = opts.timeoutSeconds ?? this.config.stop_timeout_seconds;
    this.restarting.set(id, {
      oldUid: pod.metadata?.uid,
      info: { ...toWorkloadInfo(pod), state: 'restarting', reason: 'being re-created by a restart' },
    });
    try {
      await this.deletePod(id, grace);
      if (!(await this.waitGone(id, (grace + 30) * 1000))) {
        throw new KubernetesApiError(
          'restart the pod',
          Object.assign(new Error('the old pod is still terminating'), { statusCode: 504 }),
        );
      }
      const created = await this.create('create the pod', () =>
        this.core.createNamespacedPod({ namespace: this.namespace, body: fresh }),
      );
      await this.waitStarted(id, created);
    } finally {
      this.restarting.delete(id);
    }
  }

  /** The pod as the reconciler should see it: a pod in the middle of a restart counts as restarting. */
  private view(
    name: string,
    pod: V1Pod | undefined,
    restarting: ReadonlyMap<string, Restarting> = this.restarting,
  ): WorkloadInfo | undefined {
    const r = restarting.get(name) ?? this.restarting.get(name);
    if (r && (!pod || pod.metadata?.uid === r.oldUid || pod.metadata?.deletionTimestamp)) return r.info;
    return pod ? toWorkloadInfo(pod) : undefined;
  }

  /** false when there was no such pod (deleting a gone pod is not an error). */
  private async deletePod(name: string, graceSeconds: number): Promise<boolean> {
    try {
      await this.call('delete the pod', () =>
        this.core.deleteNamespacedPod({
          name,
          namespace: this.namespace,
          gracePeriodSeconds: graceSeconds,
          propagationPolicy: 'Background',
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof KubernetesApiError && err.statusCode === 404) return false;
      throw err;
    }
  }

  /** true when the pod is gone within `ms`; false when it is still terminating. */
  private async waitGone(name: string, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (let i = 0; ; i++) {
      if (!(await this.readPod(name))) return true;
      if (Date.now() > deadline) return false;
      await sleep(POLL_MS[Math.min(i, POLL_MS.length - 1)]!);
    }
  }

  // ---------------------------------------------------------------- list / inspect

  async list(filter: { labels: Record<string, string> }): Promise<WorkloadInfo[]> {
    // Only objects with an allocation label are workloads: a Deployment's pods have none.
    const selector = [labelSelector(filter.labels), LABELS.alloc].filter(Boolean).join(',');
    // Restarts as they were when the listing began, and as they are now: one that ends while the
    // answer is on its way must not make the pod it deleted (absent from that answer) look vanished.
    const restarting = new Map([...this.restarting]);
    const [pods, deployments] = await Promise.all([
      this.call('list pods', () =>
        this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: selector }),
      ),
      this.deployments.list(selector),
    ]);
    const out = new Map<string, WorkloadInfo>();
    for (const pod of pods.items) {
      const name = pod.metadata?.name ?? '';
      const info = this.view(name, pod, restarting);
      if (info) out.set(name, info);
    }
    for (const [name, r] of new Map([...restarting, ...this.restarting])) {
      const matches = Object.entries(filter.labels).every(([k, v]) => r.info.labels[k] === v);
      if (!out.has(name) && matches) out.set(name, r.info);
    }
    for (const d of deployments) out.set(d.name, d);
    return [...out.values()];
  }

  async inspect(id: string): Promise<WorkloadInfo | undefined> {
    const pod = await this.readPod(id);
    return this.view(id, pod) ?? (await this.deployments.inspect(id));
  }

  /** The pods whose logs and stats make up workload `id`: itself, or a Deployment's pods. */
  private async podsOf(id: string): Promise<{ name: string; pod?: V1Pod }[]> {
    if (this.restarting.has(id)) return [{ name: id }];
    const pod = await this.readPod(id);
    if (pod) return [{ name: id, pod }];
    if (!(await this.deployments.read(id))) throw notFound(`Workload ${id}`);
    // As read here: stats need not read each pod again.
    return (await this.deployments.livePods(id)).map((p) => ({ name: p.metadata!.name!, pod: p }));
  }

  // ---------------------------------------------------------------- logs / stats

  /** A pod's log; a Deployment's is its pods' logs merged (those running when asked). */
  async *logs(id: string, opts: LogOptions): AsyncIterable<LogLine> {
    const pods = (await this.podsOf(id)).map((p) => p.name);
    if (pods.length === 1 && pods[0] === id) {
      yield* this.podLogs(id, opts);
      return;
    }
    if (!opts.follow) {
      const lists = await Promise.all(
        pods.map(async (pod) => {
          const out: LogLine[] = [];
          for await (const line of this.podLogs(pod, opts)) out.push(line);
          return out;
        }),
      );
      yield* newestLast(lists, opts.tail);
      return;
    }
    const { signal, release } = linkSignals(opts.signal, this.closed.signal);
    try {
      yield* interleave(
        pods.map((pod) => this.podLogs(pod, { ...opts, signal })),
        signal,
      );
    } finally {
      release();
    }
  }

  private async *podLogs(id: string, opts: LogOptions): AsyncIterable<LogLine> {
    const query = logQuery(opts);
    if (!opts.follow) {
      const body = await this.call('read the pod log', () =>
        this.core.readNamespacedPodLog({
          name: id,
          namespace: this.namespace,
          container: CONTAINER,
          timestamps: true,
          ...(query.tailLines !== undefined ? { tailLines: query.tailLines } : {}),
          ...(query.sinceTime !== undefined ? { sinceTime: query.sinceTime } : {}),
        }),
      );
      for (const line of parseLogBody(typeof body === 'string' ? body : String(body ?? ''))) {
        if (afterSince(line, opts)) yield line;
      }
      return;
    }
    const { signal, release } = linkSignals(opts.signal, this.closed.signal);
    try {
      for await (const raw of followLog(
        this.kc,
        this.namespace,
        id,
        CONTAINER,
        query,
        signal,
        this.config.request_timeout_ms,
      )) {
        const line = parseLogLine(raw);
        if (afterSince(line, opts)) yield line;
      }
    } catch (err) {
      if (signal.aborted) return;
      throw translate(this.resourceId, 'follow the pod log', this.namespace, err);
    } finally {
      release();
    }
  }

  /** A pod's usage; a Deployment's is the sum of its pods'. */
  async stats(id: string): Promise<WorkloadStats> {
    const pods = await this.podsOf(id);
    if (pods.length === 1 && pods[0]!.name === id) return this.podStats(id, pods[0]!.pod);
    const each = await Promise.all(pods.map((p) => this.podStats(p.name, p.pod)));
    const sum = (k: Exclude<keyof WorkloadStats, 'at'>) =>
      Math.round(each.reduce((n, s) => n + s[k], 0) * 100) / 100;
    return {
      cpuPercent: sum('cpuPercent'),
      memoryBytes: sum('memoryBytes'),
      memoryLimitBytes: sum('memoryLimitBytes'),
      networkRxBytes: sum('networkRxBytes'),
      networkTxBytes: sum('networkTxBytes'),
      blockReadBytes: sum('blockReadBytes'),
      blockWriteBytes: sum('blockWriteBytes'),
      at: each.map((s) => s.at).sort()[0] ?? new Date().toISOString(),
    };
  }

  /** `known`: the pod as just read by the caller, if it was. */
  private async podStats(id: string, known?: V1Pod): Promise<WorkloadStats> {
    const pod = known ?? (await this.readPod(id));
    if (!pod) throw notFound(`Pod ${id}`);
    const limit = toWorkloadInfo(pod).resources.memory;
    try {
      const m = (await this.call('read pod metrics', () =>
        this.kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
          group: 'metrics.k8s.io',
          version: 'v1beta1',
          namespace: this.namespace,
          plural: 'pods',
          name: id,
        }),
      )) as PodMetricsObject;
      return toWorkloadStats(m, limit);
    } catch (err) {
      if (err instanceof KubernetesApiError && (err.statusCode === 404 || err.statusCode === 503)) {
        throw metricsUnavailable(
          'The cluster does not serve metrics.k8s.io for this pod (is metrics-server installed? a new pod has no sample for about a minute)',
        );
      }
      if (err instanceof KubernetesApiError && err.statusCode === 403) {
        throw metricsUnavailable('The resource token may not read metrics.k8s.io pods in its namespace');
      }
      throw err;
    }
  }

  // ---------------------------------------------------------------- events

  events(opts: { signal: AbortSignal }): AsyncIterable<RunnerEvent> {
    const linked = linkSignals(opts.signal, this.closed.signal);
    const watch = new Watch(this.kc);
    const path = `/api/v1/namespaces/${this.namespace}/pods`;
    const events = watchPodEvents(
      {
        list: async () => {
          const pods = await this.call('list pods', () =>
            this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: LABELS.node }),
          );
          return { items: pods.items, resourceVersion: pods.metadata?.resourceVersion ?? '' };
        },
        watch: (resourceVersion, timeoutSeconds, onEvent, done) =>
          watch.watch(
            path,
            { labelSelector: LABELS.node, resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
            onEvent,
            done,
          ),
        unreachableKind: (err) => {
          if (err instanceof KubernetesTimeoutError) return 'timed out';
          const inner = (err as { cause?: unknown })?.cause;
          return (
            (err as { kind?: string })?.kind ??
            connectionFailureKind(err) ??
            (inner ? connectionFailureKind(inner) : undefined) ??
            (statusOf(err) === undefined && err instanceof Error ? 'connection failed' : undefined)
          );
        },
      },
      {
        signal: linked.signal,
        backoffInitialMs: this.config.events_backoff_initial_ms,
        backoffMaxMs: this.config.events_backoff_max_ms,
        watchSeconds: Math.max(1, Math.round(this.config.watch_idle_restart_ms / 1000)),
      },
    );
    return (async function* () {
      try {
        yield* events;
      } finally {
        linked.release();
      }
    })();
  }

  async close(): Promise<void> {
    this.closed.abort();
    this.closePool();
  }
}
