/**
 * Where RunService may place a run, by what each resource type can run at all (RunnerFactory
 * `replicated` and `unsupported`), before room is looked at: a real ledger on SQLite, a catalog
 * of one Docker-like and one Kubernetes-like resource, runners that record what they were asked.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../core/domain/events.ts';
import { QuotaLedger } from '../../core/domain/ledger/ledger.ts';
import type { ResourceCatalog, ResourceRecord } from '../../core/domain/resources/types.ts';
import { type RunRequest, RunService } from '../../core/domain/runs.ts';
import { ApiError } from '../../core/kernel/errors.ts';
import { HookRegistry } from '../../core/kernel/hooks.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import type { Principal } from '../../core/slots/auth.ts';
import type { Runner, RunnerFactory, WorkloadSpec } from '../../core/slots/runner.ts';
import { openTestStorage } from '../support/storage-host.ts';

const GiB = 2 ** 30;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

const record = (id: string, type: string, cpu: number): ResourceRecord => ({
  id,
  name: id,
  type: type as ResourceRecord['type'],
  url: 'unix:///nowhere',
  status: 'connected',
  capacity: { cpu, memory: 64 * GiB, gpu: 0 },
  tags: [],
  credentials: {
    token: false,
    tlsCa: false,
    tlsCert: false,
    tlsKey: false,
    tlsSkipVerify: false,
    sshKey: false,
    sshPassword: false,
  },
  builtin: false,
  createdAt: '',
  updatedAt: '',
  lastUpdated: '',
});

const FACTORIES: Record<string, RunnerFactory> = {
  docker: { type: 'docker', create: () => ({}) as Runner },
  kubernetes: {
    type: 'kubernetes',
    replicated: true,
    create: () => ({}) as Runner,
    unsupported: (req) =>
      (req.ports ?? []).flatMap((p, i) =>
        p.hostPort ? [{ path: `ports[${i}].hostPort`, message: 'no host ports here' }] : [],
      ),
  },
};

async function setup(resources: ResourceRecord[]) {
  const opened = await openTestStorage();
  closers.push(opened.close);
  await opened.storage.migrate('ledger', new URL('../../core/domain/ledger/migrations', import.meta.url));
  const ledger = new QuotaLedger(opened.storage, 'node-test', {
    cpuMilli: 64_000,
    memory: 256 * GiB,
    gpu: 0,
  });
  const started: { resourceId: string; spec: WorkloadSpec }[] = [];
  const runnerFor = (resourceId: string) =>
    ({
      start: async (spec: WorkloadSpec) => {
        started.push({ resourceId, spec });
        return {
          id: spec.name,
          name: spec.name,
          image: spec.image,
          state: 'running',
          labels: spec.labels,
          resources: spec.resources,
          createdAt: new Date().toISOString(),
          ports: [],
        };
      },
    }) as unknown as Runner;
  const catalog = {
    list: async () => resources,
    get: async (id: string) => resources.find((r) => r.id === id),
    runner: async (id: string) => runnerFor(id),
  } as unknown as ResourceCatalog;
  const hooks = new HookRegistry();
  hooks.define('run:validate', 'serial');
  hooks.define('run:overflow', 'first');
  let overflowAsked = 0;
  hooks.on('run:overflow', () => {
    overflowAsked++;
    return undefined;
  });
  const runs = new RunService({
    ledger,
    catalog,
    events: new EventBus(),
    hooks: hooks.forPlugin('test'),
    nodeId: 'node-test',
    logger: silentLogger(),
    runnerType: (type) => FACTORIES[type],
  });
  return { runs, ledger, started, overflowAsked: () => overflowAsked };
}

const principal: Principal = { id: 'u1', name: 'u1', kind: 'user', role: 'operator' };
const request = (extra: Partial<RunRequest> = {}): RunRequest => ({
  image: 'busybox',
  cpuMilli: 1000,
  memory: GiB,
  gpu: 0,
  ...extra,
});

async function refusal(p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

describe('run placement by what a resource type can run', () => {
  it('a host port skips the cluster that cannot publish one, even when the cluster fits better', async () => {
    // The scheduler packs: for 1 core the 2-core cluster is the tighter fit (the plain run below
    // lands there), so only the rule sends the host-port run to the Docker engine.
    const t = await setup([record('k1', 'kubernetes', 2), record('d1', 'docker', 32)]);
    const result = await t.runs.run(
      request({ ports: [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' }] }),
      principal,
    );
    expect(result.where === 'local' && result.allocation.resourceId).toBe('d1');
    const plain = await t.runs.run(request(), principal);
    expect(plain.where === 'local' && plain.allocation.resourceId).toBe('k1');
  });

  it('a host port pinned to the cluster, or with only clusters around, is a 400 that books nothing', async () => {
    const t = await setup([record('k1', 'kubernetes', 8), record('d1', 'docker', 8)]);
    const pinned = await refusal(
      t.runs.run(
        request({ resourceId: 'k1', ports: [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' }] }),
        principal,
      ),
    );
    expect(pinned.status).toBe(400);
    expect(pinned.fields).toEqual([{ path: 'ports[0].hostPort', message: 'no host ports here' }]);

    const only = await setup([record('k1', 'kubernetes', 8)]);
    const err = await refusal(
      only.runs.run(request({ ports: [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' }] }), principal),
    );
    expect(err.status).toBe(400);
    expect(err.fields?.[0]?.path).toBe('ports[0].hostPort');
    expect(await t.ledger.usageByResource()).toEqual(new Map());
    expect(await only.ledger.usageByResource()).toEqual(new Map());
    expect([...t.started, ...only.started]).toEqual([]);
  });

  it('replicas go to a replicating resource as one allocation of the total, never to a peer', async () => {
    const t = await setup([record('d1', 'docker', 32), record('k1', 'kubernetes', 8)]);
    const result = await t.runs.run(request({ replicas: 3, cpuMilli: 500 }), principal);
    expect(result.where).toBe('local');
    if (result.where !== 'local') return;
    expect(result.allocation).toMatchObject({
      resourceId: 'k1',
      cpuMilli: 1500,
      memory: 3 * GiB,
      replicas: 3,
    });
    expect(t.started).toHaveLength(1);
    expect(t.started[0]!.spec).toMatchObject({ replicas: 3, resources: { cpu: 0.5, memory: GiB, gpu: 0 } });
    expect((await t.ledger.get(result.allocation.id))?.replicas).toBe(3);

    // Too big for the cluster: refused here, not forwarded (peers take single containers).
    const big = await refusal(t.runs.run(request({ replicas: 4, cpuMilli: 2000 }), principal));
    expect(big.status).toBe(503);
    expect(t.overflowAsked()).toBe(0);
  });

  it('replicas pinned to a Docker engine are a 400; with no replicating resource, a 503 the deployer answers', async () => {
    const t = await setup([record('d1', 'docker', 32)]);
    const pinned = await refusal(t.runs.run(request({ replicas: 2, resourceId: 'd1' }), principal));
    expect(pinned.status).toBe(400);
    expect(pinned.fields?.[0]?.path).toBe('replicas');
    const none = await refusal(t.runs.run(request({ replicas: 2 }), principal));
    expect(none).toMatchObject({ status: 503, code: 'NO_REPLICATED_RESOURCE' });
    expect(await t.ledger.usageByResource()).toEqual(new Map());
    expect(t.started).toEqual([]);
  });
});
