/**
 * Deploying applications on the real Docker engine: `instances` containers of the image started
 * through RunService with the application's label, quota booked and released, status
 * transitions, failures that leave nothing booked, and the roles. Builds from Git: applications-build.test.ts. In CI a missing engine fails.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import applicationsPlugin from '../../core/domain/applications/plugin.ts';
import { EventBusKey, type IarnetEvent } from '../../core/domain/events.ts';
import platformPlugin from '../../core/domain/platform-plugin.ts';
import resourcesPlugin from '../../core/domain/resources/plugin.ts';
import { createIarnet, type Iarnet } from '../../core/iarnet.ts';
import { loadConfig } from '../../core/kernel/config.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import type { AnyPlugin } from '../../core/kernel/plugin.ts';
import { loadRuntime } from '../../core/runtime/index.ts';
import type { Role } from '../../core/slots/auth.ts';
import runnerDocker from '../../plugins/runner-docker/index.ts';
import storagePlugin from '../../plugins/storage/index.ts';
import { ensureTestImage, requireDocker, TEST_IMAGE } from '../support/docker-env.ts';
import { nodeContainers, removeNodeContainers } from '../support/platform-node.ts';
import { bearer, staticAuth } from '../support/static-auth.ts';

const env = await requireDocker();
const docker = new Docker({ socketPath: env.ok ? env.socketPath : '/var/run/docker.sock' });

describe.skipIf(!env.ok)('deploying applications on a real Docker engine', () => {
  let node: Iarnet;
  const nodeId = `test-apps-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    await ensureTestImage();
    const dataDir = mkdtempSync(join(tmpdir(), 'iarnet-apps-deploy-'));
    const loaded = loadConfig({
      overrides: {
        node_id: nodeId,
        data_dir: dataDir,
        resource_limits: { cpu: '2', memory: '2Gi', gpu: '0' },
      },
    });
    node = await createIarnet({
      core: loaded.core,
      sections: {
        platform: { reconcile_interval: 3600, start_grace: 5 },
        runner_docker: { stop_timeout_seconds: 1 },
      },
      plugins: [
        storagePlugin,
        resourcesPlugin,
        runnerDocker,
        platformPlugin,
        staticAuth,
        applicationsPlugin,
      ] as AnyPlugin[],
      runtime: await loadRuntime(),
      logger: silentLogger(),
    });
    await node.start();
  });
  afterAll(async () => {
    await node?.stop();
    await removeNodeContainers(nodeId);
  });

  const call = (
    method: string,
    path: string,
    body?: unknown,
    role: Role = 'operator',
    headers: Record<string, string> = {},
  ) =>
    node.app.request(path, {
      method,
      headers: {
        ...bearer(role),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const quota = async () =>
    ((await (await call('GET', '/resources')).json()) as { current: { cpu: number } }).current;
  const create = async (body: Record<string, unknown>) => {
    const res = await call('POST', '/api/applications', {
      type: 'worker',
      image: TEST_IMAGE,
      command: ['sh', '-c', 'sleep 300'],
      resources: { cpu: 0.25, memory: 0.125 },
      ...body,
    });
    expect(res.status, await res.clone().text()).toBe(201);
    return ((await res.json()) as { id: string }).id;
  };
  const appContainers = async (id: string) =>
    (await nodeContainers(nodeId)).filter((c) => Object.values(c.Labels).includes(id));

  it('deploys instances through RunService, then stop releases everything', async () => {
    const id = await create({
      name: 'sleeper',
      instances: 2,
      env: { GREETING: 'hi', TOKEN: { value: 'not-returned', secret: true } },
    });
    expect((await call('POST', '/api/deploy', { applicationId: id }, 'viewer')).status).toBe(403);
    const res = await call('POST', '/api/deploy', { applicationId: id });
    expect(res.status, await res.clone().text()).toBe(200);
    const app = (await res.json()) as Record<string, unknown>;
    expect(app).toMatchObject({ status: 'running', instances: 2 });
    expect((app.runningOn as string[]).length).toBe(1);
    expect(app.lastDeployed).toBeDefined();
    const running = (await appContainers(id)).filter((c) => c.State === 'running');
    expect(running).toHaveLength(2);
    expect((await quota()).cpu).toBeCloseTo(0.5);

    // Deploying again while running: 409, nothing more started.
    expect((await call('POST', `/api/applications/${id}/deploy`)).status).toBe(409);
    // Deleting while running: 409.
    expect((await call('DELETE', `/api/applications/${id}`)).status).toBe(409);

    const restarted = await call('POST', `/api/applications/${id}/restart`);
    expect(restarted.status, await restarted.clone().text()).toBe(200);
    expect(((await restarted.json()) as { status: string }).status).toBe('running');

    const stopped = await call('POST', `/api/applications/${id}/stop`);
    expect(stopped.status, await stopped.clone().text()).toBe(200);
    expect(await stopped.json()).toMatchObject({ status: 'stopped', runningOn: [] });
    expect((await quota()).cpu).toBe(0);
    expect((await appContainers(id)).filter((c) => c.State === 'running')).toHaveLength(0);
    expect((await call('DELETE', `/api/applications/${id}`)).status).toBe(204);
  });

  it('an instance that exits by itself is pushed as warning, the last one as error', async () => {
    const events: IarnetEvent[] = [];
    const unsubscribe = node.host.services.get(EventBusKey).subscribe((e) => {
      if (e.type === 'application:status') events.push(e);
    });
    try {
      const id = await create({ name: 'fragile', instances: 2 });
      const res = await call('POST', '/api/deploy', { applicationId: id });
      expect(res.status, await res.clone().text()).toBe(200);
      const [first, second] = (await appContainers(id)).filter((c) => c.State === 'running');
      const pushed = async (status: string) => {
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline) {
          const e = events.find((x) => x.data.applicationId === id && x.data.status === status);
          if (e) return e.data;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error(`no application:status ${status} within 10 s: ${JSON.stringify(events)}`);
      };
      // Killed behind IARNet's back: the engine's event makes the reconciler release it.
      await docker.getContainer(first!.Id).kill();
      expect(await pushed('warning')).toMatchObject({
        previous: 'running',
        applicationStatus: 'running',
        reason: '1 of 2 instances running',
      });
      await docker.getContainer(second!.Id).kill();
      expect(await pushed('error')).toMatchObject({ previous: 'warning', reason: 'no instance is running' });
      expect((await quota()).cpu).toBe(0);
      const status = (await (await call('GET', `/api/applications/${id}/status`)).json()) as {
        status: string;
      };
      expect(status.status).toBe('error');
      expect((await call('POST', `/api/applications/${id}/stop`)).status).toBe(200);
    } finally {
      unsubscribe();
    }
  });

  it('a retried deploy or redeploy with the same Idempotency-Key replays the first answer', async () => {
    const id = await create({ name: 'retried' });
    const headers = { 'idempotency-key': `deploy-${id}` };
    const first = await call('POST', '/api/deploy', { applicationId: id }, 'operator', headers);
    expect(first.status, await first.clone().text()).toBe(200);
    const again = await call('POST', '/api/deploy', { applicationId: id }, 'operator', headers);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(await first.json());
    expect((await appContainers(id)).filter((c) => c.State === 'running')).toHaveLength(1);
    // Without the key, a second deploy is a conflict.
    expect((await call('POST', '/api/deploy', { applicationId: id })).status).toBe(409);

    // Redeploy takes a key too: a retry replays instead of replacing the instances again.
    const redeployKey = { 'idempotency-key': `redeploy-${id}` };
    const redeployed = await call(
      'POST',
      `/api/applications/${id}/redeploy`,
      undefined,
      'operator',
      redeployKey,
    );
    expect(redeployed.status, await redeployed.clone().text()).toBe(200);
    const after = (await appContainers(id)).filter((c) => c.State === 'running').map((c) => c.Id);
    const replayed = await call(
      'POST',
      `/api/applications/${id}/redeploy`,
      undefined,
      'operator',
      redeployKey,
    );
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect((await appContainers(id)).filter((c) => c.State === 'running').map((c) => c.Id)).toEqual(after);
    // The deploy's key is not the redeploy's: reused for another operation it is refused.
    expect(
      (await call('POST', `/api/applications/${id}/redeploy`, undefined, 'operator', headers)).status,
    ).toBe(422);
    expect((await call('POST', `/api/applications/${id}/stop`)).status).toBe(200);
    expect((await quota()).cpu).toBe(0);
  });

  it('a deploy that does not fit ends in error and holds no quota', async () => {
    // Three instances of 0.75 cores on a 2-core node: the third is refused.
    const id = await create({ name: 'too-big', instances: 3, resources: { cpu: 0.75, memory: 0.125 } });
    const res = await call('POST', `/api/applications/${id}/deploy`);
    expect(res.status).toBe(503);
    const app = (await (await call('GET', `/api/applications/${id}`)).json()) as Record<string, unknown>;
    expect(app).toMatchObject({ status: 'error', runningOn: [] });
    expect(String(app.statusReason)).toMatch(/Resource limit exceeded/);
    expect((await quota()).cpu).toBe(0);
    expect((await appContainers(id)).filter((c) => c.State === 'running')).toHaveLength(0);
  });

  it('refuses to build an application without an image when no git plugin is loaded', async () => {
    const res = await call('POST', '/api/applications', {
      name: 'from-git',
      type: 'web',
      gitUrl: 'https://github.com/example/site.git',
      resources: { cpu: 0.1, memory: 0.1 },
    });
    const { id } = (await res.json()) as { id: string };
    const deploy = await call('POST', `/api/applications/${id}/deploy`);
    expect(deploy.status).toBe(503);
    expect(((await deploy.json()) as { code: string }).code).toBe('GIT_UNAVAILABLE');
    // Refused before anything changed: the status is untouched and nothing is booked.
    expect(((await (await call('GET', `/api/applications/${id}`)).json()) as { status: string }).status).toBe(
      'idle',
    );
    expect((await quota()).cpu).toBe(0);
  });
});
