/** Engine events → RunnerEvents, and the reconnecting watcher, against a scripted fake engine. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { RunnerEvent } from '../../core/slots/runner.ts';
import {
  AsyncQueue,
  backoffDelay,
  type DockerEventMessage,
  type EngineEventSource,
  eventKey,
  ndjson,
  RecentKeys,
  toRunnerEvent,
  watchEngineEvents,
} from '../../plugins/runner-docker/events.ts';

const ID = '6df8056065d5b3d84c7282336fb347e67a38718e1312f525e5f336a7d3e3d42e';
const ATTRS =
  '"iarnet.alloc":"cap","image":"iarnet-test/busybox:latest","name":"cap-oom","org.iarnet.test-image":"busybox"';
const ev = (action: string, timeNano: string, extra = '') =>
  `{"status":"${action}","id":"${ID}","from":"iarnet-test/busybox:latest","Type":"container","Action":"${action}",` +
  `"Actor":{"ID":"${ID}","Attributes":{${extra}${ATTRS}}},"scope":"local","time":1795697568,"timeNano":${timeNano}}`;
// Recorded from Docker 20.10 for a container killed by its memory limit (timeNano exceeds 2^53,
// so it is parsed from text, as the runner does).
const RECORDED: DockerEventMessage[] = [
  ev('create', '1795697568686077992'),
  ev('start', '1795697568860704409'),
  ev('oom', '1795697568879869728'),
  ev('die', '1795697568901396171', '"exitCode":"137",'),
  ev('destroy', '1795697568968928678'),
].map((l) => JSON.parse(l) as DockerEventMessage);
const LABELS = { 'iarnet.alloc': 'cap', 'org.iarnet.test-image': 'busybox' };

describe('toRunnerEvent', () => {
  it('maps the recorded start/oom/die/destroy and ignores create', () => {
    expect(RECORDED.map(toRunnerEvent)).toEqual([
      undefined,
      { type: 'workload:started', id: ID, labels: LABELS, at: '2026-11-26T12:52:48.860Z' },
      { type: 'workload:oom', id: ID, labels: LABELS, at: '2026-11-26T12:52:48.879Z' },
      { type: 'workload:exited', id: ID, labels: LABELS, exitCode: 137, at: '2026-11-26T12:52:48.901Z' },
      { type: 'workload:removed', id: ID, labels: LABELS, at: '2026-11-26T12:52:48.968Z' },
    ]);
  });

  it('ignores other object types and actions', () => {
    expect(toRunnerEvent({ Type: 'image', Action: 'pull', Actor: { ID: 'x' } })).toBeUndefined();
    expect(
      toRunnerEvent({ Type: 'container', Action: 'exec_start: sh', Actor: { ID: 'x' } }),
    ).toBeUndefined();
    expect(toRunnerEvent({ Type: 'container', Action: 'start' })).toBeUndefined();
  });

  it('understands the old `status`/`id` shape', () => {
    expect(toRunnerEvent({ status: 'die', id: 'abc', time: 1 })).toMatchObject({
      type: 'workload:exited',
      id: 'abc',
    });
  });
});

describe('helpers', () => {
  it('backoff doubles from the initial delay up to the cap, jittered down by up to half', () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 100, 1000, () => 1))).toEqual([
      100, 200, 400, 800, 1000,
    ]);
    expect(backoffDelay(0, 100, 1000, () => 0)).toBe(50);
    expect(backoffDelay(5000, 100, 1000, () => 0.5)).toBe(750);
  });

  it('RecentKeys remembers a bounded number of keys', () => {
    const r = new RecentKeys(2);
    expect(r.seen('a')).toBe(false);
    expect(r.seen('a')).toBe(true);
    r.seen('b');
    r.seen('c');
    expect(r.seen('a')).toBe(false); // evicted
  });

  it('ndjson parses lines split across chunks and skips garbage', async () => {
    const chunks = ['{"a":1}\n{"a"', ':2}\nnot json\n', '{"a":3}'];
    const out = [];
    for await (const x of ndjson<{ a: number }>(chunks)) out.push(x.a);
    expect(out).toEqual([1, 2, 3]);
  });

  it('AsyncQueue drops the oldest item when the reader falls behind', async () => {
    const q = new AsyncQueue<number>(2);
    q.push(1);
    q.push(2);
    q.push(3);
    q.close();
    const out = [];
    for await (const x of q) out.push(x);
    expect(out).toEqual([2, 3]);
    expect(q.dropped).toBe(1);
  });
});

/** A fake engine: each open() hands out the next scripted stream (or failure). */
class FakeEngine implements EngineEventSource {
  readonly opens: (number | undefined)[] = [];
  readonly streams: PassThrough[] = [];
  failOpens = 0;
  pingFails = false;
  async open(since: number | undefined) {
    this.opens.push(since);
    if (this.failOpens > 0) {
      this.failOpens--;
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    }
    const s = new PassThrough();
    this.streams.push(s);
    return s;
  }
  async engineTime() {
    return 1000;
  }
  async ping() {
    if (this.pingFails) throw Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' });
  }
  describe(err: unknown) {
    return (err as { code?: string }).code === 'ECONNREFUSED' ? 'connection refused' : 'timed out';
  }
}

