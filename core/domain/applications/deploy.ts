/**
 * Deploying an application: build its image from Git when it has none (build.ts), then start
 * `instances` containers through the platform's RunService (so every one is admitted, placed and
 * booked in the quota ledger like POST /run, labelled with the application id), and stop,
 * restart or replace them.
 *
 * Status: idle/stopped/error → deploying → running, or → error when the build or any instance
 * fails (the instances already started are stopped again, so a failed deploy holds no quota).
 * Only one deploy, stop, restart or redeploy runs per application at a time (the status is
 * claimed in a transaction).
 *
 * Redeploy replaces running instances one by one — start a new one, then stop an old one — and
 * when the quota has no room for the extra instance it stops an old one first, so the ledger
 * never needs more than it allows. Fixed host ports (a single instance with a servicePort) cannot
 * be held twice, so those are stopped first. A changed `instances` count is applied on the way.
 * An image built from Git exists on the resource that built it: its instances are placed there.
 *
 * Several instances of an image from a registry are first offered to a resource that runs them
 * as one replicated workload (a Kubernetes Deployment, which replaces pods that die): one
 * allocation of instances × the per-instance size. Without such a resource, or without room on
 * one, the instances start one by one wherever each fits, as before.
 */
import { ApiError, conflict, unavailable } from '../../kernel/errors.ts';
import type { Logger } from '../../kernel/logger.ts';
import type { Principal } from '../../slots/auth.ts';
import type { PortMapping } from '../../slots/runner.ts';
import type { Allocation, LedgerReader } from '../ledger/types.ts';
import type { ResourceCatalog } from '../resources/types.ts';
import type { RunService } from '../runs.ts';
import type { ApplicationBuilder } from './build.ts';
import type { HealthMonitor, HealthTarget } from './health.ts';
import type { LogSource } from './logs.ts';
import type { ApplicationOut } from './model.ts';
import type { ApplicationRow, StoredHealthCheck } from './schema.ts';
import type { ApplicationService } from './service.ts';

const GiB = 2 ** 30;

export interface DeployDeps {
  apps: ApplicationService;
  runs: () => RunService | undefined;
  catalog: () => ResourceCatalog | undefined;
  ledger: () => LedgerReader | undefined;
  builder: ApplicationBuilder;
  health: HealthMonitor;
  logger: Logger;
}

function platform(d: DeployDeps) {
  const runs = d.runs();
  const catalog = d.catalog();
  const ledger = d.ledger();
  if (!runs || !catalog || !ledger) {
    throw unavailable(
      'Deploying needs the platform and resources modules, which are not loaded',
      'PLATFORM_UNAVAILABLE',
    );
  }
  return { runs, catalog, ledger };
}

const reasonOf = (err: unknown) =>
  err instanceof ApiError ? `${err.message}: ${err.details}` : 'the deploy failed unexpectedly';

/** No resource runs replicated workloads: start the instances one by one instead. */
const noReplicated = (err: unknown) => err instanceof ApiError && err.code === 'NO_REPLICATED_RESOURCE';

/** The ledger had no room for one more instance (on this node or on any resource). */
const noRoom = (err: unknown) =>
  err instanceof ApiError &&
  err.status === 503 &&
  (err.code === 'QUOTA_EXCEEDED' || err.code === 'NO_RESOURCE_WITH_ROOM');

/** The host a published port is reached at: the engine's machine (loopback for a local socket). */
export function engineHost(resourceUrl: string): string | undefined {
  if (resourceUrl.startsWith('unix://') || resourceUrl.startsWith('npipe://')) return '127.0.0.1';
  try {
    const u = new URL(resourceUrl);
    return u.hostname.replace(/^\[|\]$/g, '') || undefined;
  } catch {
    return undefined;
  }
}

export class ApplicationDeployer {
  readonly #d: DeployDeps;
  /** Deploys and redeploys in progress, so a stop can cancel their build and wait for them. */
  readonly #inflight = new Map<string, Promise<unknown>>();

  constructor(deps: DeployDeps) {
    this.#d = deps;
  }

  /** Active allocations (reserved or committed) of one application, on every resource. */
  async allocations(appId: string): Promise<Allocation[]> {
    return (await this.allocationsByApp()).get(appId) ?? [];
  }

