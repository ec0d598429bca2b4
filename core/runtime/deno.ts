/**
 * The Deno adapter: `Deno.serve` for HTTP(S) and WebSocket (`hono/deno`), `node:sqlite` through
 * `drizzle-orm/sqlite-proxy`.
 * Deno's own types are not part of the project's type set, so the few Deno APIs used here are
 * described locally.
 */
import type { Context } from 'hono';
import { upgradeWebSocket as denoUpgradeWebSocket, serveStatic } from 'hono/deno';
import type { UpgradeWebSocket, WSContext, WSEvents } from 'hono/ws';
import { openNodeSqlite } from './sqlite.ts';
import { staticOptions } from './static-files.ts';
import type { ConnectionEnv, FetchHandler, RunningServer, Runtime, ServeOptions } from './types.ts';

interface DenoServeInfo {
  /** The peer of the TCP connection. */
  remoteAddr?: { hostname: string };
  /** Settles when the response has been sent completely (or failed); absent in old Deno versions. */
  completed?: Promise<void>;
}
interface DenoServer {
  readonly addr: { port: number };
  readonly finished: Promise<void>;
  shutdown(): Promise<void>;
}
interface DenoApi {
  readonly version: { deno: string };
  readonly env: { toObject(): Record<string, string> };
  serve(
    options: {
      hostname: string;
      port: number;
      signal: AbortSignal;
      cert?: string;
      key?: string;
      onListen(addr: unknown): void;
    },
    handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  ): DenoServer;
  addSignalListener(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void;
  removeSignalListener(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void;
}

const DEFAULT_GRACE_MS = 10_000;

/** Where serveDeno() keeps a server's open WebSockets, in the env each request gets. */
const OPEN_SOCKETS = Symbol('iarnet.openWebSockets');
type SocketRegistry = Set<WSContext>;

/**
 * hono/deno's upgradeWebSocket, recording each open socket in its server's registry so close()
 * can say goodbye: Deno's shutdown() does not close upgraded connections.
 */
const upgradeWebSocket = ((...args: unknown[]) => {
  const track = (c: Context, events: WSEvents): WSEvents => {
    const sockets = (c.env as { [OPEN_SOCKETS]?: SocketRegistry } | undefined)?.[OPEN_SOCKETS];
    if (!sockets) return events;
    return {
      ...events,
      onOpen(evt, ws) {
        sockets.add(ws);
        events.onOpen?.(evt, ws);
      },
      onClose(evt, ws) {
        sockets.delete(ws);
        events.onClose?.(evt, ws);
      },
    };
  };
  if (typeof args[0] === 'function') {
    const createEvents = args[0] as (c: Context) => WSEvents | Promise<WSEvents>;
    return denoUpgradeWebSocket(async (c) => track(c, await createEvents(c)), args[1]);
  }
  const c = args[0] as Context;
  return denoUpgradeWebSocket(c, track(c, args[1] as WSEvents), args[2]);
}) as UpgradeWebSocket;

function denoApi(): DenoApi {
  const api = (globalThis as { Deno?: DenoApi }).Deno;
  if (!api) throw new Error('the Deno runtime adapter was loaded outside Deno');
  return api;
}

export function createRuntime(): Runtime {
  const deno = denoApi();
  return {
    name: 'deno',
    version: deno.version.deno,
    serve: (fetch, opts) => serveDeno(deno, fetch, opts),
    serveStatic: ({ root, prefix }) => serveStatic(staticOptions(root, prefix)),
    upgradeWebSocket,
    openSqlite: (path) => openNodeSqlite(path),
    env() {
      try {
        return deno.env.toObject();
      } catch {
        // Without --allow-env the process sees no environment rather than failing.
        return {};
      }
    },
    onShutdownSignal(fn) {
      const onInt = () => fire('SIGINT');
      const onTerm = () => fire('SIGTERM');
      const fire = (signal: string) => {
        // Both listeners go after the first signal, so a second Ctrl-C kills a stuck shutdown.
        deno.removeSignalListener('SIGINT', onInt);
        deno.removeSignalListener('SIGTERM', onTerm);
        fn(signal);
      };
      deno.addSignalListener('SIGINT', onInt);
      deno.addSignalListener('SIGTERM', onTerm);
    },
  };
}

/**
 * Deno's graceful `shutdown()` waits forever for an event stream, and cannot be followed by a
 * forced close (aborting the signal afterwards throws "Bad resource ID"); aborting right away cuts
 * responses still being written. So draining is done here: count requests until their response is
 * sent; on close, answer new requests with 503 and wait for the count to reach zero, then
 * `shutdown()` (flushes, closes keep-alive connections). If the grace period ends first, abort,
 * which cuts every connection.
 */
async function serveDeno(deno: DenoApi, fetch: FetchHandler, opts: ServeOptions): Promise<RunningServer> {
  const abort = new AbortController();
  let inFlight = 0;
  let draining = false;
  let onDrained: (() => void) | undefined;
  const sockets: SocketRegistry = new Set();

  const server = deno.serve(
    {
      hostname: opts.hostname,
      port: opts.port,
      signal: abort.signal,
      ...(opts.tls ? { cert: opts.tls.cert, key: opts.tls.key } : {}),
      // The default prints "Listening on ..." to stdout; the caller logs instead.
      onListen() {},
    },
    async (request, info) => {
      if (draining) {
        return new Response('server is shutting down', {
          status: 503,
          headers: { connection: 'close', 'retry-after': '1' },
        });
      }
      inFlight++;
      let counted = true;
      const done = () => {
        if (!counted) return;
        counted = false;
        inFlight--;
        if (draining && inFlight === 0) onDrained?.();
      };
      try {
        const response = await fetch(request, {
          remoteAddress: info.remoteAddr?.hostname,
          [OPEN_SOCKETS]: sockets,
        } as ConnectionEnv);
        if (info.completed) info.completed.then(done, done);
        else done();
        return response;
      } catch (e) {
        done();
        throw e;
      }
    },
  );

  let closing: Promise<void> | undefined;
  return {
    port: server.addr.port,
    hostname: opts.hostname,
    close(graceMs = DEFAULT_GRACE_MS) {
      closing ??= (async () => {
        draining = true;
        for (const ws of sockets) ws.close(1001, 'server shutting down');
        let timer: ReturnType<typeof setTimeout> | undefined;
        const graceOver = new Promise<'grace over'>((resolve) => {
          timer = setTimeout(() => resolve('grace over'), graceMs);
        });
        try {
          if (inFlight > 0) {
            const drained = new Promise<'drained'>((resolve) => {
              onDrained = () => resolve('drained');
            });
            if ((await Promise.race([drained, graceOver])) === 'grace over') {
              abort.abort();
              await server.finished;
              return;
            }
          }
          // Nothing is in flight; shutdown() only flushes and closes idle connections. If it still
          // hangs on a connection the count does not see (e.g. an upgraded WebSocket), stop waiting
          // when the grace period ends.
          await Promise.race([server.shutdown(), graceOver]);
        } finally {
          clearTimeout(timer);
        }
      })();
      return closing;
    },
  };
}
