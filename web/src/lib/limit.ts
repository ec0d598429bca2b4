/**
 * A tiny concurrency limit for background reads. A browser opens about six HTTP/1.1 connections
 * per host and one is the event stream; per-row reads (container stats: each a Docker round trip
 * of a second or more) must not take the rest, or the list re-read after a live event waits
 * behind them and the change shows late.
 */
export function createLimit(max: number) {
  let active = 0;
  const queue: (() => void)[] = [];
  const next = () => {
    if (active >= max) return;
    const start = queue.shift();
    if (start) {
      active++;
      start();
    }
  };
  return <T>(task: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push(() => {
        task()
          .then(resolve, reject)
          .finally(() => {
            active--;
            next();
          });
      });
      next();
    });
}
