/**
 * The resources API on a real node (SQLite in a temp dir) with scripted engines: create, read,
 * update, delete, refresh and test; roles; secrets that never come back and never reach the
 * database in plaintext; tampered ciphertext; the built-in local engine; hooks; the ledger's
 * used amounts; the refresh timer and the runner cache.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { LedgerReader, Usage } from '../../core/domain/ledger/types.ts';
import { LedgerReaderKey } from '../../core/domain/ledger/types.ts';
import { resources } from '../../core/domain/resources/schema.ts';
import {
  type ResourceCatalog,
  ResourceCatalogKey,
  type ResourceRecord,
} from '../../core/domain/resources/types.ts';
import { conflict } from '../../core/kernel/errors.ts';
import { buildSpec } from '../../core/kernel/openapi.ts';
import { type AnyPlugin, definePlugin } from '../../core/kernel/plugin.ts';
import { type ResourceConnection, RunnerTypesKey, RunnerUnreachableError } from '../../core/slots/runner.ts';
import { StorageKey } from '../../core/slots/storage.ts';
import {
  DEFAULT_CAPACITY,
  type ErrorBody,
  FakeEngines,
  GiB,
  LOCAL_SOCKET,
  type ResourceBody,
  type ResourcesNode,
  startResourcesNode,
} from './resources-harness.ts';

const TOKEN = 'tok-PLAINTEXT-7f3a9c1e5b2d';
const TLS_KEY = `-----BEGIN PRIVATE KEY-----\nKEYMATERIAL-PLAINTEXT-91be\n-----END PRIVATE KEY-----\n`;
const TLS_CERT = '-----BEGIN CERTIFICATE-----\nCERT-9d1\n-----END CERTIFICATE-----\n';
const SSH_PASSWORD = 'ssh-PASSWORD-PLAINTEXT-2c4e';
const SSH_KEY =
  '-----BEGIN OPENSSH PRIVATE KEY-----\nSSHKEY-PLAINTEXT-55aa\n-----END OPENSSH PRIVATE KEY-----\n';
const SECRETS = [TOKEN, 'KEYMATERIAL-PLAINTEXT-91be', SSH_PASSWORD, 'SSHKEY-PLAINTEXT-55aa'];

const docker = (over: Record<string, unknown> = {}) => ({
  name: 'engine-a',
  type: 'docker',
  url: 'tcp://127.0.0.1:2375',
  ...over,
});

async function create(t: ResourcesNode, body: Record<string, unknown>, query = ''): Promise<ResourceBody> {
  const res = await t.json<ResourceBody>('POST', `/api/resources${query}`, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

function catalogOf(t: ResourcesNode): ResourceCatalog {
  return t.node.host.services.get(ResourceCatalogKey);
}

/** A plugin that records resource hooks and can refuse deletions. */
function hookRecorder() {
  const changes: [string, string, string][] = [];
  const deleting: { id: string; force: boolean }[] = [];
  let refuse = false;
  const plugin = definePlugin({
    name: 'hook-recorder',
    version: '0.0.0',
    dependencies: ['resources'],
    setup(ctx) {
      ctx.hooks.on('resource:changed', (r, change) => {
        changes.push([r.name, change, r.status]);
      });
      ctx.hooks.on('resource:deleting', (r, { force }) => {
        deleting.push({ id: r.id, force });
        if (refuse && !force) throw conflict(`2 container(s) run on ${r.name}; delete with force=true`);
      });
    },
  }) as AnyPlugin;
  return {
    plugin,
    changes,
    deleting,
    refuse(on: boolean) {
      refuse = on;
    },
  };
}

