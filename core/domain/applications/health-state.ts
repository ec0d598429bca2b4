/**
 * The health state machine of one instance, and of an application from its instances (pure).
 *
 *   unknown ──pass──▶ healthy ──`threshold` failures in a row──▶ unhealthy ──pass──▶ healthy
 *   unknown ──`threshold` failures in a row──▶ unhealthy
 *
 * A single failed check does not flip a healthy instance (a slow request, a GC pause); a new
 * instance stays `unknown` while it may still be starting, until it passes once or fails
 * `threshold` times in a row.
 */

export type InstanceHealthState = 'unknown' | 'healthy' | 'unhealthy';
export type AppHealth = 'healthy' | 'unhealthy' | 'unknown';

export interface InstanceHealth {
  state: InstanceHealthState;
  /** Result of the last check. */
  last?: 'pass' | 'fail';
  message?: string;
  consecutiveFailures: number;
  /** RFC 3339. */
  checkedAt?: string;
  responseTimeMs?: number;
  /** Totals since the instance was first checked (for the error rate). */
  checks: number;
  failures: number;
}

export interface CheckResult {
  ok: boolean;
  message: string;
  at: string;
  responseTimeMs?: number;
}

export const initialHealth = (): InstanceHealth => ({
  state: 'unknown',
  consecutiveFailures: 0,
  checks: 0,
  failures: 0,
});

export function recordCheck(prev: InstanceHealth, r: CheckResult, threshold: number): InstanceHealth {
  const consecutiveFailures = r.ok ? 0 : prev.consecutiveFailures + 1;
  const state: InstanceHealthState = r.ok
    ? 'healthy'
    : consecutiveFailures >= threshold
      ? 'unhealthy'
      : prev.state;
  return {
    state,
    last: r.ok ? 'pass' : 'fail',
    message: r.message,
    consecutiveFailures,
    checkedAt: r.at,
    ...(r.responseTimeMs !== undefined ? { responseTimeMs: r.responseTimeMs } : {}),
    checks: prev.checks + 1,
    failures: prev.failures + (r.ok ? 0 : 1),
  };
}

/** Any unhealthy instance makes the application unhealthy; healthy needs at least one healthy. */
export function aggregateHealth(instances: InstanceHealth[]): AppHealth {
  if (instances.some((i) => i.state === 'unhealthy')) return 'unhealthy';
  if (instances.some((i) => i.state === 'healthy')) return 'healthy';
  return 'unknown';
}
