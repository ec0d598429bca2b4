/**
 * The Node adapter: `@hono/node-server` for HTTP(S) and WebSocket (upgrades handed to a `ws`
 * WebSocketServer), better-sqlite3 for SQLite, falling back to `node:sqlite` when the
 * better-sqlite3 binary does not load (e.g. Node 24 with a binary built for Node 20's ABI, from a
 * shared node_modules).
 */

import type { Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer, upgradeWebSocket, type WebSocketServerLike } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import type BetterSqlite3 from 'better-sqlite3';
import { onProcessShutdownSignal } from './process-signals.ts';
import { connectionPragmas, importNodeSqlite, isMemoryPath, openNodeSqlite } from './sqlite.ts';
import { startCheckpointer } from './sqlite-checkpointer.ts';
import { staticOptions } from './static-files.ts';
import type { FetchHandler, RunningServer, Runtime, SqliteDb, SqliteHandle, SqlStatement } from './types.ts';

const DEFAULT_GRACE_MS = 10_000;
/** Largest WebSocket message accepted from a client (clients only send small control messages). */
const WS_MAX_PAYLOAD = 64 * 1024;

/** The slice of `ws` used here (the package ships no types; @hono/node-server describes the rest). */
interface WsSocket {
  close(code?: number, reason?: string): void;
  terminate(): void;
}
interface WsServer extends WebSocketServerLike {
  readonly clients: Set<WsSocket>;
}
interface WsModule {
  WebSocketServer: new (options: { noServer: true; maxPayload?: number }) => WsServer;
}

async function loadWs(): Promise<WsModule> {
  // A variable specifier: there is no @types/ws in the project.
  const specifier = 'ws';
  try {
    return (await import(specifier)) as WsModule;
  } catch (e) {
    throw new Error(`WebSocket support on Node needs the ws package, which does not load: ${errorText(e)}`, {
      cause: e,
    });
  }
}

export function createRuntime(): Runtime {
  return {
    name: 'node',
    version: process.versions.node,
    serve: serveNode,
    serveStatic: ({ root, prefix }) => serveStatic(staticOptions(root, prefix)),
    upgradeWebSocket,
    openSqlite,
    env: () => ({ ...process.env }),
    onShutdownSignal: onProcessShutdownSignal,
  };
}

async function serveNode(
  fetch: FetchHandler,
  opts: { hostname: string; port: number; tls?: { cert: string; key: string } },
): Promise<RunningServer> {
  const { WebSocketServer } = await loadWs();
  // Upgrades reach the app as GET requests; upgradeWebSocket() hands the socket to this server.
  const wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_PAYLOAD });
  const server = createAdaptorServer({
    // The adapter's own env object goes through (with the peer address added): upgradeWebSocket()
    // finds the pending upgrade through it.
    fetch: (req, env: { incoming?: { socket?: { remoteAddress?: string } }; outgoing?: unknown }) => {
      const connEnv = Object.assign(env, { remoteAddress: env.incoming?.socket?.remoteAddress });
      if (env.outgoing !== undefined) return fetch(req, connEnv);
      return answerUpgrade(fetch(req, connEnv));
    },
    hostname: opts.hostname,
    websocket: { server: wss },
    ...(opts.tls
      ? { createServer: createHttpsServer, serverOptions: { cert: opts.tls.cert, key: opts.tls.key } }
      : {}),
  }) as HttpServer | HttpsServer;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.hostname, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    port,
    hostname: opts.hostname,
    close(graceMs = DEFAULT_GRACE_MS) {
      closing ??= new Promise<void>((resolve, reject) => {
        // Upgraded sockets are no longer HTTP connections: close()/closeAllConnections() do not see
        // them, and server.close() would wait for them. Tell clients we are going away.
        for (const ws of wss.clients) ws.close(1001, 'server shutting down');
        // Long-lived responses (SSE) never finish by themselves: cut them when the grace period ends.
        const timer = setTimeout(() => {
          server.closeAllConnections();
          for (const ws of wss.clients) ws.terminate();
        }, graceMs);
        // close() drops the connections idle at that moment; a keep-alive connection whose response
        // finishes later would stay open until the client's keep-alive timeout (seconds). Sweep them.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        server.close((err) => {
          clearTimeout(timer);
          clearInterval(sweep);
          if (err) reject(err);
          else resolve();
        });
      });
      return closing;
    },
  };
}

