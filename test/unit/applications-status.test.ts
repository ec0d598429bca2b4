/**
 * ApplicationStatus instance counts: a container is one instance; a replicated workload (a
 * Kubernetes Deployment, one allocation of several copies) counts the copies its engine reports
 * ready, and the booked copies when the engine does not answer.
 */
import { describe, expect, it } from 'vitest';
import type { HealthMonitor } from '../../core/domain/applications/health.ts';
import type { ApplicationRow } from '../../core/domain/applications/schema.ts';
import { StatusReader } from '../../core/domain/applications/status.ts';
import type { Allocation } from '../../core/domain/ledger/types.ts';
import type { ResourceCatalog } from '../../core/domain/resources/types.ts';
import type { Runner, WorkloadInfo } from '../../core/slots/runner.ts';

const GiB = 2 ** 30;
const health = {
  health: () => ({ status: 'unknown' }),
  instances: () => [],
} as unknown as HealthMonitor;

function reader(inspect: (id: string) => Promise<WorkloadInfo | undefined>) {
  const runner = {
    inspect,
    stats: async () => {
      throw new Error('no stats here');
    },
    logs: async function* () {},
  } as unknown as Runner;
  const catalog = { runner: async () => runner } as unknown as ResourceCatalog;
  return new StatusReader({ catalog: () => catalog, health, cacheMs: 0, logLines: 0 });
}

const row = { id: 'app1', name: 'app', status: 'running', instances: 3 } as unknown as ApplicationRow;
const allocation = (extra: Partial<Allocation>): Allocation => ({
  id: 'a1',
  resourceId: 'k1',
  nodeId: 'n1',
  state: 'committed',
  cpuMilli: 750,
  memory: 3 * GiB,
  gpu: 0,
  image: 'busybox',
  workloadName: 'iarnet-a1',
  workloadId: 'iarnet-a1',
  owner: 'u1',
  createdAt: new Date().toISOString(),
  ...extra,
});
const deployment = (ready: number) =>
  ({ id: 'iarnet-a1', replicas: { desired: 3, ready } }) as unknown as WorkloadInfo;

describe('application status: instances of a replicated workload', () => {
  it('counts the ready copies, so a copy that is down shows the application as short (warning)', async () => {
    const status = await reader(async () => deployment(2)).status(row, [allocation({ replicas: 3 })]);
    expect(status.instances).toBe(2);
    expect(status.desiredInstances).toBe(3);
    expect(status.status).toBe('warning');
  });

  it('all copies ready: running; the engine not answering: the booked copies', async () => {
    expect((await reader(async () => deployment(3)).status(row, [allocation({ replicas: 3 })])).status).toBe(
      'running',
    );
    const silent = await reader(() => new Promise(() => {})).status(row, [allocation({ replicas: 3 })]);
    expect(silent.instances).toBe(3);
  });

  it('containers count one each, without asking the engine', async () => {
    let asked = 0;
    const r = reader(async () => {
      asked++;
      return undefined;
    });
    const status = await r.status(row, [
      allocation({ id: 'a1', workloadId: 'c1', cpuMilli: 250, memory: GiB }),
      allocation({ id: 'a2', workloadId: 'c2', cpuMilli: 250, memory: GiB }),
    ]);
    expect(status.instances).toBe(2);
    expect(asked).toBe(0);
  });
});
