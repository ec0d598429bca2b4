/**
 * The Storage service over one open SQLite handle: per-owner migrations, serialized transactions
 * and the writability probe behind /readyz.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { setImmediate } from 'node:timers';
import { fileURLToPath } from 'node:url';
import type { SqliteDb, SqliteHandle } from '../../core/runtime/types.ts';
import type { Storage } from '../../core/slots/storage.ts';
import { health } from './schema.ts';

export interface OpenStorage extends Storage {
  /** Waits for queued work, then closes the database. Later calls are refused. */
  close(): Promise<void>;
}

const OWNER = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
/** Most transactions one COMMIT carries: bounds how long the first caller of a batch waits. */
const MAX_BATCH = 32;

type PendingTransaction =
  | {
      sync: false;
      fn: (db: SqliteDb) => Promise<unknown>;
      resolve(value: unknown): void;
      reject(reason: unknown): void;
    }
  | { sync: true; fn: () => unknown; resolve(value: unknown): void; reject(reason: unknown): void };

const nestedError = (what: string) =>
  new Error(
    `${what} was called inside storage.transaction(); it would wait for that transaction forever. ` +
      'Use the db passed to the transaction callback instead.',
  );

export function createStorage(handle: SqliteHandle, path: string): OpenStorage {
  // Every statement of every driver goes through one connection, so work that spans awaits
  // (transactions, migrations) runs one at a time; see Storage.transaction.
  let tail: Promise<unknown> = Promise.resolve();
  let closing: Promise<void> | undefined;
  // Marks the async context of a running transaction, to refuse re-entry instead of deadlocking.
  const insideTransaction = new AsyncLocalStorage<{ active: boolean }>();
  // On Node < 24 an AsyncLocalStorage works through async_hooks: once run() enabled it, every
  // promise of the process (HTTP, Hono, …) pays an init hook, until disable(). So it is switched
  // off again after each async callback; stores left on older promises hold an inactive marker,
  // which is what getStore() must report for them anyway. (The AsyncContextFrame implementation
  // of newer Node versions has no _propagate, and Bun's own is not hook-based: both left alone.)
  const hookBased = '_propagate' in insideTransaction && process.versions.bun === undefined;

  const exclusive = <T>(what: string, work: () => Promise<T>): Promise<T> => {
    if (closing) return Promise.reject(new Error(`storage is closed (${what})`));
    if (insideTransaction.getStore()?.active) return Promise.reject(nestedError(what));
    const run = tail.then(work);
    tail = run.catch(() => undefined);
    return run;
  };

  const rollback = () => {
    try {
      handle.execSync('ROLLBACK');
    } catch {
      // SQLite already rolled back (e.g. SQLITE_FULL); the original error is the one to report.
    }
  };

  /**
   * Group commit: transactions that queue up while another runs are taken together, each in its
   * own SAVEPOINT inside one BEGIN IMMEDIATE … COMMIT. Each still sees the ones before it and
   * fails alone (ROLLBACK TO its savepoint), but the batch pays for one commit — the WAL write that
   * dominated admission under load (bench/admission.ts). Every caller is answered only after the
   * COMMIT that made its work durable; if that COMMIT fails, every caller of the batch gets the error.
   * BEGIN/SAVEPOINT/COMMIT go through execSync: every driver is synchronous underneath, and a
   * promise per control statement was pure overhead.
   */
  const pending: PendingTransaction[] = [];
  let drainQueued = false;

  const runInContext = (fn: (db: SqliteDb) => Promise<unknown>) => {
    const marker = { active: true };
    return insideTransaction.run(marker, async () => {
      try {
        return await fn(handle.db);
      } finally {
        marker.active = false;
        if (hookBased) insideTransaction.disable();
      }
    });
  };

  /** One transaction's own work: synchronous callbacks are called, async ones awaited in context. */
  const work = (t: PendingTransaction): unknown => (t.sync ? t.fn() : runInContext(t.fn));

  const scheduleDrain = () => {
    if (drainQueued || pending.length === 0) return;
    drainQueued = true;
    exclusive('storage.transaction()', gatherThenDrain).catch((e) => {
      // Closed meanwhile: nothing will run these.
      drainQueued = false;
      for (const t of pending.splice(0)) t.reject(e);
    });
  };

  /**
   * The gathering window of group commit: a drain starts only after the I/O callbacks of this
   * event-loop turn (setImmediate), so the transactions of every request read in this turn share
   * one COMMIT. Draining at the next microtask instead committed nearly every HTTP request alone:
   * POST /run with the no-op runner went from ~2,600 to ~6,000/s on one core (bench/admission.ts),
   * for ~2 µs more per lone reservation. A backlog of full batches drains without waiting.
   */
  const gatherThenDrain = (): Promise<void> =>
    pending.length >= MAX_BATCH ? drain() : new Promise<void>((resolve) => setImmediate(resolve)).then(drain);

  const drain = async (): Promise<void> => {
    drainQueued = false;
    const batch = pending.splice(0, MAX_BATCH);
    scheduleDrain();
    try {
      if (batch.length === 1) await runAlone(batch[0]!);
      else await runBatch(batch);
    } catch (e) {
      // Only a failing SAVEPOINT/RELEASE gets here; answering twice is harmless (first answer wins).
      rollback();
      for (const t of batch) t.reject(e);
    }
  };

  const runAlone = async (t: PendingTransaction): Promise<void> => {
    try {
      // IMMEDIATE takes the write lock up front: a read-then-write never fails halfway with SQLITE_BUSY.
      handle.execSync('BEGIN IMMEDIATE');
    } catch (e) {
      t.reject(e);
      return;
    }
    let result: unknown;
    try {
      result = work(t);
      if (!t.sync) result = await result;
      handle.execSync('COMMIT');
    } catch (e) {
      rollback();
      t.reject(e);
      return;
    }
    t.resolve(result);
  };

  const runBatch = async (batch: PendingTransaction[]): Promise<void> => {
    try {
      handle.execSync('BEGIN IMMEDIATE');
    } catch (e) {
      for (const t of batch) t.reject(e);
      return;
    }
    const done: { t: PendingTransaction; result: unknown }[] = [];
    for (let i = 0; i < batch.length; i++) {
      const t = batch[i]!;
      handle.execSync('SAVEPOINT iarnet_tx');
      try {
        const result = work(t);
        done.push({ t, result: t.sync ? result : await result });
        handle.execSync('RELEASE iarnet_tx');
      } catch (e) {
        try {
          handle.execSync('ROLLBACK TO iarnet_tx');
          handle.execSync('RELEASE iarnet_tx');
        } catch {
          // SQLite already rolled the whole transaction back (SQLITE_FULL, IOERR…): the work done
          // so far in this batch is gone, so its callers fail too; the rest run in a fresh batch.
          rollback();
          t.reject(e);
          for (const d of done) d.t.reject(e);
          pending.unshift(...batch.slice(i + 1));
          scheduleDrain();
          return;
        }
        t.reject(e);
      }
    }
    try {
      handle.execSync('COMMIT');
    } catch (e) {
      rollback();
      for (const d of done) d.t.reject(e);
      return;
    }
    for (const d of done) d.t.resolve(d.result);
  };

  // WAL checkpoints (Node) run between transactions, so a steady stream of writes cannot keep
  // one from finishing (core/runtime/sqlite-checkpointer.ts).
  handle.setWriteGate?.((work) => exclusive('a WAL checkpoint', work));

  return {
    db: handle.db,
    driver: handle.driver,
    path,

    migrate(owner, folder) {
      if (!OWNER.test(owner)) {
        return Promise.reject(
          new Error(`invalid migration owner "${owner}": use letters, digits, "-" and "_"`),
        );
      }
      const dir = folder instanceof URL || folder.startsWith('file:') ? fileURLToPath(folder) : folder;
      return exclusive(`storage.migrate("${owner}")`, async () => {
        try {
          await handle.migrate(dir, `__migrations_${owner}`);
        } catch (e) {
          throw new Error(`migrations of "${owner}" from ${dir} failed: ${rootMessage(e)}`, { cause: e });
        }
      });
    },

    prepare: (sql) => handle.prepare(sql),

    transaction<T>(fn: (db: SqliteDb) => Promise<T>): Promise<T> {
      if (closing) return Promise.reject(new Error('storage is closed (storage.transaction())'));
      if (insideTransaction.getStore()?.active) return Promise.reject(nestedError('storage.transaction()'));
      return new Promise<T>((resolve, reject) => {
        pending.push({ sync: false, fn, resolve, reject } as PendingTransaction);
        scheduleDrain();
      });
    },

    transactionSync<T>(fn: () => T): Promise<T> {
      if (closing) return Promise.reject(new Error('storage is closed (storage.transactionSync())'));
      if (insideTransaction.getStore()?.active) {
        return Promise.reject(nestedError('storage.transactionSync()'));
      }
      return new Promise<T>((resolve, reject) => {
        pending.push({ sync: true, fn, resolve, reject } as PendingTransaction);
        scheduleDrain();
      });
    },

    checkWritable() {
      return exclusive('storage.checkWritable()', async () => {
        const now = Date.now();
        try {
          await handle.db
            .insert(health)
            .values({ id: 1, checkedAt: now })
            .onConflictDoUpdate({ target: health.id, set: { checkedAt: now } });
        } catch (e) {
          // No path in the message: it is shown by the anonymous /readyz.
          throw new Error(`the database cannot be written: ${rootMessage(e)}`, { cause: e });
        }
      });
    },

    close() {
      closing ??= tail.then(() => handle.close());
      return closing;
    },
  };
}

/**
 * The driver's own message. Drizzle wraps failures as "Failed query: <sql> params: <values>", which
 * says nothing about the cause and would put parameter values into logs and responses.
 */
export function rootMessage(e: unknown): string {
  let current: unknown = e;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  if (!(current instanceof Error)) return String(current);
  const code = (current as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_')
    ? `${current.message} (${code})`
    : current.message;
}
