/**
 * A cluster resource against a REAL API server that serves metrics.k8s.io (test/k8s with
 * IARNET_K8S_METRICS=1: kwok emulates the kubelets' resource metrics, a real metrics-server built
 * from Go modules scrapes them and is registered as an APIService, so IARNet's request goes
 * IARNet → kube-apiserver aggregator → metrics-server), driven through a real `iarnet` process:
 *  - the resource shows measured usage of IARNet's pods (`measured`) next to the ledger's
 *    reservations, and `GET /api/containers/{id}/stats` answers for a pod;
 *  - a token that may not read pod metrics, a metrics-server that is down, and a cluster without
 *    the APIService all give no `measured` and no error (the resource stays connected);
 *  - an image that cannot be pulled (kwok's stage for registry.invalid/ images: ErrImagePull, as a
 *    kubelet reports it) → 422 IMAGE_PULL_FAILED with the reason, nothing booked, no pod left.
 * Without the built binaries the file is skipped loudly; with CI=true it fails.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type K8sEnv, RUNNER_RULES, startK8sEnv } from '../support/k8s-env.ts';
import { K8sIarnetNode, waitFor } from '../support/k8s-iarnet-node.ts';

const NS = 'iarnet-metrics';
const NS_NO_METRICS = 'iarnet-no-metrics';
const GiB = 2 ** 30;
const MiB = 2 ** 20;
const RUN = { image: 'busybox:latest', command: ['sleep', '3600'], cpu: 0.5, memory: 0.5 };
/** kwok's emulated usage per container (test/k8s/kwok-metrics.yaml). */
const USAGE = { cpu: 0.1, memory: 64 * MiB };
/** metrics-server needs two scrapes 10 s apart before a pod has a sample; IARNet refreshes every 2 s. */
const METRICS_BOUND_MS = 90_000;
const METRICS_RULE: k8s.V1PolicyRule = {
  apiGroups: ['metrics.k8s.io'],
  resources: ['pods'],
  verbs: ['get', 'list'],
};

// The controller-manager runs Deployments (an application's instances).
const env = await startK8sEnv({ metrics: true, controllerManager: true });
const suite = env ? describe : describe.skip;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ResourceOut {
  id: string;
  status: string;
  statusReason?: string;
  cpu: { used: number; total: number };
  memory: { used: number; total: number };
  measured?: { cpu: number; memory: number; at: string; scope: string; count: number };
}

