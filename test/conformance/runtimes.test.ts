/**
 * Runtime conformance: the same black-box checks against a real `iarnet` process on
 * Node 20, Node 24, Bun and Deno. Later capabilities add their checks here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runtimeCommands, unavailable } from '../support/runtimes.ts';
import { type RunningIarnet, spawnIarnet } from '../support/spawn-iarnet.ts';

const ADMIN_PASSWORD = 'conformance-admin-password-1';
const committedSpec = JSON.parse(readFileSync(join(ROOT, 'openapi/openapi.json'), 'utf8'));

for (const runtime of runtimeCommands()) {
  const run =
    runtime.missing && unavailable(`${runtime.name}: ${runtime.missing}`) === 'skip'
      ? describe.skip
      : describe;

  run(`runtime ${runtime.name}`, () => {
    let node: RunningIarnet;
    let token: string;

    beforeAll(async () => {
      node = await spawnIarnet(runtime.argv, { env: { IARNET_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    });
    afterAll(async () => {
      await node?.stop('SIGKILL').catch(() => {});
    });

    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${node.url}${path}`, { headers });

    it('is alive and ready', async () => {
      expect((await get('/healthz')).status).toBe(200);
      const ready = await get('/readyz');
      expect(await ready.json()).toMatchObject({ status: 'ready' });
      expect(ready.status).toBe(200);
    });

    it('logs in the bootstrap admin', async () => {
      const res = await fetch(`${node.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
      });
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.user).toMatchObject({ username: 'admin', role: 'admin' });
      token = body.token;
      expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    });

    it('answers an authorized call and refuses an unauthorized one', async () => {
      const me = await get('/api/auth/me', { authorization: `Bearer ${token}` });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ name: 'admin', role: 'admin' });
      const anon = await get('/api/auth/me');
      expect(anon.status).toBe(401);
      expect(await anon.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    });

    it('serves the committed OpenAPI document', async () => {
      expect(await (await get('/openapi.json')).json()).toEqual(committedSpec);
    });

    it('exposes Prometheus metrics with its build info', async () => {
      await get('/healthz');
      const res = await get('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      expect(text).toMatch(/^iarnet_build_info\{version="[^"]+",runtime="(node|bun|deno)-[^"]+"\} 1$/m);
      expect(text).toMatch(/^iarnet_http_requests_total\{.*route="\/healthz".*\} \d+$/m);
    });

    it('drains and exits cleanly on SIGTERM', async () => {
      expect(await node.stop('SIGTERM')).toBe(0);
      expect(node.logs.some((l) => l.msg === 'stopped')).toBe(true);
    });

    // Containers through the runtime's own Docker client (dockerode on Node, Bun and Deno). A node
    // of its own, since the one above has been stopped; in CI a missing engine fails.
    describe('containers on the local Docker engine', () => {
      const nodeId = `conf-${runtime.name}-${Math.random().toString(16).slice(2, 10)}`;
      let engine: RunningIarnet | undefined;
      let socketPath = '';

      afterAll(async () => {
        await engine?.stop('SIGTERM').catch(() => engine?.stop('SIGKILL'));
        if (!socketPath) return;
        const { default: Docker } = await import('dockerode');
        const docker = new Docker({ socketPath });
        const left = await docker.listContainers({
          all: true,
          filters: { label: [`iarnet.node=${nodeId}`] },
        });
        await Promise.all(
          left.map((c) =>
            docker
              .getContainer(c.Id)
              .remove({ force: true })
              .catch(() => {}),
          ),
        );
      });

      it('runs, lists and stops a container on the local Docker engine', async (ctx) => {
        const { ensureTestImage, requireDocker, TEST_IMAGE } = await import('../support/docker-env.ts');
        const available = await requireDocker(); // throws in CI when no engine answers
        if (!available.ok) return ctx.skip();
        socketPath = available.socketPath;
        await ensureTestImage();
        engine = await spawnIarnet(runtime.argv, {
          env: {
            IARNET_ADMIN_PASSWORD: ADMIN_PASSWORD,
            IARNET_NODE_ID: nodeId,
            IARNET_RUNNER_DOCKER__DEFAULT_SOCKET: socketPath,
            // `sleep` as PID 1 ignores SIGTERM: do not wait the default 10 s before the kill.
            IARNET_RUNNER_DOCKER__STOP_TIMEOUT_SECONDS: '1',
          },
        });
        const url = engine.url;
        const login = await fetch(`${url}/api/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
        });
        expect(login.status).toBe(200);
        const auth = { authorization: `Bearer ${(await login.json()).token}` };
        const call = (method: string, path: string, body?: unknown) =>
          fetch(`${url}${path}`, {
            method,
            headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          });

        const started = await call('POST', '/run', {
          image: TEST_IMAGE,
          command: ['sleep', '300'],
          cpu: 0.1,
          memory: 0.05,
        });
        const startedText = await started.text();
        expect(started.status, startedText).toBe(202);
        const run = JSON.parse(startedText);
        expect(run).toMatchObject({ status: 'accepted', node_id: nodeId });
        expect(run.container_id).toMatch(/^[0-9a-f]{64}$/);

        const status = await (await call('GET', '/status')).json();
        expect(status.containers).toContainEqual(
          expect.objectContaining({ id: run.container_id, image: TEST_IMAGE, status: 'running' }),
        );
        expect(status.node_info).toMatchObject({ id: nodeId });
        expect((await (await call('GET', '/resources')).json()).current).toEqual({
          cpu: 0.1,
          memory: 0.05,
          gpu: 0,
        });

        const stopped = await call('POST', `/api/containers/${run.container_id}/stop`);
        expect(stopped.status).toBe(200);
        expect(await stopped.json()).toMatchObject({ id: run.container_id, allocation: 'released' });
        expect((await (await call('GET', '/resources')).json()).current).toEqual({
          cpu: 0,
          memory: 0,
          gpu: 0,
        });
        const after = await (await call('GET', '/status')).json();
        expect(after.containers).toContainEqual(expect.objectContaining({ id: run.container_id }));
        expect(after.containers.find((c: { id: string }) => c.id === run.container_id).status).not.toBe(
          'running',
        );

        expect((await call('DELETE', `/api/containers/${run.container_id}`)).status).toBe(204);
        expect((await call('GET', `/api/containers/${run.container_id}`)).status).toBe(404);
        const { default: Docker } = await import('dockerode');
        await expect(
          new Docker({ socketPath }).getContainer(run.container_id).inspect(),
        ).rejects.toMatchObject({
          statusCode: 404,
        });
      });
    });
  });
}
