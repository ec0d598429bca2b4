/**
 * The reconciler makes the ledger agree with what the engines actually run, at start-up, on a
 * timer and soon after engine events. Per resource it lists IARNet's workloads by label and:
 *  - commits reservations whose workload runs (a crash between start and commit);
 *  - releases allocations whose workload exited or vanished, exactly once;
 *  - adopts running workloads that have no active allocation (a crash before the row was
 *    written, or a restored database), so quota is never under-counted;
 *  - marks a resource `unreachable` when it cannot be listed and touches nothing else: an engine
 *    outage never declares workloads dead.
 */
import type { Logger } from '../kernel/logger.ts';
import { LABELS, RunnerUnreachableError, type WorkloadInfo } from '../slots/runner.ts';
import type { EventBus } from './events.ts';
import type { QuotaLedger } from './ledger/ledger.ts';
import { toMilli } from './ledger/types.ts';
import type { ResourceCatalog } from './resources/types.ts';

/**
 * States whose workload still holds the engine's resources. `unknown` counts: the engine cannot
 * say (a Kubernetes pod whose node stopped reporting, phase Unknown), the workload may well still
 * run, and the cluster's scheduler and ResourceQuota keep counting the pod until it is deleted;
 * releasing its quota would let the ledger book what the cluster does not have.
 */
const ALIVE = new Set(['running', 'created', 'restarting', 'paused', 'unknown']);

export interface ReconcileSummary {
  resourceId: string;
  reachable: boolean;
  committed: number;
  released: number;
  adopted: number;
}

export class Reconciler {
  readonly #ledger: QuotaLedger;
  readonly #catalog: ResourceCatalog;
  readonly #events: EventBus;
  readonly #nodeId: string;
  readonly #log: Logger;
  /** A reservation younger than this may still be starting; it is not a leftover yet. */
  readonly #startGraceMs: number;
  /**
   * When this process set up. Runs are started only by the process that reserved them, so a
   * reservation older than this belongs to a run that died with an earlier process.
   */
  readonly #bootAt = Date.now();
  /** Whether this process is starting the allocation right now (RunService.isStarting). */
  readonly #starting: (allocationId: string) => boolean;
  /** One pass per resource at a time; a request during a pass schedules one more pass. */
  readonly #running = new Map<string, Promise<ReconcileSummary>>();
  readonly #again = new Set<string>();

  constructor(deps: {
    ledger: QuotaLedger;
    catalog: ResourceCatalog;
    events: EventBus;
    nodeId: string;
    logger: Logger;
    startGraceMs?: number;
    /**
     * Reservations this process is starting now: never leftovers, however long the engine takes
     * (a first pod in a new namespace waits for its ServiceAccount; an image pull takes minutes).
     */
    starting?: (allocationId: string) => boolean;
  }) {
    this.#starting = deps.starting ?? (() => false);
    this.#ledger = deps.ledger;
    this.#catalog = deps.catalog;
    this.#events = deps.events;
    this.#nodeId = deps.nodeId;
    this.#log = deps.logger;
    this.#startGraceMs = deps.startGraceMs ?? 120_000;
  }

  /** When the last full pass finished (the document's node_info.last_updated). */
  lastPassAt = new Date().toISOString();