describe('create, read, update, delete', () => {
  it('creates a docker resource whose capacity comes from the engine, in cores and GB', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    const r = await create(
      t,
      docker({
        description: 'rack 3',
        tags: ['gpu-less', 'lab', 'lab'],
        location: 'Shanghai',
        limits: { cpu: 6 },
      }),
    );
    expect(r).toMatchObject({
      name: 'engine-a',
      type: 'docker',
      url: 'tcp://127.0.0.1:2375',
      status: 'connected',
      cpu: { total: 6, used: 0, available: 6 },
      memory: { total: 16, used: 0, available: 16 },
      storage: { total: 100, used: 0, available: 100 },
      capacity: { cpu: 8, memory: 16, gpu: 0, storage: 100, description: 'Fake Docker 1.0' },
      limits: { cpu: 6 },
      description: 'rack 3',
      tags: ['gpu-less', 'lab'],
      location: 'Shanghai',
      hasToken: false,
      builtin: false,
    });
    expect(r.id).toMatch(/^res_[0-9a-f]{20}$/);
    expect(r.gpu).toBeUndefined();
    expect(r.statusReason).toBeUndefined();
    for (const k of ['lastUpdated', 'createdAt', 'updatedAt'] as const)
      expect(Date.parse(r[k])).not.toBeNaN();

    expect((await t.json<ResourceBody[]>('GET', '/api/resources', { role: 'viewer' })).body).toEqual([r]);
    expect((await t.json('GET', `/api/resources/${r.id}`, { role: 'viewer' })).body).toEqual(r);

    const renamed = await t.json<ResourceBody>('PUT', `/api/resources/${r.id}`, {
      body: { name: 'engine-b', description: null, tags: [], limits: null },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'engine-b', tags: [], cpu: { total: 8 } });
    expect(renamed.body.description).toBeUndefined();
    expect(renamed.body.limits).toBeUndefined();
    // Metadata changes do not touch the connection.
    expect(t.engines.created.length).toBe(1);

    expect((await t.request('DELETE', `/api/resources/${r.id}`)).status).toBe(204);
    expect((await t.request('GET', `/api/resources/${r.id}`)).status).toBe(404);
    expect((await t.request('DELETE', `/api/resources/${r.id}`)).status).toBe(404);
  });

  it('reports gpus when the engine has them, and memory limits in GB', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    t.engines.set('tcp://127.0.0.1:2375', {
      kind: 'ok',
      capacity: { cpu: 64, memory: 256 * GiB, gpu: 4, description: 'big box' },
    });
    const r = await create(t, docker({ limits: { memory: 128.5, gpu: 2 } }));
    expect(r.gpu).toEqual({ total: 2, used: 0, available: 2 });
    expect(r.memory.total).toBe(128.5);
    expect(r.limits).toEqual({ memory: 128.5, gpu: 2 });
    expect(r.storage).toEqual({ total: 0, used: 0, available: 0 });
  });

  it('refuses a second resource with the same name (409), also on rename', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    const a = await create(t, docker());
    const dup = await t.json<ErrorBody>('POST', '/api/resources', {
      body: docker({ url: 'tcp://127.0.0.2:2375' }),
    });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('CONFLICT');
    const b = await create(t, docker({ name: 'engine-b' }));
    expect((await t.json('PUT', `/api/resources/${b.id}`, { body: { name: a.name } })).status).toBe(409);
    expect((await t.json<unknown[]>('GET', '/api/resources')).body).toHaveLength(2);
  });

  it('answers 422 for a type no runner is installed for, and saves nothing', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    const body = { name: 'cluster', type: 'kubernetes', url: 'https://127.0.0.1:6443', token: TOKEN };
    for (const route of ['/api/resources', '/api/resources/test']) {
      const res = await t.json<ErrorBody>('POST', route, { body });
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({
        code: 'NO_RUNNER',
        details: 'no runner for type kubernetes is installed',
      });
    }
    expect((await t.json('GET', '/api/resources')).body).toEqual([]);
  });
});

describe('connection tests', () => {
  it('POST /api/resources/test reports capacity without saving', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    const res = await t.json('POST', '/api/resources/test', {
      body: { type: 'docker', url: 'tcp://127.0.0.1:2375' },
    });
    expect(res).toEqual({
      status: 200,
      body: {
        ok: true,
        capacity: { cpu: 8, memory: 16, gpu: 0, storage: 100 },
        description: 'Fake Docker 1.0',
      },
    });
    // The dashboard may send its whole form.
    const form = await t.json('POST', '/api/resources/test', {
      body: { ...docker(), description: 'x', tags: ['a'], token: TOKEN },
    });
    expect(form.body).toMatchObject({ ok: true });
    expect((await t.json('GET', '/api/resources')).body).toEqual([]);
    // The runner built for the test was closed.
    expect(t.engines.closed.length).toBe(t.engines.created.length);
  });

  it('gives generic, bounded failures that never echo the endpoint', async () => {
    const t = await startResourcesNode({ mode: 'k8s', resources: { test_timeout: 1 } });
    t.engines.set('tcp://127.0.0.1:1001', { kind: 'unreachable', why: 'connection refused' });
    t.engines.set('tcp://127.0.0.1:1002', { kind: 'throw', message: 'HTTP 500: SECRET-INTERNAL-ANSWER' });
    t.engines.set('tcp://127.0.0.1:1003', { kind: 'hang' });
    t.engines.set('tcp://127.0.0.1:1004', { kind: 'garbage', value: { cpu: 0, memory: 0, gpu: 0 } });
    t.engines.set('tcp://127.0.0.1:1005', { kind: 'unreachable', why: 'GET / said: SECRET-INTERNAL-ANSWER' });
    const expected: Record<number, string> = {
      1001: 'cannot reach the docker endpoint: connection refused',
      1002: 'the endpoint did not answer like a docker engine, or refused the request',
      1003: 'no answer within 1 s',
      1004: 'the endpoint did not answer like a docker engine, or refused the request',
      1005: 'cannot reach the docker endpoint',
    };
    for (const [port, error] of Object.entries(expected)) {
      const started = Date.now();
      const res = await t.json('POST', '/api/resources/test', {
        body: { type: 'docker', url: `tcp://127.0.0.1:${port}` },
      });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(res).toEqual({ status: 200, body: { ok: false, error } });
    }
    expect(t.rawLogs.join('\n')).not.toContain('SECRET-INTERNAL-ANSWER');
  });

  it('a name that does not resolve is saved as unreachable, not refused', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    const r = await create(t, docker({ url: 'tcp://no-such-host.invalid:2375' }));
    expect(r).toMatchObject({ status: 'unreachable', statusReason: 'no-such-host.invalid does not resolve' });
    expect(r.capacity).toBeUndefined();
  });

  it('saves a resource whose test fails, with its status and reason; ?verify=true answers 422 instead', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    t.engines.set('tcp://127.0.0.1:9', { kind: 'unreachable' });
    t.engines.set('tcp://127.0.0.1:10', { kind: 'throw', message: 'nope' });
    const verify = await t.json<ErrorBody>('POST', '/api/resources?verify=true', {
      body: docker({ url: 'tcp://127.0.0.1:9' }),
    });
    expect(verify.status).toBe(422);
    expect(verify.body).toMatchObject({
      code: 'CONNECTION_FAILED',
      details: 'cannot reach the docker endpoint: connection refused',
    });
    expect((await t.json('GET', '/api/resources')).body).toEqual([]);

    const down = await create(t, docker({ url: 'tcp://127.0.0.1:9' }));
    expect(down).toMatchObject({
      status: 'unreachable',
      statusReason: 'cannot reach the docker endpoint: connection refused',
    });
    expect(down.cpu.total).toBe(0);
    const odd = await create(t, docker({ name: 'odd', url: 'tcp://127.0.0.1:10' }));
    expect(odd).toMatchObject({ status: 'error' });
    expect(
      await create(t, docker({ name: 'fine', url: 'tcp://127.0.0.1:11' }), '?verify=true'),
    ).toMatchObject({
      status: 'connected',
    });
  });

  it('reports settings the runner refuses as an error, without credentials in the message', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    t.engines.createError = `bad settings near ${TOKEN}`;
    const res = await t.json('POST', '/api/resources/test', {
      body: { type: 'docker', url: 'tcp://127.0.0.1:1', token: TOKEN },
    });
    expect(res.body).toEqual({
      ok: false,
      error: 'invalid connection settings: bad settings near [redacted]',
    });
  });
});

