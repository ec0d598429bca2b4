/**
 * Running containers: the POST /run flow of the design document (validate → check resources →
 * start → update usage) made crash-safe. The allocation is reserved before the engine is asked,
 * committed once the workload runs, and released on any failure, so nothing is ever left
 * half-allocated; the workload's deterministic name makes a retried start find, not duplicate, it.
 */

import { ApiError, type FieldError } from '../kernel/errors.ts';
import type { FirstHook, PluginHooks, SerialHook, WaterfallHook } from '../kernel/hooks.ts';
import type { Logger } from '../kernel/logger.ts';
import { serviceKey } from '../kernel/services.ts';
import type { Principal } from '../slots/auth.ts';
import {
  ImagePullError,
  LABELS,
  type LogLine,
  type LogOptions,
  type PortMapping,
  type RunnerFactory,
  RunnerUnreachableError,
  type WorkloadInfo,
  type WorkloadStats,
} from '../slots/runner.ts';
import type { EventBus } from './events.ts';
import { QuotaExceededError, type QuotaLedger } from './ledger/ledger.ts';
import type { Allocation } from './ledger/types.ts';
import { effectiveCapacity, type ResourceCatalog } from './resources/types.ts';

export interface RunRequest {
  image: string;
  command?: string[];
  /** Cores. */
  cpuMilli: number;
  /** Bytes. */
  memory: number;
  gpu: number;
  env?: Record<string, string>;
  ports?: PortMapping[];
  resourceId?: string;
  appId?: string;
  /**
   * Identical copies kept running as one workload (default 1); cpu/memory/gpu are per copy. Placed
   * only on resources whose runner is replicated (Kubernetes: a Deployment), booked as one
   * allocation of the total, and never forwarded to a peer.
   */
  replicas?: number;
}

/** Where a run that did not fit locally was placed instead (by a peer node). */
export interface RemotePlacement {
  nodeId: string;
  containerId: string;
  allocationId: string;
  resourceId: string;
}

/** A run this node placed on a peer, as the origin lists it (the peer's ledger books it). */
export interface RemoteContainer {
  nodeId: string;
  containerId: string;
  allocationId: string;
  resourceId: string;
  image: string;
  command?: string[];
  cpuMilli: number;
  memory: number;
  gpu: number;
  /** ISO time of the placement. */
  createdAt: string;
  /** ISO time this node stopped it on the peer, when it did. */
  stoppedAt?: string;
}

declare module '../kernel/hooks.ts' {
  interface IarnetHooks {
    /** Admission: throw ApiError to refuse a run before anything is reserved. */
    'run:validate': SerialHook<[request: RunRequest, principal: Principal]>;
    /**
     * The run does not fit on this node (quota or no resource with room). A handler may place it
     * elsewhere (e.g. on a peer with room) and return where; undefined keeps the 503. `refusal`
     * is the local error, to report what was tried.
     */
    'run:overflow': FirstHook<
      [request: RunRequest, principal: Principal, refusal: ApiError],
      RemotePlacement
    >;
    /** Runs placed on peers, for this node's container list and /status (each handler appends). */
    'containers:remote': WaterfallHook<RemoteContainer[]>;
    /**
     * Stop, restart or delete a run this node placed on a peer (`ref`: its container or
     * allocation id). undefined: `ref` is not such a run. Otherwise the run after a stop or
     * restart, or 'removed'.
     */
    'containers:remote-control': FirstHook<
      [op: 'stop' | 'restart' | 'remove', ref: string],
      RemoteContainer | 'removed'
    >;
    /** One resource-use sample of a run this node placed on a peer; undefined: not such a run. */
    'containers:remote-stats': FirstHook<[ref: string], WorkloadStats>;
    /** The log of a run this node placed on a peer, read from that peer; undefined: not such a run. */
    'containers:remote-logs': FirstHook<
      [ref: string, opts: LogOptions & { signal: AbortSignal }],
      AsyncIterable<LogLine>
    >;
  }
}

export type RunResult =
  | { where: 'local'; allocation: Allocation; workload: WorkloadInfo }
  | { where: 'remote'; placement: RemotePlacement };

export function quotaError(e: QuotaExceededError): ApiError {
  // The body is the design document's, exactly; which limit was hit goes into the code.
  return new ApiError(
    503,
    e.scope === 'node' ? 'QUOTA_EXCEEDED' : 'NO_RESOURCE_WITH_ROOM',
    'Resource limit exceeded',
    e.message,
  );
}

