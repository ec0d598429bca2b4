/**
 * The Helm chart deploy/helm/iarnet, rendered by a real `helm` (built from Go modules by
 * test/k8s/build-helm.sh) and applied to a real kube-apiserver (test/k8s/start-testenv.sh, kwok
 * simulating the nodes). Checks what the rendered objects say (kinds, ports, probes, security
 * context, RBAC, the config file — fed to IARNet's own config loader), that `helm lint` passes,
 * that bad values are refused by values.schema.json, and that the manifests are accepted by the
 * API server for real: the StatefulSet's pods are created, scheduled and (faked by kwok) Running,
 * their volumes bound, the headless Service lists them by the names the config file gossips to,
 * and the ServiceAccount's own token can do what IARNet needs and no more.
 * In CI (CI=true) a missing helm or Kubernetes binary fails the run.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type RequestOptions, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { loadConfig } from '../../core/kernel/config.ts';
import { discoveryConfigSchema } from '../../plugins/discovery/config.ts';
import { ROOT, unavailable } from '../support/runtimes.ts';
import { spawnIarnet } from '../support/spawn-iarnet.ts';

const run = promisify(execFile);
const CHART = join(ROOT, 'deploy/helm/iarnet');
const K8S_DIR = join(ROOT, 'test/k8s');
const RELEASE = 'hc';
const FULLNAME = 'hc-iarnet';
const PEERS = 'hc-iarnet-peers';

const printBin = (script: string) =>
  execFileSync('bash', [join(K8S_DIR, script), '--print-bin'], { encoding: 'utf8' }).trim();
const HELM = process.env.IARNET_HELM ?? printBin('build-helm.sh');
const K8S_BIN = process.env.IARNET_K8S_BIN ?? printBin('build-testenv.sh');
const K8S_NEEDED = ['etcd', 'kube-apiserver', 'kwok', 'kube-scheduler', 'kube-controller-manager'];

const haveHelm =
  existsSync(HELM) || unavailable(`helm is not built (${HELM}); run test/k8s/build-helm.sh`) !== 'skip';
const missingK8s = K8S_NEEDED.filter((b) => !existsSync(join(K8S_BIN, b)));
const haveK8s =
  missingK8s.length === 0 ||
  unavailable(
    `Kubernetes test binaries missing in ${K8S_BIN}: ${missingK8s.join(', ')}; run test/k8s/build-testenv.sh`,
  ) !== 'skip';

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    uid?: string;
    resourceVersion?: string;
  };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field below
  [k: string]: any;
};

/** `helm template` → the rendered objects, in helm's install order. */
async function render(namespace: string, args: string[] = []): Promise<Obj[]> {
  const { stdout } = await run(HELM, ['template', RELEASE, CHART, '--namespace', namespace, ...args], {
    maxBuffer: 16 * 2 ** 20,
  });
  return parseAllDocuments(stdout)
    .map((d) => {
      if (d.errors.length) throw new Error(`helm rendered invalid YAML: ${d.errors[0]?.message}`);
      return d.toJS() as Obj | null;
    })
    .filter((o): o is Obj => o !== null);
}

/** `helm template` expected to fail: its stderr. */
async function renderError(args: string[]): Promise<string> {
  try {
    await run(HELM, ['template', RELEASE, CHART, ...args]);
  } catch (e) {
    return String((e as { stderr?: string }).stderr ?? e);
  }
  throw new Error(`helm template ${args.join(' ')} succeeded; expected a refusal`);
}

const one = (objs: Obj[], kind: string, name?: string) => {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0] as Obj;
};
const container = (sts: Obj) => sts.spec.template.spec.containers[0];
const configOf = (objs: Obj[]) =>
  parseYaml(one(objs, 'ConfigMap', FULLNAME).data['config.yaml']) as Record<string, unknown>;
const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

/** The env the kubelet would give pod `pod`: $(VAR) references expanded, secrets resolved. */
function podEnv(sts: Obj, pod: string, namespace: string, secret: Obj): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container(sts).env as k8s.V1EnvVar[]) {
    if (e.value !== undefined) env[e.name] = e.value.replace(/\$\((\w+)\)/g, (_, n: string) => env[n] ?? '');
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = pod;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = namespace;
    else if (e.valueFrom?.secretKeyRef) env[e.name] = b64(secret.data[e.valueFrom.secretKeyRef.key]);
  }
  return env;
}

