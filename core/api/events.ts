/**
 * GET /api/events: the node's live event stream (Server-Sent Events) for dashboards — runs
 * started, stopped, adopted; resources changing status. Resumable with Last-Event-ID; a comment
 * every 15 s keeps proxies from closing a quiet stream.
 *
 * GET /api/events/ws: the same events over a WebSocket, one JSON text frame {id, type, at, data}
 * per event. Browsers cannot set headers on a WebSocket and tokens never go in URLs, so the route
 * is anonymous at the HTTP layer and the client authenticates with its first message
 * {"type":"auth","token":"…","lastEventId"?: n} within 5 s; other clients may send the
 * Authorization header instead. The token is checked here through the `auth:authenticate` hook.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { UpgradeWebSocket, WSContext, WSEvents } from 'hono/ws';
import * as v from 'valibot';
import type { EventBus, IarnetEvent } from '../domain/events.ts';
import { ApiError, forbidden, unauthorized } from '../kernel/errors.ts';
import { requireRole } from '../kernel/guard.ts';
import { toApiError } from '../kernel/http.ts';
import { describe } from '../kernel/openapi.ts';
import type { App } from '../kernel/plugin.ts';
import { type Principal, roleAtLeast } from '../slots/auth.ts';

const HEARTBEAT_MS = 15_000;

export const EVENTS_WS_PATH = '/api/events/ws';
/** How long a WebSocket client has to send its auth message. */
export const WS_AUTH_TIMEOUT_MS = 5_000;
/** Close codes: 4401 bad, missing or late credentials; 4403 role below viewer; 1011 server error. */
export const WS_CLOSE = { unauthorized: 4401, forbidden: 4403, internal: 1011 } as const;
const MAX_TOKEN_LENGTH = 8192;

export interface EventSocketOptions {
  /** The runtime's WebSocket upgrade (Runtime.upgradeWebSocket). */
  upgradeWebSocket: UpgradeWebSocket;
  /** Who sent this request (its Authorization header): the `auth:authenticate` hook. */
  authenticate(request: Request): Promise<Principal | undefined>;
}

/**
 * Registers GET /api/events, and GET /api/events/ws when `socket` is given. The caller must make
 * the WebSocket path anonymous (`ctx.http.allowAnonymous('GET', EVENTS_WS_PATH)`): this route
 * authenticates by itself.
 */
export function eventRoutes(app: App, bus: EventBus, socket?: EventSocketOptions): void {
  app.get(
    '/api/events',
    describe({
      summary: 'Live events (text/event-stream); resume with the Last-Event-ID header',
      description:
        'Each event has an id, a type (run:started, run:stopped, run:restarted, run:adopted, run:failed, run:state, resource:changed, application:status, application:health, application:build (build output, batched as lines[]), node:joined, node:alive, node:suspect, node:failed, node:left, reset) and JSON data {type, at, data}.',
      tags: ['events'],
      responses: {
        200: { description: 'An event stream', schema: v.string(), contentType: 'text/event-stream' },
      },
    }),
    requireRole('viewer'),
    (c) => {
      const lastId = Number(c.req.header('last-event-id'));
      return streamSSE(c, async (stream) => {
        const queue: IarnetEvent[] = [];
        let wake: (() => void) | undefined;
        const unsubscribe = bus.subscribe((e) => {
          queue.push(e);
          wake?.();
        });
        let closed = false;
        stream.onAbort(() => {
          closed = true;
          wake?.();
        });
        const send = (e: IarnetEvent) =>
          stream.writeSSE({
            id: String(e.id),
            event: e.type,
            data: JSON.stringify({ type: e.type, at: e.at, data: e.data }),
          });
        try {
          if (Number.isInteger(lastId) && lastId > 0) {
            const missed = bus.since(lastId);
            if (missed) for (const e of missed) await send(e);
            else
              await stream.writeSSE({
                event: 'reset',
                data: JSON.stringify({ reason: 'too far behind; reload' }),
              });
          } else {
            await stream.write(': connected\n\n');
          }
          while (!closed) {
            const e = queue.shift();
            if (e) {
              await send(e);
              continue;
            }
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, HEARTBEAT_MS);
              wake = () => {
                clearTimeout(timer);
                resolve();
              };
            });
            wake = undefined;
            if (!queue.length && !closed) await stream.write(': heartbeat\n\n');
          }
        } finally {
          unsubscribe();
        }
      });
    },
  );
  if (socket) eventSocketRoute(app, bus, socket);
}

const frame = (e: IarnetEvent) => JSON.stringify({ id: e.id, type: e.type, at: e.at, data: e.data });
const control = (type: string, data: Record<string, unknown>) =>
  JSON.stringify({ type, at: new Date().toISOString(), data });