/**
 * An upgrade request (no `outgoing`) that a route answered without upgrading, e.g. GET /api/events
 * with an Upgrade header: @hono/node-server sends only its status line and headers, never reads
 * the body. Cancel the body so a stream (SSE) stops instead of running on, unread, forever.
 */
async function answerUpgrade(pending: Response | Promise<Response>): Promise<Response> {
  const response = await pending;
  if (response.body && !response.bodyUsed) void response.body.cancel().catch(() => {});
  return response;
}

type BetterSqliteConstructor = typeof BetterSqlite3;

let driverChoice: Promise<{ better: BetterSqliteConstructor } | { betterError: unknown }> | undefined;

/** better-sqlite3 when its native binding loads here; decided once per process. */
function chooseDriver() {
  driverChoice ??= (async () => {
    try {
      const { default: Database } = await import('better-sqlite3');
      // The binding is loaded lazily by the first open, so an ABI mismatch only shows here.
      new Database(':memory:').close();
      return { better: Database };
    } catch (betterError) {
      return { betterError };
    }
  })();
  return driverChoice;
}

async function openSqlite(path: string): Promise<SqliteHandle> {
  return withCheckpointer(await openSqliteDriver(path), path);
}

/** Moves WAL checkpoints to a worker thread (see sqlite-checkpointer.ts); in-memory databases have no WAL. */
async function withCheckpointer(handle: SqliteHandle, path: string): Promise<SqliteHandle> {
  if (isMemoryPath(path) || handle.driver === 'bun:sqlite') return handle;
  const checkpointer = await startCheckpointer({
    path,
    driver: handle.driver,
    ...(handle.driver === 'better-sqlite3'
      ? { modulePath: createRequire(import.meta.url).resolve('better-sqlite3') }
      : {}),
    exec: (sql) => handle.exec(sql),
  });
  if (!checkpointer) return handle;
  return {
    ...handle,
    setWriteGate: (gate) => checkpointer.setGate(gate),
    execSync(sql) {
      handle.execSync(sql);
      // Storage commits through here; the count lets a busy writer's checkpoints come early.
      if (sql === 'COMMIT') checkpointer.committed();
    },
    async close() {
      // The worker's connection goes first, so the main one closes last and removes the WAL file.
      await checkpointer.stop();
      await handle.close();
    },
  };
}

async function openSqliteDriver(path: string): Promise<SqliteHandle> {
  const choice = await chooseDriver();
  if ('better' in choice) return openBetterSqlite(path, choice.better);
  let nodeSqlite: Awaited<ReturnType<typeof importNodeSqlite>>;
  try {
    nodeSqlite = await importNodeSqlite();
  } catch (nodeSqliteError) {
    throw new Error(
      `no SQLite driver on Node ${process.versions.node}: better-sqlite3 does not load ` +
        `(${errorText(choice.betterError)}) and node:sqlite is not available (${errorText(nodeSqliteError)}). ` +
        'Rebuild better-sqlite3 for this Node version (npm rebuild better-sqlite3) or use Node ≥ 22.13.',
      { cause: choice.betterError },
    );
  }
  return openNodeSqlite(path, nodeSqlite);
}

async function openBetterSqlite(path: string, Database: BetterSqliteConstructor): Promise<SqliteHandle> {
  const { drizzle } = await import('drizzle-orm/better-sqlite3');
  const { migrate } = await import('drizzle-orm/better-sqlite3/migrator');
  const client = new Database(path);
  try {
    for (const pragma of connectionPragmas(path)) client.exec(pragma);
  } catch (e) {
    client.close();
    throw e;
  }
  const db = drizzle(client);
  return {
    driver: 'better-sqlite3',
    db: db as unknown as SqliteDb,
    async exec(sql) {
      client.exec(sql);
    },
    execSync(sql) {
      client.exec(sql);
    },
    // better-sqlite3's statements already have the SqlStatement shape: no wrapper on the hot path.
    prepare: (sql) => client.prepare(sql) as unknown as SqlStatement,
    async migrate(folder, table) {
      migrate(db, { migrationsFolder: folder, migrationsTable: table });
    },
    close() {
      client.close();
    },
  };
}

function errorText(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  // Native-module errors span several lines; the first one says what happened.
  return message.split('\n')[0] ?? message;
}
