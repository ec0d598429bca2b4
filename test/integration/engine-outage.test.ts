/**
 * Engine outage (RELIABILITY-SECURITY.md: "An engine or cluster that is unreachable makes its
 * resource `unreachable`; its workloads are not declared dead or rescheduled"). A real `iarnet`
 * process (reconcile every second) uses a PRIVATE dockerd started with --live-restore as a
 * resource. The test runs a container on it, stops the engine (SIGTERM to the pid it started)
 * and checks, each within a bound:
 *  - the resource becomes `unreachable`; POST /run on it answers 503; stopping the container
 *    answers 503 and changes nothing;
 *  - the allocation stays active and the quota booked, over several reconcile passes, while
 *    the container's process keeps running on the host;
 * then starts the engine again on the same folders and checks the resource is `connected`,
 * the container is the same one and still runs, exactly one allocation holds it, nothing was
 * duplicated, and the resource takes new runs. In CI (CI=true) a missing dockerd fails the run.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../support/docker-env.ts';
import {
  type PrivateDockerd,
  privateDockerdMissing,
  startPrivateDockerd,
} from '../support/private-dockerd.ts';
import { ROOT, unavailable } from '../support/runtimes.ts';
import { type RunningIarnet, spawnIarnet } from '../support/spawn-iarnet.ts';

const IARNET = [process.execPath, '--import', 'tsx', join(ROOT, 'core/cli.ts')];
const PASSWORD = 'engine-outage-admin-pw-1';
const RECONCILE_S = 1;
/** How long each state change may take to show (several reconcile passes and an event retry). */
const BOUND_MS = 15_000;
const RUN = {
  image: TEST_IMAGE,
  command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'],
  cpu: 0.1,
  memory: 0.05,
};

const missing = privateDockerdMissing();
const run = missing && unavailable(`engine-outage: ${missing}`) === 'skip' ? describe.skip : describe;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `probe` until `done` holds or the bound passes; returns the last value and the time taken. */
async function waitFor<T>(probe: () => Promise<T>, done: (v: T) => boolean, boundMs = BOUND_MS) {
  const t0 = Date.now();
  let last = await probe();
  while (!done(last) && Date.now() - t0 < boundMs) {
    await sleep(200);
    last = await probe();
  }
  return { value: last, ms: Date.now() - t0 };
}

