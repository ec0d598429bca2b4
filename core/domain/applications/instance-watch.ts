/**
 * Pushes `application:status` when an instance exits or changes state by itself: the reconciler's
 * `run:stopped` and `run:state` events carry the application id, and the status seen outside
 * becomes `warning` (short of instances) or `error` (none left) without anyone polling.
 * Stops and deploys asked through the API change the stored status and are pushed where they happen.
 */
import type { EventBus } from '../events.ts';
import type { AppHealth } from './health-state.ts';
import type { ApplicationRow } from './schema.ts';
import { effectiveStatus, type OutsideStatus } from './status.ts';

/** Several instances of one application often go in the same reconcile pass: one push for them. */
const SETTLE_MS = 200;

export interface InstanceWatchDeps {
  events: EventBus;
  row(id: string): Promise<ApplicationRow | undefined>;
  running(id: string): Promise<number>;
  health(id: string): AppHealth;
  push(change: {
    row: ApplicationRow;
    status: OutsideStatus;
    previous: OutsideStatus;
    reason?: string;
  }): void;
}

export function watchInstances(d: InstanceWatchDeps): () => void {
  const pending = new Map<string, ReturnType<typeof setTimeout>>();
  const last = new Map<string, OutsideStatus>();

  const check = async (appId: string) => {
    const row = await d.row(appId);
    if (!row || row.status !== 'running') {
      last.delete(appId);
      return;
    }
    const running = await d.running(appId);
    const health = d.health(appId);
    const status = effectiveStatus(row.status, health, { running, desired: row.instances });
    const previous = last.get(appId) ?? effectiveStatus(row.status, health);
    last.set(appId, status);
    if (status === previous) return;
    const reason =
      status === 'error'
        ? 'no instance is running'
        : status === 'warning' && running < row.instances
          ? `${running} of ${row.instances} instances running`
          : undefined;
    d.push({ row, status, previous, ...(reason ? { reason } : {}) });
  };

  const unsubscribe = d.events.subscribe((e) => {
    if (e.type !== 'run:stopped' && e.type !== 'run:state') return;
    const appId = e.data.appId;
    if (typeof appId !== 'string') return;
    clearTimeout(pending.get(appId));
    pending.set(
      appId,
      setTimeout(() => {
        pending.delete(appId);
        check(appId).catch(() => undefined);
      }, SETTLE_MS),
    );
  });

  return () => {
    unsubscribe();
    for (const t of pending.values()) clearTimeout(t);
    pending.clear();
  };
}