  async reconcileAll(): Promise<ReconcileSummary[]> {
    const resources = await this.#catalog.list();
    // Allocations on resources that no longer exist cannot run anywhere: release them.
    const known = new Set(resources.map((r) => r.id));
    for (const a of await this.#ledger.active()) {
      if (!known.has(a.resourceId) && (await this.#ledger.release(a.id, 'resource-deleted'))) {
        this.#events.emit('run:stopped', {
          allocationId: a.id,
          containerId: a.workloadId,
          resourceId: a.resourceId,
          reason: 'resource-deleted',
        });
      }
    }
    const summaries = await Promise.all(resources.map((r) => this.reconcile(r.id)));
    this.lastPassAt = new Date().toISOString();
    return summaries;
  }

  reconcile(resourceId: string): Promise<ReconcileSummary> {
    const current = this.#running.get(resourceId);
    if (current) {
      this.#again.add(resourceId);
      return current;
    }
    const pass = this.#pass(resourceId).finally(() => {
      this.#running.delete(resourceId);
      if (this.#again.delete(resourceId)) void this.reconcile(resourceId);
    });
    this.#running.set(resourceId, pass);
    return pass;
  }

  async #pass(resourceId: string): Promise<ReconcileSummary> {
    const summary: ReconcileSummary = { resourceId, reachable: false, committed: 0, released: 0, adopted: 0 };
    // Read the ledger BEFORE listing the engine: an allocation committed after this read was
    // started before its commit, so the later listing shows it; the other order would see a
    // fresh commit without its workload and release it as vanished.
    const active = await this.#ledger.activeOn(resourceId);
    let workloads: WorkloadInfo[];
    let runner: Awaited<ReturnType<ResourceCatalog['runner']>>;
    try {
      runner = await this.#catalog.runner(resourceId);
      workloads = await runner.list({ labels: { [LABELS.node]: this.#nodeId } });
    } catch (e) {
      if (e instanceof RunnerUnreachableError) {
        await this.#catalog.markUnreachable(resourceId, 'the engine could not be reached');
      } else {
        this.#log.warn({ err: e, resourceId }, 'reconcile: cannot list workloads');
      }
      return summary;
    }
    summary.reachable = true;
    const resource = await this.#catalog.get(resourceId);
    if (resource && resource.status !== 'connected') await this.#catalog.refresh(resourceId).catch(() => {});

    const byAlloc = new Map<string, WorkloadInfo>();
    for (const w of workloads) {
      const alloc = w.labels[LABELS.alloc];
      if (alloc) byAlloc.set(alloc, w);
    }
    const activeIds = new Set(active.map((a) => a.id));

    for (const a of active) {
      // Being started (or started again) by this process right now: its run decides, not us.
      if (a.state === 'reserved' && this.#starting(a.id)) continue;
      const w = byAlloc.get(a.id);
      if (!w) {
        if (a.state === 'reserved' && Date.now() - Date.parse(a.createdAt) < this.#startGraceMs) continue;
        const reason = a.state === 'reserved' ? 'start-abandoned' : 'vanished';
        if (await this.#ledger.release(a.id, reason, 'removed', { removed: true })) {
          summary.released++;
          this.#events.emit('run:stopped', {
            allocationId: a.id,
            containerId: a.workloadId,
            resourceId,
            ...(a.appId ? { appId: a.appId } : {}),
            reason: 'vanished',
          });
        }
      } else if (a.state === 'reserved' && w.state === 'created') {
        // Created but never started: a start still in progress, or one a crash cut short (the
        // process died between create and start). Nobody was told it runs, so once its run is
        // gone it is removed and its quota released rather than committed to a container that
        // will never run.
        const created = Date.parse(a.createdAt);
        if (created >= this.#bootAt && Date.now() - created < this.#startGraceMs) continue;
        try {
          await runner.remove(w.id);
        } catch (err) {
          this.#log.warn(
            { err, allocation: a.id },
            'reconcile: cannot remove a workload whose start was interrupted',
          );
          continue;
        }
        if (await this.#ledger.release(a.id, 'start-abandoned', 'removed', { removed: true })) {
          summary.released++;
          this.#events.emit('run:stopped', {
            allocationId: a.id,
            containerId: w.id,
            resourceId,
            ...(a.appId ? { appId: a.appId } : {}),
            reason: 'start-abandoned',
          });
        }
      } else if (!ALIVE.has(w.state)) {
        if (
          await this.#ledger.release(a.id, a.workloadState === 'stopping' ? 'stopped' : 'exited', w.state)
        ) {
          summary.released++;
          this.#events.emit('run:stopped', {
            allocationId: a.id,
            containerId: w.id,
            resourceId,
            ...(a.appId ? { appId: a.appId } : {}),
            reason: 'exited',
            exitCode: w.exitCode,
          });
        }
      } else if (a.state === 'reserved') {
        if (await this.#ledger.commit(a.id, w.id, w.state)) summary.committed++;
      } else if (a.workloadState !== w.state && w.state !== 'created') {
        // ('created' for a committed allocation is a listing older than its start: not news.)
        await this.#ledger.setWorkloadState(a.id, w.state);
        this.#events.emit('run:state', {
          allocationId: a.id,
          containerId: w.id,
          resourceId,
          ...(a.appId ? { appId: a.appId } : {}),
          state: w.state,
        });
      }
    }

    for (const [allocId, w] of byAlloc) {
      if (activeIds.has(allocId)) continue;
      const known = await this.#ledger.get(allocId);
      // Reserved or committed since the snapshot above: its own run is handling it.
      if (known && known.state !== 'released') continue;
      if (ALIVE.has(w.state)) {
        // Running without an active allocation: account for it rather than under-count quota.
        await this.#ledger.adopt({
          id: allocId,
          resourceId,
          cpuMilli: toMilli(w.resources.cpu),
          memory: w.resources.memory,
          gpu: w.resources.gpu,
          image: w.image,
          workloadName: w.name,
          workloadId: w.id,
          workloadState: w.state,
          owner: known?.owner ?? 'adopted',
          ...(w.replicas && w.replicas.desired > 1 ? { replicas: w.replicas.desired } : {}),
          ...(w.labels[LABELS.app] ? { appId: w.labels[LABELS.app] } : {}),
        });
        summary.adopted++;
        this.#log.warn(
          { allocation: allocId, resourceId, container: w.id },
          'adopted a running workload that had no active allocation',
        );
        this.#events.emit('run:adopted', { allocationId: allocId, containerId: w.id, resourceId });
      } else if (known && known.workloadState !== w.state) {
        await this.#ledger.setWorkloadState(allocId, w.state);
      }
    }
    return summary;
  }

  /** Reconcile every resource now and then every `intervalMs` until the signal aborts. */
  startLoop(intervalMs: number, signal: AbortSignal): void {
    const tick = () => {
      if (signal.aborted) return;
      this.reconcileAll()
        .catch((err) => this.#log.warn({ err }, 'reconcile pass failed'))
        .finally(() => {
          if (!signal.aborted) timer = setTimeout(tick, intervalMs);
        });
    };
    let timer = setTimeout(tick, intervalMs);
    signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  }

  /** Follow a resource's engine events and reconcile it soon after workloads change. */
  async followEvents(resourceId: string, signal: AbortSignal): Promise<void> {
    let pending: ReturnType<typeof setTimeout> | undefined;
    const soon = () => {
      pending ??= setTimeout(() => {
        pending = undefined;
        void this.reconcile(resourceId).catch(() => {});
      }, 200);
    };
    while (!signal.aborted) {
      try {
        const runner = await this.#catalog.runner(resourceId);
        for await (const e of runner.events({ signal })) {
          if (e.type === 'engine:disconnected') {
            await this.#catalog.markUnreachable(resourceId, 'the engine could not be reached');
          } else if (
            e.type === 'engine:connected' ||
            (e.type.startsWith('workload:') && 'labels' in e && e.labels[LABELS.node] === this.#nodeId)
          ) {
            soon();
          }
        }
      } catch (err) {
        if (signal.aborted) break;
        this.#log.debug({ err, resourceId }, 'engine events ended; retrying');
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
    clearTimeout(pending);
  }
}
