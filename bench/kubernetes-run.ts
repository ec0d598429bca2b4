/**
 * Kubernetes run overhead: what IARNet adds to starting a pod on a real API server (the test
 * environment of test/k8s: etcd + kube-apiserver + kube-scheduler + kwok, which makes pods
 * Running once scheduled). A: `POST /run` on the cluster resource (in-process node: storage,
 * resources, runner-kubernetes, platform, static test auth, over HTTP on 127.0.0.1) until the
 * 202 arrives — the runner answers once the pod is Running. B: a direct client
 * `createNamespacedPod` with the same pod body, then reading the pod with the same poll schedule
 * the runner uses until it is Running, on client-node's stock transport (a new connection and TLS
 * handshake per request). C: the same as B over one keep-alive agent, the transport the runner
 * uses (client.ts poolConnections) — A/C is IARNet's own overhead with the transport factored
 * out. The three rotate order each round; all pods are deleted after each round, untimed.
 * Target: median per-round ratio A/B ≤ 1.10 (A/C printed beside it). Needs the binaries of
 * test/k8s/build-testenv.sh.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import platformPlugin from '../core/domain/platform-plugin.ts';
import resourcesPlugin from '../core/domain/resources/plugin.ts';
import { createIarnet } from '../core/iarnet.ts';
import { loadConfig } from '../core/kernel/config.ts';
import { silentLogger } from '../core/kernel/logger.ts';
import type { AnyPlugin } from '../core/kernel/plugin.ts';
import { loadRuntime } from '../core/runtime/index.ts';
import { LABELS } from '../core/slots/runner.ts';
import { poolConnections } from '../plugins/runner-kubernetes/client.ts';
import runnerKubernetes from '../plugins/runner-kubernetes/index.ts';
import { POLL_MS } from '../plugins/runner-kubernetes/kubernetes-runner.ts';
import { buildPod } from '../plugins/runner-kubernetes/pod-spec.ts';
import storagePlugin from '../plugins/storage/index.ts';
import { k8sEnvMissing, startK8sEnv } from '../test/support/k8s-env.ts';
import { staticAuth } from '../test/support/static-auth.ts';
import { type BenchResult, fmt, machineLoad, median, quantile } from './support/stats.ts';

const NS = 'iarnet-bench';
const IMAGE = 'busybox:latest';
const COMMAND = ['sleep', '300'];
const CPU = 0.1;
const MEMORY_GB = 0.0625;
const ROUNDS = 20;
const WARMUP = 2;
const SETTLE_MS = 300;
const TARGET = 1.1;
const NAME = 'kubernetes run overhead (POST /run until Running vs createNamespacedPod until Running)';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(): Promise<BenchResult> {
  const missing = await k8sEnvMissing();
  if (missing)
    return { name: NAME, figure: `not run: ${missing}`, target: `median ratio ≤ ${TARGET}`, pass: false };
  const loadBefore = machineLoad();
  const t0 = performance.now();
  const env = (await startK8sEnv({ controllerManager: false }))!;
  const envStartMs = performance.now() - t0;
  const nodeId = `bench-${randomBytes(4).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'iarnet-bench-k8s-'));
  let node: Awaited<ReturnType<typeof createIarnet>> | undefined;
  try {
    await env.addNode('kwok-node-0', { cpu: '32', memory: '64Gi', pods: '110' });
    await env.namespace(NS);
    const loaded = loadConfig({
      overrides: {
        node_id: nodeId,
        data_dir: dataDir,
        listen_addr: '127.0.0.1:0',
        resource_limits: { cpu: '8', memory: '8Gi', gpu: '0' },
      },
    });
    node = await createIarnet({
      core: loaded.core,
      sections: {
        platform: { reconcile_interval: 3600, start_grace: 120 },
        runner_kubernetes: { namespace: NS },
        // No local Docker resource exists in this node (runner-docker is not loaded).
      },
      plugins: [storagePlugin, resourcesPlugin, runnerKubernetes, platformPlugin, staticAuth] as AnyPlugin[],
      runtime: await loadRuntime(),
      logger: silentLogger(),
    });
    await node.start();
    const server = await node.listen();
    const admin = { authorization: 'Bearer admin-token', 'content-type': 'application/json' };
    const created = await fetch(`${server.url}/api/resources?verify=true`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({
        name: 'bench-cluster',
        type: 'kubernetes',
        url: env.apiUrl,
        token: env.adminToken,
        tls: { ca: env.ca },
      }),
    });
    const resource = (await created.json()) as { id: string };
    if (created.status !== 201)
      throw new Error(`adding the cluster answered ${created.status}: ${JSON.stringify(resource)}`);

    const core = env.admin.makeApiClient(CoreV1Api);
    const pooledKc = new KubeConfig();
    pooledKc.loadFromString(env.admin.exportConfig());
    const closePool = poolConnections(pooledKc);
    const pooled = pooledKc.makeApiClient(CoreV1Api);
    const runBody = JSON.stringify({
      image: IMAGE,
      command: COMMAND,
      cpu: CPU,
      memory: MEMORY_GB,
      resource_id: resource.id,
    });
    const viaIarnet = async () => {
      const t = performance.now();
      const res = await fetch(`${server.url}/run`, { method: 'POST', headers: admin, body: runBody });
      const body = (await res.json()) as { allocation_id: string; container_id: string };
      const ms = performance.now() - t;
      if (res.status !== 202) throw new Error(`POST /run answered ${res.status}: ${JSON.stringify(body)}`);
      return { ms, allocationId: body.allocation_id, pod: body.container_id };
    };
    const viaClient = async (i: number, api: CoreV1Api, prefix: string) => {
      const name = `${prefix}-${i}`;
      const body: V1Pod = buildPod(
        {
          name,
          image: IMAGE,
          command: COMMAND,
          resources: { cpu: CPU, memory: Math.round(MEMORY_GB * 2 ** 30), gpu: 0 },
          labels: { 'bench.raw': 'true', [`bench.${LABELS.alloc}`]: `raw${i}` },
          restartPolicy: 'no',
        },
        NS,
      );
      const t = performance.now();
      let pod = await api.createNamespacedPod({ namespace: NS, body });
      for (let k = 0; pod.status?.phase !== 'Running'; k++) {
        await sleep(POLL_MS[Math.min(k, POLL_MS.length - 1)]!);
        pod = await api.readNamespacedPod({ name, namespace: NS });
      }
      return { ms: performance.now() - t, name };
    };

    const ratios: number[] = [];
    const pooledRatios: number[] = [];
    const aMs: number[] = [];
    const bMs: number[] = [];
    const cMs: number[] = [];
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      let a: Awaited<ReturnType<typeof viaIarnet>> | undefined;
      let b: Awaited<ReturnType<typeof viaClient>> | undefined;
      let c: Awaited<ReturnType<typeof viaClient>> | undefined;
      const steps = [
        async () => {
          a = await viaIarnet();
        },
        async () => {
          b = await viaClient(i, core, 'raw');
        },
        async () => {
          c = await viaClient(i, pooled, 'pooled');
        },
      ];
      for (let k = 0; k < 3; k++) {
        await steps[(i + k) % 3]!();
        await sleep(SETTLE_MS);
      }
      if (!a || !b || !c) throw new Error('a start did not report');
      const del = await fetch(`${server.url}/api/containers/${a.allocationId}`, {
        method: 'DELETE',
        headers: admin,
      });
      if (del.status !== 204) throw new Error(`DELETE answered ${del.status}`);
      for (const name of [b.name, c.name])
        await core.deleteNamespacedPod({ name, namespace: NS, gracePeriodSeconds: 0 });
      await sleep(SETTLE_MS);
      if (i < WARMUP) continue;
      ratios.push(a.ms / b.ms);
      pooledRatios.push(a.ms / c.ms);
      aMs.push(a.ms);
      bMs.push(b.ms);
      cMs.push(c.ms);
    }
    closePool();
    const med = median(ratios);
    return {
      name: NAME,
      figure:
        `per-round ratio median ${fmt(med, 3)} (p95 ${fmt(quantile(ratios, 0.95), 3)}) over ${ROUNDS} rounds (order rotated); ` +
        `POST /run median ${fmt(median(aMs))} ms, createNamespacedPod→Running median ${fmt(median(bMs))} ms (stock client), ` +
        `${fmt(median(cMs))} ms (keep-alive client); A/C (IARNet's own overhead, same transport) median ` +
        `${fmt(median(pooledRatios), 3)}, difference ${fmt(median(aMs.map((x, i) => x - cMs[i]!)))} ms; ` +
        `test env start ${fmt(envStartMs / 1000, 1)} s (${loadBefore})`,
      target: `median per-round ratio ≤ ${TARGET}`,
      pass: med <= TARGET,
    };
  } finally {
    await node?.stop().catch(() => undefined);
    await env.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// `node --import tsx bench/kubernetes-run.ts` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run();
  console.log(`${r.pass ? 'MET ' : 'MISS'}  ${r.name}\n      figure: ${r.figure}\n      target: ${r.target}`);
}
