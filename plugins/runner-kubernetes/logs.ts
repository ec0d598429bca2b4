/**
 * Pod logs through the API server's log endpoint (`pods/log`), always with `timestamps=true`:
 * each line is "<RFC 3339 time> <message>". Kubernetes merges stdout and stderr into one stream,
 * so every line is reported as stdout.
 */

import type { LogOptions as K8sLogOptions } from '@kubernetes/client-node';
import type { LogLine, LogOptions } from '../../core/slots/runner.ts';

const STAMPED = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) ?(.*)$/s;

export function parseLogLine(raw: string): LogLine {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  const m = STAMPED.exec(line);
  if (!m) return { stream: 'stdout', timestamp: new Date().toISOString(), message: line };
  return { stream: 'stdout', timestamp: m[1]!, message: m[2]! };
}

/** Split a whole log body (non-follow) into lines; a trailing newline ends the last line. */
export function parseLogBody(body: string): LogLine[] {
  if (!body) return [];
  const lines = body.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map(parseLogLine);
}

/**
 * The Runner's options as the log endpoint's: `since` is RFC 3339 or unix seconds (Docker's
 * convention); an unparseable `since` is refused rather than silently ignored.
 */
export function logQuery(opts: LogOptions, now = Date.now()): K8sLogOptions {
  const q: K8sLogOptions = { timestamps: true };
  if (opts.follow) q.follow = true;
  if (opts.tail !== undefined && opts.tail >= 0) q.tailLines = Math.floor(opts.tail);
  if (opts.since !== undefined && opts.since !== '') {
    const since = opts.since.trim();
    let at: number;
    if (/^\d+(\.\d+)?$/.test(since)) at = Number(since) * 1000;
    else at = Date.parse(since);
    if (!Number.isFinite(at)) throw new RangeError('since must be RFC 3339 or unix seconds');
    // sinceTime has one-second resolution on the server; sinceSeconds would drift with latency.
    if (at < now) q.sinceTime = new Date(Math.floor(at / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  }
  return q;
}

/** Drop lines before `since` (the server's sinceTime is rounded down to the second). */
export function afterSince(line: LogLine, opts: LogOptions): boolean {
  if (!opts.since) return true;
  const since = /^\d+(\.\d+)?$/.test(opts.since.trim()) ? Number(opts.since) * 1000 : Date.parse(opts.since);
  const at = Date.parse(line.timestamp);
  return !Number.isFinite(since) || !Number.isFinite(at) || at >= since;
}