describe('credentials', () => {
  it('are write-only: no response, log line or database byte carries them', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    const a = await create(
      t,
      docker({
        url: 'https://localhost:2376',
        token: TOKEN,
        tls: { cert: TLS_CERT, key: TLS_KEY, skipVerify: true },
      }),
    );
    expect(a.hasToken).toBe(true);
    expect(a.credentials).toEqual({
      hasCa: false,
      hasCert: true,
      hasKey: true,
      tlsSkipVerify: true,
      hasSshKey: false,
      hasSshPassword: false,
    });
    const vm = await create(t, {
      name: 'vm-1',
      type: 'vm',
      url: 'ssh://deploy@127.0.0.1',
      ssh: {
        username: 'deploy',
        port: 2222,
        password: SSH_PASSWORD,
        privateKey: SSH_KEY,
        hostKey: `SHA256:${'A'.repeat(43)}`,
      },
    });
    expect(vm).toMatchObject({
      url: 'ssh://deploy@127.0.0.1:2222',
      credentials: {
        sshUser: 'deploy',
        sshPort: 2222,
        hasSshKey: true,
        hasSshPassword: true,
        sshHostKey: `SHA256:${'A'.repeat(43)}`,
      },
    });

    // The runners did receive them (decrypted), pinned to the checked address with the name as servername.
    const conn = t.engines.connections.find((c) => c.id === a.id)!;
    expect(conn).toMatchObject({
      url: 'https://127.0.0.1:2376',
      token: TOKEN,
      tls: { key: TLS_KEY, skipVerify: true },
    });
    expect(conn.options).toEqual({ servername: 'localhost' });
    const vmConn = t.engines.connections.find((c) => c.id === vm.id)!;
    expect(vmConn).toMatchObject({
      url: 'ssh://deploy@127.0.0.1:2222',
      ssh: { username: 'deploy', port: 2222, password: SSH_PASSWORD, privateKey: SSH_KEY },
      options: { ssh_host_key: `SHA256:${'A'.repeat(43)}` },
    });

    await t.request('POST', `/api/resources/${a.id}/refresh`);
    await t.json('PUT', `/api/resources/${a.id}`, { body: { token: `${TOKEN}-2`, description: 'rotated' } });
    const responses = [
      await (await t.request('GET', '/api/resources')).text(),
      await (await t.request('GET', `/api/resources/${a.id}`)).text(),
      await (await t.request('GET', `/api/resources/${vm.id}`)).text(),
      await (await t.request('POST', `/api/resources/${vm.id}/refresh`)).text(),
    ];
    for (const secret of SECRETS) {
      for (const text of responses) expect(text).not.toContain(secret);
      expect(t.rawLogs.join('\n')).not.toContain(secret);
    }

    await t.node.stop();
    // The database, its WAL and shared-memory files: sealed values only.
    for (const file of readdirSync(t.dataDir).filter((f) => f.startsWith('iarnet.db'))) {
      const bytes = readFileSync(join(t.dataDir, file));
      for (const secret of SECRETS)
        expect(bytes.includes(Buffer.from(secret)), `${secret} in ${file}`).toBe(false);
    }
    const db = readFileSync(join(t.dataDir, 'iarnet.db'));
    expect(db.includes(Buffer.from('v1.'))).toBe(true);
  });

  it('PUT keeps omitted credentials, clears null ones, and never sends stored ones to a new URL', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    const r = await create(t, docker({ token: TOKEN }));
    const lastConn = () => t.engines.connections.at(-1)!;

    let res = await t.json<ResourceBody>('PUT', `/api/resources/${r.id}`, {
      body: { tls: { skipVerify: true } },
    });
    expect(res.body).toMatchObject({ hasToken: true, credentials: { tlsSkipVerify: true } });
    expect(lastConn().token).toBe(TOKEN);

    const moved = await t.json<ErrorBody>('PUT', `/api/resources/${r.id}`, {
      body: { url: 'tcp://127.0.0.2:2375' },
    });
    expect(moved.status).toBe(400);
    expect(moved.body.fields).toEqual([
      { path: 'token', message: expect.stringMatching(/send this credential again/) },
    ]);
    expect((await t.json<ResourceBody>('GET', `/api/resources/${r.id}`)).body.url).toBe(
      'tcp://127.0.0.1:2375',
    );

    res = await t.json<ResourceBody>('PUT', `/api/resources/${r.id}`, {
      body: { url: 'tcp://127.0.0.2:2375', token: 'new-token-value' },
    });
    expect(res.status).toBe(200);
    expect(lastConn()).toMatchObject({ url: 'tcp://127.0.0.2:2375', token: 'new-token-value' });

    res = await t.json<ResourceBody>('PUT', `/api/resources/${r.id}`, { body: { token: null, tls: null } });
    expect(res.body).toMatchObject({ hasToken: false, credentials: { tlsSkipVerify: false } });
    expect(lastConn().token).toBeUndefined();

    // A URL change without stored secrets is fine.
    res = await t.json<ResourceBody>('PUT', `/api/resources/${r.id}`, {
      body: { url: 'tcp://127.0.0.3:2375' },
    });
    expect(res.status).toBe(200);
  });

  it('?verify=true on PUT answers 422 and changes nothing when the new settings fail', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    const r = await create(t, docker());
    t.engines.set('tcp://127.0.0.9:2375', { kind: 'unreachable' });
    const res = await t.json<ErrorBody>('PUT', `/api/resources/${r.id}?verify=true`, {
      body: { url: 'tcp://127.0.0.9:2375', name: 'renamed' },
    });
    expect(res.status).toBe(422);
    expect((await t.json<ResourceBody>('GET', `/api/resources/${r.id}`)).body).toMatchObject({
      name: 'engine-a',
      url: 'tcp://127.0.0.1:2375',
      status: 'connected',
    });
    const saved = await t.json<ResourceBody>('PUT', `/api/resources/${r.id}`, {
      body: { url: 'tcp://127.0.0.9:2375' },
    });
    expect(saved.body).toMatchObject({ status: 'unreachable', url: 'tcp://127.0.0.9:2375' });
    // Capacity from before stays known.
    expect(saved.body.capacity?.cpu).toBe(8);
  });

  it('tampered or moved ciphertext marks the resource error; the server keeps serving', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    const a = await create(t, docker({ token: TOKEN }));
    const b = await create(
      t,
      docker({ name: 'engine-b', url: 'tcp://127.0.0.2:2375', token: 'other-token' }),
    );
    const storage = t.node.host.services.get(StorageKey);
    const [row] = await storage.db.select().from(resources).where(eq(resources.id, a.id));
    const sealed = row!.tokenSealed!;
    const parts = sealed.split('.');
    parts[2] = parts[2]!.slice(0, 3) + (parts[2]![3] === 'A' ? 'B' : 'A') + parts[2]!.slice(4);
    await storage.transaction(async (db) => {
      await db
        .update(resources)
        .set({ tokenSealed: parts.join('.') })
        .where(eq(resources.id, a.id));
      // b gets a's (valid) ciphertext: sealed for another row, so it must not open either.
      await db.update(resources).set({ tokenSealed: sealed }).where(eq(resources.id, b.id));
    });

    for (const r of [a, b]) {
      const refreshed = await t.json<ResourceBody>('POST', `/api/resources/${r.id}/refresh`);
      expect(refreshed.status).toBe(200);
      expect(refreshed.body).toMatchObject({
        status: 'error',
        statusReason: 'stored credentials cannot be decrypted',
      });
    }
    await expect(catalogOf(t).runner(a.id)).rejects.toMatchObject({ status: 409, code: 'RESOURCE_UNUSABLE' });
    expect((await t.request('GET', '/api/resources')).status).toBe(200);
    // Sending the credential again repairs it.
    const fixed = await t.json<ResourceBody>('PUT', `/api/resources/${a.id}`, { body: { token: TOKEN } });
    expect(fixed.body.status).toBe('connected');
  });
});