/** Whether a host pid is a live (not zombie) process, from /proc. */
function processState(pid: number): string | undefined {
  try {
    // "pid (comm) S ..." — the state letter follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

run('a resource whose engine goes down and comes back', () => {
  const nodeId = `outage-${randomBytes(4).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'iarnet-outage-'));
  let engine: PrivateDockerd;
  let node: RunningIarnet;
  let token = '';
  let resourceId = '';
  let first: { container_id: string; allocation_id: string };
  let hostPid = 0;

  const call = (path: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${node.url}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${token}`,
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(30_000),
    });
  const json = async (path: string, init?: { method?: string; body?: unknown }) =>
    (await call(path, init)).json();
  const resource = () => json(`/api/resources/${resourceId}`);
  const allocationsOf = async (containerId: string) =>
    (
      (await json('/api/containers')).items as { id: string; allocationId: string; allocation: string }[]
    ).filter((a) => a.id === containerId);
  const ourContainers = () =>
    engine.docker.listContainers({ all: true, filters: { label: [`iarnet.node=${nodeId}`] } });

  beforeAll(async () => {
    engine = await startPrivateDockerd();
    await engine.importTestImage();
    const configFile = join(dataDir, 'config.yaml');
    writeFileSync(
      configFile,
      `platform:\n  reconcile_interval: ${RECONCILE_S}\n  start_grace: 5\nresources:\n  refresh_interval: 2\n  test_timeout: 3\n`,
    );
    node = await spawnIarnet(IARNET, {
      dataDir,
      args: ['--config', configFile],
      env: {
        IARNET_ADMIN_PASSWORD: PASSWORD,
        IARNET_NODE_ID: nodeId,
        IARNET_RESOURCE_LIMITS__CPU: '4',
        IARNET_RESOURCE_LIMITS__MEMORY: '4Gi',
      },
    });
    const login = await fetch(`${node.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    token = (await login.json()).token;
  });

  afterAll(async () => {
    await node?.stop('SIGTERM').catch(() => node?.stop('SIGKILL'));
    await engine?.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('registers the private engine as a connected resource and runs a container on it', async () => {
    const res = await call('/api/resources', {
      method: 'POST',
      body: { name: 'private-engine', type: 'docker', url: engine.url },
    });
    expect(res.status).toBe(201);
    const created = await res.json();
    expect(created).toMatchObject({ type: 'docker', url: engine.url, status: 'connected' });
    expect(created.cpu.total).toBeGreaterThan(0);
    resourceId = created.id;

    const started = await call('/run', { method: 'POST', body: { ...RUN, resource_id: resourceId } });
    expect(started.status).toBe(202);
    first = await started.json();
    expect(first).toMatchObject({ resource_id: resourceId, node_id: nodeId });
    const inspect = await engine.docker.getContainer(first.container_id).inspect();
    expect(inspect.State.Running).toBe(true);
    expect(inspect.Config.Labels).toMatchObject({
      'iarnet.node': nodeId,
      'iarnet.alloc': first.allocation_id,
    });
    hostPid = inspect.State.Pid;
    expect(processState(hostPid)).toMatch(/^[RSD]$/);
    expect((await json('/resources')).current).toEqual({ cpu: 0.1, memory: 0.05, gpu: 0 });
  });

  it('engine down: unreachable, 503 for new runs and stops, allocation kept, process alive', async () => {
    const pid = engine.pid();
    expect(pid).toBeGreaterThan(0);
    await engine.stop();
    expect(engine.pid()).toBeUndefined();
    expect(processState(pid!) ?? 'gone').toMatch(/^(gone|Z)$/);

    const down = await waitFor(resource, (r) => r.status === 'unreachable');
    expect(down.value.status, `still ${down.value.status} after ${down.ms} ms`).toBe('unreachable');
    // A generic reason, not the socket error.
    expect(down.value.statusReason ?? '').not.toMatch(/ENOENT|ECONNREFUSED|d\.sock/);

    const refused = await call('/run', { method: 'POST', body: { ...RUN, resource_id: resourceId } });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ code: 'RESOURCE_UNREACHABLE' });

    const stop = await call(`/api/containers/${first.allocation_id}/stop`, { method: 'POST' });
    expect(stop.status).toBe(503);

    // Several reconcile passes later nothing has been declared dead.
    await sleep(RECONCILE_S * 4_000);
    expect((await resource()).status).toBe('unreachable');
    expect(await allocationsOf(first.container_id)).toEqual([
      expect.objectContaining({ allocationId: first.allocation_id, allocation: 'committed' }),
    ]);
    expect((await json('/resources')).current).toEqual({ cpu: 0.1, memory: 0.05, gpu: 0 });
    const listed = await resource();
    expect(listed.cpu.used).toBeCloseTo(0.1, 6);
    // live-restore: the workload's process runs on while its engine is away.
    expect(processState(hostPid)).toMatch(/^[RSD]$/);
  });

  it('engine back: connected again, same container, one allocation, no duplicate', async () => {
    await engine.start();
    const up = await waitFor(resource, (r) => r.status === 'connected');
    expect(up.value.status, `still ${up.value.status} after ${up.ms} ms`).toBe('connected');

    const inspect = await engine.docker.getContainer(first.container_id).inspect();
    expect(inspect.State.Running).toBe(true);
    expect(inspect.State.Pid).toBe(hostPid);
    const ours = await ourContainers();
    expect(ours.map((c) => c.Id)).toEqual([first.container_id]);

    // A few reconcile passes after the return, the books still hold exactly that one allocation.
    await sleep(RECONCILE_S * 3_000);
    expect(await allocationsOf(first.container_id)).toEqual([
      expect.objectContaining({
        allocationId: first.allocation_id,
        allocation: 'committed',
        status: 'running',
      }),
    ]);
    const active = ((await json('/api/containers')).items as { allocation: string }[]).filter(
      (a) => a.allocation !== 'released',
    );
    expect(active).toHaveLength(1);
    expect((await json('/resources')).current).toEqual({ cpu: 0.1, memory: 0.05, gpu: 0 });
    expect((await ourContainers()).map((c) => c.Id)).toEqual([first.container_id]);
  });

  it('after the outage the resource takes new runs, and stopping releases everything', async () => {
    const again = await call('/run', { method: 'POST', body: { ...RUN, resource_id: resourceId } });
    expect(again.status).toBe(202);
    const second = await again.json();
    expect((await json('/resources')).current).toEqual({ cpu: 0.2, memory: 0.1, gpu: 0 });
    for (const id of [first.allocation_id, second.allocation_id]) {
      const stop = await call(`/api/containers/${id}/stop`, { method: 'POST' });
      expect(stop.status).toBe(200);
      expect(await stop.json()).toMatchObject({ allocation: 'released' });
    }
    expect((await json('/resources')).current).toEqual({ cpu: 0, memory: 0, gpu: 0 });
    const ours = await ourContainers();
    expect(ours).toHaveLength(2);
    expect(ours.every((c) => c.State === 'exited')).toBe(true);
  });
});