  /** Active allocations of every application in one pass over the resources. */
  async allocationsByApp(): Promise<Map<string, Allocation[]>> {
    const { catalog, ledger } = platform(this.#d);
    const out = new Map<string, Allocation[]>();
    for (const r of await catalog.list()) {
      for (const a of await ledger.activeOn(r.id)) {
        if (!a.appId) continue;
        const list = out.get(a.appId) ?? [];
        list.push(a);
        out.set(a.appId, list);
      }
    }
    for (const list of out.values()) list.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    return out;
  }

  /** 409 when any instance still holds quota (e.g. a failed stop left status `error`). */
  async assertNothingRunning(id: string): Promise<void> {
    if (!this.#d.runs()) return;
    if ((await this.allocations(id)).length) {
      throw conflict('Instances of this application are still running; stop it before deleting it');
    }
  }

  async deploy(id: string, principal: Principal): Promise<ApplicationOut> {
    return this.#track(id, () => this.#deploy(id, principal));
  }

  async #track<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const p = fn();
    this.#inflight.set(id, p);
    try {
      return await p;
    } finally {
      if (this.#inflight.get(id) === p) this.#inflight.delete(id);
    }
  }

  async #deploy(id: string, principal: Principal): Promise<ApplicationOut> {
    platform(this.#d);
    const row = await this.#d.apps.row(id);
    if (!row.image) this.#d.builder.precheck(row);
    if ((await this.allocations(id)).length) {
      throw conflict('The application is already running; redeploy, stop or restart it instead');
    }
    const claimed = await this.#d.apps.claim(id, ['idle', 'stopped', 'error'], 'deploying');
    try {
      const target = await this.#image(claimed);
      const placed = await this.#replace(claimed, target, principal, []);
      await this.#d.apps.setStatus(id, 'running', {
        runningOn: placed,
        lastDeployed: Date.now(),
        ...(target.commitHash ? { commitHash: target.commitHash } : {}),
      });
      await this.#pruneBuilt(id, target);
    } catch (err) {
      await this.#d.apps.setStatus(id, 'error', { reason: reasonOf(err), runningOn: [] });
      this.#d.logger.info({ app: id, reason: reasonOf(err) }, 'deploy failed');
      throw err;
    }
    this.#watch(claimed);
    this.#d.logger.info({ app: id, instances: claimed.instances }, 'application deployed');
    return this.#d.apps.get(id);
  }

