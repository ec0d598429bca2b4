/**
 * WAL checkpoints off the event loop (Node).
 *
 * SQLite's automatic checkpoint runs inside whichever COMMIT pushes the WAL past 1000 pages, on
 * the thread that committed: a pause of several milliseconds (it copies pages and syncs the file)
 * every hundred or so writes — that pause *was* the p99 of a quota reservation (bench/admission.ts).
 * Here a worker thread with its own connection runs the checkpoints, once a second or every
 * {@link COMMITS_PER_CHECKPOINT} commits, whichever comes first, and the main
 * connection checkpoints by itself only past a far higher cap ({@link WAL_CAP_PAGES}). Should the
 * worker fail to start or die, SQLite's default comes back.
 *
 * Why writes pause for it: SQLite rewrites the WAL from its start only after a checkpoint has
 * copied *every* frame, and a PASSIVE checkpoint copies only the frames that existed when it
 * began. Under a writer that never pauses for as long as a checkpoint takes (its file syncs cost
 * milliseconds here), the worker never caught up and the WAL grew without bound: 450 MB in a few
 * seconds of bench/admission.ts. So the owner of the connection registers a {@link WriteGate}
 * (Storage runs the checkpoint in its transaction queue): writes wait a few milliseconds once a
 * second, the checkpoint always completes, and the event loop never blocks on it. A WAL that is
 * rewritten from its start is also faster to write than an ever longer file: a reservation's p99
 * on SQLite alone went from ~78 µs to ~50 µs. The cap is the backstop for what the gate cannot
 * hold back (no gate registered, a writer on another connection, a burst within one second).
 *
 * The worker is plain CommonJS evaluated from a string: it then runs the same way under tsx,
 * vitest and the compiled build, with no worker file to locate or transpile. Bun and Deno keep
 * SQLite's automatic checkpoints (their adapters do not call this).
 */
import { Worker } from 'node:worker_threads';
import type { WriteGate } from './types.ts';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { path, driver, modulePath } = workerData;
const db = driver === 'better-sqlite3'
  ? new (require(modulePath))(path)
  : new (require('node:sqlite').DatabaseSync)(path);
db.exec('PRAGMA busy_timeout = 5000');
const checkpoint = () => {
  try { db.exec('PRAGMA wal_checkpoint(PASSIVE)'); }
  catch (e) { parentPort.postMessage({ type: 'error', message: String((e && e.message) || e) }); }
};
parentPort.on('message', (m) => {
  if (m && m.type === 'checkpoint') {
    checkpoint();
    parentPort.postMessage({ type: 'checkpointed', id: m.id });
    return;
  }
  if (m !== 'stop') return;
  checkpoint();
  db.close();
  parentPort.close();
});
parentPort.postMessage({ type: 'ready' });
`;

/**
 * How often a checkpoint runs when commits are few. Each holds writes back for its file syncs (a
 * few milliseconds), so more often would touch more writes for little gain.
 */
const DEFAULT_INTERVAL_MS = 1_000;
/** Frames after which the main connection checkpoints by itself: 64 MB of WAL at 4 KiB pages. */
export const WAL_CAP_PAGES = 16_000;
/** SQLite's own wal_autocheckpoint, restored when the worker is gone. */
const SQLITE_DEFAULT_AUTOCHECKPOINT = 1_000;
const START_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 5_000;
/**
 * Commits after which a checkpoint starts before its second is up: a reservation commits ~4
 * pages, so this keeps the WAL near half the cap under the heaviest load, before the cap's inline
 * checkpoint (which blocks the event loop) would ever be reached.
 */
const COMMITS_PER_CHECKPOINT = 2_000;
/** Writes never wait longer than this for a checkpoint (a stalled disk); it then goes on alone. */
const GATE_TIMEOUT_MS = 5_000;

export interface Checkpointer {
  /**
   * From now on every checkpoint runs inside `gate`, which holds this process's writes back
   * while it runs (see the file comment).
   */
  setGate(gate: WriteGate): void;
  /** Called after each COMMIT on the main connection: many of them start a checkpoint early. */
  committed(): void;
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
    workerData: { path: opts.path, driver: opts.driver, modulePath: opts.modulePath },
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

  // Checkpoints asked of the worker and not answered yet, by request id.
  const waiting = new Map<number, () => void>();
  let nextId = 0;
  const answerAll = () => {
    for (const done of waiting.values()) done();
    waiting.clear();
  };
  worker.on('message', (m: { type?: string; id?: number }) => {
    if (m?.type !== 'checkpointed' || m.id === undefined) return;
    waiting.get(m.id)?.();
    waiting.delete(m.id);
  });
  // A worker that dies hands checkpointing back to SQLite, and holds no write back any more.
  let gone = false;
  const died = () => {
    gone = true;
    answerAll();
    restoreAutoCheckpoint();
  };
  worker.on('error', died);
  worker.on('exit', died);

  const checkpointNow = () =>
    new Promise<void>((resolve) => {
      if (gone) {
        resolve();
        return;
      }
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve();
      }, GATE_TIMEOUT_MS);
      waiting.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
      worker.postMessage({ type: 'checkpoint', id });
    });

  let gate: WriteGate | undefined;
  let running: Promise<void> | undefined;
  let commits = 0;
  const tick = () => {
    if (running || stopping || gone) return;
    commits = 0;
    const run = gate ? gate(checkpointNow) : checkpointNow();
    // A gate that refuses (its owner is closing) simply skips this round.
    running = run
      .catch(() => undefined)
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, opts.intervalMs ?? DEFAULT_INTERVAL_MS);
  timer.unref();

  return {
    setGate(g) {
      gate = g;
    },
    committed() {
      if (++commits >= COMMITS_PER_CHECKPOINT) tick();
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      clearInterval(timer);
      await running;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      const kill = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(kill);
      mainOpen = false;
    },
  };
}
