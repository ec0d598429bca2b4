/**
 * Run overhead: what IARNet adds to starting a container. A: `POST /run` over HTTP to a real
 * listener on 127.0.0.1 (in-process node: storage, resources, runner-docker, platform, static test
 * auth) until the 202 arrives — the container is running by then. B: raw dockerode
 * createContainer + start with the same create body (image, `sleep 300`, NanoCpus, Memory,
 * MemorySwap, the same label keys — with another node id, so the node's reconciler leaves them
 * alone). Each round times A, B and a second raw start C (the control: C/B is the engine's own
 * spread) in one of the six orders, each equally often, pausing after each start; then all three
 * containers are removed (IARNet's through DELETE /api/containers/{id}, which releases the quota),
 * untimed.
 * Target: median per-round ratio A/B ≤ 1.05, and p95 ≤ 1.10 read as tail against tail: the 95th
 * percentile of A's times over the 95th percentile of B's. (The 95th percentile of the per-round
 * ratios measures the engine's own spread more than IARNet: raw against raw, the control C/B,
 * lands at 1.3–2.3 on this machine. It is printed beside the control for comparison.)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import platformPlugin from '../core/domain/platform-plugin.ts';
import resourcesPlugin from '../core/domain/resources/plugin.ts';
import { createIarnet } from '../core/iarnet.ts';
import { loadConfig } from '../core/kernel/config.ts';
import { silentLogger } from '../core/kernel/logger.ts';
import type { AnyPlugin } from '../core/kernel/plugin.ts';
import { loadRuntime } from '../core/runtime/index.ts';
import { LABELS } from '../core/slots/runner.ts';
import { createBody } from '../plugins/runner-docker/docker-runner.ts';
import runnerDocker from '../plugins/runner-docker/index.ts';
import storagePlugin from '../plugins/storage/index.ts';
import { staticAuth } from '../test/support/static-auth.ts';
import { type BenchResult, fmt, machineLoad, median, quantile } from './support/stats.ts';

const IMAGE = 'iarnet-test/busybox:latest';
const SOCKET = '/var/run/docker.sock';
const COMMAND = ['sleep', '300'];
const CPU = 0.1;
const MEMORY_GB = 0.0625; // 64 MiB
/** Six orders of the three starts, each used equally often: every side is first, second, last alike. */
const ORDERS = [
  [0, 1, 2],
  [1, 2, 0],
  [2, 0, 1],
  [0, 2, 1],
  [2, 1, 0],
  [1, 0, 2],
] as const;
const ROUNDS = 30;
/** Rounds before measuring (image and engine caches, JIT). */
const WARMUP = 2;
/**
 * Pause after every timed start and after each round's removals: the engine finishes its own
 * work, and the node's event-driven reconcile (200 ms after an engine event) runs, between starts.
 */
