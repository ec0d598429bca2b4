/**
 * Crash safety (RELIABILITY-SECURITY.md, "Workloads and the quota ledger"): a real `iarnet`
 * process gets a burst of concurrent POST /run, is killed with SIGKILL while they are in flight,
 * and is restarted on the same data dir. Once it has reconciled by labels:
 *  - every running container labelled with this node has exactly one active allocation;
 *  - no active allocation lacks a running container;
 *  - no allocation has two containers;
 *  - GET /resources `current` equals the sum of the running containers' requests;
 *  - every run that was answered 202 before the kill still runs and is still booked.
 * The kill lands at three moments (each on a fresh node with its own node id and data dir):
 * before any answer, at the first 202, and after several. In CI (CI=true) a missing Docker
 * engine fails the run.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTestImage, requireDocker, TEST_IMAGE } from '../support/docker-env.ts';
import { ROOT } from '../support/runtimes.ts';
import { type RunningIarnet, spawnIarnet } from '../support/spawn-iarnet.ts';

const env = await requireDocker();

/** The CLI from the sources, in one process (tsx as a loader), so SIGKILL hits the node itself. */
const IARNET = [process.execPath, '--import', 'tsx', join(ROOT, 'core/cli.ts')];
const PASSWORD = 'crash-recovery-admin-pw-1';
const BURST = 10;
const RUN = {
  image: TEST_IMAGE,
  // Exits promptly on SIGTERM (a bare `sleep` as PID 1 would make every stop wait out the grace).
  command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'],
  cpu: 0.05,
  memory: 0.05,
};
const GiB = 2 ** 30;
/** start_grace (s): a reservation without a running container counts as abandoned after this. */
const START_GRACE_S = 5;
const SETTLE_MS = 30_000;

