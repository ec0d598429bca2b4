/**
 * Engine events → RunnerEvents. The engine's event stream (newline-delimited JSON) is watched
 * for container start/die/destroy/oom. When it breaks, the watcher says `engine:disconnected`
 * once, reconnects with capped exponential backoff, says `engine:connected`, and resumes from
 * the engine time of the last event it saw (the engine replays its recent events from `since`;
 * the replayed ones already delivered are dropped). A live stream is pinged now and then, as a
 * half-open TCP or SSH connection would otherwise look like a quiet engine forever.
 */
import { StringDecoder } from 'node:string_decoder';
import type { RunnerEvent } from '../../core/slots/runner.ts';

/** What the engine sends (the parts used here). */
export interface DockerEventMessage {
  Type?: string;
  Action?: string;
  /** Pre-1.22 engines: the action. */
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
}

/** Attributes Docker adds next to the container labels in event actors. */
const NON_LABEL_ATTRIBUTES = new Set(['image', 'name', 'exitCode', 'signal', 'execDuration', 'execID']);

export function labelsFromAttributes(attrs: Record<string, string> | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs ?? {})) if (!NON_LABEL_ATTRIBUTES.has(k)) labels[k] = v;
  return labels;
}

export function eventTime(msg: DockerEventMessage): string {
  if (typeof msg.timeNano === 'number' && msg.timeNano > 0)
    return new Date(Math.floor(msg.timeNano / 1e6)).toISOString();
  if (typeof msg.time === 'number' && msg.time > 0) return new Date(msg.time * 1000).toISOString();
  return new Date().toISOString();
}

/** The RunnerEvent for a container event, or undefined for events IARNet does not track. */
export function toRunnerEvent(msg: DockerEventMessage): RunnerEvent | undefined {
  if (msg.Type !== undefined && msg.Type !== 'container') return undefined;
  const action = msg.Action ?? msg.status;
  const id = msg.Actor?.ID ?? msg.id;
  if (!action || !id) return undefined;
  const base = { id, labels: labelsFromAttributes(msg.Actor?.Attributes), at: eventTime(msg) };
  switch (action) {
    case 'start':
      return { type: 'workload:started', ...base };
    case 'die': {
      const code = Number(msg.Actor?.Attributes?.exitCode);
      return { type: 'workload:exited', ...base, ...(Number.isFinite(code) ? { exitCode: code } : {}) };
    }
    case 'destroy':
      return { type: 'workload:removed', ...base };
    case 'oom':
      return { type: 'workload:oom', ...base };
    default:
      return undefined;
  }
}

/** Key identifying one engine event, to drop replays after a reconnect. */
export function eventKey(msg: DockerEventMessage): string {
  return `${msg.timeNano ?? msg.time}:${msg.Actor?.ID ?? msg.id}:${msg.Action ?? msg.status}`;
}

/** Remembers the last `size` keys. The engine keeps only its last 256 events, so replays are short. */
export class RecentKeys {
  private readonly keys = new Set<string>();
  private readonly size: number;
  constructor(size = 1024) {
    this.size = size;
  }
  /** True when `key` was seen before; records it otherwise. */
  seen(key: string): boolean {
    if (this.keys.has(key)) return true;
    this.keys.add(key);
    if (this.keys.size > this.size) {
      const oldest = this.keys.values().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
    return false;
  }
}

/** Parses newline-delimited JSON chunks; malformed lines are skipped. */
export async function* ndjson<T>(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
): AsyncGenerator<T> {
  const decoder = new StringDecoder('utf8');
  let buf = '';
  for await (const chunk of source) {
    buf += typeof chunk === 'string' ? chunk : decoder.write(Buffer.from(chunk));
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) {
        try {
          yield JSON.parse(line) as T;
        } catch {
          // An engine never sends half a line on purpose; skip whatever this was.
        }
      }
      nl = buf.indexOf('\n');
    }
  }
  const last = (buf + decoder.end()).trim();
  if (last) {
    try {
      yield JSON.parse(last) as T;
    } catch {
      // see above
    }
  }
}

