/**
 * The resources API against the real Docker engine, through the real Docker runner plugin: the
 * built-in local engine, a resource on the unix socket and one over TCP (a loopback forwarder to
 * the socket), connection tests against endpoints that are not Docker engines (generic, bounded
 * errors), a closed port (unreachable), refresh as the engine goes away and comes back, delete.
 * In CI (CI=true) a missing engine fails the run.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import resourcesPlugin from '../../core/domain/resources/plugin.ts';
import { ResourceCatalogKey } from '../../core/domain/resources/types.ts';
import { createIarnet, type Iarnet } from '../../core/iarnet.ts';
import { loadConfig } from '../../core/kernel/config.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import { type AnyPlugin, definePlugin } from '../../core/kernel/plugin.ts';
import { loadRuntime } from '../../core/runtime/index.ts';
import runnerDocker from '../../plugins/runner-docker/index.ts';
import storagePlugin from '../../plugins/storage/index.ts';
import { requireDocker } from '../support/docker-env.ts';
import { bearer, staticAuth } from '../support/static-auth.ts';

const docker = await requireDocker();
const GiB = 2 ** 30;
const TEST_TIMEOUT_S = 3;
const TOKEN = 'integration-TOKEN-3b9f0c2a77';
const MARKER = 'NOT-A-DOCKER-ENGINE-MARKER';

interface ResourceBody {
  id: string;
  name: string;
  url: string;
  status: string;
  statusReason?: string;
  builtin: boolean;
  hasToken: boolean;
  cpu: { total: number };
  memory: { total: number };
  capacity?: { cpu: number; memory: number; description?: string };
}

async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

async function close(server: Server, sockets?: Set<Socket>): Promise<void> {
  for (const s of sockets ?? []) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe.skipIf(!docker.ok)('resources against a real Docker engine', () => {
  const socketPath = docker.ok ? docker.socketPath : '';
  let node: Iarnet;
  let dataDir: string;
  let info: { NCPU: number; MemTotal: number };
  const servers: Server[] = [];
  const deleting: string[] = [];

  // A TCP front for the engine's unix socket, so tcp:// resources reach a real engine. It notes
  // the Authorization headers it forwards.
  const forwarded = { sockets: new Set<Socket>(), authorization: [] as string[] };
  const forwarder = createServer((client) => {
    forwarded.sockets.add(client);
    const engine = connect(socketPath);
    forwarded.sockets.add(engine);
    client.once('data', (first) => {
      const auth = /\r\nauthorization: ([^\r\n]*)/i.exec(first.toString('latin1'));
      if (auth) forwarded.authorization.push(auth[1]!);
    });
    client.pipe(engine).pipe(client);
    const drop = () => {
      client.destroy();
      engine.destroy();
    };
    client.on('error', drop);
    engine.on('error', drop);
    client.on('close', drop);
  });
  let forwarderPort = 0;

  async function call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const res = await node.app.request(path, {
      method,
      headers: { ...bearer('admin'), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  beforeAll(async () => {
    info = (await new Docker({ socketPath }).info()) as { NCPU: number; MemTotal: number };
    forwarderPort = await listen(forwarder);
    servers.push(forwarder);
    dataDir = mkdtempSync(join(tmpdir(), 'iarnet-resources-it-'));
    const runtime = await loadRuntime();
    const { core } = loadConfig({ overrides: { data_dir: dataDir, mode: 'standalone' } });
    const recorder = definePlugin({
      name: 'delete-recorder',
      version: '0.0.0',
      dependencies: ['resources'],
      setup(ctx) {
        ctx.hooks.on('resource:deleting', (r) => {
          deleting.push(r.id);
        });
      },
    }) as AnyPlugin;
    node = await createIarnet({
      core,
      sections: { resources: { refresh_interval: 0, test_timeout: TEST_TIMEOUT_S } },
      plugins: [storagePlugin, staticAuth, resourcesPlugin, runnerDocker, recorder] as AnyPlugin[],
      // The runner finds the local engine through DOCKER_HOST, as a deployed node would.
      runtime: { ...runtime, env: () => ({ DOCKER_HOST: `unix://${socketPath}` }) },
      logger: silentLogger(),
    });
    await node.start();
  });

  afterAll(async () => {
    await node?.stop();
    for (const s of servers) if (s.listening) await close(s, forwarded.sockets);
  });

  it('registered the local engine as a built-in resource with the capacity docker info reports', async () => {
    const { body } = await call<ResourceBody[]>('GET', '/api/resources');
    const local = body.find((r) => r.builtin);
    expect(local).toMatchObject({ name: 'local-docker', url: `unix://${socketPath}`, status: 'connected' });
    expect(local!.cpu.total).toBe(info.NCPU);
    expect(local!.memory.total).toBeCloseTo(info.MemTotal / GiB, 2);
    expect(local!.capacity?.description).toMatch(/^Docker /);
  });

  it('creates a resource on the unix socket: connected, capacity from the engine', async () => {
    const { status, body } = await call<ResourceBody>('POST', '/api/resources', {
      name: 'socket',
      type: 'docker',
      url: `unix://${socketPath}`,
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({ status: 'connected', cpu: { total: info.NCPU } });
    expect(body.memory.total).toBeCloseTo(info.MemTotal / GiB, 2);
  });

  it('creates a resource over TCP by name: pinned to loopback, token sent, never returned or stored in clear', async () => {
    const { status, body } = await call<ResourceBody>('POST', '/api/resources?verify=true', {
      name: 'tcp',
      type: 'docker',
      url: `tcp://localhost:${forwarderPort}`,
      token: TOKEN,
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({ status: 'connected', hasToken: true, cpu: { total: info.NCPU } });
    expect(JSON.stringify(body)).not.toContain(TOKEN);
    expect(forwarded.authorization).toContain(`Bearer ${TOKEN}`);
    const list = await node.app.request('/api/resources', { headers: bearer('viewer') });
    expect(await list.text()).not.toContain(TOKEN);
    for (const file of readdirSync(dataDir).filter((f) => f.startsWith('iarnet.db'))) {
      expect(readFileSync(join(dataDir, file)).includes(Buffer.from(TOKEN)), file).toBe(false);
    }
  });

  it('tests endpoints that are not Docker engines with a generic, bounded answer', async () => {
    const sockets = new Set<Socket>();
    const raw = createServer((s) => {
      sockets.add(s);
      s.end(`SSH-2.0-OpenSSH_9.0 ${MARKER}\r\n`);
    });
    const http500 = createServer((s) => {
      sockets.add(s);
      s.once('data', () => {
        const body = JSON.stringify({ message: MARKER });
        s.end(
          `HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
        );
      });
    });
    const http200 = createServer((s) => {
      sockets.add(s);
      s.once('data', () => {
        const body = JSON.stringify({ [MARKER]: true });
        s.end(
          `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
        );
      });
    });
    const silent = createServer((s) => {
      sockets.add(s);
    });
    servers.push(raw, http500, http200, silent);
    const ports = {
      raw: await listen(raw),
      http500: await listen(http500),
      http200: await listen(http200),
      silent: await listen(silent),
    };
    for (const [what, port] of Object.entries(ports)) {
      const started = Date.now();
      const { status, body } = await call<{ ok: boolean; error: string }>('POST', '/api/resources/test', {
        type: 'docker',
        url: `tcp://127.0.0.1:${port}`,
      });
      const elapsed = Date.now() - started;
      expect(status, what).toBe(200);
      expect(body.ok, what).toBe(false);
      expect(body.error, what).not.toContain(MARKER);
      expect(body.error.length, what).toBeLessThan(120);
      expect(elapsed, what).toBeLessThan(TEST_TIMEOUT_S * 1000 + 1500);
      if (what === 'silent') expect(body.error).toBe(`no answer within ${TEST_TIMEOUT_S} s`);
    }
    for (const s of [raw, http500, http200, silent]) await close(s, sockets);
  });

  it('creates a resource on a closed port as unreachable; ?verify=true refuses it with 422', async () => {
    const probe = createServer();
    const port = await listen(probe);
    await close(probe);
    const verified = await call<{ code: string; details: string }>('POST', '/api/resources?verify=true', {
      name: 'closed',
      type: 'docker',
      url: `tcp://127.0.0.1:${port}`,
    });
    expect(verified.status).toBe(422);
    expect(verified.body).toMatchObject({ code: 'CONNECTION_FAILED' });
    const { status, body } = await call<ResourceBody>('POST', '/api/resources', {
      name: 'closed',
      type: 'docker',
      url: `tcp://127.0.0.1:${port}`,
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      status: 'unreachable',
      statusReason: 'cannot reach the docker endpoint: connection refused',
    });
  });

  it('refresh follows the engine: unreachable while it is gone, connected when it is back', async () => {
    const { body: list } = await call<ResourceBody[]>('GET', '/api/resources');
    const tcp = list.find((r) => r.name === 'tcp')!;
    await close(forwarder, forwarded.sockets);
    const down = await call<ResourceBody>('POST', `/api/resources/${tcp.id}/refresh`);
    expect(down.body).toMatchObject({ status: 'unreachable' });
    expect(down.body.capacity?.cpu).toBe(info.NCPU);

    await listen(forwarder, forwarderPort);
    const up = await call<ResourceBody>('POST', `/api/resources/${tcp.id}/refresh`);
    expect(up.body.status).toBe('connected');
    expect(up.body.statusReason).toBeUndefined();
  });

  it('hands out a live runner and deletes a resource after asking resource:deleting', async () => {
    const { body: list } = await call<ResourceBody[]>('GET', '/api/resources');
    const socket = list.find((r) => r.name === 'socket')!;
    const runner = await node.host.services.get(ResourceCatalogKey).runner(socket.id);
    expect((await runner.capacity()).cpu).toBe(info.NCPU);
    expect((await call('DELETE', `/api/resources/${socket.id}`)).status).toBe(204);
    expect(deleting).toContain(socket.id);
    expect((await call('GET', `/api/resources/${socket.id}`)).status).toBe(404);
  });
});