describe('roles', () => {
  it('viewers read; only admins write, test or refresh', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    const r = await create(t, docker());
    for (const role of ['viewer', 'operator', 'admin'] as const) {
      expect((await t.request('GET', '/api/resources', { role })).status).toBe(200);
      expect((await t.request('GET', `/api/resources/${r.id}`, { role })).status).toBe(200);
    }
    const writes: [string, string, unknown][] = [
      ['POST', '/api/resources', docker({ name: 'x' })],
      ['POST', '/api/resources/test', { type: 'docker', url: 'tcp://127.0.0.1:2375' }],
      ['PUT', `/api/resources/${r.id}`, { name: 'x' }],
      ['DELETE', `/api/resources/${r.id}`, undefined],
      ['POST', `/api/resources/${r.id}/refresh`, undefined],
    ];
    for (const role of ['viewer', 'operator'] as const) {
      for (const [method, path, body] of writes) {
        const res = await t.json<ErrorBody>(method, path, { role, body });
        expect(res.status, `${role} ${method} ${path}`).toBe(403);
      }
    }
    for (const [method, path, body] of writes) {
      expect((await t.json(method, path, { role: null, body })).status, `anonymous ${method} ${path}`).toBe(
        401,
      );
    }
    expect((await t.json<ResourceBody[]>('GET', '/api/resources')).body).toHaveLength(1);
    expect(t.engines.created.length).toBe(1);
  });
});