interface ApiContainer {
  id: string;
  allocationId: string;
  allocation: 'reserved' | 'committed' | 'released';
  status: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One IARNet node identity (node id + data dir) that can be started, killed and restarted. */
class CrashNode {
  readonly nodeId = `crash-${randomBytes(4).toString('hex')}`;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'iarnet-crash-'));
  readonly configFile = join(this.dataDir, 'config.yaml');
  node: RunningIarnet | undefined;
  token = '';
  /** container id → allocation id of every run answered 202 before a kill. */
  readonly accepted = new Map<string, string>();

  readonly docker: Docker;
  readonly socketPath: string;

  constructor(docker: Docker, socketPath: string) {
    this.docker = docker;
    this.socketPath = socketPath;
    writeFileSync(
      this.configFile,
      `platform:\n  reconcile_interval: 1\n  start_grace: ${START_GRACE_S}\nresources:\n  refresh_interval: 5\n`,
    );
  }

  async start(): Promise<void> {
    const started = await spawnIarnet(IARNET, {
      dataDir: this.dataDir,
      args: ['--config', this.configFile],
      env: {
        IARNET_ADMIN_PASSWORD: PASSWORD,
        IARNET_NODE_ID: this.nodeId,
        IARNET_RESOURCE_LIMITS__CPU: '8',
        IARNET_RESOURCE_LIMITS__MEMORY: '8Gi',
        IARNET_RESOURCE_LIMITS__GPU: '0',
        IARNET_RUNNER_DOCKER__DEFAULT_SOCKET: this.socketPath,
      },
    });
    this.node = started;
    const deadline = Date.now() + 30_000;
    let ready = 0;
    while (Date.now() < deadline && ready !== 200) {
      ready = (await fetch(`${started.url}/readyz`).catch(() => undefined))?.status ?? 0;
      if (ready !== 200) await sleep(100);
    }
    expect(ready).toBe(200);
    const login = await fetch(`${started.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    this.token = (await login.json()).token;
  }

  call(path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
    if (!this.node) throw new Error('the node is not running');
    return fetch(`${this.node.url}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(30_000),
    });
  }

  containers() {
    return this.docker.listContainers({ all: true, filters: { label: [`iarnet.node=${this.nodeId}`] } });
  }

  /** What the engine and the node say, and every way they disagree. */
  async snapshot() {
    const containers = await this.containers();
    const running = containers.filter((c) => c.State === 'running');
    const items: ApiContainer[] = (await (await this.call('/api/containers')).json()).items;
    const active = items.filter((a) => a.allocation !== 'released');
    const quota = await (await this.call('/resources')).json();
    const problems: string[] = [];
    const short = (id: string) => id.slice(0, 12);

    for (const c of running) {
      const holders = active.filter((a) => a.id === c.Id);
      if (holders.length !== 1) {
        problems.push(`running container ${short(c.Id)} has ${holders.length} active allocations`);
      } else if (holders[0]!.allocationId !== c.Labels['iarnet.alloc']) {
        problems.push(
          `running container ${short(c.Id)} is booked on ${holders[0]!.allocationId} but labelled ${c.Labels['iarnet.alloc']}`,
        );
      }
    }
    const runningIds = new Set(running.map((c) => c.Id));
    for (const a of active) {
      if (runningIds.has(a.id)) continue;
      const c = containers.find((x) => x.Id === a.id || x.Labels['iarnet.alloc'] === a.allocationId);
      problems.push(
        `active allocation ${a.allocationId} (${a.allocation}) has no running container (engine: ${c ? `${short(c.Id)} ${c.State}` : 'none'})`,
      );
    }
    const perAlloc = new Map<string, number>();
    for (const c of containers) {
      const alloc = c.Labels['iarnet.alloc'] ?? '(no label)';
      perAlloc.set(alloc, (perAlloc.get(alloc) ?? 0) + 1);
    }
    for (const [alloc, n] of perAlloc) if (n > 1) problems.push(`allocation ${alloc} has ${n} containers`);

    // The requests of the running containers, as the engine holds them.
    let nanoCpus = 0;
    let memory = 0;
    for (const c of running) {
      const info = await this.docker.getContainer(c.Id).inspect();
      nanoCpus += info.HostConfig.NanoCpus ?? 0;
      memory += info.HostConfig.Memory ?? 0;
    }
    const want = { cpu: nanoCpus / 1e9, memory: memory / GiB };
    if (
      Math.abs(quota.current.cpu - want.cpu) > 1e-6 ||
      Math.abs(quota.current.memory - want.memory) > 0.005
    ) {
      problems.push(
        `GET /resources current is ${JSON.stringify(quota.current)} but the running containers request ${JSON.stringify(want)}`,
      );
    }
    for (const [cid, alloc] of this.accepted) {
      if (!runningIds.has(cid))
        problems.push(`run ${alloc} was answered 202 but its container ${short(cid)} does not run`);
      else if (!active.some((a) => a.id === cid && a.allocationId === alloc)) {
        problems.push(`run ${alloc} was answered 202 but is not booked`);
      }
    }
    return { containers, running, active, quota, problems };
  }

  /** Poll until the node and the engine agree, bounded; returns the last snapshot. */
  async settled() {
    const deadline = Date.now() + SETTLE_MS;
    let last = await this.snapshot();
    while (last.problems.length && Date.now() < deadline) {
      await sleep(500);
      last = await this.snapshot();
    }
    return last;
  }

  /**
   * Fire BURST concurrent runs; SIGKILL the node once `killAfter` of them were answered 202
   * (killAfter 0: `delayMs` after firing). Returns how many were answered 202 before the kill.
   */
  async burstAndKill(killAfter: number, delayMs: number): Promise<number> {
    const target = this.node!;
    let answered = 0;
    let killed = false;
    const refused: number[] = [];
    const kill = () => {
      if (killed) return;
      killed = true;
      target.process.kill('SIGKILL');
    };
    const runs = Array.from({ length: BURST }, async () => {
      try {
        const res = await this.call('/run', { method: 'POST', body: RUN });
        if (killed) return; // an answer after the kill was sent is not counted
        if (res.status !== 202) {
          refused.push(res.status);
          return;
        }
        const body = await res.json();
        this.accepted.set(body.container_id, body.allocation_id);
        answered++;
        if (killAfter > 0 && answered >= killAfter) kill();
      } catch {
        // the connection died with the node
      }
    });
    if (killAfter === 0) setTimeout(kill, delayMs);
    const guard = setTimeout(kill, 20_000); // never let the burst end without a kill
    await Promise.all(runs);
    clearTimeout(guard);
    kill();
    expect(await target.stop('SIGKILL', 10_000)).toBeNull();
    expect(target.process.signalCode).toBe('SIGKILL');
    this.node = undefined;
    // Before the kill there was room for every run: nothing may have been refused.
    expect(refused).toEqual([]);
    return answered;
  }

  async cleanup(): Promise<void> {
    await this.node?.stop('SIGTERM').catch(() => this.node?.stop('SIGKILL'));
    const leftovers = await this.containers().catch(() => []);
    await Promise.all(
      leftovers.map((c) =>
        this.docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {}),
      ),
    );
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