describe.skipIf(!haveHelm)('helm chart: rendering', () => {
  let objs: Obj[];
  beforeAll(async () => {
    objs = await render('demo');
  });

  it('renders the objects of a k8s-mode install, and no Ingress by default', () => {
    expect(objs.map((o) => o.kind).sort()).toEqual(
      [
        'ClusterRole',
        'ClusterRoleBinding',
        'ConfigMap',
        'Role',
        'RoleBinding',
        'Secret',
        'Service',
        'Service',
        'ServiceAccount',
        'StatefulSet',
      ].sort(),
    );
    for (const o of objs) {
      expect(o.metadata.labels?.['app.kubernetes.io/instance']).toBe(RELEASE);
      if (!o.kind.startsWith('Cluster')) expect(o.metadata.namespace).toBe('demo');
    }
  });

  it('runs 3 replicas as a StatefulSet with a data volume per replica', () => {
    const sts = one(objs, 'StatefulSet', FULLNAME);
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.serviceName).toBe(PEERS);
    expect(sts.spec.template.spec.serviceAccountName).toBe(FULLNAME);
    const c = container(sts);
    expect(c.image).toBe('iarnet:latest');
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.args).toEqual(['start', '--config', '/etc/iarnet/config.yaml']);
    expect(c.ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'grpc', containerPort: 50051, protocol: 'TCP' },
    ]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.resources).toEqual({
      limits: { cpu: '500m', memory: '512Mi' },
      requests: { cpu: '100m', memory: '128Mi' },
    });
    const [claim] = sts.spec.volumeClaimTemplates;
    expect(claim.metadata.name).toBe('data');
    expect(claim.spec.resources.requests.storage).toBe('10Gi');
    const mounts = Object.fromEntries(
      (c.volumeMounts as { name: string; mountPath: string; readOnly?: boolean }[]).map((m) => [
        m.mountPath,
        m,
      ]),
    );
    expect(mounts['/data']?.name).toBe('data');
    expect(mounts['/etc/iarnet']).toMatchObject({ name: 'config', readOnly: true });
    expect(mounts['/tmp']?.name).toBe('tmp');
  });

  it('runs as non-root with a read-only root, no capabilities and the default seccomp profile', () => {
    const sts = one(objs, 'StatefulSet', FULLNAME);
    expect(sts.spec.template.spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      fsGroup: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container(sts).securityContext).toEqual({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(JSON.stringify(sts)).not.toMatch(/privileged|hostPath|hostNetwork|hostPID/);
  });

  it('exposes http 8080 and grpc 50051, and a headless Service for gossip', () => {
    const svc = one(objs, 'Service', FULLNAME);
    expect(svc.spec.type).toBe('ClusterIP');
    expect(svc.spec.ports).toEqual([
      { name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' },
      { name: 'grpc', port: 50051, targetPort: 'grpc', protocol: 'TCP' },
    ]);
    const peers = one(objs, 'Service', PEERS);
    expect(peers.spec.clusterIP).toBe('None');
    expect(peers.spec.publishNotReadyAddresses).toBe(true);
    expect(peers.spec.ports.find((p: { name: string }) => p.name === 'grpc').port).toBe(50051);
    expect(peers.spec.selector).toEqual(svc.spec.selector);
    expect(one(objs, 'StatefulSet').spec.selector.matchLabels).toEqual(svc.spec.selector);
  });

  it('writes a config file in k8s mode that IARNet itself accepts, with the pods as seeds', () => {
    const cfg = configOf(objs);
    const seeds = [0, 1, 2].map((i) => `${FULLNAME}-${i}.${PEERS}.demo.svc.cluster.local:50051`);
    expect(cfg).toMatchObject({
      mode: 'k8s',
      listen_addr: ':8080',
      peer_listen_addr: ':50051',
      data_dir: '/data',
      initial_peers: seeds,
      resource_limits: { cpu: '100', memory: '200Gi', gpu: '20' },
    });
    expect(JSON.stringify(cfg)).not.toMatch(/cluster_secret|password/);

    // Load it the way pod hc-iarnet-1 would: file + its environment, through IARNet's loader.
    const dir = mkdtempSync(join(tmpdir(), 'iarnet-helm-cfg-'));
    try {
      const file = join(dir, 'config.yaml');
      writeFileSync(file, one(objs, 'ConfigMap').data['config.yaml']);
      const sts = one(objs, 'StatefulSet');
      const env = podEnv(sts, `${FULLNAME}-1`, 'demo', one(objs, 'Secret', FULLNAME));
      const loaded = loadConfig({ file, env });
      expect(loaded.core.mode).toBe('k8s');
      expect(loaded.core.node_id).toBe(`${FULLNAME}-1`);
      expect(loaded.core.resource_limits).toMatchObject({ cpu: 100, memory: 200 * 2 ** 30, gpu: 20 });
      // Its advertised address is its own seed entry, so it never gossips with itself.
      expect(loaded.core.advertise_addr).toBe(seeds[1]);
      expect(loaded.core.initial_peers).toEqual(seeds);
      const discovery = v.parse(discoveryConfigSchema, loaded.sections.discovery);
      expect(discovery.cluster_secret.length).toBeGreaterThanOrEqual(32);
      expect(env.IARNET_ADMIN_PASSWORD?.length).toBeGreaterThanOrEqual(12);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("starts IARNet with the rendered config and a pod's environment: probes answer, the admin logs in", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iarnet-helm-start-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, one(objs, 'ConfigMap').data['config.yaml']);
    const env = podEnv(one(objs, 'StatefulSet'), `${FULLNAME}-0`, 'demo', one(objs, 'Secret', FULLNAME));
    // Loopback listeners and a temp data dir instead of :8080 and /data (flags beat file and env).
    const node = await spawnIarnet([process.execPath, '--import', 'tsx', join(ROOT, 'core/cli.ts')], {
      args: ['--config', file],
      env,
      dataDir: join(dir, 'data'),
    });
    try {
      for (const path of ['/healthz', '/readyz'])
        expect((await fetch(`${node.url}${path}`)).status).toBe(200);
      const login = await fetch(`${node.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: env.IARNET_ADMIN_PASSWORD }),
      });
      expect(login.status).toBe(200);
      const { token } = (await login.json()) as { token: string };
      const nodes = (await (
        await fetch(`${node.url}/api/nodes`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as { items: { id: string; grpc_address: string }[] };
      expect(nodes.items[0]).toMatchObject({
        id: `${FULLNAME}-0`,
        grpc_address: `${FULLNAME}-0.${PEERS}.demo.svc.cluster.local:50051`,
      });
    } finally {
      await node.stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('grants what the Kubernetes runner needs: pods, logs, events, quotas, deployments, metrics; nodes cluster-wide', () => {
    const rules = one(objs, 'Role', FULLNAME).rules as {
      apiGroups: string[];
      resources: string[];
      verbs: string[];
    }[];
    const verbs = (group: string, resource: string) =>
      rules
        .filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource))
        .flatMap((r) => r.verbs);
    expect(verbs('', 'pods')).toEqual(expect.arrayContaining(['create', 'delete', 'get', 'list', 'watch']));
    expect(verbs('', 'pods/log')).toEqual(['get']);
    expect(verbs('', 'events')).toEqual(expect.arrayContaining(['list', 'watch']));
    expect(verbs('', 'resourcequotas')).toEqual(expect.arrayContaining(['get', 'create', 'update']));
    expect(verbs('apps', 'deployments')).toEqual(expect.arrayContaining(['create', 'delete', 'watch']));
    expect(verbs('metrics.k8s.io', 'pods')).toEqual(expect.arrayContaining(['get', 'list']));
    expect(rules.flatMap((r) => r.verbs)).not.toContain('*');
    expect(rules.flatMap((r) => r.resources)).not.toContain('secrets');
    const rb = one(objs, 'RoleBinding', FULLNAME);
    expect(rb.roleRef).toMatchObject({ kind: 'Role', name: FULLNAME });
    expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: FULLNAME, namespace: 'demo' }]);
    const cr = one(objs, 'ClusterRole');
    expect(cr.rules).toEqual([
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['metrics.k8s.io'], resources: ['nodes'], verbs: ['get', 'list'] },
    ]);
    expect(one(objs, 'ClusterRoleBinding').subjects).toEqual(rb.subjects);
  });

  it('keeps secrets out of the ConfigMap and passes them as env from the Secret', () => {
    const secret = one(objs, 'Secret', FULLNAME);
    expect(Object.keys(secret.data).sort()).toEqual(['admin-password', 'cluster-secret']);
    const env = container(one(objs, 'StatefulSet')).env as k8s.V1EnvVar[];
    for (const [name, key] of [
      ['IARNET_DISCOVERY__CLUSTER_SECRET', 'cluster-secret'],
      ['IARNET_ADMIN_PASSWORD', 'admin-password'],
    ]) {
      expect(env.find((e) => e.name === name)?.valueFrom?.secretKeyRef).toEqual({ name: FULLNAME, key });
    }
  });

  it('follows a values override', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iarnet-helm-values-'));
    try {
      const values = join(dir, 'values.yaml');
      writeFileSync(
        values,
        [
          'replicaCount: 2',
          'image: {repository: registry.example/iarnet, tag: "1.2.3", pullPolicy: Always}',
          'service: {type: ClusterIP, port: 9090, grpcPort: 50052}',
          'ingress:',
          '  enabled: true',
          '  hosts: [{host: iarnet.test, paths: [{path: /, pathType: Prefix}]}]',
          '  tls: [{secretName: iarnet-tls, hosts: [iarnet.test]}]',
          'config:',
          '  mode: k8s',
          '  resourceLimits: {cpu: 8, memory: 16Gi, gpu: 0, storage: 500Gi}',
          '  logLevel: debug',
          '  initialPeers: ["other.example:50051"]',
          '  extra: {platform: {reconcile_interval: 5}}',
          'secrets: {existingSecret: my-iarnet-secrets}',
          'persistence: {enabled: false}',
          'rbac: {create: true, clusterRole: false, extraNamespaces: [workloads]}',
        ].join('\n'),
      );
      const o = await render('other', ['-f', values]);
      expect(o.filter((x) => x.kind === 'Secret' || x.kind.startsWith('Cluster'))).toEqual([]);
      const sts = one(o, 'StatefulSet');
      expect(sts.spec.replicas).toBe(2);
      expect(sts.spec.volumeClaimTemplates).toBeUndefined();
      expect(sts.spec.template.spec.volumes).toContainEqual({ name: 'data', emptyDir: {} });
      const c = container(sts);
      expect(c.image).toBe('registry.example/iarnet:1.2.3');
      expect(c.imagePullPolicy).toBe('Always');
      expect(c.ports.map((p: { containerPort: number }) => p.containerPort)).toEqual([9090, 50052]);
      expect(c.env.find((e: { name: string }) => e.name === 'IARNET_ADMIN_PASSWORD').valueFrom).toEqual({
        secretKeyRef: { name: 'my-iarnet-secrets', key: 'admin-password' },
      });
      expect(one(o, 'Service', FULLNAME).spec.ports.map((p: { port: number }) => p.port)).toEqual([
        9090, 50052,
      ]);
      const ing = one(o, 'Ingress', FULLNAME);
      expect(ing.spec.ingressClassName).toBe('nginx');
      expect(ing.spec.rules[0]).toEqual({
        host: 'iarnet.test',
        http: {
          paths: [
            {
              path: '/',
              pathType: 'Prefix',
              backend: { service: { name: FULLNAME, port: { name: 'http' } } },
            },
          ],
        },
      });
      expect(ing.spec.tls).toEqual([{ secretName: 'iarnet-tls', hosts: ['iarnet.test'] }]);
      expect(o.filter((x) => x.kind === 'Role').map((x) => x.metadata.namespace)).toEqual([
        'other',
        'workloads',
      ]);
      expect(configOf(o)).toMatchObject({
        listen_addr: ':9090',
        peer_listen_addr: ':50052',
        initial_peers: [
          `${FULLNAME}-0.${PEERS}.other.svc.cluster.local:50052`,
          `${FULLNAME}-1.${PEERS}.other.svc.cluster.local:50052`,
          'other.example:50051',
        ],
        resource_limits: { cpu: '8', memory: '16Gi', gpu: '0', storage: '500Gi' },
        logging: { level: 'debug' },
        platform: { reconcile_interval: 5 },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes helm lint --strict, and lint fails on bad values', async () => {
    const { stdout } = await run(HELM, ['lint', CHART, '--strict']);
    expect(stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    await expect(run(HELM, ['lint', CHART, '--strict', '--set', 'replicaCount=zero'])).rejects.toMatchObject({
      stdout: expect.stringMatching(/replicaCount/),
    });
  });

  it.each([
    [['--set', 'config.mode=standalone'], /config\/mode.*k8s/],
    [['--set', 'replicaCount=0'], /replicaCount.*minimum/],
    [['--set', 'service.port=70000'], /service\/port.*maximum/],
    [['--set', 'service.grpcPort=8080'], /must be different ports/],
    [['--set', 'image.pullPolicy=Sometimes'], /pullPolicy.*one of/],
    [['--set', 'config.resourceLimits.cpu=four'], /resourceLimits\/cpu/],
    [['--set', 'config.resourceLimits.memory=1.5'], /resourceLimits\/memory/],
    [['--set', 'config.resourceLimits.gpu=0.5'], /resourceLimits\/gpu/],
    [['--set', 'secrets.clusterSecret=too-short'], /secrets\/clusterSecret/],
    [['--set', 'secrets.adminPassword=short'], /secrets\/adminPassword/],
    [['--set', 'podSecurityContext.runAsNonRoot=false'], /runAsNonRoot.*true/],
    [['--set', 'securityContext.allowPrivilegeEscalation=true'], /allowPrivilegeEscalation/],
    [['--set', 'persistence.size=lots'], /persistence\/size/],
    [['--set', 'ingress.hosts[0].paths[0].pathType=Sometimes'], /pathType/],
    [['--set', 'bogus=1'], /additional properties 'bogus'/],
    [['--set', 'config.extra.data_dir=/elsewhere'], /config\.extra\.data_dir: the chart sets data_dir/],
  ])('refuses bad values %j', async (args, message) => {
    expect(await renderError(args)).toMatch(message);
  });
});

/**
 * Server-side apply of an object exactly as rendered, with strict field validation, like
 * `kubectl apply --server-side`. (KubernetesObjectApi.patch serializes through the typed models,
 * which silently drops fields they do not know — a typo in the chart would pass unnoticed.)
 * The client-node discovery maps kind → resource path; the request is a plain HTTPS PATCH.
 */
class StrictApply extends k8s.KubernetesObjectApi {
  async apply(kc: k8s.KubeConfig, o: Obj): Promise<Obj> {
    const path = await this.specUriPath(structuredClone(o), 'patch');
    const url = new URL(`${kc.getCurrentCluster()?.server}${path}`);
    url.search = new URLSearchParams({
      fieldManager: 'iarnet-helm-test',
      force: 'true',
      fieldValidation: 'Strict',
    }).toString();
    const opts: RequestOptions = {
      method: 'PATCH',
      headers: { 'content-type': 'application/apply-patch+yaml', accept: 'application/json' },
    };
    await kc.applyToHTTPSOptions(opts);
    const body = JSON.stringify(o); // JSON is YAML
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(url, opts, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        r.on('error', reject);
      });
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error(`PATCH ${url.pathname}: no answer in 30 s`)));
      req.end(body);
    });
    if (res.status !== 200 && res.status !== 201) {
      throw new Error(`apply ${o.kind}/${o.metadata.name}: HTTP ${res.status}: ${res.text.slice(0, 500)}`);
    }
    return JSON.parse(res.text) as Obj;
  }
}

describe.skipIf(!haveHelm || !haveK8s)('helm chart: applied to a real API server', () => {
  const NODE = 'kwok-node-0';
  const STORAGE_CLASS = 'iarnet-helm-test';
  const ns = `helm-${randomBytes(3).toString('hex')}`;
  let stateDir = '';
  let started = false;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let objs: Obj[];

  const until = async <T>(
    what: string,
    fn: () => Promise<T | undefined | false>,
    ms = 60_000,
  ): Promise<T> => {
    const end = Date.now() + ms;
    let last: unknown;
    for (;;) {
      try {
        const v = await fn();
        if (v) return v;
      } catch (e) {
        last = e;
      }
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const kubeconfig = (server: string, caFile: string, token: string) => {
    const c = new k8s.KubeConfig();
    c.loadFromOptions({
      clusters: [{ name: 'test', server, caFile }],
      users: [{ name: 'u', token }],
      contexts: [{ name: 'test', cluster: 'test', user: 'u' }],
      currentContext: 'test',
    });
    return c;
  };

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'iarnet-helm-k8s-'));
    // The controller-manager runs the StatefulSet, endpoint-slice and PV-binding controllers.
    await run('bash', [join(K8S_DIR, 'start-testenv.sh'), stateDir], {
      env: { ...process.env, IARNET_K8S_BIN: K8S_BIN, IARNET_K8S_CONTROLLER_MANAGER: '1' },
      timeout: 110_000,
      maxBuffer: 4 * 2 ** 20,
    });
    started = true;
    const env: Record<string, string> = Object.fromEntries(
      readFileSync(join(stateDir, 'env'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const need = (k: string) => env[k] ?? expect.fail(`${k} missing from ${stateDir}/env`);
    kc = kubeconfig(need('K8S_API_URL'), need('K8S_CA_FILE'), need('K8S_ADMIN_TOKEN'));
    core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNode({
      body: {
        metadata: {
          name: NODE,
          labels: { type: 'kwok', 'kubernetes.io/hostname': NODE },
          annotations: { 'kwok.x-k8s.io/node': 'fake' },
        },
        status: {
          allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
          capacity: { cpu: '32', memory: '256Gi', pods: '110' },
        },
      },
    });
    // No storage provisioner here: pre-create a volume per replica for the claims to bind to.
    await kc.makeApiClient(k8s.StorageV1Api).createStorageClass({
      body: {
        metadata: { name: STORAGE_CLASS },
        provisioner: 'kubernetes.io/no-provisioner',
        volumeBindingMode: 'Immediate',
      },
    });
    for (let i = 0; i < 3; i++) {
      await core.createPersistentVolume({
        body: {
          metadata: { name: `${ns}-pv-${i}` },
          spec: {
            storageClassName: STORAGE_CLASS,
            capacity: { storage: '10Gi' },
            accessModes: ['ReadWriteOnce'],
            hostPath: { path: `/tmp/${ns}-pv-${i}` },
          },
        },
      });
    }
    await core.createNamespace({ body: { metadata: { name: ns } } });
    objs = await render(ns, ['--set', `persistence.storageClass=${STORAGE_CLASS}`]);
  });

  afterAll(async () => {
    if (!started) return;
    await run('bash', [join(K8S_DIR, 'stop-testenv.sh'), stateDir], { timeout: 60_000 }).catch((e) =>
      console.warn(`stop-testenv failed: ${e}`),
    );
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('accepts every rendered object (strict server-side apply), and a second apply changes nothing', async () => {
    const api = kc.makeApiClient(StrictApply);
    const apply = (o: Obj) => api.apply(kc, o);
    // The check is strict: a field the API server does not know is refused, not dropped.
    // (Server-side apply answers 500 "field not declared in schema" for it, Kubernetes 1.34.)
    const sts = one(objs, 'StatefulSet');
    await expect(apply({ ...sts, spec: { ...sts.spec, replicaCount: 3 } })).rejects.toThrow(
      /HTTP 500.*\.spec\.replicaCount: field not declared in schema/,
    );
    const first = new Map<string, string | undefined>();
    for (const o of objs) {
      const live = await apply(o);
      expect(live.metadata?.uid, `${o.kind}/${o.metadata.name}`).toBeTruthy();
      first.set(`${o.kind}/${o.metadata.name}`, live.metadata?.resourceVersion);
    }
    for (const o of objs) {
      if (o.kind === 'StatefulSet') continue; // its controller updates the status in between
      const live = await apply(o);
      expect(live.metadata?.resourceVersion, `${o.kind}/${o.metadata.name}`).toBe(
        first.get(`${o.kind}/${o.metadata.name}`),
      );
    }
    // Read back through the typed clients: what was stored is what was rendered.
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const stored = await apps.readNamespacedStatefulSet({ name: FULLNAME, namespace: ns });
    expect(stored.spec?.replicas).toBe(3);
    expect(stored.spec?.serviceName).toBe(PEERS);
    expect(stored.spec?.template.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
    const cm = await core.readNamespacedConfigMap({ name: FULLNAME, namespace: ns });
    expect(parseYaml(cm.data?.['config.yaml'] ?? '')).toMatchObject({ mode: 'k8s' });
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await expect(rbac.readNamespacedRole({ name: FULLNAME, namespace: ns })).resolves.toBeTruthy();
    await expect(rbac.readClusterRole({ name: `${ns}-${FULLNAME}` })).resolves.toBeTruthy();
  });

  /**
   * What the cluster looks like now, for a timeout's message: a wait that fails in CI (once, a
   * StatefulSet never became ready within 60 s; 0.5 s alone) must say which controller stalled.
   */
  const clusterState = async (): Promise<string> => {
    const lines: string[] = [];
    const safe = async (what: string, fn: () => Promise<string[]>) => {
      try {
        lines.push(`${what}:`, ...(await fn()).map((l) => `  ${l}`));
      } catch (e) {
        lines.push(`${what}: (unreadable: ${e})`);
      }
    };
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    await safe('statefulset', async () => {
      const s = await apps.readNamespacedStatefulSet({ name: FULLNAME, namespace: ns });
      return [JSON.stringify(s.status)];
    });
    await safe('pods', async () =>
      (await core.listNamespacedPod({ namespace: ns })).items.map(
        (p) =>
          `${p.metadata?.name} ${p.status?.phase} node=${p.spec?.nodeName ?? '-'} ` +
          (p.status?.conditions ?? []).map((c) => `${c.type}=${c.status}`).join(','),
      ),
    );
    await safe('claims', async () =>
      (await core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items.map(
        (c) => `${c.metadata?.name} ${c.status?.phase} volume=${c.spec?.volumeName ?? '-'}`,
      ),
    );
    await safe('events', async () =>
      (await core.listNamespacedEvent({ namespace: ns })).items
        .slice(-20)
        .map((e) => `${e.involvedObject.kind}/${e.involvedObject.name} ${e.reason}: ${e.message}`),
    );
    for (const log of ['kube-controller-manager', 'kwok']) {
      const file = join(stateDir, 'logs', `${log}.log`);
      if (existsSync(file))
        lines.push(`${log}.log (tail):`, ...readFileSync(file, 'utf8').split('\n').slice(-15));
    }
    return lines.join('\n');
  };

  it('the StatefulSet creates its pods with bound volumes, scheduled and Running (kwok)', async () => {
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    await until('3 ready replicas', async () => {
      const s = await apps.readNamespacedStatefulSet({ name: FULLNAME, namespace: ns });
      return s.status?.readyReplicas === 3;
    }).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${await clusterState()}`);
    });
    const pods = await core.listNamespacedPod({
      namespace: ns,
      labelSelector: `app.kubernetes.io/instance=${RELEASE}`,
    });
    expect(pods.items.map((p) => p.metadata?.name).sort()).toEqual([0, 1, 2].map((i) => `${FULLNAME}-${i}`));
    for (const p of pods.items) {
      expect(p.status?.phase).toBe('Running');
      expect(p.spec?.nodeName).toBe(NODE);
      expect(p.spec?.serviceAccountName).toBe(FULLNAME);
      // Stable DNS identity: <pod>.<headless service>.
      expect(p.spec?.hostname).toBe(p.metadata?.name);
      expect(p.spec?.subdomain).toBe(PEERS);
    }
    const claims = await core.listNamespacedPersistentVolumeClaim({ namespace: ns });
    expect(claims.items.map((c) => [c.metadata?.name, c.status?.phase]).sort()).toEqual(
      [0, 1, 2].map((i) => [`data-${FULLNAME}-${i}`, 'Bound']),
    );
  });

  it('the headless Service lists every replica under the name the config file gossips to', async () => {
    const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    const seeds = (configOf(objs).initial_peers as string[]).map((s) => s.split('.')[0]).sort();
    const hostnames = await until('3 endpoints on the headless service', async () => {
      const slices = await discovery.listNamespacedEndpointSlice({
        namespace: ns,
        labelSelector: `kubernetes.io/service-name=${PEERS}`,
      });
      const names = slices.items.flatMap((s) => s.endpoints.map((e) => e.hostname ?? ''));
      return names.length === 3 ? names.sort() : undefined;
    });
    expect(hostnames).toEqual(seeds);
  });

  it('helm install, upgrade and uninstall work against it; generated secrets survive the upgrade', async () => {
    const ns2 = `${ns}-release`;
    const helm = (...args: string[]) =>
      run(HELM, [...args, '--namespace', ns2], {
        env: {
          ...process.env,
          KUBECONFIG: join(stateDir, 'kubeconfig'),
          HELM_CACHE_HOME: join(stateDir, 'helm-cache'),
          HELM_CONFIG_HOME: join(stateDir, 'helm-config'),
          HELM_DATA_HOME: join(stateDir, 'helm-data'),
        },
      });
    const install = await helm(
      'install',
      RELEASE,
      CHART,
      '--create-namespace',
      '--set',
      'replicaCount=1',
      '--set',
      'persistence.enabled=false',
    );
    expect(install.stdout).toMatch(/STATUS: deployed/);
    expect(install.stdout).toContain(`port-forward svc/${FULLNAME} 8080:8080`);
    expect(install.stdout).toMatch(/WARNING: persistence.enabled=false/);
    const secret = async () =>
      (await core.readNamespacedSecret({ name: FULLNAME, namespace: ns2 })).data ?? {};
    const before = await secret();
    expect(b64(before['admin-password'] ?? '')).toMatch(/^[A-Za-z0-9]{24}$/);
    const cm = async () =>
      parseYaml(
        (await core.readNamespacedConfigMap({ name: FULLNAME, namespace: ns2 })).data?.['config.yaml'] ?? '',
      );
    expect(await cm()).toMatchObject({ logging: { level: 'info' } });

    await helm('upgrade', RELEASE, CHART, '--reuse-values', '--set', 'config.logLevel=debug');
    expect(await cm()).toMatchObject({ logging: { level: 'debug' } });
    // lookup found the live Secret: the admin password and cluster secret did not change.
    expect(await secret()).toEqual(before);

    await helm('uninstall', RELEASE);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    await expect(apps.readNamespacedStatefulSet({ name: FULLNAME, namespace: ns2 })).rejects.toMatchObject({
      code: 404,
    });
    // Kept on purpose (helm.sh/resource-policy: keep): volumes may hold databases it unlocks.
    expect(await secret()).toEqual(before);
  });

  it("the ServiceAccount's own token may do what IARNet needs here, and no more", async () => {
    const token = await core.createNamespacedServiceAccountToken({
      name: FULLNAME,
      namespace: ns,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const cluster = kc.getCurrentCluster();
    const sa = kubeconfig(cluster?.server ?? '', cluster?.caFile ?? '', token.status?.token ?? '');
    const authz = sa.makeApiClient(k8s.AuthorizationV1Api);
    const can = async (verb: string, resource: string, namespace?: string, group = '', subresource = '') =>
      (
        await authz.createSelfSubjectAccessReview({
          body: { spec: { resourceAttributes: { verb, resource, namespace, group, subresource } } },
        })
      ).status?.allowed;
    for (const verb of ['create', 'delete', 'get', 'list', 'watch'])
      expect(await can(verb, 'pods', ns)).toBe(true);
    expect(await can('get', 'pods', ns, '', 'log')).toBe(true);
    expect(await can('create', 'deployments', ns, 'apps')).toBe(true);
    expect(await can('create', 'resourcequotas', ns)).toBe(true);
    expect(await can('list', 'nodes')).toBe(true);
    expect(await can('list', 'pods', ns, 'metrics.k8s.io')).toBe(true);
    // Not elsewhere, not secrets, not nodes' writes.
    expect(await can('create', 'pods', 'default')).toBe(false);
    expect(await can('get', 'secrets', ns)).toBe(false);
    expect(await can('delete', 'nodes')).toBe(false);

    // And for real: the token lists its namespace's pods and the nodes, and is refused elsewhere.
    const saCore = sa.makeApiClient(k8s.CoreV1Api);
    const pods = await saCore.listNamespacedPod({ namespace: ns });
    expect(pods.items).toHaveLength(3);
    const nodes = await saCore.listNode();
    expect(nodes.items.map((n) => n.metadata?.name)).toContain(NODE);
    await expect(saCore.listNamespacedPod({ namespace: 'default' })).rejects.toMatchObject({ code: 403 });
    await expect(saCore.listNamespacedSecret({ namespace: ns })).rejects.toMatchObject({ code: 403 });
  });
});
