/** SIGINT/SIGTERM through node:process, shared by the Node and Bun adapters (Deno has its own API). */
export function onProcessShutdownSignal(fn: (signal: string) => void): void {
  // Both listeners go after the first signal, so a second Ctrl-C kills a stuck shutdown.
  const handler = (signal: NodeJS.Signals) => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    fn(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
