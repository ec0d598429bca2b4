/**
 * Several workloads' logs as one: an application's instances (core/domain/applications/logs.ts)
 * and a replicated workload's pods (a Kubernetes Deployment) are both read this way.
 *  - `newestLast` orders finished reads by time, nanosecond timestamps compared exactly, and keeps
 *    the last `tail` lines of all of them together;
 *  - `interleave` yields the lines of live streams as they arrive, until every stream ends or the
 *    signal aborts; a stream's failure is raised after the lines already received.
 */

/** Sortable key of an RFC 3339 timestamp: seconds to ms, then the fraction as 9 digits. */
export function timeKey(ts: string): string {
  const m = /^(.*?T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(ts);
  if (!m) return `${String(Date.parse(ts) || 0).padStart(15, '0')}000000000`;
  const secs = Date.parse(`${m[1]}${m[3]}`);
  return `${String(Number.isNaN(secs) ? 0 : secs).padStart(15, '0')}${(m[2] ?? '').padEnd(9, '0').slice(0, 9)}`;
}

/** Every list's lines oldest first (a stable sort: equal times keep their order), the last `tail`. */
export function newestLast<T extends { timestamp: string }>(lists: T[][], tail?: number): T[] {
  const all = lists.flat().map((l, i) => ({ l, k: timeKey(l.timestamp), i }));
  all.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i));
  return all.slice(tail === undefined ? 0 : Math.max(0, all.length - tail)).map((x) => x.l);
}

export async function* interleave<T>(streams: AsyncIterable<T>[], signal: AbortSignal): AsyncGenerator<T> {
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  let open = streams.length;
  let failure: unknown;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  for (const stream of streams) {
    void (async () => {
      try {
        for await (const item of stream) {
          queue.push(item);
          notify();
        }
      } catch (err) {
        if (!signal.aborted) failure ??= err;
      } finally {
        open--;
        notify();
      }
    })();
  }
  const aborted = new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
  while (!signal.aborted) {
    const next = queue.shift();
    if (next !== undefined) {
      yield next;
      continue;
    }
    if (failure) throw failure;
    if (open === 0) return;
    await Promise.race([new Promise<void>((r) => (wake = r)), aborted]);
  }
}
