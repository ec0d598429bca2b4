/**
 * GET /api/events: the node's live event stream (Server-Sent Events) for dashboards — runs
 * started, stopped, adopted; resources changing status. Resumable with Last-Event-ID; a comment
 * every 15 s keeps proxies from closing a quiet stream.
 */
import { streamSSE } from 'hono/streaming';
import * as v from 'valibot';
import type { EventBus, IarnetEvent } from '../domain/events.ts';
import { requireRole } from '../kernel/guard.ts';
import { describe } from '../kernel/openapi.ts';
import type { App } from '../kernel/plugin.ts';

const HEARTBEAT_MS = 15_000;

export function eventRoutes(app: App, bus: EventBus): void {
  app.get(
    '/api/events',
    describe({
      summary: 'Live events (text/event-stream); resume with the Last-Event-ID header',
      description:
        'Each event has an id, a type (run:started, run:stopped, run:adopted, run:failed, run:state, resource:changed, reset) and JSON data {type, at, data}.',
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
}
