/**
 * What IARNet needs from the JavaScript runtime it runs on. `core/runtime/` is the only place
 * that touches Node-, Bun- or Deno-specific APIs; everything else talks to this interface.
 */
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type { MiddlewareHandler } from 'hono';
import type { UpgradeWebSocket } from 'hono/ws';

export type RuntimeName = 'node' | 'bun' | 'deno';

export interface ServeOptions {
  hostname: string;
  port: number;
  /** PEM contents, not paths: the adapter never reads files itself. */
  tls?: { cert: string; key: string };
}

export interface RunningServer {
  /** The port actually bound (differs from the requested one when that was 0). */
  port: number;
  hostname: string;
  /** Stop accepting connections and wait for in-flight requests (up to the grace period). */
  close(graceMs?: number): Promise<void>;
}

/** A Drizzle database on any of the SQLite drivers. Queries are awaited on every driver. */
// biome-ignore lint/suspicious/noExplicitAny: the schema is per owner; each owner types its own tables
export type SqliteDb = BaseSQLiteDatabase<'sync' | 'async', any, any>;

export type SqliteDriverName = 'better-sqlite3' | 'bun:sqlite' | 'node:sqlite';

/** What SQLite binds and returns on the raw path: text, numbers and NULL (no booleans, no bigints). */
export type SqlValue = string | number | null;

/**
 * A statement prepared on the connection and run synchronously, without Drizzle: for the few hot
 * statements (quota reservations) where Drizzle's per-call work and a promise per statement were
 * a third of the cost (bench/admission.ts). Parameters are positional (`?`); rows are objects
 * keyed by column name on every driver, so alias computed columns.
 */
export interface SqlStatement {
  run(...params: SqlValue[]): { changes: number };
  all(...params: SqlValue[]): Record<string, SqlValue>[];
}

/**
 * Runs `work` while no transaction of the connection's owner runs, and holds new ones back until
 * it settles (Storage uses its transaction queue). The WAL checkpointer runs its checkpoints in it.
 */
export type WriteGate = (work: () => Promise<void>) => Promise<void>;

export interface SqliteHandle {
  driver: SqliteDriverName;
  db: SqliteDb;
  /** Run one or more SQL statements without results (pragmas, BEGIN/COMMIT). */
  exec(sql: string): Promise<void>;
  /** exec() without the promise: Storage runs BEGIN/SAVEPOINT/COMMIT of its queue with it. */
  execSync(sql: string): void;
  /** Prepare a raw statement on this connection (see SqlStatement). Throws for invalid SQL. */
  prepare(sql: string): SqlStatement;
  /** Apply drizzle-kit migrations from `folder`, recording them in `table`. */
  migrate(folder: string, table: string): Promise<void>;
  /**
   * Present where a worker checkpoints the WAL (Node): the connection's owner hands over how to
   * hold its writes back, so that a checkpoint can finish under a steady stream of writes.
   */
  setWriteGate?(gate: WriteGate): void;
  close(): void | Promise<void>;
}

/** What the adapter knows about the connection; handed to Hono as `c.env`. */
export interface ConnectionEnv {
  /** Peer IP address of the TCP connection (not a forwarded header). */
  remoteAddress?: string;
}

export type FetchHandler = (req: Request, env: ConnectionEnv) => Response | Promise<Response>;

export interface Runtime {
  name: RuntimeName;
  version: string;
  serve(fetch: FetchHandler, opts: ServeOptions): Promise<RunningServer>;
  /** Serve files under `root` (absolute path); `prefix` is stripped from the request path first. */
  serveStatic(opts: { root: string; prefix?: string }): MiddlewareHandler;
  /**
   * Hono's WebSocket upgrade for this runtime (`@hono/node-server`, `hono/bun`, `hono/deno`).
   * Works on servers started by serve(), which wires what the runtime needs; their close() sends
   * every open WebSocket a 1001 (going away) close frame first.
   */
  upgradeWebSocket: UpgradeWebSocket;
  openSqlite(path: string): Promise<SqliteHandle>;
  env(): Record<string, string | undefined>;
  /** Run `fn` once on SIGINT or SIGTERM. */
  onShutdownSignal(fn: (signal: string) => void): void;
}