function eventSocketRoute(app: App, bus: EventBus, opts: EventSocketOptions): void {
  app.get(
    EVENTS_WS_PATH,
    describe({
      summary: 'Live events over a WebSocket; authenticate with the first message',
      description:
        'The events of GET /api/events, one JSON text frame {id, type, at, data} each. Browsers send ' +
        '{"type":"auth","token":"<JWT or API token>","lastEventId":<optional number>} as the first message ' +
        `within ${WS_AUTH_TIMEOUT_MS / 1000} s; other clients may send the Authorization header (and ` +
        'Last-Event-ID) with the upgrade request instead. Once authenticated the server sends ' +
        '{type: "connected", at, data: {name, role}}, missed events when a last id was given (or a ' +
        '"reset" frame when they are gone), then live events, and {type: "heartbeat", at} every 15 s. ' +
        'Close codes: 4401 missing, invalid or late credentials; 4403 role below viewer; 1001 the node ' +
        'is shutting down. Tokens never go in the URL.',
      tags: ['events'],
      anonymous: true,
      responses: { 101: { description: 'Switching Protocols: the WebSocket is open' } },
      errors: {
        401: 'The Authorization header carries missing, invalid or expired credentials',
        403: 'The caller’s role is below viewer',
        426: 'Not a WebSocket upgrade request',
      },
    }),
    async (c) => {
      if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
        throw new ApiError(426, 'UPGRADE_REQUIRED', 'Upgrade required', 'Connect with a WebSocket client', {
          headers: { Upgrade: 'websocket' },
        });
      }
      let principal: Principal | undefined;
      if (c.req.header('authorization') !== undefined) {
        // A non-browser client: refuse before upgrading, with a status it can read.
        principal = await opts.authenticate(c.req.raw);
        if (!principal) throw unauthorized();
        if (!roleAtLeast(principal.role, 'viewer')) throw forbidden('The event stream needs the viewer role');
      }
      const lastId = Number(c.req.header('last-event-id'));
      return opts.upgradeWebSocket(c, eventSession(c, bus, opts, principal, lastId));
    },
  );
}

/** One WebSocket client: waiting for credentials, checking them, streaming, or closed. */
function eventSession(
  c: Context,
  bus: EventBus,
  opts: EventSocketOptions,
  headerPrincipal: Principal | undefined,
  headerLastId: number,
): WSEvents {
  let state: 'waiting' | 'checking' | 'streaming' | 'closed' = 'waiting';
  let authTimer: ReturnType<typeof setTimeout> | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let unsubscribe: (() => void) | undefined;
  const url = c.req.url;
  const log = c.get('logger');

  const cleanup = () => {
    state = 'closed';
    clearTimeout(authTimer);
    clearInterval(heartbeat);
    unsubscribe?.();
    unsubscribe = undefined;
  };
  const close = (ws: WSContext, code: number, reason: string) => {
    cleanup();
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
  };
  const send = (ws: WSContext, data: string) => {
    if (state !== 'streaming' || ws.readyState !== 1) return;
    try {
      ws.send(data);
    } catch {
      close(ws, WS_CLOSE.internal, 'send failed');
    }
  };
  const start = (ws: WSContext, principal: Principal, lastId: number) => {
    clearTimeout(authTimer);
    state = 'streaming';
    send(ws, control('connected', { name: principal.name, role: principal.role }));
    // Replay and subscribe in the same turn, so no event falls in between.
    if (Number.isInteger(lastId) && lastId > 0) {
      const missed = bus.since(lastId);
      if (missed) for (const e of missed) send(ws, frame(e));
      else send(ws, control('reset', { reason: 'too far behind; reload' }));
    }
    unsubscribe = bus.subscribe((e) => send(ws, frame(e)));
    heartbeat = setInterval(() => send(ws, control('heartbeat', {})), HEARTBEAT_MS);
  };
  const admit = (ws: WSContext, principal: Principal | undefined, lastId: number) => {
    if (state === 'closed') return;
    if (!principal) return close(ws, WS_CLOSE.unauthorized, 'unauthorized');
    if (!roleAtLeast(principal.role, 'viewer')) return close(ws, WS_CLOSE.forbidden, 'forbidden');
    start(ws, principal, lastId);
  };

  return {
    onOpen(_evt, ws) {
      if (headerPrincipal) return start(ws, headerPrincipal, headerLastId);
      authTimer = setTimeout(
        () => close(ws, WS_CLOSE.unauthorized, 'authentication timeout'),
        WS_AUTH_TIMEOUT_MS,
      );
    },
    onMessage(evt, ws) {
      // After the auth message, clients have nothing to say; anything else is ignored.
      if (state !== 'waiting') return;
      const auth = parseAuthMessage(evt.data);
      if (!auth) return close(ws, WS_CLOSE.unauthorized, 'expected {"type":"auth","token":"…"}');
      state = 'checking';
      // The same check as the HTTP guard's, on a request that carries the token as a header.
      const request = new Request(url, { headers: { authorization: `Bearer ${auth.token}` } });
      opts.authenticate(request).then(
        (principal) => admit(ws, principal, auth.lastEventId ?? headerLastId),
        (err: unknown) => {
          // The hook reports a refused token as a 401 (wrapped in a PluginError by the registry).
          const status = toApiError(err)?.status;
          if (status === 401) return close(ws, WS_CLOSE.unauthorized, 'unauthorized');
          if (status === 403) return close(ws, WS_CLOSE.forbidden, 'forbidden');
          log?.error({ err, path: EVENTS_WS_PATH }, 'websocket authentication failed');
          close(ws, WS_CLOSE.internal, 'internal error');
        },
      );
    },
    onClose() {
      cleanup();
    },
    onError() {
      cleanup();
    },
  };
}

function parseAuthMessage(data: unknown): { token: string; lastEventId?: number } | undefined {
  if (typeof data !== 'string' || data.length > MAX_TOKEN_LENGTH + 256) return undefined;
  let msg: unknown;
  try {
    msg = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof msg !== 'object' || msg === null) return undefined;
  const { type, token, lastEventId } = msg as Record<string, unknown>;
  if (type !== 'auth' || typeof token !== 'string') return undefined;
  const bare = token.replace(/^Bearer\s+/i, '');
  if (!bare || bare.length > MAX_TOKEN_LENGTH || /[\s,]/.test(bare)) return undefined;
  return typeof lastEventId === 'number' && Number.isInteger(lastEventId) && lastEventId > 0
    ? { token: bare, lastEventId }
    : { token: bare };
}
