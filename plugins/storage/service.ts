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

export function createStorage(handle: SqliteHandle, path: string): OpenStorage {
  // Every statement of every driver goes through one connection, so work that spans awaits
  // (transactions, migrations) runs one at a time; see Storage.transaction.
  let tail: Promise<unknown> = Promise.resolve();
  let closing: Promise<void> | undefined;
  // Marks the async context of a running transaction, to refuse re-entry instead of deadlocking.
  const insideTransaction = new AsyncLocalStorage<{ active: boolean }>();

  const exclusive = <T>(what: string, work: () => Promise<T>): Promise<T> => {
    if (closing) return Promise.reject(new Error(`storage is closed (${what})`));
    if (insideTransaction.getStore()?.active) {
      return Promise.reject(
        new Error(
          `${what} was called inside storage.transaction(); it would wait for that transaction forever. ` +
            'Use the db passed to the transaction callback instead.',
        ),
      );
    }
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
      return exclusive('storage.transaction()', () => {
        const marker = { active: true };
        return insideTransaction.run(marker, async () => {
          try {
            // IMMEDIATE takes the write lock up front: a read-then-write never fails halfway with SQLITE_BUSY.
            await handle.exec('BEGIN IMMEDIATE');
            let result: T;
            try {
              result = await fn(handle.db);
              await handle.exec('COMMIT');
            } catch (e) {
              await rollback();
              throw e;
            }
            return result;
          } finally {
            marker.active = false;
          }
        });
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