const SETTLE_MS = 400;
const MEDIAN_TARGET = 1.05;
const P95_TARGET = 1.1;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(): Promise<BenchResult> {
  const docker = new Docker({ socketPath: SOCKET });
  try {
    await docker.getImage(IMAGE).inspect();
  } catch {
    return {
      name: 'run overhead',
      figure: `not run: the image ${IMAGE} is missing (test/support/build-test-image.sh builds it; never pulled)`,
      target: `median ratio ≤ ${MEDIAN_TARGET}, p95 ≤ ${P95_TARGET}`,
      pass: false,
    };
  }

  const loadBefore = machineLoad();
  const nodeId = `bench-${randomBytes(4).toString('hex')}`;
  const rawNodeId = `bench-raw-${randomBytes(4).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'iarnet-bench-run-'));
  const loaded = loadConfig({
    overrides: {
      node_id: nodeId,
      data_dir: dataDir,
      listen_addr: '127.0.0.1:0',
      resource_limits: { cpu: '4', memory: '4Gi', gpu: '0' },
    },
  });
  const node = await createIarnet({
    core: loaded.core,
    sections: { platform: { reconcile_interval: 3600, start_grace: 120 } },
    plugins: [storagePlugin, resourcesPlugin, runnerDocker, platformPlugin, staticAuth] as AnyPlugin[],
    runtime: await loadRuntime(),
    logger: silentLogger(),
  });
  await node.start();
  const server = await node.listen();
  const rawNames: string[] = [];
  try {
    const admin = { authorization: 'Bearer admin-token' };
    const operator = { authorization: 'Bearer operator-token', 'content-type': 'application/json' };
    // The built-in local-docker resource must be connected before runs can be placed.
    let resourceId: string | undefined;
    for (let i = 0; i < 100 && !resourceId; i++) {
      const list = (await (await fetch(`${server.url}/api/resources`, { headers: admin })).json()) as {
        id: string;
        status: string;
      }[];
      resourceId = list.find((r) => r.status === 'connected')?.id;
      if (!resourceId) await sleep(100);
    }
    if (!resourceId) throw new Error('the local docker resource did not connect');

    const runBody = JSON.stringify({ image: IMAGE, command: COMMAND, cpu: CPU, memory: MEMORY_GB });
    const viaIarnet = async (): Promise<{ ms: number; allocationId: string; containerId: string }> => {
      const t0 = performance.now();
      const res = await fetch(`${server.url}/run`, { method: 'POST', headers: operator, body: runBody });
      const body = (await res.json()) as { allocation_id: string; container_id: string };
      const ms = performance.now() - t0;
      if (res.status !== 202) throw new Error(`POST /run answered ${res.status}: ${JSON.stringify(body)}`);
      return { ms, allocationId: body.allocation_id, containerId: body.container_id };
    };
    const viaDocker = async (i: number): Promise<{ ms: number; id: string }> => {
      const name = `iarnet-${rawNodeId}-${i}`;
      rawNames.push(name);
      const body = createBody(
        {
          name,
          image: IMAGE,
          command: COMMAND,
          resources: { cpu: CPU, memory: Math.round(MEMORY_GB * 2 ** 30), gpu: 0 },
          labels: { [LABELS.node]: rawNodeId, [LABELS.alloc]: `raw${i}`, [LABELS.resource]: resourceId },
          restartPolicy: 'no',
        },
        'nvidia',
      );
      const t0 = performance.now();
      const container = await docker.createContainer(body);
      await container.start();
      return { ms: performance.now() - t0, id: container.id };
    };
    const cleanUp = async (allocationId: string, rawIds: string[]) => {
      const res = await fetch(`${server.url}/api/containers/${allocationId}`, {
        method: 'DELETE',
        headers: operator,
      });
      if (res.status !== 204)
        throw new Error(`DELETE /api/containers answered ${res.status}: ${await res.text()}`);
      for (const id of rawIds) await docker.getContainer(id).remove({ force: true });
      await sleep(SETTLE_MS);
    };

    // Each round times three starts: IARNet, raw, and a second raw one as a control (raw/raw shows
    // how much of the spread is the engine's own), in each of the six orders in turn.
    const ratios: number[] = [];
    const controls: number[] = [];
    const iarnetMs: number[] = [];
    const rawMs: number[] = [];
    let checked = false;
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      let a: Awaited<ReturnType<typeof viaIarnet>> | undefined;
      let b: Awaited<ReturnType<typeof viaDocker>> | undefined;
      let c: Awaited<ReturnType<typeof viaDocker>> | undefined;
      const steps = [
        async () => {
          a = await viaIarnet();
        },
        async () => {
          b = await viaDocker(2 * i);
        },
        async () => {
          c = await viaDocker(2 * i + 1);
        },
      ];
      for (const k of ORDERS[i % ORDERS.length]!) {
        await steps[k]!();
        await sleep(SETTLE_MS);
      }
      if (!a || !b || !c) throw new Error('unreachable');
      if (!checked) {
        // Same options on both sides, and both running when timed.
        const [x, y] = await Promise.all([
          docker.getContainer(a.containerId).inspect(),
          docker.getContainer(b.id).inspect(),
        ]);
        for (const key of ['NanoCpus', 'Memory', 'MemorySwap'] as const) {
          if (x.HostConfig[key] !== y.HostConfig[key])
            throw new Error(`HostConfig.${key} differs: ${x.HostConfig[key]} vs ${y.HostConfig[key]}`);
        }
        if (!x.State.Running || !y.State.Running)
          throw new Error('a container was not running after its start returned');
        checked = true;
      }
      await cleanUp(a.allocationId, [b.id, c.id]);
      if (i < WARMUP) continue;
      ratios.push(a.ms / b.ms);
      controls.push(c.ms / b.ms);
      iarnetMs.push(a.ms);
      rawMs.push(b.ms);
    }

    const med = median(ratios);
    const p95 = quantile(iarnetMs, 0.95) / quantile(rawMs, 0.95);
    const overheadMs = median(iarnetMs.map((a, i) => a - rawMs[i]!));
    return {
      name: 'run overhead (POST /run until running vs raw dockerode create+start)',
      figure:
        `per-round ratio median ${fmt(med, 3)}; p95 of POST /run ${fmt(quantile(iarnetMs, 0.95))} ms over p95 of create+start ` +
        `${fmt(quantile(rawMs, 0.95))} ms = ${fmt(p95, 3)}; over ${ROUNDS} rounds (orders balanced); ` +
        `POST /run median ${fmt(median(iarnetMs))} ms, create+start median ${fmt(median(rawMs))} ms, ` +
        `median difference ${fmt(overheadMs)} ms; per-round ratio p95 ${fmt(quantile(ratios, 0.95), 3)} ` +
        `vs control raw/raw median ${fmt(median(controls), 3)}, p95 ${fmt(quantile(controls, 0.95), 3)} (${loadBefore})`,
      target: `median per-round ratio ≤ ${MEDIAN_TARGET}; p95(POST /run) / p95(create+start) ≤ ${P95_TARGET}`,
      pass: med <= MEDIAN_TARGET && p95 <= P95_TARGET,
    };
  } finally {
    await node.stop();
    // Anything a failure left behind: the node's containers and the raw ones.
    for (const owner of [nodeId, rawNodeId]) {
      const leftovers = await docker.listContainers({
        all: true,
        filters: { label: [`${LABELS.node}=${owner}`] },
      });
      for (const c of leftovers)
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {});
    }
    for (const name of rawNames)
      await docker
        .getContainer(name)
        .remove({ force: true })
        .catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
}
