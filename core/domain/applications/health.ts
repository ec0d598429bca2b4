/**
 * HTTP health checks of running applications: one timer per application with a `healthCheck`,
 * every `interval` seconds a GET of `path` on each instance — reached through the host port the
 * engine published for `port` on the engine's host (127.0.0.1 for a local engine) — bounded by
 * `timeout`. 2xx and 3xx pass (redirects are not followed). Results per instance go through the
 * state machine in health-state.ts; a change of the application's health is reported.
 *
 * The check's settings are read again every round, so an update applies without a redeploy.
 * Timers are unref'd, never overlap, and stop on stop/delete/shutdown.
 */
import type { Logger } from '../../kernel/logger.ts';
import {
  type AppHealth,
  aggregateHealth,
  type CheckResult,
  type InstanceHealth,
  initialHealth,
  recordCheck,
} from './health-state.ts';
import type { StoredHealthCheck } from './schema.ts';

export interface HealthTarget {
  /** Allocation id. */
  instanceId: string;
  containerId: string;
  name: string;
  /** Where the check connects; undefined with `problem` when the port is not reachable. */
  host?: string;
  port?: number;
  problem?: string;
}

export interface InstanceCheck {
  target: HealthTarget;
  health: InstanceHealth;
}

export interface HealthMonitorDeps {
  /** The application's current check, or undefined when it has none (or is gone). */
  settings(appId: string): Promise<StoredHealthCheck | undefined>;
  targets(appId: string, check: StoredHealthCheck): Promise<HealthTarget[]>;
  threshold: number;
  onChange(appId: string, health: AppHealth, previous: AppHealth): void;
  logger: Logger;
  fetch?: typeof fetch;
}

interface Watch {
  timer?: ReturnType<typeof setTimeout>;
  instances: Map<string, InstanceCheck>;
  health: AppHealth;
  stopped: boolean;
  round?: Promise<void>;
}

export async function httpCheck(
  url: string,
  timeoutMs: number,
  fetchFn: typeof fetch = fetch,
): Promise<CheckResult> {
  const started = performance.now();
  const at = () => new Date().toISOString();
  try {
    const res = await fetchFn(url, {
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      headers: { 'user-agent': 'iarnet-health-check' },
    });
    await res.body?.cancel().catch(() => {});
    const responseTimeMs = Math.round(performance.now() - started);
    const ok = res.status >= 200 && res.status < 400;
    return { ok, message: `HTTP ${res.status}`, at: at(), responseTimeMs };
  } catch (err) {
    const name = (err as Error)?.name;
    const timedOut = name === 'TimeoutError' || name === 'AbortError';
    const code = (err as { cause?: { code?: unknown } })?.cause?.code;
    return {
      ok: false,
      message: timedOut
        ? `no answer within ${timeoutMs / 1000} s`
        : `connection failed${typeof code === 'string' ? ` (${code})` : ''}`,
      at: at(),
    };
  }
}

export class HealthMonitor {
  readonly #d: HealthMonitorDeps;
  readonly #watches = new Map<string, Watch>();

  constructor(deps: HealthMonitorDeps) {
    this.#d = deps;
  }

  /** Start checking (or keep checking) an application. The first round runs now. */
  watch(appId: string): void {
    const w = this.#watches.get(appId);
    if (w && !w.stopped) return;
    this.#watches.set(appId, { instances: new Map(), health: 'unknown', stopped: false });
    this.#schedule(appId, 0);
  }

  /** Stop checking and forget the results. */
  unwatch(appId: string): void {
    const w = this.#watches.get(appId);
    if (!w) return;
    w.stopped = true;
    if (w.timer) clearTimeout(w.timer);
    this.#watches.delete(appId);
    if (w.health !== 'unknown') this.#d.onChange(appId, 'unknown', w.health);
  }

  /** Instances were replaced or restarted: start their results afresh. */
  reset(appId: string): void {
    this.#watches.get(appId)?.instances.clear();
  }

  stopAll(): void {
    for (const w of this.#watches.values()) {
      w.stopped = true;
      if (w.timer) clearTimeout(w.timer);
    }
    this.#watches.clear();
  }

  watching(appId: string): boolean {
    return this.#watches.has(appId);
  }

  health(appId: string): AppHealth {
    return this.#watches.get(appId)?.health ?? 'unknown';
  }

  instances(appId: string): InstanceCheck[] {
    return [...(this.#watches.get(appId)?.instances.values() ?? [])];
  }

  /** Run one round now (and wait for it); the regular schedule continues. */
  async checkNow(appId: string): Promise<void> {
    const w = this.#watches.get(appId);
    if (!w) return;
    if (w.round) await w.round;
    w.round = this.#round(appId, w).finally(() => {
      w.round = undefined;
    });
    await w.round;
  }

  #schedule(appId: string, ms: number): void {
    const w = this.#watches.get(appId);
    if (!w || w.stopped) return;
    if (w.timer) clearTimeout(w.timer);
    w.timer = setTimeout(() => {
      void (async () => {
        let interval = 30;
        try {
          if (!w.round) {
            w.round = this.#round(appId, w).finally(() => {
              w.round = undefined;
            });
          }
          await w.round;
          interval = (await this.#d.settings(appId))?.interval ?? interval;
        } catch (err) {
          this.#d.logger.warn({ err, app: appId }, 'health check round failed');
        }
        this.#schedule(appId, interval * 1000);
      })();
    }, ms);
    w.timer.unref?.();
  }

  async #round(appId: string, w: Watch): Promise<void> {
    const check = await this.#d.settings(appId);
    if (w.stopped) return;
    if (!check) {
      w.instances.clear();
      this.#set(appId, w, 'unknown');
      return;
    }
    const targets = await this.#d.targets(appId, check);
    const results = await Promise.all(
      targets.map(async (t) => {
        if (t.host === undefined || t.port === undefined) {
          return { t, r: { ok: false, message: t.problem ?? 'not reachable', at: new Date().toISOString() } };
        }
        const host = t.host.includes(':') ? `[${t.host}]` : t.host;
        return {
          t,
          r: await httpCheck(`http://${host}:${t.port}${check.path}`, check.timeout * 1000, this.#d.fetch),
        };
      }),
    );
    if (w.stopped) return;
    const seen = new Set<string>();
    for (const { t, r } of results) {
      seen.add(t.instanceId);
      const prev = w.instances.get(t.instanceId)?.health ?? initialHealth();
      w.instances.set(t.instanceId, { target: t, health: recordCheck(prev, r, this.#d.threshold) });
    }
    for (const id of [...w.instances.keys()]) if (!seen.has(id)) w.instances.delete(id);
    this.#set(appId, w, aggregateHealth([...w.instances.values()].map((i) => i.health)));
  }

  #set(appId: string, w: Watch, health: AppHealth): void {
    const previous = w.health;
    w.health = health;
    if (previous !== health) this.#d.onChange(appId, health, previous);
  }
}