export class RunService {
  readonly #ledger: QuotaLedger;
  readonly #catalog: ResourceCatalog;
  readonly #events: EventBus;
  readonly #hooks: PluginHooks;
  readonly #nodeId: string;
  readonly #log: Logger;
  readonly #runnerType: (type: string) => RunnerFactory | undefined;
  /** Allocations whose workload this process is starting (reserved, not yet committed or given up). */
  readonly #starting = new Set<string>();

  constructor(deps: {
    ledger: QuotaLedger;
    catalog: ResourceCatalog;
    events: EventBus;
    hooks: PluginHooks;
    nodeId: string;
    logger: Logger;
    /** The runner factory of a resource type: what its runners can and cannot run. */
    runnerType?: (type: string) => RunnerFactory | undefined;
  }) {
    this.#ledger = deps.ledger;
    this.#catalog = deps.catalog;
    this.#events = deps.events;
    this.#hooks = deps.hooks;
    this.#nodeId = deps.nodeId;
    this.#log = deps.logger;
    this.#runnerType = deps.runnerType ?? (() => undefined);
  }

  async run(req: RunRequest, principal: Principal): Promise<RunResult> {
    await this.#hooks.call('run:validate', req, principal);
    const resources = await this.#catalog.list();
    if (req.resourceId) {
      const target = resources.find((r) => r.id === req.resourceId);
      if (!target) {
        throw new ApiError(
          400,
          'VALIDATION_FAILED',
          'Invalid request',
          `No resource has id ${req.resourceId}`,
          {
            fields: [{ path: 'resource_id', message: 'no such resource' }],
          },
        );
      }
      if (target.status !== 'connected') {
        throw new ApiError(
          503,
          'RESOURCE_UNREACHABLE',
          'Resource unavailable',
          `Resource ${target.name} is ${target.status}${target.statusReason ? `: ${target.statusReason}` : ''}`,
        );
      }
    }
    const replicas = req.replicas ?? 1;
    const able = this.#able(req, resources);
    const candidates = able.flatMap((r) => {
      const cap = r.status === 'connected' ? effectiveCapacity(r) : undefined;
      return cap
        ? [
            {
              id: r.id,
              name: r.name,
              capacity: { cpuMilli: Math.round(cap.cpu * 1000), memory: cap.memory, gpu: cap.gpu },
            },
          ]
        : [];
    });

    let allocation: Allocation;
    try {
      allocation = await this.#ledger.reserve({
        cpuMilli: req.cpuMilli * replicas,
        memory: req.memory * replicas,
        gpu: req.gpu * replicas,
        ...(replicas > 1 ? { replicas } : {}),
        image: req.image,
        ...(req.command ? { command: req.command } : {}),
        owner: principal.id,
        ...(req.appId ? { appId: req.appId } : {}),
        ...(req.resourceId ? { resourceId: req.resourceId } : {}),
        candidates,
      });
    } catch (e) {
      if (!(e instanceof QuotaExceededError)) throw e;
      const refusal = quotaError(e);
      // Requests pinned to a local resource, runs forwarded by a peer (one hop only), and
      // replicated runs (peers take single containers) stay here.
      if (!req.resourceId && principal.kind !== 'node' && replicas === 1) {
        const placement = await this.#hooks.call('run:overflow', req, principal, refusal);
        if (placement) return { where: 'remote', placement };
      }
      throw refusal;
    }

    this.#starting.add(allocation.id);
    try {
      const runner = await this.#catalog.runner(allocation.resourceId);
      const workload = await runner.start({
        name: allocation.workloadName,
        image: req.image,
        ...(req.command ? { command: req.command } : {}),
        ...(req.env ? { env: req.env } : {}),
        ...(req.ports ? { ports: req.ports } : {}),
        resources: { cpu: req.cpuMilli / 1000, memory: req.memory, gpu: req.gpu },
        labels: {
          [LABELS.node]: this.#nodeId,
          [LABELS.alloc]: allocation.id,
          [LABELS.resource]: allocation.resourceId,
          ...(req.appId ? { [LABELS.app]: req.appId } : {}),
        },
        restartPolicy: 'no',
        ...(replicas > 1 ? { replicas } : {}),
      });
      // The committed row is known without reading it back, unless a stop raced the start.
      const committedAt = new Date().toISOString();
      const committed = (await this.#ledger.commit(allocation.id, workload.id, workload.state, committedAt))
        ? {
            ...allocation,
            state: 'committed' as const,
            workloadId: workload.id,
            workloadState: workload.state,
            committedAt,
          }
        : ((await this.#ledger.get(allocation.id)) ?? allocation);
      this.#events.emit('run:started', {
        allocationId: allocation.id,
        containerId: workload.id,
        image: req.image,
        resourceId: allocation.resourceId,
        nodeId: this.#nodeId,
      });
      return { where: 'local', allocation: committed, workload };
    } catch (e) {
      await this.#abandon(allocation, e);
      throw this.#startError(e, allocation);
    } finally {
      this.#starting.delete(allocation.id);
    }
  }

  /**
   * Whether this process is starting the allocation's workload now. The reconciler leaves such
   * reservations alone: only a reservation nobody is starting (its process died) is a leftover.
   */
  isStarting(allocationId: string): boolean {
    return this.#starting.has(allocationId);
  }

  /** Why resources of this type can never run the request (field errors; empty: they can). */
  #refusals(type: string, req: RunRequest): FieldError[] {
    const factory = this.#runnerType(type);
    return [
      ...((req.replicas ?? 1) > 1 && !factory?.replicated
        ? [{ path: 'replicas', message: `${type} resources run one container per run` }]
        : []),
      ...(factory?.unsupported?.(req) ?? []),
    ];
  }

  /**
   * The resources that could run the request at all, before any room is looked at. A run pinned
   * to a resource that cannot is a 400 with the reasons; so is a run no resource could ever take.
   * A replicated run without a resource type that replicates is a 503 NO_REPLICATED_RESOURCE: the
   * caller may start the copies one by one instead (the application deployer does).
   */
  #able<R extends { id: string; name: string; type: string }>(req: RunRequest, resources: R[]): R[] {
    const refuse = (r: R, fields: FieldError[]) =>
      new ApiError(
        400,
        'VALIDATION_FAILED',
        'Invalid request',
        `Resource ${r.name} (${r.type}) cannot run this: ${fields[0]!.path}: ${fields[0]!.message}`,
        { fields },
      );
    if (req.resourceId) {
      const target = resources.find((r) => r.id === req.resourceId)!;
      const fields = this.#refusals(target.type, req);
      if (fields.length) throw refuse(target, fields);
      return [target];
    }
    const able = resources.filter((r) => !this.#refusals(r.type, req).length);
    if (able.length || !resources.length) return able;
    if (
      (req.replicas ?? 1) > 1 &&
      resources.some((r) => !this.#refusals(r.type, { ...req, replicas: 1 }).length)
    ) {
      throw new ApiError(
        503,
        'NO_REPLICATED_RESOURCE',
        'Resource limit exceeded',
        'No connected resource runs replicated workloads (a Kubernetes cluster does)',
      );
    }
    throw refuse(resources[0]!, this.#refusals(resources[0]!.type, req));
  }

  /** Undo a start that failed after the reservation: remove any half-created workload, release. */
  async #abandon(allocation: Allocation, cause: unknown): Promise<void> {
    if (cause instanceof RunnerUnreachableError) {
      await this.#catalog
        .markUnreachable(allocation.resourceId, 'the engine could not be reached')
        .catch(() => {});
    } else {
      try {
        const runner = await this.#catalog.runner(allocation.resourceId);
        await runner.remove(allocation.workloadName);
      } catch (err) {
        this.#log.warn({ err, allocation: allocation.id }, 'could not remove a workload whose start failed');
      }
    }
    if (!(await this.#ledger.release(allocation.id, 'start-failed', undefined, { removed: true }))) {
      await this.#ledger.markRemoved(allocation.id);
    }
    this.#events.emit('run:failed', { allocationId: allocation.id, resourceId: allocation.resourceId });
  }

  #startError(e: unknown, allocation: Allocation): ApiError {
    if (e instanceof ApiError) return e;
    if (e instanceof RunnerUnreachableError) {
      return new ApiError(
        503,
        'RESOURCE_UNREACHABLE',
        'Resource unavailable',
        'The chosen resource could not be reached; nothing was started',
      );
    }
    if (e instanceof ImagePullError)
      return new ApiError(422, 'IMAGE_PULL_FAILED', 'Image cannot be pulled', e.message);
    this.#log.error({ err: e, allocation: allocation.id }, 'start failed');
    return new ApiError(
      502,
      'ENGINE_ERROR',
      'Engine error',
      'The engine refused to start the container; nothing was left running',
    );
  }

  /** Stop a workload and release its allocation (exactly once, whoever gets there first). */
  async stop(a: Allocation): Promise<void> {
    if (a.workloadId) {
      const runner = await this.#runnerOrUnavailable(a.resourceId);
      // Tells the reconciler (which may see the exit first, from the engine's event) why it exited.
      if (a.state !== 'released') await this.#ledger.setWorkloadState(a.id, 'stopping');
      await engineCall(() => runner.stop(a.workloadId!));
    }
    if (await this.#ledger.release(a.id, 'stopped', 'exited')) {
      this.#events.emit('run:stopped', {
        allocationId: a.id,
        containerId: a.workloadId,
        resourceId: a.resourceId,
      });
    } else {
      await this.#ledger.setWorkloadState(a.id, 'exited');
    }
  }

  async restart(a: Allocation): Promise<void> {
    if (a.state === 'released') return this.#startAgain(a);
    if (!a.workloadId)
      throw new ApiError(409, 'NOT_STARTED', 'Conflict', 'This container is still being started');
    const runner = await this.#runnerOrUnavailable(a.resourceId);
    await engineCall(() => runner.restart(a.workloadId!));
    this.#events.emit('run:restarted', {
      allocationId: a.id,
      containerId: a.workloadId,
      resourceId: a.resourceId,
    });
  }

  /**
   * Restart of a stopped container: its quota was released, so it is booked again on its resource
   * (refused with 503 when that has no room now), the engine starts the same container, and the
   * allocation is committed again. Nothing stays booked when the engine cannot start it.
   */
  async #startAgain(a: Allocation): Promise<void> {
    const gone = () =>
      new ApiError(
        409,
        'NOT_RUNNING',
        'Conflict',
        'This container no longer exists on its engine; start a new run instead',
      );
    if (a.removedAt || !a.workloadId) throw gone();
    const resource = await this.#catalog.get(a.resourceId);
    const cap = resource?.status === 'connected' ? effectiveCapacity(resource) : undefined;
    if (!resource || !cap) throw resourceUnusable();
    const runner = await this.#runnerOrUnavailable(a.resourceId);
    // A Kubernetes pod is deleted when stopped: there is nothing to start again.
    if (!(await engineCall(() => runner.inspect(a.workloadId!)))) throw gone();
    this.#starting.add(a.id);
    try {
      let booked: boolean;
      try {
        booked = await this.#ledger.reactivate(a, {
          id: resource.id,
          name: resource.name,
          capacity: { cpuMilli: Math.round(cap.cpu * 1000), memory: cap.memory, gpu: cap.gpu },
        });
      } catch (e) {
        throw e instanceof QuotaExceededError ? quotaError(e) : e;
      }
      if (!booked)
        throw new ApiError(409, 'NOT_STOPPED', 'Conflict', 'This container was started or deleted meanwhile');
      try {
        await engineCall(() => runner.restart(a.workloadId!));
      } catch (e) {
        await this.#ledger.release(a.id, 'start-failed');
        throw e;
      }
      await this.#ledger.commit(a.id, a.workloadId, 'running');
    } finally {
      this.#starting.delete(a.id);
    }
    this.#events.emit('run:started', {
      allocationId: a.id,
      containerId: a.workloadId,
      image: a.image,
      resourceId: a.resourceId,
      nodeId: this.#nodeId,
    });
  }

  async remove(a: Allocation): Promise<void> {
    const runner = await this.#runnerOrUnavailable(a.resourceId);
    await engineCall(() => runner.remove(a.workloadId ?? a.workloadName));
    // One write when it was still active: never listed as released but not yet deleted.
    const released = await this.#ledger.release(a.id, 'removed', 'removed', { removed: true });
    if (!released) await this.#ledger.markRemoved(a.id);
    this.#events.emit(released ? 'run:stopped' : 'run:removed', {
      allocationId: a.id,
      containerId: a.workloadId,
      resourceId: a.resourceId,
    });
  }

  async #runnerOrUnavailable(resourceId: string) {
    try {
      return await this.#catalog.runner(resourceId);
    } catch {
      throw resourceUnusable();
    }
  }
}

const resourceUnusable = () =>
  new ApiError(
    503,
    'RESOURCE_UNREACHABLE',
    'Resource unavailable',
    'The resource of this container cannot be used right now',
  );

/** Engine failures on an existing workload, as client errors: unreachable → 503, other → 502. */
export async function engineCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ApiError) throw e;
    if (e instanceof RunnerUnreachableError) {
      throw new ApiError(
        503,
        'RESOURCE_UNREACHABLE',
        'Resource unavailable',
        'The engine could not be reached; nothing was changed',
      );
    }
    throw new ApiError(502, 'ENGINE_ERROR', 'Engine error', 'The engine refused the operation');
  }
}

export const RunServiceKey = serviceKey<RunService>('runs');
