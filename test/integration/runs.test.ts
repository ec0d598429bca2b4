/**
 * The design document's run/resources/status API against the real Docker engine: admission,
 * exact shapes, the container lifecycle with quota released exactly once, idempotent retries,
 * bounded concurrency, bad input that changes nothing, and resource deletion rules.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTestImage, requireDocker, TEST_IMAGE } from '../support/docker-env.ts';
import { docker, nodeContainers, removeNodeContainers, startPlatformNode } from '../support/platform-node.ts';
import { bearer } from '../support/static-auth.ts';

const env = await requireDocker();
type Node = Awaited<ReturnType<typeof startPlatformNode>>;

describe.skipIf(!env.ok)('POST /run, GET /resources, GET /status on a real Docker engine', () => {
  let node: Node;
  let localId: string;

  beforeAll(async () => {
    await ensureTestImage();
    node = await startPlatformNode({ limits: { cpu: '2', memory: '2Gi' } });
    const list = await (await call('GET', '/api/resources')).json();
    localId = list.items?.[0]?.id ?? list[0]?.id;
  });
  afterAll(async () => {
    await node?.stop();
    if (node) await removeNodeContainers(node.nodeId);
  });

  function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    return node.app.request(path, {
      method,
      headers: {
        ...bearer('admin'),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }
  const quota = async () => (await call('GET', '/resources')).json();

  it('registered the local Docker engine as a connected resource', async () => {
    const res = await call('GET', `/api/resources/${localId}`);
    expect(res.status).toBe(200);
    const r = await res.json();
    expect(r).toMatchObject({ type: 'docker', status: 'connected', builtin: true });
    expect(r.cpu.total).toBeGreaterThan(0);
  });

  it('runs a container: 202 with the document’s shape, quota booked, visible in /status', async () => {
    const res = await call('POST', '/run', {
      image: TEST_IMAGE,
      command: ['sh', '-c', 'echo hello-from-iarnet; echo oops >&2; sleep 300'],
      cpu: 0.5,
      memory: 0.25,
    });
    expect(res.status).toBe(202);
    const body = await res.json();
    expect(body).toMatchObject({
      status: 'accepted',
      message: 'Container started successfully',
      node_id: node.nodeId,
      resource_id: localId,
    });
    expect(body.container_id).toMatch(/^[0-9a-f]{64}$/);

    const inspect = await docker().getContainer(body.container_id).inspect();
    expect(inspect.State.Running).toBe(true);
    expect(inspect.HostConfig.NanoCpus).toBe(0.5e9);
    expect(inspect.HostConfig.Memory).toBe(0.25 * 2 ** 30);
    expect(inspect.Config.Labels).toMatchObject({
      'iarnet.node': node.nodeId,
      'iarnet.alloc': body.allocation_id,
    });

    expect(await quota()).toEqual({
      limits: { cpu: 2, memory: 2, gpu: 0 },
      current: { cpu: 0.5, memory: 0.25, gpu: 0 },
      available: { cpu: 1.5, memory: 1.75, gpu: 0 },
      utilization: { cpu: 25, memory: 12.5, gpu: 0 },
    });

    const status = await (await call('GET', '/status')).json();
    expect(status.total_containers).toBe(status.containers.length);
    expect(status.containers).toContainEqual({
      id: body.container_id,
      image: TEST_IMAGE,
      status: 'running',
      created_at: expect.any(String),
      resources: { cpu: 0.5, memory: 0.25, gpu: 0 },
      node_id: node.nodeId,
    });
    expect(status.node_info).toMatchObject({
      id: node.nodeId,
      address: expect.stringMatching(/:50051$/),
      last_updated: expect.any(String),
    });

    // Logs (tail) and stats, then stop → quota released exactly once.
    let lines: { stream: string; message: string }[] = [];
    for (let i = 0; i < 20 && lines.length < 2; i++) {
      lines = (await (await call('GET', `/api/containers/${body.container_id}/logs?tail=10`)).json()).items;
      if (lines.length < 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ stream: 'stdout', message: 'hello-from-iarnet' }),
        expect.objectContaining({ stream: 'stderr', message: 'oops' }),
      ]),
    );
    const stats = await (await call('GET', `/api/containers/${body.container_id}/stats`)).json();
    expect(stats.memoryLimitBytes).toBe(0.25 * 2 ** 30);
    expect(stats.cpuPercent).toBeGreaterThanOrEqual(0);

    const stopped = await call('POST', `/api/containers/${body.container_id.slice(0, 12)}/stop`);
    expect(stopped.status).toBe(200);
    expect(await stopped.json()).toMatchObject({ allocation: 'released', releaseReason: 'stopped' });
    expect((await quota()).current).toEqual({ cpu: 0, memory: 0, gpu: 0 });
    expect((await docker().getContainer(body.container_id).inspect()).State.Running).toBe(false);
    // A second stop changes nothing.
    expect((await call('POST', `/api/containers/${body.allocation_id}/stop`)).status).toBe(200);
    expect((await quota()).current).toEqual({ cpu: 0, memory: 0, gpu: 0 });

    // Restart of the stopped container starts it again, booked again on its resource.
    const again = await call('POST', `/api/containers/${body.allocation_id}/restart`);
    expect(again.status, await again.clone().text()).toBe(200);
    expect(await again.json()).toMatchObject({ allocation: 'committed', status: 'running' });
    expect((await quota()).current).toEqual({ cpu: 0.5, memory: 0.25, gpu: 0 });
    expect((await docker().getContainer(body.container_id).inspect()).State.Running).toBe(true);
    expect((await call('POST', `/api/containers/${body.allocation_id}/stop`)).status).toBe(200);
    // While the node has no room for it, it stays stopped and nothing is booked (503).
    const hog = await call('POST', '/run', {
      image: TEST_IMAGE,
      command: ['sleep', '300'],
      cpu: 1.75,
      memory: 0.25,
    });
    expect(hog.status).toBe(202);
    const refused = await call('POST', `/api/containers/${body.allocation_id}/restart`);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: 'Resource limit exceeded', code: 'QUOTA_EXCEEDED' });
    expect((await quota()).current).toEqual({ cpu: 1.75, memory: 0.25, gpu: 0 });
    expect((await docker().getContainer(body.container_id).inspect()).State.Running).toBe(false);
    expect((await call('DELETE', `/api/containers/${(await hog.json()).allocation_id}`)).status).toBe(204);
    expect((await quota()).current).toEqual({ cpu: 0, memory: 0, gpu: 0 });

    expect((await call('DELETE', `/api/containers/${body.allocation_id}`)).status).toBe(204);
    await expect(docker().getContainer(body.container_id).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
    expect((await call('GET', `/api/containers/${body.allocation_id}`)).status).toBe(404);
  });

  it('refuses over-quota runs with the document’s 503 body, naming the short resource', async () => {
    const before = (await nodeContainers(node.nodeId)).length;
    const cpu = await call('POST', '/run', { image: TEST_IMAGE, cpu: 3, memory: 0.1 });
    expect(cpu.status).toBe(503);
    expect(await cpu.json()).toMatchObject({
      error: 'Resource limit exceeded',
      details: 'Insufficient CPU resources',
    });
    const mem = await call('POST', '/run', { image: TEST_IMAGE, cpu: 0.1, memory: 3 });
    expect((await mem.json()).details).toBe('Insufficient memory resources');
    const gpu = await call('POST', '/run', { image: TEST_IMAGE, cpu: 0.1, memory: 0.1, gpu: 1 });
    expect((await gpu.json()).details).toBe('Insufficient GPU resources');
    expect((await nodeContainers(node.nodeId)).length).toBe(before);
  });

  it.each([
    [{ image: TEST_IMAGE, cpu: -1, memory: 0.1 }, 'cpu'] as const,
    [{ image: TEST_IMAGE, cpu: 0, memory: 0.1 }, 'cpu'],
    [{ image: TEST_IMAGE, cpu: 'two', memory: 0.1 }, 'cpu'],
    [{ image: TEST_IMAGE, cpu: 1e308, memory: 0.1 }, 'cpu'],
    [{ image: TEST_IMAGE, cpu: 0.5, memory: -2 }, 'memory'],
    [{ image: TEST_IMAGE, cpu: 0.5, memory: 1e9 }, 'memory'],
    [{ image: TEST_IMAGE, cpu: 0.5, memory: 0.1, gpu: 0.5 }, 'gpu'],
    [{ cpu: 0.5, memory: 0.1 }, 'image'],
    [{ image: 'Not An Image!', cpu: 0.5, memory: 0.1 }, 'image'],
    [{ image: 'x'.repeat(100_000), cpu: 0.5, memory: 0.1 }, 'image'],
    [{ image: TEST_IMAGE, command: ['echo', 'a\u0007b'], cpu: 0.5, memory: 0.1 }, 'command.1'],
    [{ image: TEST_IMAGE, cpu: 0.5, memory: 0.1, surprise: 1 }, 'surprise'],
    [{ image: TEST_IMAGE, cpu: 0.5, memory: 0.1, privileged: true }, 'privileged'],
    [{ image: TEST_IMAGE, cpu: 0.5, memory: 0.1, host_network: true }, 'host_network'],
    [{ image: TEST_IMAGE, cpu: 0.5, memory: 0.1, volumes: ['/:/host'] }, 'volumes'],
    [{ image: TEST_IMAGE, cpu: 0.5, memory: 0.1, cap_add: ['SYS_ADMIN'] }, 'cap_add'],
    [{ image: TEST_IMAGE, cpu: 0.5, memory: 0.1, devices: ['/dev/kmsg'] }, 'devices'],
  ])('refuses bad input #%# with a field error on %s and changes nothing', async (body, field) => {
    const before = await quota();
    const count = (await nodeContainers(node.nodeId)).length;
    const res = await call('POST', '/run', body);
    expect(res.status).toBe(400);
    const err = await res.json();
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.fields.map((f: { path: string }) => f.path)).toContain(field);
    expect(await quota()).toEqual(before);
    expect((await nodeContainers(node.nodeId)).length).toBe(count);
  });

  it('refuses runs from viewers (403) and without credentials (401)', async () => {
    const body = JSON.stringify({ image: TEST_IMAGE, cpu: 0.1, memory: 0.1 });
    const viewer = await node.app.request('/run', {
      method: 'POST',
      headers: { ...bearer('viewer'), 'content-type': 'application/json' },
      body,
    });
    expect(viewer.status).toBe(403);
    const anon = await node.app.request('/run', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(anon.status).toBe(401);
  });

  it('replays an Idempotency-Key instead of starting a second container', async () => {
    const body = { image: TEST_IMAGE, command: ['sleep', '300'], cpu: 0.25, memory: 0.1 };
    const key = { 'idempotency-key': `retry-${Date.now()}` };
    const first = await call('POST', '/api/run', body, key);
    const second = await call('POST', '/api/run', body, key);
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const a = await first.json();
    expect(await second.json()).toEqual(a);
    const mine = (await nodeContainers(node.nodeId)).filter(
      (c) => c.Labels['iarnet.alloc'] === a.allocation_id,
    );
    expect(mine).toHaveLength(1);
    const reused = await call('POST', '/api/run', { ...body, cpu: 0.5 }, key);
    expect(reused.status).toBe(422);
    expect((await reused.json()).code).toBe('IDEMPOTENCY_KEY_REUSED');
    await call('DELETE', `/api/containers/${a.allocation_id}`);
  });

  it('never over-commits under 50 concurrent runs that each ask for a large share', async () => {
    const before = (await quota()).current;
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        call('POST', '/run', { image: TEST_IMAGE, command: ['sleep', '300'], cpu: 0.6, memory: 0.1 }),
      ),
    );
    const codes = await Promise.all(
      results.map(async (r) => `${r.status} ${r.status === 202 ? '' : (await r.clone().json()).code}`),
    );
    const accepted = results.filter((r) => r.status === 202);
    expect(
      codes.filter(
        (c) => !c.startsWith('202') && c !== '503 NO_RESOURCE_WITH_ROOM' && c !== '503 QUOTA_EXCEEDED',
      ),
    ).toEqual([]);
    const refused = results.filter((r) => r.status === 503);
    expect(accepted.length + refused.length).toBe(50);
    // 2 cores minus what ran before, in steps of 0.6.
    expect(accepted.length).toBe(Math.floor((2 - before.cpu) / 0.6 + 1e-9));
    const q = await quota();
    expect(q.current.cpu).toBeCloseTo(before.cpu + accepted.length * 0.6, 6);
    expect(q.current.cpu).toBeLessThanOrEqual(2);
    const running = (await nodeContainers(node.nodeId)).filter((c) => c.State === 'running');
    expect(running.length).toBe(
      (await (await call('GET', '/api/containers')).json()).items.filter(
        (c: { allocation: string }) => c.allocation !== 'released',
      ).length,
    );
    for (const r of accepted) await call('DELETE', `/api/containers/${(await r.json()).allocation_id}`);
    expect((await quota()).current.cpu).toBeCloseTo(before.cpu, 6);
  });

  it('refuses to delete a resource with running containers unless forced', async () => {
    const started = await (
      await call('POST', '/run', { image: TEST_IMAGE, command: ['sleep', '300'], cpu: 0.25, memory: 0.1 })
    ).json();
    const refused = await call('DELETE', `/api/resources/${localId}`);
    expect(refused.status).toBe(409);
    expect((await call('GET', `/api/containers/${started.allocation_id}`)).status).toBe(200);
    const forced = await call('DELETE', `/api/resources/${localId}?force=true`);
    expect(forced.status).toBe(204);
    expect((await quota()).current).toEqual({ cpu: 0, memory: 0, gpu: 0 });
    await expect(docker().getContainer(started.container_id).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
  });
});
