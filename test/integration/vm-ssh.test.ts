/**
 * `vm` resources: a machine whose Docker engine is reached over SSH (`docker system dial-stdio`
 * on the far side). A real OpenSSH server on 127.0.0.1 (test/support/local-sshd.ts) stands in
 * for the VM; behind it is this machine's engine. A real `iarnet` process, with no engine of its
 * own, registers the VM with a private key and:
 *  - reads its capacity over SSH (connected; the key never comes back);
 *  - runs a container there (seen on the engine), serves its logs, stops it and releases quota;
 *  - leaves a VM with a key the server refuses, or a host key that is not the pinned one,
 *    not connected with a generic reason (verify=true: 422, nothing saved);
 *  - marks the VM unreachable once its sshd is gone.
 * In CI (CI=true) a missing sshd or Docker engine fails the run.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTestImage, requireDocker, TEST_IMAGE } from '../support/docker-env.ts';
import { generateKeyPair, type LocalSshd, sshdMissing, startLocalSshd } from '../support/local-sshd.ts';
import { ROOT, unavailable } from '../support/runtimes.ts';
import { type RunningIarnet, spawnIarnet } from '../support/spawn-iarnet.ts';

const IARNET = [process.execPath, '--import', 'tsx', join(ROOT, 'core/cli.ts')];
const PASSWORD = 'vm-ssh-admin-password-1';
const GiB = 2 ** 30;

const docker = await requireDocker();
const missing = sshdMissing();
const run =
  !docker.ok || (missing && unavailable(`vm-ssh: ${missing}`) === 'skip') ? describe.skip : describe;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ResourceOut {
  id: string;
  status: string;
  statusReason?: string;
  cpu: { total: number; used: number };
  memory: { total: number; used: number };
  credentials: { sshUser?: string; sshPort?: number; hasSshKey: boolean };
}

run('vm resources over SSH against a real sshd', () => {
  const nodeId = `vmssh-${randomBytes(4).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'iarnet-vmssh-'));
  const engine = new Docker({ socketPath: docker.ok ? docker.socketPath : '/var/run/docker.sock' });
  let sshd: LocalSshd;
  let node: RunningIarnet;
  let token = '';
  let vm: ResourceOut;
  let strangerKey = '';

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
  const vmBody = (name: string, ssh: Record<string, unknown>) => ({
    name,
    type: 'vm',
    url: sshd.url,
    ssh: { username: sshd.user, ...ssh },
  });
  /** A reason fit for users: no key material, no library or socket internals. */
  const expectGenericReason = (reason: string | undefined) => {
    expect(reason).toBeTruthy();
    expect(reason).not.toMatch(/PRIVATE KEY|BEGIN|ssh2|at \w+ \(|ECONN|publickey|All configured/i);
    expect(reason!.length).toBeLessThan(200);
  };

  beforeAll(async () => {
    await ensureTestImage();
    sshd = await startLocalSshd();
    strangerKey = (await generateKeyPair(dataDir, 'stranger')).privateKey;
    const configFile = join(dataDir, 'config.yaml');
    writeFileSync(
      configFile,
      'platform:\n  reconcile_interval: 2\n  start_grace: 5\nresources:\n  test_timeout: 10\n',
    );
    node = await spawnIarnet(IARNET, {
      dataDir,
      args: ['--config', configFile],
      env: {
        IARNET_ADMIN_PASSWORD: PASSWORD,
        IARNET_NODE_ID: nodeId,
        IARNET_RESOURCE_LIMITS__CPU: '4',
        IARNET_RESOURCE_LIMITS__MEMORY: '4Gi',
        // No engine of its own: the VM is the node's only resource.
        IARNET_RUNNER_DOCKER__DEFAULT_SOCKET: join(dataDir, 'no-docker.sock'),
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
    await sshd?.stop();
    const leftovers = await engine
      .listContainers({ all: true, filters: { label: [`iarnet.node=${nodeId}`] } })
      .catch(() => []);
    await Promise.all(
      leftovers.map((c) =>
        engine
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {}),
      ),
    );
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('registers a VM with a private key: connected, capacity read over SSH, key never shown', async () => {
    expect(await json('/api/resources')).toEqual([]);
    const res = await call('/api/resources', {
      method: 'POST',
      body: vmBody('ssh-vm', { privateKey: sshd.client.privateKey, hostKey: sshd.hostKeyFingerprint }),
    });
    const text = await res.text();
    expect(res.status, text).toBe(201);
    expect(text).not.toContain('PRIVATE KEY');
    vm = JSON.parse(text);
    expect(vm).toMatchObject({
      type: 'vm',
      status: 'connected',
      credentials: { sshUser: sshd.user, sshPort: sshd.port, hasSshKey: true },
    });
    // The capacity is the engine's behind sshd.
    const info = await engine.info();
    expect(vm.cpu.total).toBe(info.NCPU);
    expect(vm.memory.total).toBeCloseTo(info.MemTotal / GiB, 2);
    expect(sshd.log()).toMatch(/Accepted publickey for \S+ from 127\.0\.0\.1/);
    expect(JSON.stringify(await json(`/api/resources/${vm.id}`))).not.toContain('PRIVATE KEY');
  });

  it('runs a container on the VM: it runs on the engine, logs work, stop releases the quota', async () => {
    const res = await call('/run', {
      method: 'POST',
      body: {
        image: TEST_IMAGE,
        command: ['sh', '-c', 'echo hello-over-ssh; trap "exit 0" TERM; while true; do sleep 1; done'],
        cpu: 0.1,
        memory: 0.05,
        resource_id: vm.id,
      },
    });
    const text = await res.text();
    expect(res.status, text).toBe(202);
    const started = JSON.parse(text);
    expect(started).toMatchObject({ resource_id: vm.id, node_id: nodeId });

    const inspect = await engine.getContainer(started.container_id).inspect();
    expect(inspect.State.Running).toBe(true);
    expect(inspect.Config.Labels).toMatchObject({
      'iarnet.node': nodeId,
      'iarnet.alloc': started.allocation_id,
    });
    expect(inspect.HostConfig.NanoCpus).toBe(0.1e9);

    expect((await json('/resources')).current).toEqual({ cpu: 0.1, memory: 0.05, gpu: 0 });
    expect((await json(`/api/resources/${vm.id}`)).cpu.used).toBeCloseTo(0.1, 6);
    const status = await json('/status');
    expect(status.containers).toContainEqual(
      expect.objectContaining({ id: started.container_id, status: 'running' }),
    );

    let lines: { stream: string; message: string }[] = [];
    for (let i = 0; i < 30 && !lines.some((l) => l.message === 'hello-over-ssh'); i++) {
      const logs = await call(`/api/containers/${started.container_id}/logs?tail=10`);
      expect(logs.status).toBe(200);
      lines = (await logs.json()).items;
      if (!lines.some((l) => l.message === 'hello-over-ssh')) await sleep(200);
    }
    expect(lines).toContainEqual(expect.objectContaining({ stream: 'stdout', message: 'hello-over-ssh' }));

    const stop = await call(`/api/containers/${started.allocation_id}/stop`, { method: 'POST' });
    expect(stop.status).toBe(200);
    // Released once; by the stop itself or, when the engine's `die` event wins the race, by the reconciler.
    expect(await stop.json()).toMatchObject({
      allocation: 'released',
      releaseReason: expect.stringMatching(/^(stopped|exited)$/),
    });
    expect((await json('/resources')).current).toEqual({ cpu: 0, memory: 0, gpu: 0 });
    expect((await engine.getContainer(started.container_id).inspect()).State.Running).toBe(false);

    expect((await call(`/api/containers/${started.allocation_id}`, { method: 'DELETE' })).status).toBe(204);
    await expect(engine.getContainer(started.container_id).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it('a key the server refuses: not connected, generic reason, no run; verify=true saves nothing', async () => {
    const res = await call('/api/resources', {
      method: 'POST',
      body: vmBody('ssh-vm-stranger', { privateKey: strangerKey }),
    });
    const text = await res.text();
    expect(res.status, text).toBe(201);
    expect(text).not.toContain('PRIVATE KEY');
    const refused: ResourceOut = JSON.parse(text);
    expect(['error', 'unreachable']).toContain(refused.status);
    expectGenericReason(refused.statusReason);

    const runRes = await call('/run', {
      method: 'POST',
      body: { image: TEST_IMAGE, command: ['true'], cpu: 0.1, memory: 0.05, resource_id: refused.id },
    });
    expect(runRes.status).toBe(503);
    expect((await json('/resources')).current).toEqual({ cpu: 0, memory: 0, gpu: 0 });

    const verified = await call('/api/resources?verify=true', {
      method: 'POST',
      body: vmBody('ssh-vm-stranger-verified', { privateKey: strangerKey }),
    });
    expect(verified.status).toBe(422);
    expect(await verified.text()).not.toContain('PRIVATE KEY');
    const names = ((await json('/api/resources')) as { name: string }[]).map((r) => r.name);
    expect(names).not.toContain('ssh-vm-stranger-verified');
    expect((await call(`/api/resources/${refused.id}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('a host key other than the pinned one: not connected, and the key is never offered', async () => {
    // A key of its own, accepted by sshd, so the log tells whether this resource logged in.
    const key = await generateKeyPair(dataDir, 'pinned-elsewhere');
    sshd.authorize(key);
    // A syntactically valid fingerprint that is not the server's.
    const other = `SHA256:${'A'.repeat(43)}`;
    expect(other).not.toBe(sshd.hostKeyFingerprint);
    const res = await call('/api/resources', {
      method: 'POST',
      body: vmBody('ssh-vm-wrong-host', { privateKey: key.privateKey, hostKey: other }),
    });
    expect(res.status).toBe(201);
    const wrongHost: ResourceOut = await res.json();
    expect(['error', 'unreachable']).toContain(wrongHost.status);
    expectGenericReason(wrongHost.statusReason);
    // The client gave up at the host key, before offering its own.
    expect(sshd.log()).toMatch(/Connection from 127\.0\.0\.1/);
    expect(sshd.log()).not.toContain(key.fingerprint);
    expect((await call(`/api/resources/${wrongHost.id}`, { method: 'DELETE' })).status).toBe(204);

    // The same key with the right pin logs in.
    const pinned = await call('/api/resources', {
      method: 'POST',
      body: vmBody('ssh-vm-right-host', { privateKey: key.privateKey, hostKey: sshd.hostKeyFingerprint }),
    });
    expect(pinned.status).toBe(201);
    const rightHost: ResourceOut = await pinned.json();
    expect(rightHost.status).toBe('connected');
    const accepted = sshd
      .log()
      .split('\n')
      .filter((l) => l.startsWith('Accepted publickey'));
    expect(accepted.some((l) => l.includes(key.fingerprint))).toBe(true);
    expect((await call(`/api/resources/${rightHost.id}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('the VM is unreachable once its sshd is gone', async () => {
    await sshd.stop();
    const res = await call(`/api/resources/${vm.id}/refresh`, { method: 'POST' });
    expect(res.status).toBe(200);
    const refreshed: ResourceOut = await res.json();
    expect(refreshed.status).toBe('unreachable');
    expectGenericReason(refreshed.statusReason);
  });
});
