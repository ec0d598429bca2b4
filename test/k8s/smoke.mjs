// Manual smoke check of an env from start-testenv.sh (not a vitest test):
//   set -a; . <state-dir>/env; set +a; node test/k8s/smoke.mjs
// Node for kwok -> namespace -> pod (spec.nodeName unless SMOKE_USE_SCHEDULER=1) -> Running
// -> logs (served by kwok) -> delete; SelfSubjectAccessReview as admin and as the limited token.
import * as k8s from '@kubernetes/client-node';

const t0 = Date.now();
const ms = () => `${Date.now() - t0}ms`;
const env = process.env;
function client(token) {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: env.K8S_API_URL, caFile: env.K8S_CA_FILE }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}
const admin = client(env.K8S_ADMIN_TOKEN);
const limited = client(env.K8S_LIMITED_TOKEN);
const core = admin.makeApiClient(k8s.CoreV1Api);
const useScheduler = env.SMOKE_USE_SCHEDULER === '1';
const ns = `smoke-${Date.now().toString(36)}`;
const node = 'kwok-node-0';

async function until(what, fn, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

await core
  .createNode({
    body: {
      metadata: {
        name: node,
        labels: { type: 'kwok', 'kubernetes.io/hostname': node },
        annotations: { 'kwok.x-k8s.io/node': 'fake' },
      },
      status: {
        allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
        capacity: { cpu: '32', memory: '256Gi', pods: '110' },
      },
    },
  })
  .catch((e) => {
    if (e.code !== 409) throw e;
  });
await until('node Ready', async () =>
  (await core.readNode({ name: node })).status?.conditions?.some(
    (c) => c.type === 'Ready' && c.status === 'True',
  ),
);
console.log(`node ${node} Ready (${ms()})`);

await core.createNamespace({ body: { metadata: { name: ns } } });
const pod = await core.createNamespacedPod({
  namespace: ns,
  body: {
    metadata: { name: 'hello' },
    spec: {
      ...(useScheduler ? {} : { nodeName: node }),
      containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', 'echo hi; sleep 3600'] }],
    },
  },
});
console.log(`pod created ${pod.metadata.namespace}/${pod.metadata.name} (${ms()})`);
const running = await until('pod Running', async () => {
  const p = await core.readNamespacedPod({ namespace: ns, name: 'hello' });
  return p.status?.phase === 'Running' ? p : undefined;
});
console.log(`pod Running on ${running.spec.nodeName} podIP=${running.status.podIP} (${ms()})`);

try {
  const logs = await core.readNamespacedPodLog({ namespace: ns, name: 'hello', container: 'main' });
  console.log(`logs: ${JSON.stringify(logs)} (${ms()})`);
} catch (e) {
  console.log(`logs FAILED: ${e.code ?? ''} ${e.body ?? e.message}`);
}

await core.deleteNamespacedPod({ namespace: ns, name: 'hello', gracePeriodSeconds: 0 });
await until('pod gone', async () => {
  try {
    await core.readNamespacedPod({ namespace: ns, name: 'hello' });
    return false;
  } catch (e) {
    return e.code === 404;
  }
});
console.log(`pod deleted (${ms()})`);

async function ssar(kc, label) {
  const r = await kc.makeApiClient(k8s.AuthorizationV1Api).createSelfSubjectAccessReview({
    body: { spec: { resourceAttributes: { namespace: ns, verb: 'create', resource: 'pods' } } },
  });
  console.log(`SSAR ${label}: create pods in ${ns} allowed=${r.status.allowed} ${r.status.reason ?? ''}`);
  return r.status.allowed;
}
const a = await ssar(admin, 'admin');
const l = await ssar(limited, 'limited');
const who = await limited.makeApiClient(k8s.AuthenticationV1Api).createSelfSubjectReview({ body: {} });
console.log(`limited token is ${who.status.userInfo.username} groups=${who.status.userInfo.groups}`);
await core.deleteNamespace({ name: ns });
console.log(`done (${ms()})`);
if (!a || l) process.exit(1);
