/**
 * Runtime conformance, Kubernetes: the runner (@kubernetes/client-node) driven through a real
 * `iarnet` process on Node 20, Node 24, Bun and Deno against one real API server (etcd +
 * kube-apiserver + kwok + kube-scheduler from test/k8s). Per runtime: add a cluster by URL +
 * namespace-limited token + CA → `connected` with the node's capacity; a CA that did not sign
 * the server and a foreign token are refused with the same classified errors; POST /run → 202
 * and the pod Running (seen with the admin client) → logs (tail) → stop → pod gone, ledger back
 * to 0; a followed log over SSE (node:https); the pod watch (client-node Watch) releases a pod
 * deleted behind IARNet's back with periodic reconciling switched off.
 * Each runtime works in a namespace of its own, so one runtime's pods never satisfy another's checks.
 * Without the built binaries the file is skipped loudly; with CI=true it fails.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type K8sEnv, k8sEnvMissing, RUNNER_RULES, startK8sEnv } from '../support/k8s-env.ts';
import { runtimeCommands, unavailable } from '../support/runtimes.ts';
import { type RunningIarnet, spawnIarnet } from '../support/spawn-iarnet.ts';

const PASSWORD = 'conformance-k8s-admin-pw-1';
const RUN = { image: 'busybox:latest', command: ['sh', '-c', 'echo hi; sleep 3600'], cpu: 0.25, memory: 0.5 };

const k8sMissing = await k8sEnvMissing();
const suite = k8sMissing && unavailable(k8sMissing) === 'skip' ? describe.skip : describe;

suite('kubernetes runner on every runtime', () => {
  let k: K8sEnv;
  /** A CA certificate that did not sign the API server's. */
  let otherCa = '';

  beforeAll(async () => {
    // The controller-manager runs Deployments (an application's instances > 1).
    const started = await startK8sEnv({ controllerManager: true });
    if (!started) throw new Error('the Kubernetes test environment did not start');
    k = started;
    const dir = mkdtempSync(join(tmpdir(), 'iarnet-other-ca-'));
    try {
      execFileSync(
        'openssl',
        [
          ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=other-ca'],
          ...['-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt')],
        ],
        { stdio: 'ignore' },
      );
      otherCa = readFileSync(join(dir, 'ca.crt'), 'utf8');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await k.addNode('kwok-conformance-0', {
      cpu: '8',
      memory: '16Gi',
      pods: '110',
      'ephemeral-storage': '100Gi',
    });
  });
  afterAll(async () => {
    await k?.stop();
  });

  for (const runtime of runtimeCommands()) {
    const run =
      runtime.missing && unavailable(`${runtime.name}: ${runtime.missing}`) === 'skip'
        ? describe.skip
        : describe;

    run(`runtime ${runtime.name}`, () => {
      const ns = `conf-k8s-${runtime.name}`;
      const nodeId = `conf-k8s-${runtime.name}-${randomBytes(4).toString('hex')}`;
      let node: RunningIarnet;
      let auth: Record<string, string> = {};
      let resourceId = '';

      const call = async (path: string, init: { method?: string; body?: unknown } = {}) => {
        const res = await fetch(`${node.url}${path}`, {
          method: init.method ?? 'GET',
          headers: { ...auth, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
        // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the assertions
        return { status: res.status, body: body as any };
      };
      const ourPods = async () =>
        (await k.pods(ns, `iarnet.node=${nodeId}`)).filter((p) => !p.metadata?.deletionTimestamp);
      /** The node's recent log lines, for failure messages. */
      const recentLogs = () => JSON.stringify(node?.logs.slice(-10));

      beforeAll(async () => {
        await k.namespace(ns);
        await k.grantLimited(ns, RUNNER_RULES, { nodes: true });
        node = await spawnIarnet(runtime.argv, {
          env: {
            IARNET_ADMIN_PASSWORD: PASSWORD,
            IARNET_NODE_ID: nodeId,
            IARNET_RESOURCE_LIMITS__CPU: '4',
            IARNET_RESOURCE_LIMITS__MEMORY: '8Gi',
            IARNET_RESOURCE_LIMITS__GPU: '0',
            // No periodic full reconcile during the file: only the pod watch notices changes.
            IARNET_PLATFORM__RECONCILE_INTERVAL: '3600',
            // No local Docker resource: the run can only land on the cluster.
            IARNET_RUNNER_DOCKER__DEFAULT_SOCKET: '/nonexistent/iarnet-conformance-docker.sock',
          },
        });
        // The process really is the runtime under test (Bun and Deno run the TypeScript sources).
        expect(node.logs.find((l) => l.msg === 'listening')?.runtime).toBe(runtime.name.replace(/\d+$/, ''));
        const login = await call('/api/auth/login', {
          method: 'POST',
          body: { username: 'admin', password: PASSWORD },
        });
        expect(login.status).toBe(200);
        auth = { authorization: `Bearer ${login.body.token}` };
      });
      afterAll(async () => {
        await node?.stop('SIGTERM').catch(() => node?.stop('SIGKILL'));
        if (node) rmSync(node.dataDir, { recursive: true, force: true });
        // Whatever a failed check left behind, so the next runtime starts clean.
        for (const p of (await k?.pods(ns, `iarnet.node=${nodeId}`).catch(() => [])) ?? []) {
          await k.core
            .deleteNamespacedPod({ name: p.metadata!.name!, namespace: ns, gracePeriodSeconds: 0 })
            .catch(() => undefined);
        }
      });

      it('adds a cluster by URL + limited token + CA: connected, with the node capacity', async () => {
        const res = await call('/api/resources', {
          method: 'POST',
          body: {
            type: 'kubernetes',
            name: `cluster-${runtime.name}`,
            url: k.apiUrl,
            token: k.limitedToken,
            tls: { ca: k.ca },
            namespace: ns,
          },
        });
        expect(res.status, `${JSON.stringify(res.body)}\n${recentLogs()}`).toBe(201);
        expect(res.body).toMatchObject({
          type: 'kubernetes',
          namespace: ns,
          status: 'connected',
          hasToken: true,
        });
        expect(res.body.cpu.total).toBe(8);
        expect(res.body.memory.total).toBe(16);
        resourceId = res.body.id;
      });

      it('refuses a CA that did not sign the API server certificate, and a token of another cluster', async () => {
        const cluster = {
          type: 'kubernetes',
          url: k.apiUrl,
          token: k.limitedToken,
          tls: { ca: k.ca },
          namespace: ns,
        };
        const wrongCa = await call('/api/resources/test', {
          method: 'POST',
          body: { ...cluster, tls: { ca: otherCa } },
        });
        expect(wrongCa.body).toEqual({
          ok: false,
          error: 'cannot reach the kubernetes endpoint: TLS certificate rejected',
        });
        const otherToken = await call('/api/resources/test', {
          method: 'POST',
          body: { ...cluster, token: `eyJ${randomBytes(24).toString('hex')}` },
        });
        expect(otherToken.body).toEqual({
          ok: false,
          error: 'cannot reach the kubernetes endpoint: credentials refused',
        });
      });

      it('runs a pod (202, Running), serves its logs, and stop deletes it with the ledger back to 0', async () => {
        expect(resourceId, 'the cluster was not added').not.toBe('');
        const started = await call('/run', { method: 'POST', body: { ...RUN, resource_id: resourceId } });
        expect(started.status, `${JSON.stringify(started.body)}\n${recentLogs()}`).toBe(202);
        expect(started.body).toMatchObject({ status: 'accepted', node_id: nodeId, resource_id: resourceId });
        const alloc = started.body.allocation_id as string;
        const podName = started.body.container_id as string;
        expect(podName).toBe(`iarnet-${alloc}`);

        const pod = await k.core.readNamespacedPod({ name: podName, namespace: ns });
        expect(pod.status?.phase).toBe('Running');
        expect(pod.metadata?.labels).toMatchObject({
          'iarnet.node': nodeId,
          'iarnet.alloc': alloc,
          'iarnet.resource': resourceId,
        });
        expect((await call('/resources')).body.current).toMatchObject({ cpu: 0.25, memory: 0.5 });

        // kwok serves the same two lines for every container.
        const logs = await call(`/api/containers/${alloc}/logs?tail=1`);
        expect(logs.status, JSON.stringify(logs.body)).toBe(200);
        expect(logs.body.items.map((l: { message: string }) => l.message)).toEqual([
          'iarnet test log line 2',
        ]);

        const stopped = await call(`/api/containers/${alloc}/stop`, { method: 'POST' });
        expect(stopped.status, JSON.stringify(stopped.body)).toBe(200);
        await expect(k.core.readNamespacedPod({ name: podName, namespace: ns })).rejects.toMatchObject({
          code: 404,
        });
        expect(await ourPods()).toEqual([]);
        expect((await call('/resources')).body.current).toMatchObject({ cpu: 0, memory: 0 });
      });

      it('runs an application of 2 instances as one Deployment, restarts it as a rollout, and stops it', async () => {
        const apps = k.admin.makeApiClient(AppsV1Api);
        const created = await call('/api/applications', {
          method: 'POST',
          body: {
            name: `replicas-${runtime.name}`,
            type: 'worker',
            image: RUN.image,
            command: RUN.command,
            resources: { cpu: 0.25, memory: 0.25 },
            instances: 2,
          },
        });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        const appId = created.body.id as string;
        const deployed = await call(`/api/applications/${appId}/deploy`, { method: 'POST' });
        expect(deployed.status, `${JSON.stringify(deployed.body)}\n${recentLogs()}`).toBe(200);
        const items = (await call('/api/containers')).body.items as { id: string; allocation: string }[];
        const live = items.filter((c) => c.allocation !== 'released');
        expect(live, `${JSON.stringify(items)}\n${recentLogs()}`).toHaveLength(1);
        const dep = await apps.readNamespacedDeployment({ name: live[0]!.id, namespace: ns });
        expect(dep.status?.readyReplicas).toBe(2);
        expect((await call('/resources')).body.current).toMatchObject({ cpu: 0.5, memory: 0.5 });

        const restarted = await call(`/api/applications/${appId}/restart`, { method: 'POST' });
        expect(restarted.status, JSON.stringify(restarted.body)).toBe(200);
        const after = await apps.readNamespacedDeployment({ name: live[0]!.id, namespace: ns });
        expect(after.spec?.template.metadata?.annotations?.['iarnet.io/restarted-at']).toBeDefined();

        const stopped = await call(`/api/applications/${appId}/stop`, { method: 'POST' });
        expect(stopped.status, JSON.stringify(stopped.body)).toBe(200);
        await expect(
          apps.readNamespacedDeployment({ name: live[0]!.id, namespace: ns }),
        ).rejects.toMatchObject({
          code: 404,
        });
        expect((await call('/resources')).body.current).toMatchObject({ cpu: 0, memory: 0 });
        expect((await call(`/api/applications/${appId}`, { method: 'DELETE' })).status).toBeLessThan(300);
      });

      it('follows a pod log over SSE', async () => {
        const started = await call('/run', { method: 'POST', body: { ...RUN, resource_id: resourceId } });
        expect(started.status, `${JSON.stringify(started.body)}\n${recentLogs()}`).toBe(202);
        const id = started.body.allocation_id;
        try {
          const ac = new AbortController();
          const sse = await fetch(`${node.url}/api/containers/${id}/logs?follow=true`, {
            headers: auth,
            signal: ac.signal,
          });
          expect(sse.status).toBe(200);
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
          expect(text, recentLogs()).toContain('hello from kwok');
          expect(text).toContain('iarnet test log line 2');
        } finally {
          expect((await call(`/api/containers/${id}/stop`, { method: 'POST' })).status).toBe(200);
        }
      });

      it('watches its pods: a pod deleted behind its back is released without a reconcile pass', async () => {
        const started = await call('/run', { method: 'POST', body: { ...RUN, resource_id: resourceId } });
        expect(started.status, `${JSON.stringify(started.body)}\n${recentLogs()}`).toBe(202);
        const id = started.body.allocation_id as string;
        const booked = async () => (await call('/resources')).body.current.cpu as number;
        expect(await booked()).toBe(0.25);
        await k.core.deleteNamespacedPod({
          name: started.body.container_id,
          namespace: ns,
          gracePeriodSeconds: 0,
        });
        // No periodic reconcile runs (interval 3600 s): only the pod watch can notice this.
        const t0 = Date.now();
        let cpu = await booked();
        while (cpu !== 0 && Date.now() - t0 < 10_000) {
          await new Promise((r) => setTimeout(r, 200));
          cpu = await booked();
        }
        expect(cpu, recentLogs()).toBe(0);
        // A vanished workload's allocation is released and removed from the list.
        expect((await call(`/api/containers/${id}`)).status).toBe(404);
      });
    });
  }
});