suite('kubernetes: measured usage (metrics.k8s.io) and image pull failures, against a real API server', () => {
  const k = env as K8sEnv;
  const node = new K8sIarnetNode(NS);
  let resourceId = '';
  const resource = async (id = resourceId) => (await node.json(`/api/resources/${id}`)).body as ResourceOut;
  const listed = async (id = resourceId) =>
    ((await node.json('/api/resources')).body as ResourceOut[]).find((r) => r.id === id)!;
  const ourPods = async (ns = NS) =>
    (await k.pods(ns, `iarnet.node=${node.nodeId}`)).filter((p) => !p.metadata?.deletionTimestamp);
  const active = async () =>
    (
      (await node.json('/api/containers')).body.items as { allocation: string; allocationId: string }[]
    ).filter((a) => a.allocation !== 'released');
  const run = (extra: Record<string, unknown> = {}) =>
    node.json('/api/run', { method: 'POST', body: { ...RUN, resource_id: resourceId, ...extra } });
  const stop = async (alloc: string) =>
    expect((await node.json(`/api/containers/${alloc}/stop`, { method: 'POST' })).status).toBeLessThan(300);
  const addCluster = async (name: string, namespace: string) => {
    const res = await node.json('/api/resources?verify=true', {
      method: 'POST',
      body: { type: 'kubernetes', name, url: k.apiUrl, token: k.limitedToken, tls: { ca: k.ca }, namespace },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  };

  beforeAll(async () => {
    await k.addNode('kwok-node-0', { cpu: '8', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' });
    await k.namespace(NS);
    await k.grantLimited(NS, [...RUNNER_RULES, METRICS_RULE], { nodes: true });
    await node.start();
    resourceId = await addCluster('metrics-cluster', NS);
  });

  afterAll(async () => {
    await node.dispose();
    await k.stop();
  });

  it('an image that cannot be pulled: 422 IMAGE_PULL_FAILED with the reason, nothing booked, no pod left', async () => {
    const before = await listed();
    expect(before.status).toBe('connected');
    const image = 'registry.invalid/iarnet/missing:1.0';
    const res = await run({ image });
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.body.code).toBe('IMAGE_PULL_FAILED');
    // The kubelet's (kwok's) reason as the API server reported it, with the image named.
    expect(res.body.details).toContain(image);
    expect(res.body.details).toMatch(/ErrImagePull|ImagePullBackOff/);
    expect(res.body.details).toContain('lookup registry.invalid: no such host');

    expect(await ourPods()).toEqual([]);
    expect(await active()).toEqual([]);
    const after = await listed();
    expect(after.cpu).toEqual(before.cpu);
    expect(after.memory).toEqual(before.memory);
    expect(after.cpu.used).toBe(0);

    // Every other image still runs: the default pod stages apply to the rest.
    const ok = await run({ cpu: 0.25, memory: 0.25 });
    expect(ok.status, JSON.stringify(ok.body)).toBe(202);
    const pod = await k.core.readNamespacedPod({ name: ok.body.container_id, namespace: NS });
    expect(pod.status?.phase).toBe('Running');
    await stop(ok.body.allocation_id);
    expect(await ourPods()).toEqual([]);
  });

  const allocs: string[] = [];

  it('shows measured usage of IARNet’s pods next to the reservations when metrics.k8s.io answers', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await run();
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      allocs.push(res.body.allocation_id);
    }
    // A pod of someone else in the namespace is not IARNet's to measure.
    await k.core.createNamespacedPod({
      namespace: NS,
      body: { metadata: { name: 'foreign' }, spec: { containers: [{ name: 'c', image: 'x' }] } },
    });

    const r = await waitFor(resource, (x) => x.measured?.count === 2, METRICS_BOUND_MS);
    expect(r.measured, JSON.stringify(r)).toBeDefined();
    expect(r.status).toBe('connected');
    const m = r.measured!;
    expect(m.scope).toBe('workloads');
    expect(m.count).toBe(2);
    // kwok's usage is exact; the CPU rate metrics-server derives from two counter samples is close.
    expect(m.cpu).toBeCloseTo(2 * USAGE.cpu, 2);
    expect(m.memory).toBeCloseTo((2 * USAGE.memory) / GiB, 3);
    expect(Date.now() - Date.parse(m.at)).toBeLessThan(60_000);
    // The reservations are the ledger's, unchanged by what is measured.
    expect(r.cpu.used).toBe(1);
    expect(r.memory.used).toBe(1);
    // The list shows it too.
    expect((await listed()).measured).toMatchObject({ scope: 'workloads', count: 2 });

    // One pod's statistics through the same API.
    const stats = await node.json(`/api/containers/${allocs[0]}/stats`);
    expect(stats.status, JSON.stringify(stats.body)).toBe(200);
    expect(stats.body.cpuPercent).toBeCloseTo(USAGE.cpu * 100, 0);
    expect(stats.body.memoryBytes).toBe(USAGE.memory);
    expect(stats.body.memoryLimitBytes).toBe(0.5 * GiB);
  });

  it("a Deployment's pods are measured too, and its statistics are the sum of its pods'", async () => {
    const created = await node.json('/api/applications', {
      method: 'POST',
      body: {
        name: 'measured-replicas',
        type: 'worker',
        image: RUN.image,
        resources: { cpu: 0.25, memory: 0.25 },
        instances: 2,
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const appId = created.body.id as string;
    const deployed = await node.json(`/api/applications/${appId}/deploy`, { method: 'POST' });
    expect(deployed.status, JSON.stringify(deployed.body)).toBeLessThan(300);
    const group = (await active()).find((a) => !allocs.includes(a.allocationId))!;
    expect(group).toBeDefined();

    const r = await waitFor(resource, (x) => x.measured?.count === 4, METRICS_BOUND_MS);
    expect(r.measured?.count, JSON.stringify(r)).toBe(4);
    expect(r.measured!.cpu).toBeCloseTo(4 * USAGE.cpu, 2);
    const stats = await waitFor(
      async () => await node.json(`/api/containers/${group.allocationId}/stats`),
      (x) => x.status === 200,
      METRICS_BOUND_MS,
    );
    expect(stats.status, JSON.stringify(stats.body)).toBe(200);
    expect(stats.body.cpuPercent).toBeCloseTo(2 * USAGE.cpu * 100, 0);
    expect(stats.body.memoryBytes).toBe(2 * USAGE.memory);
    expect(stats.body.memoryLimitBytes).toBe(2 * 0.25 * GiB);

    expect((await node.json(`/api/applications/${appId}/stop`, { method: 'POST' })).status).toBeLessThan(300);
    expect((await node.json(`/api/applications/${appId}`, { method: 'DELETE' })).status).toBeLessThan(300);
    expect((await waitFor(resource, (x) => x.measured?.count === 2, METRICS_BOUND_MS)).measured?.count).toBe(
      2,
    );
  });

  it('a token that may not read pod metrics: no measured usage, no error', async () => {
    await k.namespace(NS_NO_METRICS);
    await k.grantLimited(NS_NO_METRICS, RUNNER_RULES, { nodes: true });
    const id = await addCluster('no-metrics-rights', NS_NO_METRICS);
    try {
      const res = await node.json('/api/run', { method: 'POST', body: { ...RUN, resource_id: id } });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      // metrics.k8s.io has this pod's sample (the admin can read it)...
      const sampled = await waitFor(
        async () =>
          (
            (await k.admin
              .makeApiClient(k8s.CustomObjectsApi)
              .getNamespacedCustomObject({
                group: 'metrics.k8s.io',
                version: 'v1beta1',
                namespace: NS_NO_METRICS,
                plural: 'pods',
                name: res.body.container_id,
              })
              .catch(() => undefined)) as { containers?: unknown[] } | undefined
          )?.containers?.length ?? 0,
        (n) => n > 0,
        METRICS_BOUND_MS,
      );
      expect(sampled).toBe(1);
      // ...and several refreshes later the resource still shows none, and is fine.
      await node.json(`/api/resources/${id}/refresh`, { method: 'POST' });
      await sleep(4_000);
      const r = await resource(id);
      expect(r.status).toBe('connected');
      expect(r.statusReason).toBeUndefined();
      expect(r.measured).toBeUndefined();
      expect(r.cpu.used).toBe(0.5);
      const stats = await node.json(`/api/containers/${res.body.allocation_id}/stats`);
      expect(stats.status).toBe(503);
      expect(stats.body.code).toBe('METRICS_UNAVAILABLE');
      await stop(res.body.allocation_id);
    } finally {
      expect((await node.call(`/api/resources/${id}?force=true`, { method: 'DELETE' })).status).toBe(204);
    }
  });

  it('metrics-server down, then no APIService at all: no measured usage, no error, stats 503', async () => {
    // Steady while the metrics API answers: present at every refresh over a few intervals.
    for (let i = 0; i < 4; i++) {
      expect((await resource()).measured).toMatchObject({ count: 2 });
      await sleep(1_500);
    }
    const pid = readFileSync(join(k.dir, 'pids'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('metrics-server '))
      ?.split(' ')[1];
    expect(pid).toMatch(/^\d+$/);
    process.kill(Number(pid), 'SIGTERM');

    // The aggregator answers 503 for the group now.
    const gone = await waitFor(resource, (x) => x.measured === undefined, 30_000);
    expect(gone.measured).toBeUndefined();
    expect(gone.status).toBe('connected');
    expect(gone.statusReason).toBeUndefined();
    const stats = await node.json(`/api/containers/${allocs[0]}/stats`);
    expect(stats.status).toBe(503);
    expect(stats.body.code).toBe('METRICS_UNAVAILABLE');

    // No APIService: the group is unknown (404).
    await k.admin
      .makeApiClient(k8s.ApiregistrationV1Api)
      .deleteAPIService({ name: 'v1beta1.metrics.k8s.io' });
    const refreshed = await node.json(`/api/resources/${resourceId}/refresh`, { method: 'POST' });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.status).toBe('connected');
    expect(refreshed.body.measured).toBeUndefined();

    // Runs keep working and the reservations are exact.
    expect((await resource()).cpu.used).toBe(1);
    for (const a of allocs) await stop(a);
    expect(await ourPods()).toEqual([]);
    expect((await resource()).cpu.used).toBe(0);
  });
});
