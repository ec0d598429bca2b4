import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { eventRoutes } from '../../core/api/events.ts';
import { EventBus } from '../../core/domain/events.ts';
import type { App } from '../../core/kernel/plugin.ts';

describe('EventBus', () => {
  it('numbers events, replays what a client missed, and says when it cannot', () => {
    const bus = new EventBus(3);
    for (let i = 0; i < 5; i++) bus.emit('run:started', { i });
    expect(bus.since(3)?.map((e) => e.id)).toEqual([4, 5]);
    expect(bus.since(2)?.map((e) => e.id)).toEqual([3, 4, 5]);
    expect(bus.since(1)).toBeUndefined();
    expect(bus.since(5)).toEqual([]);
  });

  it('keeps delivering when one subscriber throws', () => {
    const bus = new EventBus();
    const seen: number[] = [];
    bus.subscribe(() => {
      throw new Error('broken subscriber');
    });
    bus.subscribe((e) => seen.push(e.id));
    bus.emit('x', {});
    expect(seen).toEqual([1]);
  });
});

/** Read SSE frames from a response until `count` events arrived. */
async function readEvents(
  res: Response,
  count: number,
): Promise<{ id?: string; event?: string; data?: string }[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const events: { id?: string; event?: string; data?: string }[] = [];
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const e: Record<string, string> = {};
      for (const line of frame.split('\n')) {
        const at = line.indexOf(':');
        if (at > 0) e[line.slice(0, at)] = line.slice(at + 1).trim();
      }
      if (e.event) events.push(e);
      end = buffer.indexOf('\n\n');
    }
  }
  await reader.cancel();
  return events;
}

describe('GET /api/events', () => {
  function app(bus: EventBus) {
    const a = new Hono() as unknown as App;
    a.use(async (c, next) => {
      c.set('principal', { id: 'v', name: 'v', role: 'viewer', kind: 'token' });
      await next();
    });
    eventRoutes(a, bus);
    return a;
  }

  it('streams new events as they happen', async () => {
    const bus = new EventBus();
    const res = await app(bus).request('/api/events');
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    setTimeout(() => {
      bus.emit('run:started', { containerId: 'c1' });
      bus.emit('run:stopped', { containerId: 'c1' });
    }, 20);
    const events = await readEvents(res, 2);
    expect(events.map((e) => e.event)).toEqual(['run:started', 'run:stopped']);
    expect(JSON.parse(events[0]!.data!)).toMatchObject({ type: 'run:started', data: { containerId: 'c1' } });
    expect(events[1]!.id).toBe('2');
  });

  it('resumes after Last-Event-ID, or tells the client to reset', async () => {
    const bus = new EventBus(2);
    for (let i = 0; i < 4; i++) bus.emit('run:state', { i });
    const resumed = await readEvents(
      await app(bus).request('/api/events', { headers: { 'last-event-id': '2' } }),
      2,
    );
    expect(resumed.map((e) => e.id)).toEqual(['3', '4']);
    const reset = await readEvents(
      await app(bus).request('/api/events', { headers: { 'last-event-id': '1' } }),
      1,
    );
    expect(reset[0]?.event).toBe('reset');
  });
});
