/**
 * The Storage service over one open SQLite handle: per-owner migrations, serialized transactions
 * and the writability probe behind /readyz.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
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

interface PendingTransaction {
  fn: (db: SqliteDb) => Promise<unknown>;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
}

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

  const exclusive = <T>(what: string, work: () => Promise<T>): Promise<T> => {
    if (closing) return Promise.reject(new Error(`storage is closed (${what})`));
    if (insideTransaction.getStore()?.active) return Promise.reject(nestedError(what));
    const run = tail.then(work);
    tail = run.catch(() => undefined);
    return run;
  };

  const rollback = async () => {
    try {
      await handle.exec('ROLLBACK');
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
   */
  const pending: PendingTransaction[] = [];
  let drainQueued = false;

  const runInContext = (fn: PendingTransaction['fn']) => {
    const marker = { active: true };
    return insideTransaction.run(marker, async () => {
      try {
        return await fn(handle.db);
      } finally {
        marker.active = false;
      }
    });
  };

  const scheduleDrain = () => {
    if (drainQueued || pending.length === 0) return;
    drainQueued = true;
    exclusive('storage.transaction()', drain).catch((e) => {
      // Closed meanwhile: nothing will run these.
      drainQueued = false;
      for (const t of pending.splice(0)) t.reject(e);
    });
  };

  const drain = async (): Promise<void> => {
    drainQueued = false;
    const batch = pending.splice(0, MAX_BATCH);
    scheduleDrain();
    try {
      if (batch.length === 1) await runAlone(batch[0]!);
      else await runBatch(batch);
    } catch (e) {
      // Only a failing SAVEPOINT/RELEASE gets here; answering twice is harmless (first answer wins).
      await rollback();
      for (const t of batch) t.reject(e);
    }
  };

  const runAlone = async (t: PendingTransaction): Promise<void> => {
    try {
      // IMMEDIATE takes the write lock up front: a read-then-write never fails halfway with SQLITE_BUSY.
      await handle.exec('BEGIN IMMEDIATE');
    } catch (e) {
      t.reject(e);
      return;
    }
    let result: unknown;
    try {
      result = await runInContext(t.fn);
      await handle.exec('COMMIT');
    } catch (e) {
      await rollback();
      t.reject(e);
      return;
    }
    t.resolve(result);
  };

  const runBatch = async (batch: PendingTransaction[]): Promise<void> => {
    try {
      await handle.exec('BEGIN IMMEDIATE');
    } catch (e) {
      for (const t of batch) t.reject(e);
      return;
    }
    const done: { t: PendingTransaction; result: unknown }[] = [];
    for (let i = 0; i < batch.length; i++) {
      const t = batch[i]!;
      await handle.exec('SAVEPOINT iarnet_tx');
      try {
        done.push({ t, result: await runInContext(t.fn) });
        await handle.exec('RELEASE iarnet_tx');
      } catch (e) {
        try {
          await handle.exec('ROLLBACK TO iarnet_tx');
          await handle.exec('RELEASE iarnet_tx');
        } catch {
          // SQLite already rolled the whole transaction back (SQLITE_FULL, IOERR…): the work done
          // so far in this batch is gone, so its callers fail too; the rest run in a fresh batch.
          await rollback();
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
      await handle.exec('COMMIT');
    } catch (e) {
      await rollback();
      for (const d of done) d.t.reject(e);
      return;
    }
    for (const d of done) d.t.resolve(d.result);
  };

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

    transaction<T>(fn: (db: SqliteDb) => Promise<T>): Promise<T> {
      if (closing) return Promise.reject(new Error('storage is closed (storage.transaction())'));
      if (insideTransaction.getStore()?.active) return Promise.reject(nestedError('storage.transaction()'));
      return new Promise<T>((resolve, reject) => {
        pending.push({ fn, resolve, reject } as PendingTransaction);
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
