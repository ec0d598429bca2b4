/**
 * The Bun adapter: `Bun.serve` for HTTP(S) and WebSocket (`hono/bun`), `bun:sqlite` through
 * `drizzle-orm/bun-sqlite`.
 * Bun's own types are not part of the project's type set (they redeclare Node and DOM globals),
 * so the few Bun APIs used here are described locally.
 */

import { serveStatic, upgradeWebSocket, websocket } from 'hono/bun';
import { onProcessShutdownSignal } from './process-signals.ts';
import { connectionPragmas } from './sqlite.ts';
import { staticOptions } from './static-files.ts';
import type {
  FetchHandler,
  RunningServer,
  Runtime,
  ServeOptions,
  SqliteDb,
  SqliteHandle,
  SqlStatement,
} from './types.ts';

interface BunServer {
  readonly port: number;
  /** Stops listening; resolves once open connections are gone (`true` cuts them now). */
  stop(closeActiveConnections?: boolean): Promise<void>;
  /** Per-request idle timeout in seconds; 0 disables it. */
  timeout(request: Request, seconds: number): void;
  requestIP(request: Request): { address: string } | null;
  /** Used by hono/bun's upgradeWebSocket, which finds the server as `c.env.server`. */
  upgrade(request: Request, options?: { data?: unknown }): boolean;
}
type BunSocket = Parameters<typeof websocket.open>[0];
interface BunApi {
  readonly version: string;
  serve(options: {
    hostname: string;
    port: number;
    development: boolean;
    tls?: { cert: string; key: string };
    fetch(request: Request, server: BunServer): Response | Promise<Response>;
    websocket: {
      open(ws: BunSocket): void;
      close(ws: BunSocket, code?: number, reason?: string): void;
      message(ws: BunSocket, message: string | { buffer: ArrayBufferLike }): void;
      maxPayloadLength?: number;
    };
  }): BunServer;
}
interface BunSqliteModule {
  Database: new (
    path: string,
  ) => { exec(sql: string): void; prepare(sql: string): SqlStatement; close(): void };
}

const DEFAULT_GRACE_MS = 10_000;
/** Largest WebSocket message accepted from a client (clients only send small control messages). */
const WS_MAX_PAYLOAD = 64 * 1024;

function bunApi(): BunApi {
  const api = (globalThis as { Bun?: BunApi }).Bun;
  if (!api) throw new Error('the Bun runtime adapter was loaded outside Bun');
  return api;
}

export function createRuntime(): Runtime {
  const bun = bunApi();
  return {
    name: 'bun',
    version: bun.version,
    serve: (fetch, opts) => serveBun(bun, fetch, opts),
    serveStatic: ({ root, prefix }) => serveStatic(staticOptions(root, prefix)),
    upgradeWebSocket,
    openSqlite,
    env: () => ({ ...process.env }),
    onShutdownSignal: onProcessShutdownSignal,
  };
}

async function serveBun(bun: BunApi, fetch: FetchHandler, opts: ServeOptions): Promise<RunningServer> {
  // Open WebSockets of this server, so close() can say goodbye to them (stop(false) waits for them).
  const sockets = new Set<BunSocket>();
  const server = bun.serve({
    hostname: opts.hostname,
    port: opts.port,
    // Development mode answers uncaught errors with an HTML page carrying the stack trace.
    development: false,
    ...(opts.tls ? { tls: { cert: opts.tls.cert, key: opts.tls.key } } : {}),
    async fetch(request, srv) {
      // `server` lets hono/bun's upgradeWebSocket() call srv.upgrade().
      const env = { remoteAddress: srv.requestIP(request)?.address, server: srv };
      const response = await fetch(request, env);
      // Bun closes a connection idle for 10 s, even mid-response; an event stream may be quiet longer.
      if (response.headers.get('content-type')?.startsWith('text/event-stream')) srv.timeout(request, 0);
      return response;
    },
    websocket: {
      ...websocket,
      maxPayloadLength: WS_MAX_PAYLOAD,
      open(ws) {
        sockets.add(ws);
        websocket.open(ws);
      },
      close(ws, code, reason) {
        sockets.delete(ws);
        websocket.close(ws, code, reason);
      },
    },
  });
  let closing: Promise<void> | undefined;
  return {
    port: server.port,
    hostname: opts.hostname,
    close(graceMs = DEFAULT_GRACE_MS) {
      closing ??= (async () => {
        for (const ws of sockets) ws.close(1001, 'server shutting down');
        const drained = server.stop(false);
        const timer = setTimeout(() => void server.stop(true), graceMs);
        try {
          await drained;
        } finally {
          clearTimeout(timer);
        }
      })();
      return closing;
    },
  };
}

async function openSqlite(path: string): Promise<SqliteHandle> {
  // A variable specifier: TypeScript has no declaration for bun:sqlite here (see the file comment).
  const specifier = 'bun:sqlite';
  const { Database } = (await import(specifier)) as BunSqliteModule;
  const { drizzle } = await import('drizzle-orm/bun-sqlite');
  const { migrate } = await import('drizzle-orm/bun-sqlite/migrator');
  const client = new Database(path);
  try {
    for (const pragma of connectionPragmas(path)) client.exec(pragma);
  } catch (e) {
    client.close();
    throw e;
  }
  const db = drizzle(client as never);
  return {
    driver: 'bun:sqlite',
    db: db as unknown as SqliteDb,
    async exec(sql) {
      client.exec(sql);
    },
    execSync(sql) {
      client.exec(sql);
    },
    // bun:sqlite's statements take positional parameters and answer rows as objects, like SqlStatement.
    prepare: (sql) => client.prepare(sql),
    async migrate(folder, table) {
      migrate(db, { migrationsFolder: folder, migrationsTable: table });
    },
    close() {
      client.close();
    },
  };
}