describe('the built-in local engine (mode standalone)', () => {
  it('is registered once, connected, refreshable; its URL cannot change', async () => {
    const t = await startResourcesNode();
    const [local] = (await t.json<ResourceBody[]>('GET', '/api/resources')).body;
    expect(local).toMatchObject({
      name: 'local-docker',
      builtin: true,
      url: LOCAL_SOCKET,
      status: 'connected',
    });
    expect(local!.cpu.total).toBe(DEFAULT_CAPACITY.cpu);

    const refreshed = await t.json<ResourceBody>('POST', `/api/resources/${local!.id}/refresh`);
    expect(refreshed.body.status).toBe('connected');

    for (const body of [
      { url: 'unix:///other.sock' },
      { type: 'vm' },
      { token: 'x' },
      { tls: { skipVerify: true } },
    ]) {
      const res = await t.json<ErrorBody>('PUT', `/api/resources/${local!.id}`, { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    const renamed = await t.json<ResourceBody>('PUT', `/api/resources/${local!.id}`, {
      body: { name: 'my-laptop', tags: ['local'], limits: { cpu: 1 }, url: LOCAL_SOCKET },
    });
    expect(renamed.body).toMatchObject({ name: 'my-laptop', builtin: true, cpu: { total: 1 } });

    // A restart on the same data dir finds it instead of adding another.
    await t.node.stop();
    const again = await startResourcesNode({ dataDir: t.dataDir });
    const list = (await again.json<ResourceBody[]>('GET', '/api/resources')).body;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: local!.id, name: 'my-laptop', builtin: true });
  });

  it('once deleted by an admin, is not registered again at the next start', async () => {
    const t = await startResourcesNode();
    const [local] = (await t.json<ResourceBody[]>('GET', '/api/resources')).body;
    expect((await t.request('DELETE', `/api/resources/${local!.id}`)).status).toBe(204);
    await t.node.stop();
    const again = await startResourcesNode({ dataDir: t.dataDir });
    expect((await again.json('GET', '/api/resources')).body).toEqual([]);
    expect(again.rawLogs.join('\n')).toContain('deleted by an admin; not registering it again');
    // Adding the engine by hand is an ordinary resource.
    const manual = await create(again, docker({ name: 'local', url: LOCAL_SOCKET }));
    expect(manual.builtin).toBe(false);
  });

  it('is not added when no engine is detected (logged), nor twice when an admin added it already', async () => {
    const engines = new FakeEngines();
    engines.localEngine = undefined;
    const t = await startResourcesNode({ engines });
    expect((await t.json('GET', '/api/resources')).body).toEqual([]);
    expect(t.rawLogs.join('\n')).toContain('no local docker engine found');
    await create(t, docker({ name: 'mine', url: LOCAL_SOCKET }));
    await t.node.stop();
    engines.localEngine = { id: 'x', type: 'docker', url: LOCAL_SOCKET };
    const again = await startResourcesNode({ dataDir: t.dataDir, engines });
    const list = (await again.json<ResourceBody[]>('GET', '/api/resources')).body;
    expect(list.map((r) => [r.name, r.builtin])).toEqual([['mine', false]]);
  });

  it('is not added in k8s mode when no kubernetes runner is installed', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    expect((await t.json('GET', '/api/resources')).body).toEqual([]);
    expect(t.rawLogs.join('\n')).toContain('no kubernetes runner that detects a local engine is installed');
  });
});

