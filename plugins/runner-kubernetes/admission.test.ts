import { describe, expect, it } from 'vitest';
import type { ResourceCatalog } from '../../core/domain/resources/types.ts';
import type { RunRequest } from '../../core/domain/runs.ts';
import { ApiError } from '../../core/kernel/errors.ts';
import { admitPinnedRun } from './admission.ts';

const catalog = (type: string) =>
  ({ get: async (id: string) => ({ id, type }) }) as unknown as ResourceCatalog;
const req = (over: Partial<RunRequest>): RunRequest => ({
  image: 'busybox',
  cpuMilli: 100,
  memory: 1,
  gpu: 0,
  resourceId: 'res_1',
  ...over,
});

describe('admission of runs pinned to a cluster', () => {
  it('refuses host ports with a field error per port', async () => {
    const err = await admitPinnedRun(
      req({
        ports: [
          { containerPort: 80, protocol: 'tcp' },
          { containerPort: 81, hostPort: 8081, protocol: 'tcp' },
        ],
      }),
      catalog('kubernetes'),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(400);
    expect(err.fields).toEqual([
      { path: 'ports[1].hostPort', message: expect.stringContaining('host ports') },
    ]);
  });

  it('lets everything else through', async () => {
    const hostPort = [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' as const }];
    await expect(admitPinnedRun(req({ ports: hostPort }), catalog('docker'))).resolves.toBeUndefined();
    await expect(
      admitPinnedRun(req({ ports: hostPort, resourceId: undefined }), catalog('kubernetes')),
    ).resolves.toBeUndefined();
    await expect(
      admitPinnedRun(req({ ports: [{ containerPort: 80, protocol: 'tcp' }] }), catalog('kubernetes')),
    ).resolves.toBeUndefined();
  });
});
