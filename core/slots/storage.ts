import { serviceKey } from '../kernel/services.ts';
import type { SqliteDb, SqliteDriverName, SqlStatement } from '../runtime/types.ts';

/**
 * The Storage slot: one SQLite database shared by every owner of tables.
 * Each owner (a plugin or a core module) keeps its own Drizzle schema and drizzle-kit migrations
 * and applies them with {@link Storage.migrate} during its setup.
 */
export interface Storage {
  readonly db: SqliteDb;
  readonly driver: SqliteDriverName;
  /** Absolute path of the database file (or ":memory:"). */
  readonly path: string;
  /** Apply `owner`'s migrations from `folder`; progress is tracked per owner, so owners never collide. */
  migrate(owner: string, folder: string | URL): Promise<void>;
  /**
   * Run `fn` in `BEGIN IMMEDIATE … COMMIT` (rolled back if it throws). Write transactions are
   * serialized in-process, because on the synchronous drivers every awaited statement shares one
   * connection: without the queue, two interleaved transactions would become one.
   */
  transaction<T>(fn: (db: SqliteDb) => Promise<T>): Promise<T>;
  /**
   * A transaction whose work is synchronous: `fn` runs only statements from {@link prepare} (no
   * Drizzle, nothing awaited) and returns its result. Same guarantees and the same queue as
   * transaction() (BEGIN IMMEDIATE, group commit, answered after COMMIT, rolled back if `fn`
   * throws), without a promise per statement; when the connection is free it runs at once.
   * For hot paths (quota reservations); anything else should use transaction().
   */
  transactionSync<T>(fn: () => T): Promise<T>;
  /**
   * A raw statement prepared on the shared connection (see SqlStatement). Run it inside
   * transactionSync() to write; outside a transaction it runs on its own (autocommit), and like
   * any statement it joins a transaction() that is open at that moment.
   */
  prepare(sql: string): SqlStatement;
  /** Throws when the database cannot be written (read-only file, full disk). Used by /readyz. */
  checkWritable(): Promise<void>;
}

export const StorageKey = serviceKey<Storage>('storage');