describe('kubernetes namespace', () => {
  type WithNamespace = ResourceBody & { namespace?: string };
  const cluster = (over: Record<string, unknown> = {}) => ({
    name: 'cluster-a',
    type: 'kubernetes',
    url: 'https://127.0.0.1:6443',
    token: TOKEN,
    ...over,
  });
  const connectionOf = (runner: unknown) => (runner as { connection: ResourceConnection }).connection;
  const storedRow = async (t: ResourcesNode, id: string) => {
    const [row] = await t.node.host.services
      .get(StorageKey)
      .db.select()
      .from(resources)
      .where(eq(resources.id, id));
    return row!;
  };

  it('is stored, shown, and given to the runner as options.namespace; absent means the runner default', async () => {
    const t = await startResourcesNode({ mode: 'k8s', types: ['docker', 'kubernetes'] });
    const r = (await create(t, cluster({ namespace: 'team-a' }))) as WithNamespace;
    expect(r).toMatchObject({ type: 'kubernetes', namespace: 'team-a', status: 'connected', hasToken: true });
    // The connection test already worked in that namespace.
    expect(t.engines.connections.at(-1)).toMatchObject({ id: r.id, options: { namespace: 'team-a' } });
    expect((await storedRow(t, r.id)).namespace).toBe('team-a');
    expect((await t.json<WithNamespace>('GET', `/api/resources/${r.id}`, { role: 'viewer' })).body).toEqual(
      r,
    );
    const runner = await catalogOf(t).runner(r.id);
    expect(connectionOf(runner).options).toEqual({ namespace: 'team-a' });
    expect((await catalogOf(t).get(r.id))?.namespace).toBe('team-a');

    const plain = (await create(t, cluster({ name: 'cluster-b' }))) as WithNamespace;
    expect(plain).not.toHaveProperty('namespace');
    expect((await storedRow(t, plain.id)).namespace).toBeNull();
    expect(connectionOf(await catalogOf(t).runner(plain.id)).options).toBeUndefined();

    // A test without saving takes it too.
    const before = t.engines.connections.length;
    const tested = await t.json('POST', '/api/resources/test', { body: cluster({ namespace: 'team-x' }) });
    expect(tested.body).toMatchObject({ ok: true });
    expect(t.engines.connections.length).toBe(before + 1);
    expect(t.engines.connections.at(-1)?.options).toEqual({ namespace: 'team-x' });

    // It survives a restart (read back from the database).
    await t.node.stop();
    const again = await startResourcesNode({
      mode: 'k8s',
      dataDir: t.dataDir,
      types: ['docker', 'kubernetes'],
    });
    expect((await again.json<WithNamespace>('GET', `/api/resources/${r.id}`)).body.namespace).toBe('team-a');
    expect(connectionOf(await catalogOf(again).runner(r.id)).options).toEqual({ namespace: 'team-a' });
  });

  it('changing it is a connection change: re-tested, new config version, new runner; null goes back to the default', async () => {
    const t = await startResourcesNode({ mode: 'k8s', types: ['docker', 'kubernetes'] });
    const r = (await create(t, cluster({ namespace: 'team-a' }))) as WithNamespace;
    const catalog = catalogOf(t);
    const first = await catalog.runner(r.id);
    const version = (await storedRow(t, r.id)).configVersion;

    // Metadata only: same runner, no new connection.
    const created = t.engines.created.length;
    await t.json('PUT', `/api/resources/${r.id}`, { body: { description: 'prod' } });
    expect(t.engines.created.length).toBe(created);
    expect(await catalog.runner(r.id)).toBe(first);

    // Same endpoint: the stored token goes along without being sent again.
    const moved = await t.json<WithNamespace>('PUT', `/api/resources/${r.id}`, {
      body: { namespace: 'team-b' },
    });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body).toMatchObject({ namespace: 'team-b', hasToken: true, status: 'connected' });
    expect(t.engines.created.length).toBe(created + 1);
    expect(t.engines.connections.at(-1)).toMatchObject({ token: TOKEN, options: { namespace: 'team-b' } });
    expect((await storedRow(t, r.id)).configVersion).toBe(version + 1);
    const second = await catalog.runner(r.id);
    expect(second).not.toBe(first);
    expect(t.engines.closed).toContain(first);
    expect(connectionOf(second).options).toEqual({ namespace: 'team-b' });

    // ?verify=true and a failing test: 422 and the namespace is unchanged.
    t.engines.set('https://127.0.0.1:6443', { kind: 'unreachable' });
    const refused = await t.json<ErrorBody>('PUT', `/api/resources/${r.id}?verify=true`, {
      body: { namespace: 'team-c' },
    });
    expect(refused.status).toBe(422);
    expect((await t.json<WithNamespace>('GET', `/api/resources/${r.id}`)).body.namespace).toBe('team-b');
    expect(await catalog.runner(r.id)).toBe(second);
    t.engines.behaviours.clear();

    const cleared = await t.json<WithNamespace>('PUT', `/api/resources/${r.id}`, {
      body: { namespace: null },
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body).not.toHaveProperty('namespace');
    expect((await storedRow(t, r.id)).namespace).toBeNull();
    expect((await storedRow(t, r.id)).configVersion).toBe(version + 2);
    expect(connectionOf(await catalog.runner(r.id)).options).toBeUndefined();

    // Another type must drop it explicitly, as with ssh settings.
    const retyped = await t.json<ErrorBody>('PUT', `/api/resources/${r.id}`, {
      body: { namespace: 'team-a', type: 'docker', url: 'tcp://127.0.0.1:2375', token: null },
    });
    expect(retyped.status).toBe(400);
    expect(retyped.body.fields).toEqual([
      { path: 'namespace', message: 'only kubernetes resources take a namespace' },
    ]);
  });

  it('the built-in cluster (mode k8s) shows its ServiceAccount namespace and refuses another', async () => {
    const engines = new FakeEngines();
    const url = 'https://10.96.0.1:443';
    engines.localEngine = { id: 'x', type: 'kubernetes', url, options: { namespace: 'iarnet-system' } };
    const inCluster = definePlugin({
      name: 'fake-in-cluster',
      version: '0.0.0',
      dependencies: ['resources'],
      setup(ctx) {
        ctx.use(RunnerTypesKey).register(engines.factory('kubernetes', true));
      },
    }) as AnyPlugin;
    const start = (dataDir?: string) =>
      startResourcesNode({
        mode: 'k8s',
        engines,
        types: ['vm'],
        plugins: [inCluster],
        ...(dataDir ? { dataDir } : {}),
      });
    const t = await start();
    const [local] = (await t.json<WithNamespace[]>('GET', '/api/resources')).body;
    expect(local).toMatchObject({
      name: 'local-kubernetes',
      builtin: true,
      url,
      namespace: 'iarnet-system',
      status: 'connected',
    });
    expect(connectionOf(await catalogOf(t).runner(local!.id)).options).toEqual({
      namespace: 'iarnet-system',
    });

    for (const namespace of ['other', null]) {
      const res = await t.json<ErrorBody>('PUT', `/api/resources/${local!.id}`, { body: { namespace } });
      expect(res.status).toBe(400);
      expect(res.body.fields?.map((f) => f.path)).toEqual(['namespace']);
    }

    // The pod moved to another namespace: the next start shows (and uses) the new one.
    await t.node.stop();
    engines.localEngine = { ...engines.localEngine, options: { namespace: 'iarnet-moved' } };
    const again = await start(t.dataDir);
    const [moved] = (await again.json<WithNamespace[]>('GET', '/api/resources')).body;
    expect(moved).toMatchObject({ id: local!.id, namespace: 'iarnet-moved' });
    expect(connectionOf(await catalogOf(again).runner(local!.id)).options).toEqual({
      namespace: 'iarnet-moved',
    });
  });
});

