/**
 * WAL checkpoints off the event loop (Node).
 *
 * SQLite's automatic checkpoint runs inside whichever COMMIT pushes the WAL past 1000 pages, on
 * the thread that committed: a pause of several milliseconds (it copies pages and syncs the file)
 * every hundred or so writes — that pause *was* the p99 of a quota reservation (bench/admission.ts).
 * Here a worker thread with its own connection runs PASSIVE checkpoints, which never block the
 * writer, on a timer; the main connection then checkpoints by itself only past a far higher cap
 * ({@link WAL_CAP_PAGES}). Should the worker fail to start or die, SQLite's default comes back.
 *
 * Why the cap: a PASSIVE checkpoint copies the frames that existed when it began, and SQLite
 * rewrites the WAL from its start only once a checkpoint has copied *every* frame. Under a
 * writer that never pauses for as long as a checkpoint takes (its file syncs cost milliseconds
 * here), the worker never catches up and the WAL grew without bound: 450 MB in a few seconds of
 * bench/admission.ts. Appending to an ever longer file is also slower than rewriting one already
 * in the page cache: the cap took a reservation's p99 on SQLite alone from ~78 µs to ~50 µs. The
 * inline checkpoint it costs comes once per ~2,000 reservations, far below any p99.
 *
 * The worker is plain CommonJS evaluated from a string: it then runs the same way under tsx,
 * vitest and the compiled build, with no worker file to locate or transpile. Bun and Deno keep
 * SQLite's automatic checkpoints (their adapters do not call this).
 */
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { path, driver, modulePath, intervalMs } = workerData;
const db = driver === 'better-sqlite3'
  ? new (require(modulePath))(path)
  : new (require('node:sqlite').DatabaseSync)(path);
db.exec('PRAGMA busy_timeout = 5000');
const checkpoint = () => {
  try { db.exec('PRAGMA wal_checkpoint(PASSIVE)'); }
  catch (e) { parentPort.postMessage({ type: 'error', message: String((e && e.message) || e) }); }
};
const timer = setInterval(checkpoint, intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
parentPort.postMessage({ type: 'ready' });
`;

/**
 * How often the worker checkpoints. Each checkpoint's file sync briefly slows the writer's WAL
 * appends on the same disk: at 200 ms those stalls touched ~1% of reservations (their p99 was
 * ~118 µs against ~100 µs at 1 s, bench/admission.ts); once a second still keeps the WAL at a few
 * MB under the heaviest admission load.
 */
const DEFAULT_INTERVAL_MS = 1_000;
/** Frames after which the main connection checkpoints by itself: 64 MB of WAL at 4 KiB pages. */
export const WAL_CAP_PAGES = 16_000;
/** SQLite's own wal_autocheckpoint, restored when the worker is gone. */
const SQLITE_DEFAULT_AUTOCHECKPOINT = 1_000;
const START_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 5_000;

export interface Checkpointer {
  /** Final checkpoint and close of the worker's connection; call before closing the main one. */
  stop(): Promise<void>;
}

export async function startCheckpointer(opts: {
  path: string;
  driver: 'better-sqlite3' | 'node:sqlite';
  /** Resolved path of the better-sqlite3 module, so the worker loads the same build. */
  modulePath?: string;
  /** Runs a statement on the main connection. */
  exec(sql: string): Promise<void>;
  intervalMs?: number;
  /** Overrides {@link WAL_CAP_PAGES} (tests). */
  walCapPages?: number;
}): Promise<Checkpointer | undefined> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      path: opts.path,
      driver: opts.driver,
      modulePath: opts.modulePath,
      intervalMs: opts.intervalMs ?? DEFAULT_INTERVAL_MS,
    },
  });
  worker.unref();
  let stopping = false;
  let mainOpen = true;
  const restoreAutoCheckpoint = () => {
    if (stopping || !mainOpen) return;
    // A failure means the main connection is closing: nothing to protect any more.
    opts.exec(`PRAGMA wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT}`).catch(() => undefined);
  };

  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), START_TIMEOUT_MS);
    worker.once('message', (m: { type?: string }) => {
      clearTimeout(timer);
      resolve(m?.type === 'ready');
    });
    worker.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!ready) {
    await worker.terminate().catch(() => undefined);
    return undefined;
  }
  await opts.exec(`PRAGMA wal_autocheckpoint = ${Math.trunc(opts.walCapPages ?? WAL_CAP_PAGES)}`);
  // A worker that dies hands checkpointing back to SQLite.
  worker.on('error', restoreAutoCheckpoint);
  worker.on('exit', restoreAutoCheckpoint);

  return {
    async stop() {
      if (stopping) return;
      stopping = true;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      const timer = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      mainOpen = false;
    },
  };
}