const line = (m: DockerEventMessage) => `${JSON.stringify(m)}\n`;

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('watchEngineEvents', () => {
  const opts = { backoffInitialMs: 10, backoffMaxMs: 40, pingIntervalMs: 60_000, random: () => 1 };

  it('connects, emits, reconnects from the last event time and drops replays', async () => {
    const engine = new FakeEngine();
    const events: RunnerEvent[] = [];
    const ac = new AbortController();
    const done = watchEngineEvents(engine, (e) => events.push(e), ac.signal, opts);

    await until(() => engine.streams.length === 1);
    expect(engine.opens[0]).toBeUndefined(); // live events only, no replay of the past
    engine.streams[0]!.write(line(RECORDED[1]!) + line(RECORDED[2]!));
    await until(() => events.length === 3);
    engine.streams[0]!.end(); // engine restarted

    await until(() => engine.streams.length === 2);
    expect(engine.opens[1]).toBeCloseTo(1795697568.87987, 4); // resume from the last event's time
    // The engine replays what it still has from `since`, then continues.
    engine.streams[1]!.write(line(RECORDED[1]!) + line(RECORDED[2]!) + line(RECORDED[3]!));
    await until(() => events.some((e) => e.type === 'workload:exited'));
    ac.abort();
    await done;

    expect(events.map((e) => e.type)).toEqual([
      'engine:connected',
      'workload:started',
      'workload:oom',
      'engine:disconnected',
      'engine:connected',
      'workload:exited',
    ]);
    expect(events[3]).toMatchObject({ reason: 'event stream ended' });
  });

  it('says disconnected once per outage while it keeps retrying', async () => {
    const engine = new FakeEngine();
    engine.failOpens = 4;
    const events: RunnerEvent[] = [];
    const ac = new AbortController();
    const done = watchEngineEvents(engine, (e) => events.push(e), ac.signal, opts);
    await until(() => engine.streams.length === 1);
    ac.abort();
    await done;
    expect(engine.opens).toHaveLength(5);
    expect(events.map((e) => e.type)).toEqual(['engine:disconnected', 'engine:connected']);
    expect(events[0]).toMatchObject({ reason: 'connection refused' });
  });

  it('drops a silent stream whose engine stops answering pings', async () => {
    const engine = new FakeEngine();
    const events: RunnerEvent[] = [];
    const ac = new AbortController();
    const done = watchEngineEvents(engine, (e) => events.push(e), ac.signal, { ...opts, pingIntervalMs: 20 });
    await until(() => engine.streams.length === 1);
    engine.pingFails = true;
    await until(() => events.some((e) => e.type === 'engine:disconnected'));
    engine.pingFails = false;
    await until(() => engine.streams.length >= 2);
    ac.abort();
    await done;
    expect(events.find((e) => e.type === 'engine:disconnected')).toMatchObject({ reason: 'timed out' });
    expect(engine.opens).toEqual([undefined, 1000]); // no events seen: resume from the engine clock at connect
    expect(engine.streams[0]!.destroyed).toBe(true);
  });

  it('stops promptly when aborted during a backoff', async () => {
    const engine = new FakeEngine();
    engine.failOpens = 1000;
    const ac = new AbortController();
    const done = watchEngineEvents(engine, () => undefined, ac.signal, { ...opts, backoffInitialMs: 60_000 });
    await until(() => engine.opens.length === 1);
    const t = Date.now();
    ac.abort();
    await done;
    expect(Date.now() - t).toBeLessThan(500);
  });

  it('keys events by time, id and action', () => {
    expect(eventKey(RECORDED[1]!)).not.toBe(eventKey(RECORDED[2]!));
  });
});