describe('hooks', () => {
  it('asks resource:deleting first (409 keeps the resource), then force=true deletes', async () => {
    const rec = hookRecorder();
    const t = await startResourcesNode({ mode: 'k8s', plugins: [rec.plugin] });
    const r = await create(t, docker());
    const runner = await catalogOf(t).runner(r.id);
    rec.refuse(true);
    const refused = await t.json<ErrorBody>('DELETE', `/api/resources/${r.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.details).toContain('delete with force=true');
    expect((await t.request('GET', `/api/resources/${r.id}`)).status).toBe(200);
    expect(t.engines.closed).not.toContain(runner);
    expect((await t.request('DELETE', `/api/resources/${r.id}?force=true`)).status).toBe(204);
    expect(rec.deleting).toEqual([
      { id: r.id, force: false },
      { id: r.id, force: true },
    ]);
    // Its runner was closed (after the hook, which may still need it to stop workloads).
    expect(t.engines.closed).toContain(runner);
  });

  it('announces created, updated, status changes and deleted on resource:changed', async () => {
    const rec = hookRecorder();
    const t = await startResourcesNode({ mode: 'k8s', plugins: [rec.plugin] });
    const r = await create(t, docker());
    await t.json('PUT', `/api/resources/${r.id}`, { body: { description: 'x' } });
    t.engines.set('tcp://127.0.0.1:2375', { kind: 'unreachable' });
    await t.request('POST', `/api/resources/${r.id}/refresh`);
    await t.request('POST', `/api/resources/${r.id}/refresh`); // no change, no event
    t.engines.set('tcp://127.0.0.1:2375', { kind: 'ok' });
    await t.request('POST', `/api/resources/${r.id}/refresh`);
    await t.request('DELETE', `/api/resources/${r.id}`);
    expect(rec.changes).toEqual([
      ['engine-a', 'created', 'connected'],
      ['engine-a', 'updated', 'connected'],
      ['engine-a', 'status', 'unreachable'],
      ['engine-a', 'status', 'connected'],
      ['engine-a', 'deleted', 'connected'],
    ]);
  });
});

describe('catalog service', () => {
  it('keeps one runner per resource; a new URL gets a new one, the old is closed', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    const r = await create(t, docker());
    const catalog = catalogOf(t);
    const [one, two] = await Promise.all([catalog.runner(r.id), catalog.runner(r.id)]);
    expect(one).toBe(two);
    expect(await catalog.runner(r.id)).toBe(one);
    await t.json('PUT', `/api/resources/${r.id}`, { body: { url: 'tcp://127.0.0.5:2375' } });
    const three = await catalog.runner(r.id);
    expect(three).not.toBe(one);
    expect(t.engines.closed).toContain(one);
    await expect(catalog.runner('res_00000000000000000000')).rejects.toMatchObject({ status: 404 });
  });

  it('markUnreachable changes only status and reason; refresh brings it back', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    const r = await create(t, docker());
    const catalog = catalogOf(t);
    await catalog.markUnreachable(r.id, 'engine stopped\nanswering');
    const down = (await catalog.get(r.id)) as ResourceRecord;
    expect(down).toMatchObject({ status: 'unreachable', statusReason: 'engine stopped answering' });
    expect(down.capacity?.cpu).toBe(8);
    expect(down.lastUpdated).toBe(r.lastUpdated);
    expect((await catalog.refresh(r.id)).status).toBe('connected');
    await catalog.markUnreachable('res_00000000000000000000', 'x');
  });

  it('unreachable engines keep their last capacity; RunnerUnreachableError comes from runner() when a name stops resolving', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    const r = await create(t, docker({ url: 'tcp://no-such-host.invalid:2375' }));
    await expect(catalogOf(t).runner(r.id)).rejects.toBeInstanceOf(RunnerUnreachableError);
  });

  it('a runner type that disappeared marks its resources error', async () => {
    const first = await startResourcesNode({ mode: 'k8s', types: ['docker', 'vm'] });
    const r = await create(first, docker());
    await first.node.stop();
    const t = await startResourcesNode({ mode: 'k8s', dataDir: first.dataDir, types: ['vm'] });
    const refreshed = await t.json<ResourceBody>('POST', `/api/resources/${r.id}/refresh`);
    expect(refreshed.body).toMatchObject({
      status: 'error',
      statusReason: 'no runner for type docker is installed',
    });
  });

  it('shows used and available amounts from the ledger', async () => {
    const usage = new Map<string, Usage>();
    const ledger = definePlugin({
      name: 'fake-ledger',
      version: '0.0.0',
      setup(ctx) {
        ctx.provide(LedgerReaderKey, {
          usageByResource: async () => usage,
          activeOn: async () => [],
          get: async () => undefined,
          visible: async () => [],
        } satisfies LedgerReader);
      },
    }) as AnyPlugin;
    const t = await startResourcesNode({ mode: 'k8s', plugins: [ledger] });
    t.engines.set('tcp://127.0.0.1:2375', { kind: 'ok', capacity: { cpu: 8, memory: 16 * GiB, gpu: 2 } });
    const r = await create(t, docker());
    usage.set(r.id, { cpuMilli: 2500, memory: 4 * GiB + GiB / 2, gpu: 1 });
    const got = (await t.json<ResourceBody>('GET', `/api/resources/${r.id}`)).body;
    expect(got.cpu).toEqual({ total: 8, used: 2.5, available: 5.5 });
    expect(got.memory).toEqual({ total: 16, used: 4.5, available: 11.5 });
    expect(got.gpu).toEqual({ total: 2, used: 1, available: 1 });
    usage.set(r.id, { cpuMilli: 9000, memory: 0, gpu: 0 });
    const [listed] = (await t.json<ResourceBody[]>('GET', '/api/resources')).body;
    expect(listed!.cpu).toEqual({ total: 8, used: 9, available: 0 });
  });

  it('refreshes every resource on the timer and stops with the node', async () => {
    const rec = hookRecorder();
    const t = await startResourcesNode({
      mode: 'k8s',
      resources: { refresh_interval: 1 },
      plugins: [rec.plugin],
    });
    const r = await create(t, docker());
    t.engines.set('tcp://127.0.0.1:2375', { kind: 'ok', capacity: { ...DEFAULT_CAPACITY, cpu: 12 } });
    await expect
      .poll(async () => (await t.json<ResourceBody>('GET', `/api/resources/${r.id}`)).body.capacity?.cpu, {
        timeout: 5000,
        interval: 100,
      })
      .toBe(12);
    t.engines.set('tcp://127.0.0.1:2375', { kind: 'unreachable' });
    await expect
      .poll(async () => (await t.json<ResourceBody>('GET', `/api/resources/${r.id}`)).body.status, {
        timeout: 5000,
      })
      .toBe('unreachable');
    await t.node.stop();
    const probes = t.engines.created.length;
    const closedAll = t.engines.created
      .filter((x) => x.connection.id === r.id)
      .every((x) => t.engines.closed.includes(x));
    expect(closedAll).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(t.engines.created.length).toBe(probes);
  });
});

describe('OpenAPI', () => {
  it('documents every resources route with valid schemas', async () => {
    const t = await startResourcesNode({ mode: 'k8s' });
    const spec = (await buildSpec(t.node.app as never, { version: 'test' })) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    const { validate } = await import('@scalar/openapi-parser');
    const result = await validate(JSON.stringify(spec));
    expect(result.errors ?? []).toEqual([]);
    expect(
      Object.keys(spec.paths)
        .filter((p) => p.startsWith('/api/resources'))
        .sort(),
    ).toEqual([
      '/api/resources',
      '/api/resources/test',
      '/api/resources/{id}',
      '/api/resources/{id}/refresh',
    ]);
    expect(Object.keys(spec.paths['/api/resources/{id}']!).sort()).toEqual(['delete', 'get', 'put']);
    expect(JSON.stringify(spec)).not.toContain('token_sealed');
  });
});

describe('config', () => {
  it('refuses bad CIDRs, a bad key and unknown keys, naming them', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ outbound: { deny: ['10.0.0.0/33'] } }, /resources\.outbound\.deny: .*10\.0\.0\.0\/33 is not a CIDR/],
      [{ outbound: { allow: 'not-an-ip' } }, /resources\.outbound\.allow/],
      [{ encryption: { key: 'c2hvcnQ=' } }, /resources\.encryption\.key: must be 32 bytes/],
      [{ refresh_interval: -1 }, /resources\.refresh_interval/],
      [{ test_timeout: 'soon' }, /resources\.test_timeout/],
      [{ outbund: {} }, /resources\.outbund/],
    ];
    for (const [section, message] of cases) {
      await expect(
        startResourcesNode({ mode: 'k8s', resources: section, start: false }),
        JSON.stringify(section),
      ).rejects.toThrow(message);
    }
  });

  it('takes env-style strings: comma-separated CIDRs and numeric strings', async () => {
    const t = await startResourcesNode({
      mode: 'k8s',
      resources: {
        outbound: { deny: '10.0.0.0/8, 192.168.0.0/16' },
        refresh_interval: '0',
        test_timeout: '2',
      },
    });
    const res = await t.json<ErrorBody>('POST', '/api/resources', {
      body: docker({ url: 'tcp://192.168.3.4:2375' }),
    });
    expect(res.status).toBe(400);
  });

  it('seals with encryption.key; with another key the stored credentials no longer open', async () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const t = await startResourcesNode({ mode: 'k8s', resources: { encryption: { key } } });
    const r = await create(t, docker({ token: TOKEN }));
    expect(readdirSync(t.dataDir)).not.toContain('secrets.key');
    await t.node.stop();
    const same = await startResourcesNode({
      mode: 'k8s',
      dataDir: t.dataDir,
      resources: { encryption: { key } },
    });
    expect((await same.json<ResourceBody>('POST', `/api/resources/${r.id}/refresh`)).body.status).toBe(
      'connected',
    );
    await same.node.stop();
    const other = await startResourcesNode({ mode: 'k8s', dataDir: t.dataDir });
    expect(readdirSync(t.dataDir)).toContain('secrets.key');
    const refreshed = await other.json<ResourceBody>('POST', `/api/resources/${r.id}/refresh`);
    expect(refreshed.body).toMatchObject({
      status: 'error',
      statusReason: 'stored credentials cannot be decrypted',
    });
  });
});
