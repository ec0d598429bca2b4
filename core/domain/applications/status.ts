/**
 * The design document's ApplicationStatus (section 5.3) for each application: its status as seen
 * from outside (`warning` when a running application is unhealthy or short of instances), uptime,
 * the instances actually running and where, CPU and memory as a percentage of what the instances
 * were allotted, network bytes per second, health and per-instance checks, recent merged log
 * lines, and metrics from the health checks (response time, error rate).
 *
 * Engine reads (stats, logs) are cached for `status.cache_ms` (stale answers are served while a
 * fresh one is read in the background) and made at most 16 at a time, so listing a hundred
 * applications does not ask every engine a hundred times per request.
 */
import type { Runner, WorkloadStats } from '../../slots/runner.ts';
import type { Allocation } from '../ledger/types.ts';
import type { ResourceCatalog } from '../resources/types.ts';
import type { HealthMonitor } from './health.ts';
import type { AppHealth } from './health-state.ts';
import { detectLevel, type LogLevel } from './log-level.ts';
import { type LogSource, mergedLogs } from './logs.ts';
import type { ApplicationRow, AppStatus } from './schema.ts';

export type OutsideStatus = 'running' | 'stopped' | 'error' | 'warning' | 'deploying';

/** Instances the allocations hold: a replicated one (a Kubernetes Deployment) holds several. */
export const instanceCount = (allocations: Allocation[]) =>
  allocations.reduce((n, a) => n + (a.replicas ?? 1), 0);

/** The status shown outside: stored status refined by health and the instances running. */
export function effectiveStatus(
  stored: AppStatus,
  health: AppHealth,
  instances?: { running: number; desired: number },
): OutsideStatus {
  switch (stored) {
    case 'running':
      if (instances && instances.running === 0) return 'error';
      if (health === 'unhealthy') return 'warning';
      if (instances && instances.running < instances.desired) return 'warning';
      return 'running';
    case 'deploying':
      return 'deploying';
    case 'error':
      return 'error';
    default:
      return 'stopped';
  }
}

/** "3d 4h", "2h 5m", "4m 10s", "12s". */
export function formatUptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

export interface ApplicationStatusOut {
  id: string;
  name: string;
  status: OutsideStatus;
  /** The stored application status (idle, deploying, running, stopped, error). */
  applicationStatus: AppStatus;
  statusReason?: string;
  uptime: string;
  uptimeSeconds: number;
  instances: number;
  desiredInstances: number;
  runningOn: string[];
  cpu: number;
  memory: number;
  network: number;
  storage: number;
  metrics: { requestsPerSecond?: number; responseTime?: number; errorRate?: number };
  health: AppHealth;
  healthChecks: {
    name: string;
    status: 'pass' | 'fail';
    message?: string;
    lastCheck: string;
    instanceId: string;
    state: 'unknown' | 'healthy' | 'unhealthy';
    consecutiveFailures: number;
    responseTime?: number;
  }[];
  logs: { timestamp: string; level: LogLevel; message: string; source?: string }[];
  lastUpdated: string;
}

interface StatsEntry {
  at: number;
  value: Promise<WorkloadStats | undefined>;
  /** The network total and time of the sample before, for bytes per second. */
  prev?: { at: number; net: number };
  /** A fresh sample is being read. */
  refreshing?: boolean;
}

export interface StatusDeps {
  catalog: () => ResourceCatalog | undefined;
  /** The last build's output of an application (shown as its logs while nothing runs). */
  buildOutput?: (appId: string) => { at: string; text: string }[];
  health: HealthMonitor;
  cacheMs: number;
  logLines: number;
  now?: () => number;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** How long a status read waits for an engine read it started; later reads use the cached answer. */
const FIRST_LOOK_MS = 250;
async function firstLook<T>(value: Promise<T>): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((r) => {
    timer = setTimeout(() => r(undefined), FIRST_LOOK_MS);
  });
  try {
    return await Promise.race([value, late]);
  } finally {
    clearTimeout(timer);
  }
}

export class StatusReader {
  readonly #d: StatusDeps;
  readonly #stats = new Map<string, StatsEntry>();
  readonly #logs = new Map<string, { at: number; value: Promise<ApplicationStatusOut['logs']> }>();
  /** Ready copies of replicated workloads, by workload id (read like stats: cached for cache_ms). */
  readonly #ready = new Map<string, { at: number; value: Promise<number | undefined> }>();
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(deps: StatusDeps) {
    this.#d = deps;
  }