  /**
   * Replace the running instances with new ones of the current configuration (a new build for
   * Git applications). Deploys when nothing runs. A failure keeps whatever old instances still
   * run (status `running` with the reason), or ends in `error` when none are left.
   */
  async redeploy(id: string, principal: Principal): Promise<ApplicationOut> {
    platform(this.#d);
    const old = await this.allocations(id);
    if (!old.length) return this.deploy(id, principal);
    return this.#track(id, () => this.#redeploy(id, principal, old));
  }

  async #redeploy(id: string, principal: Principal, old: Allocation[]): Promise<ApplicationOut> {
    const row = await this.#d.apps.row(id);
    if (!row.image) this.#d.builder.precheck(row);
    const claimed = await this.#d.apps.claim(id, ['running', 'error', 'stopped', 'idle'], 'deploying');
    try {
      const target = await this.#image(claimed);
      this.#d.health.reset(id);
      const placed = await this.#replace(claimed, target, principal, old);
      await this.#d.apps.setStatus(id, 'running', {
        runningOn: placed,
        lastDeployed: Date.now(),
        ...(target.commitHash ? { commitHash: target.commitHash } : {}),
      });
      await this.#pruneBuilt(id, target);
    } catch (err) {
      const left = await this.allocations(id).catch(() => []);
      await this.#d.apps.setStatus(id, left.length ? 'running' : 'error', {
        reason: left.length
          ? `redeploy failed, ${left.length} earlier instance(s) still run: ${reasonOf(err)}`
          : reasonOf(err),
        runningOn: [...new Set(left.map((a) => a.resourceId))],
      });
      if (!left.length) this.#d.health.unwatch(id);
      throw err;
    }
    this.#watch(claimed);
    return this.#d.apps.get(id);
  }

  async stop(id: string): Promise<ApplicationOut> {
    const { runs } = platform(this.#d);
    await this.#d.apps.row(id);
    // Stopping during a build cancels the build; the deploy then ends (in error) and the stop goes on.
    const inflight = this.#inflight.get(id);
    if (inflight && this.#d.builder.building(id)) {
      this.#d.builder.cancel(id);
      await inflight.catch(() => {});
    }
    const before = await this.#d.apps.claim(id, ['running', 'error', 'stopped', 'idle'], 'deploying');
    this.#d.health.unwatch(id);
    // In parallel: each stop may wait the engine's grace period.
    const results = await Promise.allSettled((await this.allocations(id)).map((a) => runs.stop(a)));
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length) {
      await this.#d.apps.setStatus(id, 'error', { reason: reasonOf(failures[0]) });
      throw failures[0];
    }
    await this.#d.apps.setStatus(id, before.status === 'idle' ? 'idle' : 'stopped', { runningOn: [] });
    return this.#d.apps.get(id);
  }

  async restart(id: string, principal: Principal): Promise<ApplicationOut> {
    const { runs } = platform(this.#d);
    const active = await this.allocations(id);
    if (!active.length) return this.deploy(id, principal);
    const claimed = await this.#d.apps.claim(id, ['running', 'error'], 'deploying');
    try {
      const results = await Promise.allSettled(active.map((a) => runs.restart(a)));
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    } catch (err) {
      await this.#d.apps.setStatus(id, 'error', { reason: reasonOf(err) });
      throw err;
    }
    // Restarted containers may have new host ports: start their checks afresh.
    this.#d.health.reset(id);
    await this.#d.apps.setStatus(id, 'running', { lastDeployed: Date.now() });
    this.#watch(claimed);
    return this.#d.apps.get(id);
  }

  /**
   * The application was deleted: nothing of it is checked any more, its stopped containers are
   * deleted, and then the images built for it (no container uses them any more).
   */
  async forget(id: string): Promise<void> {
    this.#d.health.unwatch(id);
    const runs = this.#d.runs();
    const ledger = this.#d.ledger();
    if (runs && ledger) {
      for (const a of (await ledger.visible()).filter((x) => x.appId === id && x.state === 'released')) {
        await runs.remove(a).catch((err: unknown) => {
          this.#d.logger.warn(
            { app: id, allocation: a.id, err },
            'could not delete a container of a deleted application',
          );
        });
      }
    }
    await this.#d.builder.prune(id, []);
  }

  /** Resume health checks after a restart of this node. */
  resume(row: ApplicationRow): void {
    this.#watch(row);
  }

  #watch(row: ApplicationRow): void {
    if (row.healthCheck) this.#d.health.watch(row.id);
  }

  /** After a deploy from Git: images of earlier builds (their instances are gone) are removed. */
  async #pruneBuilt(id: string, target: { image: string; resourceId?: string }): Promise<void> {
    if (target.resourceId) await this.#d.builder.prune(id, [target.image], target.resourceId);
  }

  async #image(row: ApplicationRow): Promise<{ image: string; resourceId?: string; commitHash?: string }> {
    if (row.image) return { image: row.image };
    const built = await this.#d.builder.build(row);
    return { image: built.image, resourceId: built.resourceId, commitHash: built.commitHash };
  }

  /**
   * Start `row.instances` new instances and stop every one in `old`, never holding more than
   * the ledger allows. On failure the new instances are stopped again; old ones not yet stopped
   * keep running. Returns where the new instances run.
   */
  async #replace(
    row: ApplicationRow,
    target: { image: string; resourceId?: string },
    principal: Principal,
    old: Allocation[],
  ): Promise<string[]> {
    const { runs } = platform(this.#d);
    const env = this.#d.apps.openEnv(row);
    const ports = this.#ports(row);
    const queue = [...old];
    // A replaced instance is stopped gracefully, then deleted: nobody restarts it, and its
    // container would keep the image of the previous build in use.
    const stopOld = async () => {
      const a = queue.shift();
      if (!a) return;
      await runs.stop(a);
      await runs.remove(a).catch((err: unknown) => {
        this.#d.logger.warn({ app: row.id, allocation: a.id, err }, 'could not delete a replaced instance');
      });
    };
    if (queue.length && ports.some((p) => p.hostPort)) while (queue.length) await stopOld();
    const started: Allocation[] = [];
    const placed: string[] = [];
    // Images built here live on the engine that built it, which runs containers one by one.
    let together = row.instances > 1 && !target.resourceId;
    try {
      for (let i = 0; i < row.instances; ) {
        for (;;) {
          const replicas = together ? row.instances : 1;
          try {
            const result = await runs.run(
              {
                image: target.image,
                ...(row.command ? { command: row.command } : {}),
                cpuMilli: Math.round(row.cpu * 1000),
                memory: Math.round(row.memory * GiB),
                gpu: row.gpu,
                env,
                ports,
                appId: row.id,
                ...(target.resourceId ? { resourceId: target.resourceId } : {}),
                ...(replicas > 1 ? { replicas } : {}),
              },
              principal,
            );
            i += replicas;
            if (result.where === 'local') {
              started.push(result.allocation);
              placed.push(result.allocation.resourceId);
            } else {
              placed.push(`${result.placement.nodeId}/${result.placement.resourceId}`);
            }
            break;
          } catch (err) {
            // A replicated workload that does not fit next to the old one replaces it (brief
            // downtime, never over quota). Old containers run on while the instances are tried one
            // by one instead, which replaces them one at a time.
            const oldTogether = queue.some((a) => (a.replicas ?? 1) > 1);
            if (together && (noReplicated(err) || (noRoom(err) && !oldTogether))) {
              together = false;
              continue;
            }
            // No room for old + new: retire an old instance first, then try again.
            if (noRoom(err) && queue.length) {
              await stopOld();
              continue;
            }
            if (together && noRoom(err)) {
              together = false;
              continue;
            }
            throw err;
          }
        }
        // Rolling: one new instance up, one old one down.
        await stopOld();
      }
      while (queue.length) await stopOld();
    } catch (err) {
      await Promise.all(
        started.map((a) =>
          runs.stop(a).catch((e: unknown) => {
            this.#d.logger.warn(
              { app: row.id, allocation: a.id, err: (e as Error).name },
              'could not stop an instance of a failed deploy',
            );
          }),
        ),
      );
      throw err;
    }
    return [...new Set(placed)];
  }

  /**
   * Service ports become fixed host ports only for a single instance (more would collide); the
   * health check's port is published too, so the check can reach it.
   */
  #ports(row: ApplicationRow): PortMapping[] {
    const ports: PortMapping[] = row.ports.map((p) => ({
      containerPort: p.containerPort,
      ...(row.instances === 1 && p.servicePort ? { hostPort: p.servicePort } : {}),
      protocol: p.protocol === 'UDP' ? 'udp' : 'tcp',
    }));
    const hc = row.healthCheck;
    if (hc && !ports.some((p) => p.containerPort === hc.port && p.protocol === 'tcp')) {
      ports.push({ containerPort: hc.port, protocol: 'tcp' });
    }
    return ports;
  }

  /** Where each running instance's health check connects. */
  async healthTargets(appId: string, check: StoredHealthCheck): Promise<HealthTarget[]> {
    const { catalog } = platform(this.#d);
    const out: HealthTarget[] = [];
    const resources = new Map((await catalog.list()).map((r) => [r.id, r]));
    for (const a of await this.allocations(appId)) {
      if (!a.workloadId) continue;
      const base = { instanceId: a.id, containerId: a.workloadId, name: a.workloadName };
      const resource = resources.get(a.resourceId);
      try {
        const runner = await catalog.runner(a.resourceId);
        const info = await runner.inspect(a.workloadId);
        if (info?.state !== 'running') {
          out.push({ ...base, problem: `the container is ${info?.state ?? 'gone'}` });
          continue;
        }
        const binding = info.ports.find(
          (p) => p.containerPort === check.port && p.protocol === 'tcp' && p.hostPort,
        );
        if (!binding?.hostPort) {
          out.push({ ...base, problem: `port ${check.port} is not published` });
          continue;
        }
        const wildcard = !binding.hostIp || binding.hostIp === '0.0.0.0' || binding.hostIp === '::';
        const host = wildcard ? (resource ? engineHost(resource.url) : undefined) : binding.hostIp;
        if (!host) out.push({ ...base, problem: 'the engine’s host is not known' });
        else out.push({ ...base, host, port: binding.hostPort });
      } catch {
        out.push({ ...base, problem: 'the engine could not be reached' });
      }
    }
    return out;
  }

  /** The running instances' log sources. */
  async logSources(appId: string): Promise<LogSource[]> {
    const { catalog } = platform(this.#d);
    const out: LogSource[] = [];
    for (const a of await this.allocations(appId)) {
      if (!a.workloadId) continue;
      try {
        out.push({
          instanceId: a.id,
          containerId: a.workloadId,
          name: a.workloadName,
          runner: await catalog.runner(a.resourceId),
        });
      } catch {
        // An unreachable resource contributes no lines.
      }
    }
    return out;
  }
}
