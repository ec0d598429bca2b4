/**
 * A start that takes longer than `start_grace` is not a leftover while this process is still
 * starting it: the reconciler must neither remove its half-started workload nor release its
 * reservation (it did, when a first pod in a new Kubernetes namespace waited for its
 * ServiceAccount). Real ledger on SQLite; a runner whose start waits until the test lets it go.
 * Also: a Deployment found without its allocation is adopted as one allocation of all its copies.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../core/domain/events.ts';
import { QuotaLedger } from '../../core/domain/ledger/ledger.ts';
import { Reconciler } from '../../core/domain/reconciler.ts';
import type { ResourceCatalog, ResourceRecord } from '../../core/domain/resources/types.ts';
import { RunService } from '../../core/domain/runs.ts';
import { HookRegistry } from '../../core/kernel/hooks.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import type { Runner, WorkloadInfo, WorkloadSpec } from '../../core/slots/runner.ts';
import { openTestStorage } from '../support/storage-host.ts';

const GiB = 2 ** 30;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function setup(engineShows: 'created' | 'nothing') {
  const opened = await openTestStorage();
  closers.push(opened.close);
  await opened.storage.migrate('ledger', new URL('../../core/domain/ledger/migrations', import.meta.url));
  const ledger = new QuotaLedger(opened.storage, 'node-test', { cpuMilli: 8000, memory: 16 * GiB, gpu: 0 });
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let started: WorkloadSpec | undefined;
  const removed: string[] = [];
  const info = (spec: WorkloadSpec, state: WorkloadInfo['state']): WorkloadInfo => ({
    id: spec.name,
    name: spec.name,
    image: spec.image,
    state,
    labels: spec.labels,
    resources: spec.resources,
    createdAt: new Date().toISOString(),
    ports: [],
  });
  const runner = {
    start: async (spec: WorkloadSpec) => {
      started = spec;
      await gate;
      return info(spec, 'running');
    },
    list: async () => (started && engineShows === 'created' ? [info(started, 'created')] : []),
    remove: async (id: string) => {
      removed.push(id);
    },
  } as unknown as Runner;
  const resource = {
    id: 'r1',
    name: 'r1',
    type: 'docker',
    status: 'connected',
    capacity: { cpu: 8, memory: 16 * GiB, gpu: 0 },
  } as ResourceRecord;
  const catalog = {
    list: async () => [resource],
    get: async () => resource,
    runner: async () => runner,
    refresh: async () => resource,
    markUnreachable: async () => {},
  } as unknown as ResourceCatalog;
  const hooks = new HookRegistry();
  hooks.define('run:validate', 'serial');
  hooks.define('run:overflow', 'first');
  const events = new EventBus();
  const common = { ledger, catalog, events, nodeId: 'node-test', logger: silentLogger() };
  const runs = new RunService({ ...common, hooks: hooks.forPlugin('test') });
  // No grace at all: only "this process is starting it" can keep the reservation.
  const reconciler = new Reconciler({ ...common, startGraceMs: 0, starting: (id) => runs.isStarting(id) });
  return { runs, reconciler, ledger, release, removed, started: () => started };
}

const principal = { id: 'u1', name: 'u1', kind: 'user', role: 'operator' } as const;
const request = { image: 'busybox', cpuMilli: 1000, memory: GiB, gpu: 0 };

describe('reconciler and runs still starting', () => {
  for (const engineShows of ['created', 'nothing'] as const) {
    it(`keeps a reservation this process is still starting (engine shows ${engineShows})`, async () => {
      const t = await setup(engineShows);
      const run = t.runs.run(request, principal);
      while (!t.started()) await new Promise((r) => setTimeout(r, 5));
      const [reserved] = await t.ledger.activeOn('r1');
      expect(reserved?.state).toBe('reserved');
      expect(t.runs.isStarting(reserved!.id)).toBe(true);

      await t.reconciler.reconcile('r1');
      expect((await t.ledger.get(reserved!.id))?.state).toBe('reserved');
      expect(t.removed).toEqual([]);

      t.release();
      const result = await run;
      expect(result.where === 'local' && result.allocation.state).toBe('committed');
      expect(t.runs.isStarting(reserved!.id)).toBe(false);
    });
  }

  it('a reservation nobody is starting is a leftover once its grace is over', async () => {
    const t = await setup('nothing');
    const run = t.runs.run(request, principal);
    while (!t.started()) await new Promise((r) => setTimeout(r, 5));
    const [reserved] = await t.ledger.activeOn('r1');
    // As if its process had died: forget that it is being started.
    const reconciler = new Reconciler({
      ledger: t.ledger,
      catalog: { runner: async () => ({ list: async () => [] }), get: async () => undefined } as never,
      events: new EventBus(),
      nodeId: 'node-test',
      logger: silentLogger(),
      startGraceMs: 0,
    });
    await reconciler.reconcile('r1');
    expect((await t.ledger.get(reserved!.id))?.state).toBe('released');
    t.release();
    await run.catch(() => undefined);
  });
});

describe('reconciler adoption of a replicated workload', () => {
  it('books a Deployment found without its allocation as one allocation of all its copies', async () => {
    const opened = await openTestStorage();
    closers.push(opened.close);
    await opened.storage.migrate('ledger', new URL('../../core/domain/ledger/migrations', import.meta.url));
    const ledger = new QuotaLedger(opened.storage, 'node-test', { cpuMilli: 8000, memory: 16 * GiB, gpu: 0 });
    const deployment: WorkloadInfo = {
      id: 'iarnet-afeedface00000001',
      name: 'iarnet-afeedface00000001',
      image: 'busybox',
      state: 'running',
      labels: { 'iarnet.node': 'node-test', 'iarnet.alloc': 'afeedface00000001', 'iarnet.app': 'app_1' },
      // What a replicated workload reports: the total of its copies.
      resources: { cpu: 0.75, memory: 3 * GiB, gpu: 0 },
      createdAt: new Date().toISOString(),
      ports: [],
      replicas: { desired: 3, ready: 3 },
    };
    const reconciler = new Reconciler({
      ledger,
      catalog: {
        runner: async () => ({ list: async () => [deployment] }),
        get: async () => ({ status: 'connected' }),
      } as never,
      events: new EventBus(),
      nodeId: 'node-test',
      logger: silentLogger(),
    });
    const summary = await reconciler.reconcile('r1');
    expect(summary.adopted).toBe(1);
    expect(await ledger.get('afeedface00000001')).toMatchObject({
      state: 'committed',
      cpuMilli: 750,
      memory: 3 * GiB,
      replicas: 3,
      appId: 'app_1',
      workloadId: deployment.id,
    });
    // Adopted once: a second pass finds it booked.
    expect((await reconciler.reconcile('r1')).adopted).toBe(0);
  });
});
