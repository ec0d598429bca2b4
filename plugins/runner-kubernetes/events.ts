/**
 * Pod events as Runner events: list the namespace's IARNet pods, then watch from the list's
 * resourceVersion. The watch restarts when the server ends it (timeoutSeconds), re-lists on
 * 410 Gone (the version is too old), and after a connection failure reports
 * engine:disconnected, backs off (doubling) and re-lists; the first good list after that
 * reports engine:connected. A re-list compares with what was known, so changes that happened
 * while disconnected are still reported.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { LABELS, type RunnerEvent, type WorkloadState } from '../../core/slots/runner.ts';
import { linkSignals } from './abort.ts';
import { REPLICA_OF } from './deployment-spec.ts';
import { podState, toWorkloadInfo } from './pod-spec.ts';

export interface PodWatchSource {
  list(signal: AbortSignal): Promise<{ items: V1Pod[]; resourceVersion: string }>;
  /** Start a watch; `done` is called once when it ends (null: closed by the server). */
  watch(
    resourceVersion: string,
    timeoutSeconds: number,
    onEvent: (type: string, obj: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController>;
  /** A generic reason when `err` is a connection failure; undefined otherwise. */
  unreachableKind(err: unknown): string | undefined;
}

export interface PodWatchOptions {
  signal: AbortSignal;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Ask the server to end each watch after this long; a watch silent for longer is aborted. */
  watchSeconds: number;
}

/** Statuses with code 410 (or reason Expired/Gone) mean "re-list". */
export function isGone(errOrStatus: unknown): boolean {
  const s = errOrStatus as { code?: unknown; statusCode?: unknown; reason?: unknown } | undefined;
  return s?.code === 410 || s?.statusCode === 410 || s?.reason === 'Expired' || s?.reason === 'Gone';
}

/** What changed between two states of one pod, as a Runner event (undefined: nothing to report). */
export function transition(
  before: WorkloadState | undefined,
  pod: V1Pod,
  at: string,
): RunnerEvent | undefined {
  const info = toWorkloadInfo(pod);
  const after = podState(pod);
  if (after === before) return undefined;
  const base = { id: info.id, labels: info.labels, at };
  if (after === 'running') return { type: 'workload:started', ...base };
  if (after === 'exited') {
    const oom = info.reason === 'OOMKilled';
    return {
      type: oom ? 'workload:oom' : 'workload:exited',
      ...base,
      ...(info.exitCode !== undefined ? { exitCode: info.exitCode } : {}),
    };
  }
  if (after === 'removing' && before !== undefined) return { type: 'workload:exited', ...base };
  return undefined;
}

class Queue<T> {
  #items: T[] = [];
  #wake: (() => void) | undefined;
  push(x: T) {
    this.#items.push(x);
    this.#wake?.();
  }
  async next(signal: AbortSignal): Promise<T | undefined> {
    while (!this.#items.length) {
      if (signal.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        this.#wake = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        signal.addEventListener('abort', onAbort, { once: true });
      });
      this.#wake = undefined;
    }
    return this.#items.shift();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export async function* watchPodEvents(
  source: PodWatchSource,
  opts: PodWatchOptions,
): AsyncGenerator<RunnerEvent> {
  // Ends the loop when the caller aborts or simply stops iterating.
  const stop = new AbortController();
  const linked = linkSignals(opts.signal, stop.signal);
  const signal = linked.signal;
  const known = new Map<string, { state: WorkloadState; labels: Record<string, string> }>();
  const queue = new Queue<RunnerEvent>();
  let backoff = opts.backoffInitialMs;
  let connected: boolean | undefined;
  const now = () => new Date().toISOString();

  const see = (type: string, pod: V1Pod) => {
    const name = pod.metadata?.name;
    const labels = pod.metadata?.labels;
    if (!name || !labels?.[LABELS.node]) return;
    // A Deployment's pod speaks for its Deployment (the workload); its own name is no workload id.
    const id = labels[REPLICA_OF] ?? name;
    if (type === 'DELETED') {
      known.delete(name);
      queue.push({ type: 'workload:removed', id, labels: { ...labels }, at: now() });
      return;
    }
    const ev = transition(known.get(name)?.state, pod, now());
    known.set(name, { state: podState(pod), labels: { ...labels } });
    if (ev) queue.push({ ...ev, id } as RunnerEvent);
  };

  const disconnected = (reason: string) => {
    if (connected !== false) queue.push({ type: 'engine:disconnected', at: now(), reason });
    connected = false;
  };

  // The loop runs beside the generator; the generator drains the queue.
  const loop = (async () => {
    while (!signal.aborted) {
      let rv: string;
      try {
        const listed = await source.list(signal);
        rv = listed.resourceVersion;
        if (connected !== true) queue.push({ type: 'engine:connected', at: now() });
        connected = true;
        const seen = new Set<string>();
        for (const pod of listed.items) {
          seen.add(pod.metadata?.name ?? '');
          see('MODIFIED', pod);
        }
        for (const [name, k] of known) {
          if (!seen.has(name)) {
            known.delete(name);
            queue.push({
              type: 'workload:removed',
              id: k.labels[REPLICA_OF] ?? name,
              labels: k.labels,
              at: now(),
            });
          }
        }
        backoff = opts.backoffInitialMs;
      } catch (err) {
        if (signal.aborted) break;
        disconnected(source.unreachableKind(err) ?? 'cannot list pods');
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, opts.backoffMaxMs);
        continue;
      }
      // Watch until it ends; re-watch from the last version while the server just closes it.
      let relist = false;
      while (!signal.aborted && !relist) {
        const ended = await new Promise<unknown>((resolve) => {
          let idle: ReturnType<typeof setTimeout> | undefined;
          let controller: AbortController | undefined;
          let finished = false;
          const finish = (err: unknown) => {
            if (finished) return;
            finished = true;
            clearTimeout(idle);
            signal.removeEventListener('abort', onAbort);
            controller?.abort();
            resolve(err);
          };
          const arm = () => {
            clearTimeout(idle);
            idle = setTimeout(
              () => finish(new Error('watch silent for too long')),
              (opts.watchSeconds + 15) * 1000,
            );
          };
          const onAbort = () => finish(null);
          signal.addEventListener('abort', onAbort, { once: true });
          arm();
          source
            .watch(
              rv,
              opts.watchSeconds,
              (type, obj) => {
                arm();
                if (type === 'ERROR') {
                  finish(isGone(obj) ? { gone: true } : new Error('watch error'));
                  return;
                }
                const pod = obj as V1Pod;
                if (pod?.metadata?.resourceVersion) rv = pod.metadata.resourceVersion;
                if (type === 'BOOKMARK') return;
                see(type, pod);
              },
              (err) => finish(err ?? null),
            )
            .then((c) => {
              controller = c;
              if (finished) c.abort();
            }, finish);
        });
        if (signal.aborted) break;
        if (ended === null) continue;
        relist = true;
        if (isGone(ended) || (ended as { gone?: boolean })?.gone) continue;
        const kind = source.unreachableKind(ended);
        if (kind) {
          disconnected(kind);
          await sleep(backoff, signal);
          backoff = Math.min(backoff * 2, opts.backoffMaxMs);
        }
      }
    }
  })();

  try {
    while (!signal.aborted) {
      const ev = await queue.next(signal);
      if (ev) yield ev;
    }
  } finally {
    stop.abort();
    await loop.catch(() => undefined);
    linked.release();
  }
}
