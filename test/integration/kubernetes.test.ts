/**
 * The Kubernetes runner against a REAL API server (test/k8s: etcd + kube-apiserver + kwok +
 * kube-scheduler + kube-controller-manager, built from Go modules), driven through a real
 * `iarnet` process:
 *  - "test connection" with a namespace-limited ServiceAccount token names exactly the missing
 *    permissions, then passes once they are granted; bad URLs, a wrong CA and a token for
 *    another cluster are refused and nothing is saved;
 *  - run → pod Running (requests = limits, iarnet.* labels) → logs (tail and SSE follow) → stop,
 *    with the ledger exact at each step;
 *  - an application with 2 instances runs as one Deployment (one allocation of both, a deleted pod
 *    replaced by Kubernetes without a ledger change, merged logs, rollout restart, stop);
 *  - an over-quota run is refused by the ledger; a ResourceQuota in the namespace refusing the pod
 *    gives 503 with the API server's details and leaves nothing booked or running;
 *  - kill -9 of IARNet and restart reconciles (one allocation per pod, a pod deleted meanwhile released);
 *  - the API server stopped → resource `unreachable`, pods and allocations untouched; back →
 *    `connected`, no duplicates, new runs work;
 *  - a resource with its own `namespace` (the limited token granted only there) runs its pods
 *    there, and a changed namespace moves the next pod.
 * Without the built binaries the file is skipped loudly; with CI=true it fails.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type K8sEnv, RUNNER_RULES, startK8sEnv } from '../support/k8s-env.ts';
import { K8sIarnetNode, waitFor } from '../support/k8s-iarnet-node.ts';

const NS = 'iarnet-test';
const GiB = 2 ** 30;
const RUN = { image: 'busybox:latest', command: ['sh', '-c', 'echo hi; sleep 3600'], cpu: 0.25, memory: 0.5 };

const env = await startK8sEnv({ controllerManager: true });
const suite = env ? describe : describe.skip;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

suite('kubernetes runner against a real API server', () => {
  const k = env as K8sEnv;
  const node = new K8sIarnetNode(NS);
  let resourceId = '';
  const cluster = () => ({ type: 'kubernetes', url: k.apiUrl, token: k.limitedToken, tls: { ca: k.ca } });
  const active = async () =>
    (
      (await node.json('/api/containers')).body.items as {
        allocation: string;
        id: string;
        allocationId: string;
      }[]
    ).filter((a) => a.allocation !== 'released');
  const quota = async () => (await node.json('/resources')).body.current as { cpu: number; memory: number };
  const ourPods = async () =>
    (await k.pods(NS, `iarnet.node=${node.nodeId}`)).filter((p) => !p.metadata?.deletionTimestamp);
  const run = (extra: Record<string, unknown> = {}) =>
    node.json('/run', { method: 'POST', body: { ...RUN, resource_id: resourceId, ...extra } });

  beforeAll(async () => {
    await k.addNode('kwok-node-0', { cpu: '8', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' });
    await k.namespace(NS);
    await node.start();
  });

  afterAll(async () => {
    await node.dispose();
    await k.stop();
  });

  it('test connection names exactly the permissions the token lacks, then passes', async () => {
    const none = await node.json('/api/resources/test', { method: 'POST', body: cluster() });
    expect(none.status).toBe(200);
    expect(none.body.ok).toBe(false);
    for (const p of [
      'create pods in namespace iarnet-test',
      'delete pods in namespace iarnet-test',
      'get pods in namespace iarnet-test',
      'list pods in namespace iarnet-test',
      'watch pods in namespace iarnet-test',
      'get pods/log in namespace iarnet-test',
      'list nodes (cluster-wide)',
      'create deployments.apps in namespace iarnet-test',
      'patch deployments.apps in namespace iarnet-test',
    ]) {
      expect(none.body.error).toContain(p);
    }

    // Everything but watch and the logs: exactly those two are named.
    await k.grantLimited(
      NS,
      [
        { apiGroups: [''], resources: ['pods'], verbs: ['create', 'delete', 'get', 'list'] },
        RUNNER_RULES.find((r) => r.apiGroups?.includes('apps'))!,
      ],
      { nodes: true },
    );
    const partial = await waitFor(
      async () => (await node.json('/api/resources/test', { method: 'POST', body: cluster() })).body,
      (b) => !String(b.error).includes('create pods'),
    );
    expect(partial.ok).toBe(false);
    expect(partial.error).toBe(
      'the credentials are missing permissions: watch pods in namespace iarnet-test; get pods/log in namespace iarnet-test',
    );

    await k.grantLimited(NS, RUNNER_RULES, { nodes: true });
    const ok = await waitFor(
      async () => (await node.json('/api/resources/test', { method: 'POST', body: cluster() })).body,
      (b) => b.ok === true,
    );
    expect(ok).toMatchObject({ ok: true, capacity: { cpu: 8, memory: 16, gpu: 0, storage: 100 } });
  });

  it('refuses bad cluster URLs, a wrong CA and a token of another cluster, saving nothing', async () => {
    for (const url of [
      'https://169.254.169.254:6443',
      'https://[fe80::1]:6443',
      'ftp://127.0.0.1:6443',
      'http://10.0.0.1:8080',
      `${k.apiUrl}/api`,
    ]) {
      const res = await node.json('/api/resources', {
        method: 'POST',
        body: { ...cluster(), name: 'bad', url },
      });
      expect(res.status, url).toBe(400);
      expect(res.body.fields?.[0]?.path, url).toBe('url');
    }
    // A CA that did not sign the API server's certificate.
    const dir = mkdtempSync(join(tmpdir(), 'iarnet-other-ca-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=other-ca',
        '-keyout',
        join(dir, 'ca.key'),
        '-out',
        join(dir, 'ca.crt'),
      ],
      { stdio: 'ignore' },
    );
    const otherCa = readFileSync(join(dir, 'ca.crt'), 'utf8');
    rmSync(dir, { recursive: true, force: true });
    const wrongCa = await node.json('/api/resources/test', {
      method: 'POST',
      body: { ...cluster(), tls: { ca: otherCa } },
    });
    expect(wrongCa.body).toEqual({
      ok: false,
      error: 'cannot reach the kubernetes endpoint: TLS certificate rejected',
    });
    const otherToken = await node.json('/api/resources/test', {
      method: 'POST',
      body: { ...cluster(), token: `eyJ${randomBytes(24).toString('hex')}` },
    });
    expect(otherToken.body).toEqual({
      ok: false,
      error: 'cannot reach the kubernetes endpoint: credentials refused',
    });
    const verified = await node.json('/api/resources?verify=true', {
      method: 'POST',
      body: { ...cluster(), name: 'wrong-ca', tls: { ca: otherCa } },
    });
    expect(verified.status).toBe(422);
    expect((await node.json('/api/resources')).body).toEqual([]);
  });

  it('adds the cluster with the limited token: connected, capacity from the nodes', async () => {
    const res = await node.json('/api/resources', {
      method: 'POST',
      body: { ...cluster(), name: 'test-cluster' },
    });
    expect(res.status).toBe(201);
    expect(res.body, JSON.stringify(res.body)).toMatchObject({
      type: 'kubernetes',
      status: 'connected',
      hasToken: true,
    });
    expect(res.body.cpu.total).toBe(8);
    expect(res.body.memory.total).toBe(16);
    resourceId = res.body.id;
  });

  it('run → Running → logs → stop, with the ledger exact', async () => {
    const started = await run({ env: { GREETING: 'hello' }, ports: [{ containerPort: 8080 }] });
    expect(started.status).toBe(202);
    const { container_id: podName, allocation_id: alloc } = started.body;
    expect(podName).toBe(`iarnet-${alloc}`);

    const pod = await k.core.readNamespacedPod({ name: podName, namespace: NS });
    expect(pod.status?.phase).toBe('Running');
    expect(pod.metadata?.labels).toMatchObject({
      'iarnet.node': node.nodeId,
      'iarnet.alloc': alloc,
      'iarnet.resource': resourceId,
    });
    const c = pod.spec!.containers[0]!;
    expect(c.resources?.requests).toEqual({ cpu: '250m', memory: String(0.5 * GiB) });
    expect(c.resources?.limits).toEqual(c.resources?.requests);
    expect(c.args).toEqual(RUN.command);
    expect(c.env).toEqual([{ name: 'GREETING', value: 'hello' }]);
    expect(c.ports).toEqual([expect.objectContaining({ containerPort: 8080, protocol: 'TCP' })]);
    expect(pod.spec?.automountServiceAccountToken).toBe(false);
    expect(c.securityContext).toMatchObject({ privileged: false, allowPrivilegeEscalation: false });

    expect(await quota()).toMatchObject({ cpu: 0.25, memory: 0.5 });
    expect((await active()).map((a) => a.id)).toEqual([podName]);

    // Logs through the log API (kwok serves the same two lines for every container).
    const logs = await node.json(`/api/containers/${alloc}/logs?tail=10`);
    expect(logs.status).toBe(200);
    expect(logs.body.items.map((l: { message: string }) => l.message)).toEqual([
      'hello from kwok',
      'iarnet test log line 2',
    ]);
    expect(logs.body.items[0].timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    const tail1 = await node.json(`/api/containers/${alloc}/logs?tail=1`);
    expect(tail1.body.items.map((l: { message: string }) => l.message)).toEqual(['iarnet test log line 2']);

    // follow=true: an SSE stream of `log` events.
    const ac = new AbortController();
    const sse = await fetch(`${node.proc!.url}/api/containers/${alloc}/logs?follow=true`, {
      headers: { authorization: `Bearer ${node.token}` },
      signal: ac.signal,
    });
    expect(sse.headers.get('content-type')).toContain('text/event-stream');
    const reader = sse.body!.getReader();
    let text = '';
    const t0 = Date.now();
    while ((text.match(/event: log/g) ?? []).length < 2 && Date.now() - t0 < 10_000) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    ac.abort();
    expect(text).toContain('hello from kwok');
    expect(text).toContain('iarnet test log line 2');

    // No metrics-server in the test cluster: a clear 503, not an engine error.
    const stats = await node.json(`/api/containers/${alloc}/stats`);
    expect(stats.status).toBe(503);
    expect(stats.body.code).toBe('METRICS_UNAVAILABLE');

    // restart = delete + create from the same spec: same name, a new pod, still one allocation.
    const uidBefore = pod.metadata!.uid;
    const restarted = await node.json(`/api/containers/${alloc}/restart`, { method: 'POST' });
    expect(restarted.status).toBeLessThan(300);
    const again = await k.core.readNamespacedPod({ name: podName, namespace: NS });
    expect(again.status?.phase).toBe('Running');
    expect(again.metadata!.uid).not.toBe(uidBefore);
    expect(again.spec!.containers[0]!.resources).toEqual(c.resources);
    expect((await active()).map((a) => a.id)).toEqual([podName]);
    expect(await quota()).toMatchObject({ cpu: 0.25, memory: 0.5 });

    const stopped = await node.json(`/api/containers/${alloc}/stop`, { method: 'POST' });
    expect(stopped.status).toBeLessThan(300);
    await expect(k.core.readNamespacedPod({ name: podName, namespace: NS })).rejects.toMatchObject({
      code: 404,
    });
    expect(await active()).toEqual([]);
    expect(await quota()).toMatchObject({ cpu: 0, memory: 0 });
  });

  it('an application with 2 instances runs as one Deployment: one allocation, pods kept by Kubernetes, merged logs, rollout restart, stop', async () => {
    const apps = k.admin.makeApiClient(AppsV1Api);
    const created = await node.json('/api/applications', {
      method: 'POST',
      body: {
        name: 'k8s-replicas',
        type: 'worker',
        image: 'busybox:latest',
        command: ['sh', '-c', 'sleep 3600'],
        resources: { cpu: 0.25, memory: 0.5 },
        instances: 2,
      },
    });
    expect(created.status).toBe(201);
    const appId = created.body.id as string;
    const deployed = await node.json(`/api/applications/${appId}/deploy`, { method: 'POST' });
    expect(deployed.status, JSON.stringify(deployed.body)).toBeLessThan(300);
    expect(deployed.body.status).toBe('running');

    // One allocation books both copies; the workload is a Deployment of that name.
    const allocs = await active();
    expect(allocs).toHaveLength(1);
    const name = allocs[0]!.id;
    const dep = await apps.readNamespacedDeployment({ name, namespace: NS });
    expect(dep.spec?.replicas).toBe(2);
    expect(dep.status?.readyReplicas).toBe(2);
    expect(dep.metadata?.labels).toMatchObject({
      'iarnet.alloc': allocs[0]!.allocationId,
      'iarnet.app': appId,
      'iarnet.node': node.nodeId,
    });
    expect(dep.spec?.strategy?.rollingUpdate).toMatchObject({ maxSurge: 0, maxUnavailable: 1 });
    const template = dep.spec!.template.spec!.containers[0]!;
    expect(template.resources?.requests).toEqual({ cpu: '250m', memory: String(0.5 * GiB) });
    expect(template.resources?.limits).toEqual(template.resources?.requests);
    const replicaPods = async () =>
      (await k.pods(NS, `iarnet.replica-of=${name}`)).filter(
        (p) => !p.metadata?.deletionTimestamp && p.status?.phase === 'Running',
      );
    const pods = await replicaPods();
    expect(pods).toHaveLength(2);
    // The pods are not workloads of their own: no allocation label, so nothing claims them twice.
    for (const p of pods) expect(p.metadata?.labels?.['iarnet.alloc']).toBeUndefined();
    expect(await quota()).toMatchObject({ cpu: 0.5, memory: 1 });
    const status = await node.json(`/api/applications/${appId}/status`);
    expect(status.body).toMatchObject({ instances: 2, desiredInstances: 2, status: 'running' });

    // A pod deleted behind IARNet's back is replaced by Kubernetes; the ledger does not move.
    await k.core.deleteNamespacedPod({
      name: pods[0]!.metadata!.name!,
      namespace: NS,
      gracePeriodSeconds: 0,
    });
    const replaced = await waitFor(
      replicaPods,
      (ps) => ps.length === 2 && !ps.some((p) => p.metadata!.name === pods[0]!.metadata!.name),
    );
    expect(replaced).toHaveLength(2);
    await sleep(1_500); // a reconcile pass (interval 1 s) has looked at it
    expect((await active()).map((a) => a.allocationId)).toEqual([allocs[0]!.allocationId]);
    expect(await quota()).toMatchObject({ cpu: 0.5, memory: 1 });

    // Logs: both pods' lines, merged by time.
    const logs = await node.json(`/api/containers/${allocs[0]!.allocationId}/logs?tail=10`);
    expect(logs.status).toBe(200);
    const messages = logs.body.items.map((l: { message: string }) => l.message);
    expect(messages.filter((m: string) => m === 'hello from kwok')).toHaveLength(2);
    expect(messages).toHaveLength(4);

    // Restart is a rollout: every pod replaced, one at a time, same allocation.
    const before = new Set(replaced.map((p) => p.metadata!.uid));
    const restarted = await node.json(`/api/applications/${appId}/restart`, { method: 'POST' });
    expect(restarted.status, JSON.stringify(restarted.body)).toBeLessThan(300);
    const after = await replicaPods();
    expect(after).toHaveLength(2);
    for (const p of after) expect(before.has(p.metadata!.uid)).toBe(false);
    expect((await active()).map((a) => a.allocationId)).toEqual([allocs[0]!.allocationId]);

    // Stop: the Deployment and its pods are gone before the quota is released.
    const stopped = await node.json(`/api/applications/${appId}/stop`, { method: 'POST' });
    expect(stopped.status).toBeLessThan(300);
    await expect(apps.readNamespacedDeployment({ name, namespace: NS })).rejects.toMatchObject({ code: 404 });
    expect(await k.pods(NS, `iarnet.replica-of=${name}`)).toEqual([]);
    expect(await active()).toEqual([]);
    expect(await quota()).toMatchObject({ cpu: 0, memory: 0 });
    expect((await node.json(`/api/applications/${appId}`, { method: 'DELETE' })).status).toBeLessThan(300);
  });

  it('refuses an over-quota run in the ledger, creating no pod', async () => {
    const res = await run({ cpu: 5 });
    expect(res.status).toBe(503);
    expect(res.body.code).toMatch(/QUOTA_EXCEEDED|NO_RESOURCE_WITH_ROOM/);
    expect(await ourPods()).toEqual([]);
    expect(await active()).toEqual([]);
  });

  it('a ResourceQuota in the namespace refusing a pod (or a Deployment’s pod) answers 503 with its details, booking nothing', async () => {
    await k.core.createNamespacedResourceQuota({
      namespace: NS,
      body: {
        metadata: { name: 'iarnet-guard' },
        spec: { hard: { 'requests.cpu': '1', 'limits.cpu': '1' } },
      },
    });
    // The quota controller fills status.hard; until then admission refuses every pod.
    await waitFor(
      async () =>
        (await k.core.readNamespacedResourceQuota({ name: 'iarnet-guard', namespace: NS })).status?.hard,
      (h) => !!h?.['requests.cpu'],
    );
    try {
      const res = await run({ cpu: 2 });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('CLUSTER_QUOTA_EXCEEDED');
      expect(res.body.details).toContain('exceeded quota: iarnet-guard');
      expect(res.body.details).toContain('requested: limits.cpu=2,requests.cpu=2');
      expect(await ourPods()).toEqual([]);
      expect(await active()).toEqual([]);
      expect(await quota()).toMatchObject({ cpu: 0, memory: 0 });
      // Within the quota it still runs.
      const small = await run({ cpu: 0.5 });
      expect(small.status).toBe(202);
      expect(
        await node.json(`/api/containers/${small.body.allocation_id}/stop`, { method: 'POST' }),
      ).toMatchObject({
        status: 200,
      });

      // A Deployment whose second pod the quota refuses: the ReplicaSet's refusal is the answer,
      // and the Deployment (with the pod it did get) is gone again, nothing booked.
      const apps = k.admin.makeApiClient(AppsV1Api);
      const created = await node.json('/api/applications', {
        method: 'POST',
        body: {
          name: 'over-cluster-quota',
          type: 'worker',
          image: 'busybox:latest',
          resources: { cpu: 0.75, memory: 0.25 },
          instances: 2,
        },
      });
      expect(created.status).toBe(201);
      const deployed = await node.json(`/api/applications/${created.body.id}/deploy`, { method: 'POST' });
      expect(deployed.status, JSON.stringify(deployed.body)).toBe(503);
      expect(deployed.body.code).toBe('CLUSTER_QUOTA_EXCEEDED');
      expect(deployed.body.details).toContain('exceeded quota: iarnet-guard');
      expect(
        (await apps.listNamespacedDeployment({ namespace: NS, labelSelector: 'iarnet.alloc' })).items,
      ).toEqual([]);
      await waitFor(ourPods, (ps) => ps.length === 0);
      expect(await ourPods()).toEqual([]);
      expect(await active()).toEqual([]);
      expect(await quota()).toMatchObject({ cpu: 0, memory: 0 });
      expect((await node.json(`/api/applications/${created.body.id}`)).body.status).toBe('error');
      expect(
        (await node.json(`/api/applications/${created.body.id}`, { method: 'DELETE' })).status,
      ).toBeLessThan(300);
    } finally {
      await k.core.deleteNamespacedResourceQuota({ name: 'iarnet-guard', namespace: NS });
    }
  });

  it("a pod no node can take fails with 503 and the scheduler's reason, leaving nothing", async () => {
    // Someone else's pod takes 6 of the node's 8 cores; the ledger (limit 4) does not know.
    await k.core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'foreign-hog' },
        spec: {
          containers: [
            { name: 'c', image: 'x', resources: { requests: { cpu: '6' }, limits: { cpu: '6' } } },
          ],
        },
      },
    });
    await waitFor(
      async () =>
        (await k.core.readNamespacedPod({ name: 'foreign-hog', namespace: 'default' })).status?.phase,
      (p) => p === 'Running',
    );
    try {
      const res = await run({ cpu: 3 });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('POD_UNSCHEDULABLE');
      expect(res.body.details).toContain('Insufficient cpu');
      expect(await ourPods()).toEqual([]);
      expect(await active()).toEqual([]);
    } finally {
      await k.core.deleteNamespacedPod({ name: 'foreign-hog', namespace: 'default', gracePeriodSeconds: 0 });
    }
  });

  it('refuses a host port with a field error, pinned or not, and creates no pod', async () => {
    const allBefore = (await node.json('/api/containers')).body.total;
    const res = await run({ ports: [{ containerPort: 80, hostPort: 8080 }] });
    expect(res.status).toBe(400);
    expect(res.body.fields).toEqual([
      { path: 'ports[0].hostPort', message: expect.stringContaining('host ports are not offered') },
    ]);
    expect(await ourPods()).toEqual([]);
    // Not pinned: the scheduler knows no resource here can publish a host port, and says why.
    const unpinned = await run({ ports: [{ containerPort: 80, hostPort: 8080 }], resource_id: undefined });
    expect(unpinned.status).toBe(400);
    expect(unpinned.body.fields[0].path).toBe('ports[0].hostPort');
    expect(await ourPods()).toEqual([]);
    expect(await quota()).toMatchObject({ cpu: 0, memory: 0 });
    // Nothing new is listed either.
    expect((await node.json('/api/containers')).body.total).toBe(allBefore);
  });

  it('kill -9 and restart reconciles: one allocation per pod, a pod deleted meanwhile released', async () => {
    const allocs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await run({ cpu: 0.1, memory: 0.1 });
      expect(res.status).toBe(202);
      allocs.push(res.body.allocation_id);
    }
    await node.stop('SIGKILL');
    // While IARNet is down someone deletes one of its pods.
    await k.core.deleteNamespacedPod({ name: `iarnet-${allocs[0]}`, namespace: NS, gracePeriodSeconds: 0 });
    await waitFor(
      async () => (await ourPods()).length,
      (n) => n === 2,
    );
    await node.start();

    const after = await waitFor(active, (a) => a.length === 2);
    const pods = await ourPods();
    expect(pods.map((p) => p.metadata!.name).sort()).toEqual(
      [`iarnet-${allocs[1]}`, `iarnet-${allocs[2]}`].sort(),
    );
    for (const p of pods) {
      expect(
        after.filter(
          (a) => a.id === p.metadata!.name && a.allocationId === p.metadata!.labels!['iarnet.alloc'],
        ),
      ).toHaveLength(1);
    }
    const q = await quota();
    expect(q.cpu).toBeCloseTo(0.2, 5);
    expect(q.memory).toBeCloseTo(0.2, 5);
  });

  it('API server stopped → unreachable with pods and allocations untouched; back → reconciled without duplicates', async () => {
    const before = (await active()).map((a) => a.allocationId).sort();
    const podsBefore = (await ourPods()).map((p) => `${p.metadata!.name}/${p.metadata!.uid}`).sort();
    expect(before).toHaveLength(2);

    await k.stopApiServer();
    try {
      const status = await waitFor(
        async () => (await node.json(`/api/resources/${resourceId}`)).body.status,
        (s) => s === 'unreachable',
      );
      expect(status).toBe('unreachable');
      const refused = await run({ cpu: 0.1, memory: 0.1 });
      expect(refused.status).toBe(503);
      // Several reconcile passes: nothing is declared dead.
      await sleep(3_000);
      expect((await active()).map((a) => a.allocationId).sort()).toEqual(before);
    } finally {
      await k.startApiServer();
    }
    const back = await waitFor(
      async () => (await node.json(`/api/resources/${resourceId}`)).body.status,
      (s) => s === 'connected',
    );
    expect(back).toBe('connected');
    await sleep(2_000);
    expect((await ourPods()).map((p) => `${p.metadata!.name}/${p.metadata!.uid}`).sort()).toEqual(podsBefore);
    expect((await active()).map((a) => a.allocationId).sort()).toEqual(before);

    const again = await run({ cpu: 0.1, memory: 0.1 });
    expect(again.status, JSON.stringify({ body: again.body, logs: node.proc?.logs.slice(-15) })).toBe(202);
    expect(await ourPods()).toHaveLength(3);
    expect(await active()).toHaveLength(3);
  });

  it('a cluster resource with its own namespace runs pods there; changing it moves new pods', async () => {
    const OTHER = 'iarnet-other';
    await k.namespace(OTHER);
    const body = { ...cluster(), name: 'other-namespace', namespace: OTHER };
    // The limited token has no rights there yet: the test checks the resource's namespace, not the default.
    const denied = await node.json('/api/resources/test', { method: 'POST', body });
    expect(denied.body.ok).toBe(false);
    expect(denied.body.error).toContain(`create pods in namespace ${OTHER}`);
    expect(denied.body.error).not.toContain(`namespace ${NS}`);

    await k.grantLimited(OTHER, RUNNER_RULES, { nodes: true });
    const ok = await waitFor(
      async () => (await node.json('/api/resources/test', { method: 'POST', body })).body,
      (b) => b.ok === true,
    );
    expect(ok.ok, JSON.stringify(ok)).toBe(true);
    const created = await node.json('/api/resources', { method: 'POST', body });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ namespace: OTHER, status: 'connected' });
    const id = created.body.id as string;
    const podsOf = async (ns: string) =>
      (await k.pods(ns, `iarnet.resource=${id}`)).filter((p) => !p.metadata?.deletionTimestamp);

    try {
      const res = await node.json('/run', { method: 'POST', body: { ...RUN, resource_id: id } });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      expect(res.body.resource_id).toBe(id);
      // Seen with the admin token: the pod is in the resource's namespace, not in the runner's default.
      const pod = await k.core.readNamespacedPod({ name: res.body.container_id, namespace: OTHER });
      expect(pod.metadata?.namespace).toBe(OTHER);
      expect(pod.status?.phase).toBe('Running');
      expect(pod.metadata?.labels).toMatchObject({ 'iarnet.node': node.nodeId, 'iarnet.resource': id });
      expect(await podsOf(NS)).toEqual([]);

      const stop = await node.json(`/api/containers/${res.body.allocation_id}/stop`, { method: 'POST' });
      expect(
        stop.status,
        `${JSON.stringify(stop.body)}\n${JSON.stringify(node.proc?.logs.slice(-25), null, 1)}`,
      ).toBeLessThan(300);
      await expect(
        k.core.readNamespacedPod({ name: res.body.container_id, namespace: OTHER }),
      ).rejects.toMatchObject({ code: 404 });
      expect(await podsOf(OTHER)).toEqual([]);

      // A new namespace is a new connection: re-tested, and the next pod goes there.
      const moved = await node.json(`/api/resources/${id}`, { method: 'PUT', body: { namespace: NS } });
      expect(moved.status, JSON.stringify(moved.body)).toBe(200);
      expect(moved.body).toMatchObject({ namespace: NS, status: 'connected' });
      const again = await node.json('/run', { method: 'POST', body: { ...RUN, resource_id: id } });
      expect(again.status, JSON.stringify(again.body)).toBe(202);
      expect((await podsOf(NS)).map((p) => p.metadata!.name)).toEqual([again.body.container_id]);
      expect(await podsOf(OTHER)).toEqual([]);
      const stopAgain = await node.json(`/api/containers/${again.body.allocation_id}/stop`, {
        method: 'POST',
      });
      expect(stopAgain.status).toBeLessThan(300);
      expect(await podsOf(NS)).toEqual([]);
    } finally {
      expect((await node.call(`/api/resources/${id}?force=true`, { method: 'DELETE' })).status).toBe(204);
    }
  });

  it('mode: k8s registers the cluster it runs in (ServiceAccount files) and runs pods there', async () => {
    const ns = 'iarnet-incluster';
    await k.namespace(ns);
    const sa = mkdtempSync(join(tmpdir(), 'iarnet-sa-'));
    writeFileSync(join(sa, 'token'), k.adminToken);
    writeFileSync(join(sa, 'ca.crt'), k.ca);
    writeFileSync(join(sa, 'namespace'), ns);
    const port = new URL(k.apiUrl).port;
    const inPod = new K8sIarnetNode(NS, {
      args: ['--mode', 'k8s'],
      env: {
        KUBERNETES_SERVICE_HOST: '127.0.0.1',
        KUBERNETES_SERVICE_PORT: port,
        IARNET_RUNNER_KUBERNETES__SERVICE_ACCOUNT_DIR: sa,
      },
    });
    try {
      await inPod.start();
      const list = await waitFor(
        async () =>
          (await inPod.json('/api/resources')).body as { name: string; status: string; builtin: boolean }[],
        (l) => l.some((r) => r.status === 'connected'),
      );
      expect(list).toEqual([
        expect.objectContaining({
          name: 'local-kubernetes',
          type: 'kubernetes',
          url: `https://127.0.0.1:${port}`,
          builtin: true,
          status: 'connected',
        }),
      ]);
      const res = await inPod.json('/run', { method: 'POST', body: RUN });
      expect(res.status, JSON.stringify({ body: res.body, logs: inPod.proc?.logs.slice(-15) })).toBe(202);
      const pod = await k.core.readNamespacedPod({ name: res.body.container_id, namespace: ns });
      expect(pod.status?.phase).toBe('Running');
      expect(pod.metadata?.labels?.['iarnet.node']).toBe(inPod.nodeId);
      const stop = await inPod.json(`/api/containers/${res.body.allocation_id}/stop`, { method: 'POST' });
      expect(stop.status).toBeLessThan(300);
      expect(await k.pods(ns, `iarnet.node=${inPod.nodeId}`)).toEqual([]);
    } finally {
      await inPod.stop().catch(() => undefined);
      rmSync(inPod.dataDir, { recursive: true, force: true });
      rmSync(sa, { recursive: true, force: true });
    }
  });
});
