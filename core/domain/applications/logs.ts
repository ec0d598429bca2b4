/**
 * An application's log: the logs of its instances merged into one, each line with its
 * timestamp, a detected level and the instance it came from. Without `follow` the lines are
 * sorted by time (nanosecond timestamps compared exactly) and the last `tail` kept; with
 * `follow` the instances' streams are interleaved as lines arrive.
 */
import type { LogLine, Runner } from '../../slots/runner.ts';
import { detectLevel, type LogLevel } from './log-level.ts';

export interface AppLogLine {
  timestamp: string;
  level: LogLevel;
  message: string;
  stream: 'stdout' | 'stderr';
  /** Container name of the instance. */
  source: string;
  instanceId: string;
}

export interface LogSource {
  instanceId: string;
  containerId: string;
  name: string;
  runner: Runner;
}

/** Sortable key of an RFC 3339 timestamp: seconds to ms, then the fraction as 9 digits. */
export function timeKey(ts: string): string {
  const m = /^(.*?T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(ts);
  if (!m) return `${String(Date.parse(ts) || 0).padStart(15, '0')}000000000`;
  const secs = Date.parse(`${m[1]}${m[3]}`);
  return `${String(Number.isNaN(secs) ? 0 : secs).padStart(15, '0')}${(m[2] ?? '').padEnd(9, '0').slice(0, 9)}`;
}

const toAppLine = (s: LogSource, l: LogLine): AppLogLine => ({
  timestamp: l.timestamp,
  level: detectLevel(l.message),
  message: l.message,
  stream: l.stream,
  source: s.name,
  instanceId: s.instanceId,
});

/** The last `tail` lines of every instance together, oldest first. */
export async function mergedLogs(
  sources: LogSource[],
  opts: { tail: number; since?: string; signal?: AbortSignal },
): Promise<AppLogLine[]> {
  const per = await Promise.all(
    sources.map(async (s) => {
      const out: AppLogLine[] = [];
      for await (const l of s.runner.logs(s.containerId, {
        tail: opts.tail,
        ...(opts.since ? { since: opts.since } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      })) {
        out.push(toAppLine(s, l));
      }
      return out;
    }),
  );
  const all = per.flat().map((l, i) => ({ l, k: timeKey(l.timestamp), i }));
  all.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i));
  return all.slice(Math.max(0, all.length - opts.tail)).map((x) => x.l);
}

/** Lines of every instance as they arrive, until the signal aborts or every stream ends. */
export async function* followLogs(
  sources: LogSource[],
  opts: { tail: number; since?: string; signal: AbortSignal },
): AsyncGenerator<AppLogLine> {
  const queue: AppLogLine[] = [];
  let wake: (() => void) | undefined;
  let open = sources.length;
  let failure: unknown;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  for (const s of sources) {
    void (async () => {
      try {
        for await (const l of s.runner.logs(s.containerId, {
          follow: true,
          tail: opts.tail,
          ...(opts.since ? { since: opts.since } : {}),
          signal: opts.signal,
        })) {
          queue.push(toAppLine(s, l));
          notify();
        }
      } catch (err) {
        if (!opts.signal.aborted) failure ??= err;
      } finally {
        open--;
        notify();
      }
    })();
  }
  const aborted = new Promise<void>((r) => opts.signal.addEventListener('abort', () => r(), { once: true }));
  while (!opts.signal.aborted) {
    const next = queue.shift();
    if (next) {
      yield next;
      continue;
    }
    if (failure) throw failure;
    if (open === 0) return;
    await Promise.race([new Promise<void>((r) => (wake = r)), aborted]);
  }
}