/** Delay before reconnect attempt `attempt` (0-based): doubling from `initial`, capped, jittered down by up to half. */
export function backoffDelay(
  attempt: number,
  initial: number,
  max: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + random() * 0.5));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A bounded multi-producer queue read as an async iterable; when full the oldest item is dropped. */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((r: IteratorResult<T>) => void)[] = [];
  private readonly max: number;
  private closed = false;
  /** Items dropped because the reader fell behind. */
  dropped = 0;

  constructor(max = 10_000) {
    this.max = max;
  }

  push(item: T): void {
    if (this.closed) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter({ value: item, done: false });
      return;
    }
    this.items.push(item);
    if (this.items.length > this.max) {
      this.items.shift();
      this.dropped++;
    }
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length) return Promise.resolve({ value: this.items.shift() as T, done: false });
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    this.items.length = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}

/** The engine side of the watcher; DockerRunner implements it with dockerode. */
export interface EngineEventSource {
  /** Opens the container event stream from engine time `since` (unix seconds, fractional; undefined = now). */
  open(since: number | undefined, signal: AbortSignal): Promise<AsyncIterable<Uint8Array | string>>;
  /** The engine's clock (unix seconds), to resume from after a quiet period. */
  engineTime(signal: AbortSignal): Promise<number | undefined>;
  /** Throws when the engine does not answer. */
  ping(signal: AbortSignal): Promise<void>;
  /** A few generic words for a failure (no addresses or engine text). */
  describe(err: unknown): string;
}

export interface WatchOptions {
  backoffInitialMs: number;
  backoffMaxMs: number;
  pingIntervalMs: number;
  random?: () => number;
}

/** Runs until `signal` aborts, emitting container events and connection changes. */
export async function watchEngineEvents(
  source: EngineEventSource,
  emit: (e: RunnerEvent) => void,
  signal: AbortSignal,
  opts: WatchOptions,
): Promise<void> {
  const recent = new RecentKeys();
  let connected: boolean | undefined;
  let attempt = 0;
  // Engine time (unix seconds, fractional) to resume from after a break: the last event's time,
  // or the engine's clock when the stream first opened. Engine time, not ours: clocks differ.
  let cursor: number | undefined;
  let opened = false;
  const disconnected = (reason: string) => {
    if (connected !== false) emit({ type: 'engine:disconnected', at: new Date().toISOString(), reason });
    connected = false;
  };

  while (!signal.aborted) {
    const conn = new AbortController();
    const onAbort = () => conn.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    let reason = 'event stream ended';
    try {
      const resumeFrom = opened ? cursor : undefined;
      cursor ??= await source.engineTime(conn.signal);
      const stream = await source.open(resumeFrom, conn.signal);
      opened = true;
      // Ending the watch (or a failed ping) ends the stream, whatever the transport does with signals.
      const destroy = () => (stream as { destroy?: () => void }).destroy?.();
      conn.signal.addEventListener('abort', destroy, { once: true });
      if (connected !== true) emit({ type: 'engine:connected', at: new Date().toISOString() });
      connected = true;
      attempt = 0;
      const pinger = setInterval(() => {
        const t = AbortSignal.timeout(Math.max(1_000, opts.pingIntervalMs));
        source.ping(AbortSignal.any([conn.signal, t])).catch((err) => {
          if (conn.signal.aborted) return;
          reason = source.describe(err);
          conn.abort();
        });
      }, opts.pingIntervalMs);
      try {
        for await (const msg of ndjson<DockerEventMessage>(stream)) {
          if (typeof msg.timeNano === 'number') cursor = msg.timeNano / 1e9;
          else if (typeof msg.time === 'number') cursor = msg.time;
          if (recent.seen(eventKey(msg))) continue;
          const ev = toRunnerEvent(msg);
          if (ev) emit(ev);
        }
      } finally {
        clearInterval(pinger);
        conn.signal.removeEventListener('abort', destroy);
        destroy();
      }
    } catch (err) {
      // When a failed ping aborted the stream, `reason` already says why.
      if (!conn.signal.aborted) reason = source.describe(err);
    } finally {
      signal.removeEventListener('abort', onAbort);
      conn.abort();
    }
    if (signal.aborted) break;
    disconnected(reason);
    await sleep(backoffDelay(attempt++, opts.backoffInitialMs, opts.backoffMaxMs, opts.random), signal);
  }
}
