/**
 * Measured usage on a resource (Runner.usage(), e.g. a cluster's metrics.k8s.io): shown as
 * `measured` after a refresh while the resource is connected, in GB like the rest; absent — with
 * nothing else changed — when the runner has no measurement, answers nonsense, throws, or hangs,
 * and gone when the resource becomes unreachable. The real API path is covered by
 * test/integration/kubernetes-metrics.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { definePlugin } from '../../core/kernel/plugin.ts';
import {
  type Capacity,
  type MeasuredUsage,
  type Runner,
  RunnerTypesKey,
  RunnerUnreachableError,
} from '../../core/slots/runner.ts';
import { GiB, type ResourceBody, startResourcesNode } from './resources-harness.ts';

type Answer = MeasuredUsage | undefined | 'throw' | 'hang' | 'garbage';

const SAMPLE: MeasuredUsage = {
  cpu: 0.2,
  memory: 128 * 2 ** 20,
  at: '2026-01-02T03:04:05.000Z',
  scope: 'workloads',
  count: 2,
};

/** A `kubernetes` runner type whose capacity and usage answer as the test says. */
function scriptedCluster() {
  const state: { usage: Answer; reachable: boolean; usageCalls: number } = {
    usage: SAMPLE,
    reachable: true,
    usageCalls: 0,
  };
  const plugin = definePlugin({
    name: 'scripted-cluster',
    version: '0.0.0',
    dependencies: ['resources'],
    setup(ctx) {
      ctx.use(RunnerTypesKey).register({
        type: 'kubernetes',
        create: () =>
          ({
            type: 'kubernetes',
            async capacity(): Promise<Capacity> {
              if (!state.reachable) throw new RunnerUnreachableError('down');
              return { cpu: 8, memory: 16 * GiB, gpu: 0 };
            },
            async usage() {
              state.usageCalls++;
              const a = state.usage;
              if (a === 'throw') throw new Error('metrics exploded');
              if (a === 'hang') return new Promise<never>(() => {});
              if (a === 'garbage') return { ...SAMPLE, cpu: Number.NaN, at: 'whenever' };
              return a;
            },
            async close() {},
          }) as unknown as Runner,
      });
    },
  });
  return { state, plugin };
}

describe('measured usage on a resource', () => {
  it('shows the runner’s measurement after a refresh; absent when it has none or cannot give one', async () => {
    const { state, plugin } = scriptedCluster();
    const t = await startResourcesNode({ types: ['docker'], plugins: [plugin] });
    const created = await t.json<ResourceBody & { measured?: unknown }>('POST', '/api/resources', {
      body: { name: 'cluster', type: 'kubernetes', url: 'https://127.0.0.1:6443', token: 'tok-123456' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id;
    const refresh = async () =>
      (await t.json<ResourceBody & { measured?: unknown }>('POST', `/api/resources/${id}/refresh`)).body;

    const r = await refresh();
    expect(r.status).toBe('connected');
    // Memory in GB like used/total; the reservations are untouched by it.
    expect(r.measured).toEqual({ cpu: 0.2, memory: 0.125, at: SAMPLE.at, scope: 'workloads', count: 2 });
    expect(r.cpu.used).toBe(0);
    const listed = (await t.json<(ResourceBody & { measured?: unknown })[]>('GET', '/api/resources')).body;
    expect(listed.find((x) => x.id === id)?.measured).toEqual(r.measured);
    expect(
      (await t.json<{ measured?: unknown }>('GET', `/api/resources/${id}`, { role: 'viewer' })).body.measured,
    ).toEqual(r.measured);

    for (const answer of [undefined, 'throw', 'garbage', 'hang'] as const) {
      state.usage = SAMPLE;
      expect((await refresh()).measured, 'a good sample first').toBeDefined();
      state.usage = answer;
      const after = await refresh();
      expect(after.measured, String(answer)).toBeUndefined();
      expect(after.status, String(answer)).toBe('connected');
      expect(after.statusReason, String(answer)).toBeUndefined();
    }

    // Unreachable: no stale sample is shown, and none comes back with it alone.
    state.usage = SAMPLE;
    expect((await refresh()).measured).toBeDefined();
    state.reachable = false;
    const down = await refresh();
    expect(down.status).toBe('unreachable');
    expect(down.measured).toBeUndefined();
    const calls = state.usageCalls;
    await refresh();
    expect(state.usageCalls, 'no usage call while capacity fails').toBe(calls);
    state.reachable = true;
    expect((await refresh()).measured).toEqual(r.measured);
  });
});
