/**
 * SQLite pieces shared by the runtime adapters: the pragmas every connection gets, and the
 * `node:sqlite` driver (Node ≥ 22.5 and Deno) wired into Drizzle through `drizzle-orm/sqlite-proxy`,
 * because drizzle-orm 0.45 has no node:sqlite driver of its own.
 *
 * Only the adapters in this folder import this file.
 */
import type { SqliteDb, SqliteHandle, SqlStatement } from './types.ts';

/** Pragmas run on every connection. WAL needs a file: an in-memory database keeps its own journal. */
export function connectionPragmas(path: string): string[] {
  return [
    ...(isMemoryPath(path) ? [] : ['PRAGMA journal_mode = WAL']),
    'PRAGMA foreign_keys = ON',
    // Writers wait for a lock instead of failing with SQLITE_BUSY (e.g. a backup tool reading).
    'PRAGMA busy_timeout = 5000',
    // Safe with WAL (a power cut may lose the last commits, never corrupts) and much faster than FULL.
    'PRAGMA synchronous = NORMAL',
  ];
}

export function isMemoryPath(path: string): boolean {
  return path === ':memory:' || path === '';
}

/** The slice of `node:sqlite` used here (@types/node 20 does not describe the module). */
interface NodeSqliteStatement {
  run(...params: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
  setReturnArrays(enabled: boolean): void;
}
interface NodeSqliteDatabase {
  exec(sql: string): void;
  prepare(sql: string): NodeSqliteStatement;
  close(): void;
}
interface NodeSqliteModule {
  DatabaseSync: new (path: string) => NodeSqliteDatabase;
}

/** Imports `node:sqlite`, or throws the runtime's own error when it has no such module (Node 20). */
export async function importNodeSqlite(): Promise<NodeSqliteModule> {
  // A variable specifier keeps TypeScript (with @types/node 20) from resolving the module.
  const specifier = 'node:sqlite';
  return (await import(specifier)) as NodeSqliteModule;
}

/**
 * ROLLBACK after a failed statement. SQLite rolls some failures back by itself (SQLITE_FULL,
 * SQLITE_IOERR), and then ROLLBACK fails with "no transaction is active": the original error matters.
 */
export function rollbackQuietly(exec: (sql: string) => void): void {
  try {
    exec('ROLLBACK');
  } catch {
    // nothing to roll back
  }
}

// Enough for every distinct statement the application issues; evicts the oldest beyond that.
const STATEMENT_CACHE_SIZE = 256;

/** Opens `path` with `node:sqlite` and wraps it in a Drizzle database (sqlite-proxy). */
export async function openNodeSqlite(path: string, mod?: NodeSqliteModule): Promise<SqliteHandle> {
  const { DatabaseSync } = mod ?? (await importNodeSqlite());
  const { drizzle } = await import('drizzle-orm/sqlite-proxy');
  const { migrate } = await import('drizzle-orm/sqlite-proxy/migrator');

  const client = new DatabaseSync(path);
  try {
    for (const pragma of connectionPragmas(path)) client.exec(pragma);
  } catch (e) {
    client.close();
    throw e;
  }

  const statements = new Map<string, NodeSqliteStatement>();
  const prepare = (sql: string): NodeSqliteStatement => {
    let stmt = statements.get(sql);
    if (stmt) {
      // Re-insert so the Map's order stays least-recently-used first.
      statements.delete(sql);
    } else {
      stmt = client.prepare(sql);
      // sqlite-proxy expects rows as arrays of column values, in select order.
      stmt.setReturnArrays(true);
      if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
    }
    statements.set(sql, stmt);
    return stmt;
  };

  // Runs synchronously like the native drivers, so statement order equals call order.
  const db = drizzle(async (sql, params, method) => {
    const stmt = prepare(sql);
    switch (method) {
      case 'run': {
        const r = stmt.run(...params);
        // Same fields as better-sqlite3 and bun:sqlite report, so `changes` checks work on every driver.
        return { rows: [], changes: Number(r.changes), lastInsertRowid: Number(r.lastInsertRowid) };
      }
      case 'get':
        return { rows: stmt.get(...params) as unknown[] };
      default:
        return { rows: stmt.all(...params) };
    }
  });

  const exec = (sql: string) => client.exec(sql);
  return {
    driver: 'node:sqlite',
    db: db as unknown as SqliteDb,
    async exec(sql) {
      exec(sql);
    },
    execSync: exec,
    // Its own statement, not the cache's: those return arrays for Drizzle; SqlStatement rows are
    // objects. node:sqlite's run/all take positional parameters and report numbers (no readBigInts).
    prepare: (sql) => client.prepare(sql) as unknown as SqlStatement,
    async migrate(folder, table) {
      await migrate(
        db,
        async (queries) => {
          exec('BEGIN IMMEDIATE');
          try {
            for (const q of queries) exec(q);
            exec('COMMIT');
          } catch (e) {
            rollbackQuietly(exec);
            throw e;
          }
        },
        { migrationsFolder: folder, migrationsTable: table },
      );
    },
    close() {
      statements.clear();
      client.close();
    },
  };
}
