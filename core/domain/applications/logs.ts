/**
 * An application's log: the logs of its instances merged into one, each line with its
 * timestamp, a detected level and the instance it came from. Without `follow` the lines are
 * sorted by time (nanosecond timestamps compared exactly) and the last `tail` kept; with
 * `follow` the instances' streams are interleaved as lines arrive.
 */
import { interleave, newestLast } from '../../slots/log-merge.ts';
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
  return newestLast(per, opts.tail);
}

/** Lines of every instance as they arrive, until the signal aborts or every stream ends. */
export async function* followLogs(
  sources: LogSource[],
  opts: { tail: number; since?: string; signal: AbortSignal },
): AsyncGenerator<AppLogLine> {
  const streams = sources.map(async function* (s) {
    for await (const l of s.runner.logs(s.containerId, {
      follow: true,
      tail: opts.tail,
      ...(opts.since ? { since: opts.since } : {}),
      signal: opts.signal,
    })) {
      yield toAppLine(s, l);
    }
  });
  yield* interleave(streams, opts.signal);
}
