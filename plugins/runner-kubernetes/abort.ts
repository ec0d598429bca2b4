/**
 * One AbortSignal that fires when any of several does, with an explicit release: long-lived
 * signals (a runner's "closed") would otherwise collect a listener per stream or watch ever
 * opened (Node 20's AbortSignal.any keeps its source listeners).
 */
export function linkSignals(...signals: (AbortSignal | undefined)[]): {
  signal: AbortSignal;
  release: () => void;
} {
  const controller = new AbortController();
  const sources = signals.filter((s): s is AbortSignal => s !== undefined);
  const onAbort = () => controller.abort();
  for (const s of sources) {
    if (s.aborted) controller.abort();
    else s.addEventListener('abort', onAbort, { once: true });
  }
  return {
    signal: controller.signal,
    release: () => {
      for (const s of sources) s.removeEventListener('abort', onAbort);
    },
  };
}