  #now(): number {
    return this.#d.now?.() ?? Date.now();
  }

  /** At most 16 engine reads at once. */
  async #limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active >= 16) await new Promise<void>((r) => this.#waiting.push(r));
    this.#active++;
    try {
      return await fn();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }

  async #runner(resourceId: string): Promise<Runner | undefined> {
    try {
      return await this.#d.catalog()?.runner(resourceId);
    } catch {
      return undefined;
    }
  }

  /**
   * A stats sample and the network rate against the one before. A sample older than cache_ms is
   * still answered at once while a fresh one is read in the background (stale-while-revalidate):
   * only the first look at an instance waits for the engine.
   */
  async #sample(a: Allocation): Promise<{ stats?: WorkloadStats; netRate: number }> {
    const id = a.workloadId!;
    const now = this.#now();
    const read = () =>
      this.#limited(async () => {
        const runner = await this.#runner(a.resourceId);
        return runner ? await runner.stats(id) : undefined;
      }).catch(() => undefined);
    let entry = this.#stats.get(id);
    if (!entry) {
      entry = { at: now, value: read() };
      this.#stats.set(id, entry);
    } else if (now - entry.at > this.#d.cacheMs && !entry.refreshing) {
      const old = entry;
      old.refreshing = true;
      void read().then(async (fresh) => {
        const before = await old.value;
        if (!fresh || this.#stats.get(id) !== old) return;
        this.#stats.set(id, {
          at: this.#now(),
          value: Promise.resolve(fresh),
          ...(before ? { prev: { at: old.at, net: before.networkRxBytes + before.networkTxBytes } } : {}),
        });
      });
    }
    // A first look waits a moment for the engine, not for it: 100 applications' first samples
    // take seconds (two readings each), and the list must answer at once; the next read has them.
    const stats = await firstLook(entry.value);
    if (!stats) return { netRate: 0 };
    const net = stats.networkRxBytes + stats.networkTxBytes;
    let netRate: number;
    if (entry.prev && entry.at > entry.prev.at) {
      netRate = Math.max(0, net - entry.prev.net) / ((entry.at - entry.prev.at) / 1000);
    } else {
      // First look at this instance: the average since it started.
      const since = Date.parse(a.committedAt ?? a.createdAt);
      const secs = Number.isNaN(since) ? 0 : (entry.at - since) / 1000;
      netRate = secs > 0 ? net / secs : 0;
    }
    return { stats, netRate };
  }

  /**
   * Instances an allocation runs now: 1 for a container; for a replicated workload (a Kubernetes
   * Deployment) the copies the engine reports ready, so a crash-looping pod shows as one instance
   * short. When the engine does not answer in time, the booked copies.
   */
  async #instancesOf(a: Allocation): Promise<number> {
    const booked = a.replicas ?? 1;
    if (booked === 1) return 1;
    const id = a.workloadId!;
    const now = this.#now();
    let entry = this.#ready.get(id);
    if (!entry || now - entry.at > this.#d.cacheMs) {
      const value = this.#limited(async () => {
        const runner = await this.#runner(a.resourceId);
        return (await runner?.inspect(id))?.replicas?.ready;
      }).catch(() => undefined);
      entry = { at: now, value };
      this.#ready.set(id, entry);
    }
    return (await firstLook(entry.value)) ?? booked;
  }

  async #recentLogs(appId: string, instances: Allocation[]): Promise<ApplicationStatusOut['logs']> {
    if (this.#d.logLines === 0) return [];
    if (!instances.length) {
      // Nothing runs: the last build's output says what happened (a failed build's error).
      return (this.#d.buildOutput?.(appId) ?? []).slice(-this.#d.logLines).map((l) => ({
        timestamp: l.at,
        level: /^Build failed:/.test(l.text) ? ('error' as const) : detectLevel(l.text),
        message: l.text,
        source: 'build',
      }));
    }
    const now = this.#now();
    const cached = this.#logs.get(appId);
    if (cached && now - cached.at <= this.#d.cacheMs) return (await firstLook(cached.value)) ?? [];
    const value = this.#limited(async () => {
      const sources: LogSource[] = [];
      for (const a of instances) {
        const runner = await this.#runner(a.resourceId);
        if (runner)
          sources.push({ instanceId: a.id, containerId: a.workloadId!, name: a.workloadName, runner });
      }
      const lines = await mergedLogs(sources, { tail: this.#d.logLines });
      return lines.map((l) => ({
        timestamp: l.timestamp,
        level: l.level,
        message: l.message,
        source: l.source,
      }));
    }).catch(() => [] as ApplicationStatusOut['logs']);
    this.#logs.set(appId, { at: now, value });
    return (await firstLook(value)) ?? [];
  }

  /** Forget cached reads of containers that are gone (bounded memory). */
  prune(live: Set<string>): void {
    for (const id of this.#stats.keys()) if (!live.has(id)) this.#stats.delete(id);
    for (const id of this.#ready.keys()) if (!live.has(id)) this.#ready.delete(id);
  }

  forget(appId: string): void {
    this.#logs.delete(appId);
  }

  async status(row: ApplicationRow, allocations: Allocation[]): Promise<ApplicationStatusOut> {
    const running = allocations.filter((a) => a.workloadId && a.state !== 'released');
    const [samples, counts] = await Promise.all([
      Promise.all(running.map((a) => this.#sample(a))),
      Promise.all(running.map((a) => this.#instancesOf(a))),
    ]);
    const instances = counts.reduce((n, c) => n + c, 0);
    const logs = await this.#recentLogs(row.id, running);
    let cpuUsed = 0;
    let cpuAllotted = 0;
    let memUsed = 0;
    let memAllotted = 0;
    let network = 0;
    samples.forEach((s, i) => {
      const a = running[i]!;
      if (!s.stats) return;
      cpuUsed += s.stats.cpuPercent;
      cpuAllotted += a.cpuMilli / 10; // percent of one core per millicore
      memUsed += s.stats.memoryBytes;
      memAllotted += a.memory || s.stats.memoryLimitBytes;
      network += s.netRate;
    });
    const health = this.#d.health.health(row.id);
    const checks = this.#d.health.instances(row.id);
    const starts = running
      .map((a) => Date.parse(a.committedAt ?? a.createdAt))
      .filter((t) => !Number.isNaN(t));
    const uptimeSeconds = starts.length ? Math.floor((this.#now() - Math.min(...starts)) / 1000) : 0;
    const timed = checks.filter((c) => c.health.responseTimeMs !== undefined);
    const totalChecks = checks.reduce((n, c) => n + c.health.checks, 0);
    const failed = checks.reduce((n, c) => n + c.health.failures, 0);
    return {
      id: row.id,
      name: row.name,
      status: effectiveStatus(row.status, health, {
        running: instances,
        desired: row.instances,
      }),
      applicationStatus: row.status,
      ...(row.statusReason ? { statusReason: row.statusReason } : {}),
      uptime: formatUptime(uptimeSeconds),
      uptimeSeconds,
      instances,
      desiredInstances: row.instances,
      runningOn: [...new Set(running.map((a) => a.resourceId))],
      cpu: cpuAllotted > 0 ? round1((cpuUsed / cpuAllotted) * 100) : 0,
      memory: memAllotted > 0 ? round1((memUsed / memAllotted) * 100) : 0,
      network: Math.round(network),
      // Containers get no disk quota of their own, so there is no usage to compare with.
      storage: 0,
      metrics: {
        ...(timed.length
          ? {
              responseTime: Math.round(
                timed.reduce((n, c) => n + (c.health.responseTimeMs ?? 0), 0) / timed.length,
              ),
            }
          : {}),
        ...(totalChecks ? { errorRate: round1((failed / totalChecks) * 100) } : {}),
      },
      health,
      healthChecks: checks.flatMap((c) =>
        c.health.last && c.health.checkedAt
          ? [
              {
                name: `${c.target.name} ${row.healthCheck?.path ?? ''}`.trim(),
                status: c.health.last,
                ...(c.health.message ? { message: c.health.message } : {}),
                lastCheck: c.health.checkedAt,
                instanceId: c.target.instanceId,
                state: c.health.state,
                consecutiveFailures: c.health.consecutiveFailures,
                ...(c.health.responseTimeMs !== undefined ? { responseTime: c.health.responseTimeMs } : {}),
              },
            ]
          : [],
      ),
      logs,
      lastUpdated: new Date(this.#now()).toISOString(),
    };
  }
}
