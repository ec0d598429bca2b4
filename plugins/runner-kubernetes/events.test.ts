import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { RunnerEvent } from '../../core/slots/runner.ts';
import { type PodWatchSource, watchPodEvents } from './events.ts';

const pod = (name: string, phase: string, extra: Partial<V1Pod['metadata']> = {}): V1Pod => ({
  metadata: { name, labels: { 'iarnet.alloc': name, 'iarnet.node': 'n1' }, resourceVersion: '1', ...extra },
  spec: { containers: [{ name: 'main', image: 'x' }] },
  status: { phase },
});

/** A scripted API server: each list/watch call takes the next step. */
function fakeSource(steps: {
  lists: (() => { items: V1Pod[]; resourceVersion: string })[];
  watches: ((emit: (t: string, o: unknown) => void, done: (e: unknown) => void) => void)[];
}) {
  const calls: string[] = [];
  const source: PodWatchSource = {
    async list() {
      calls.push('list');
      const step = steps.lists.shift();
      if (!step) return new Promise(() => {}); // hang: test ends by abort
      return step();
    },
    async watch(rv, _t, onEvent, done) {
      calls.push(`watch@${rv}`);
      const step = steps.watches.shift();
      if (step) setTimeout(() => step(onEvent, done), 5);
      return new AbortController();
    },
    unreachableKind: (err) =>
      (err as { code?: string })?.code === 'ECONNREFUSED' ? 'connection refused' : undefined,
  };
  return { source, calls };
}

async function collect(source: PodWatchSource, count: number): Promise<RunnerEvent[]> {
  const ac = new AbortController();
  const out: RunnerEvent[] = [];
  const timer = setTimeout(() => ac.abort(), 5_000);
  for await (const e of watchPodEvents(source, {
    signal: ac.signal,
    backoffInitialMs: 10,
    backoffMaxMs: 40,
    watchSeconds: 60,
  })) {
    out.push(e);
    if (out.length >= count) break;
  }
  clearTimeout(timer);
  return out;
}

const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

describe('pod watch', () => {
  it('reports transitions, re-lists on 410 Gone and reports what changed meanwhile', async () => {
    const { source, calls } = fakeSource({
      lists: [
        () => ({ items: [pod('a', 'Pending')], resourceVersion: '10' }),
        () => ({ items: [pod('a', 'Succeeded'), pod('b', 'Running')], resourceVersion: '20' }),
      ],
      watches: [
        (emit) => {
          emit('MODIFIED', pod('a', 'Running', { resourceVersion: '11' }));
          emit('ERROR', { kind: 'Status', code: 410, reason: 'Expired' });
        },
      ],
    });
    const events = await collect(source, 4);
    expect(events.map((e) => `${e.type}${'id' in e ? `:${e.id}` : ''}`)).toEqual([
      'engine:connected',
      'workload:started:a',
      'workload:exited:a',
      'workload:started:b',
    ]);
    expect(calls.slice(0, 3)).toEqual(['list', 'watch@10', 'list']);
  });

  it("a Deployment's pod speaks for its Deployment: events carry the Deployment's name", async () => {
    const replica = (name: string, phase: string): V1Pod => ({
      ...pod(name, phase),
      metadata: {
        name,
        labels: { 'iarnet.node': 'n1', 'iarnet.replica-of': 'iarnet-a1' },
        resourceVersion: '1',
      },
    });
    const { source } = fakeSource({
      lists: [() => ({ items: [replica('iarnet-a1-x-1', 'Running')], resourceVersion: '10' })],
      watches: [
        (emit) => {
          emit('MODIFIED', replica('iarnet-a1-x-1', 'Failed'));
          emit('DELETED', replica('iarnet-a1-x-1', 'Failed'));
        },
      ],
    });
    const events = await collect(source, 4);
    expect(events.map((e) => `${e.type}${'id' in e ? `:${e.id}` : ''}`)).toEqual([
      'engine:connected',
      'workload:started:iarnet-a1',
      'workload:exited:iarnet-a1',
      'workload:removed:iarnet-a1',
    ]);
  });

  it('reports a deleted pod, and pods that vanished while the watch was down', async () => {
    const { source } = fakeSource({
      lists: [
        () => ({ items: [pod('a', 'Running'), pod('b', 'Running')], resourceVersion: '5' }),
        () => {
          throw refused;
        },
        () => ({ items: [], resourceVersion: '9' }),
      ],
      watches: [
        (emit, done) => {
          emit('DELETED', pod('a', 'Running'));
          done(refused);
        },
      ],
    });
    const events = await collect(source, 7);
    expect(events.map((e) => `${e.type}${'id' in e ? `:${e.id}` : ''}`)).toEqual([
      'engine:connected',
      'workload:started:a',
      'workload:started:b',
      'workload:removed:a',
      'engine:disconnected',
      'engine:connected',
      'workload:removed:b',
    ]);
    expect(events[4]).toMatchObject({ reason: 'connection refused' });
  });

  it('re-watches from the last version when the server just closes the watch', async () => {
    const { source, calls } = fakeSource({
      lists: [() => ({ items: [], resourceVersion: '1' })],
      watches: [
        (emit, done) => {
          emit('BOOKMARK', { metadata: { resourceVersion: '7' } });
          done(null);
        },
        (emit) => emit('ADDED', pod('c', 'Running', { resourceVersion: '8' })),
      ],
    });
    const events = await collect(source, 2);
    expect(events.map((e) => e.type)).toEqual(['engine:connected', 'workload:started']);
    expect(calls).toEqual(['list', 'watch@1', 'watch@7']);
  });
});