describe.skipIf(!env.ok)('kill -9 during concurrent runs, then restart on the same data dir', () => {
  const socketPath = env.ok ? env.socketPath : '/var/run/docker.sock';
  const docker = new Docker({ socketPath });

  beforeAll(async () => {
    await ensureTestImage();
  });

  const moments: [name: string, killAfter: number, delayMs: number][] = [
    ['before any answer (150 ms after firing)', 0, 150],
    ['at the first 202', 1, 0],
    ['after four 202s', 4, 0],
  ];

  for (const [moment, killAfter, delayMs] of moments) {
    it(`kill -9 ${moment}: after restart every workload has exactly one allocation`, async () => {
      const n = new CrashNode(docker, socketPath);
      try {
        await n.start();
        expect((await n.snapshot()).problems).toEqual([]);

        const answered = await n.burstAndKill(killAfter, delayMs);
        if (killAfter > 0) expect(answered).toBeGreaterThanOrEqual(killAfter);

        await n.start();
        const after = await n.settled();
        expect(after.problems).toEqual([]);
        expect(after.running.length).toBeGreaterThanOrEqual(n.accepted.size);
        expect(after.active.length).toBe(after.running.length);

        // The restarted node serves runs, and stopping everything brings the quota back to zero.
        const again = await n.call('/run', { method: 'POST', body: RUN });
        expect(again.status).toBe(202);
        const body = await again.json();
        n.accepted.set(body.container_id, body.allocation_id);
        const live = await n.snapshot();
        expect(live.problems).toEqual([]);
        const stops = await Promise.all(
          live.active.map((a) =>
            n.call(`/api/containers/${a.allocationId}/stop`, { method: 'POST' }).then((r) => r.status),
          ),
        );
        expect(stops.filter((s) => s !== 200)).toEqual([]);
        n.accepted.clear();
        const last = await n.snapshot();
        expect(last.problems).toEqual([]);
        expect(last.running).toEqual([]);
        expect(last.quota.current).toEqual({ cpu: 0, memory: 0, gpu: 0 });
      } finally {
        await n.cleanup();
      }
    });
  }
});

describe.skipIf(!env.ok)('reconciler settings from the environment', () => {
  it('takes platform.reconcile_interval and start_grace from IARNET_PLATFORM__* (strings)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'iarnet-crash-env-'));
    let node: RunningIarnet | undefined;
    try {
      node = await spawnIarnet(IARNET, {
        dataDir,
        env: {
          IARNET_ADMIN_PASSWORD: PASSWORD,
          IARNET_NODE_ID: `crash-env-${randomBytes(4).toString('hex')}`,
          IARNET_RUNNER_DOCKER__DEFAULT_SOCKET: env.ok ? env.socketPath : '/var/run/docker.sock',
          IARNET_PLATFORM__RECONCILE_INTERVAL: '1',
          IARNET_PLATFORM__START_GRACE: String(START_GRACE_S),
        },
      });
      expect((await fetch(`${node.url}/readyz`)).status).toBe(200);
      // A pass every second: /status's last_updated moves on within a few seconds.
      const login = await fetch(`${node.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: PASSWORD }),
      });
      const auth = { authorization: `Bearer ${(await login.json()).token}` };
      const lastUpdated = async () =>
        (await (await fetch(`${node!.url}/status`, { headers: auth })).json()).node_info.last_updated;
      const first = await lastUpdated();
      await sleep(2_500);
      expect(await lastUpdated()).not.toBe(first);
    } finally {
      await node?.stop('SIGTERM').catch(() => node?.stop('SIGKILL'));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
