/**
 * A real Kubernetes control plane for one test file (test/k8s/start-testenv.sh: etcd +
 * kube-apiserver + kwok + kube-scheduler [+ kube-controller-manager]), and admin helpers.
 *
 *   const k8s = await startK8sEnv({ controllerManager: true });   // undefined → skip (not in CI)
 *   describe.skipIf(!k8s)(...)
 *   afterAll(() => k8s?.stop());
 *
 * When the binaries from test/k8s/build-testenv.sh are missing the file is skipped loudly;
 * with CI=true it fails instead. Everything listens on 127.0.0.1; stop() stops only the pids
 * the start script recorded (and an API server this helper restarted).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { ROOT, unavailable } from './runtimes.ts';

const run = promisify(execFile);
const SCRIPTS = join(ROOT, 'test/k8s');
const BINARIES = ['etcd', 'kube-apiserver', 'kwok', 'kube-scheduler'];

export interface K8sEnv {
  dir: string;
  apiUrl: string;
  caFile: string;
  /** The CA certificate (PEM) of the API server. */
  ca: string;
  adminToken: string;
  /** Authenticates as system:serviceaccount:iarnet-test:limited, with no rights until granted. */
  limitedToken: string;
  limitedUser: string;
  admin: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  rbac: k8s.RbacAuthorizationV1Api;
  /** Create (idempotently) a kwok node with this allocatable and wait until it is Ready. */
  addNode(name: string, allocatable: Record<string, string>): Promise<void>;
  /** Create a namespace (idempotent). */
  namespace(name: string): Promise<void>;
  /** Grant the limited token a Role in `namespace` (replacing an earlier grant) + a ClusterRole for nodes when `nodes`. */
  grantLimited(namespace: string, rules: k8s.V1PolicyRule[], opts?: { nodes?: boolean }): Promise<void>;
  /** Pods of a namespace, optionally by label selector. */
  pods(namespace: string, labelSelector?: string): Promise<k8s.V1Pod[]>;
  /** Stop only the kube-apiserver (etcd, kwok keep their state); startApiServer() brings it back. */
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

/** The rights the runner needs in its namespace ("test connection" checks exactly these). */
export const RUNNER_RULES: k8s.V1PolicyRule[] = [
  { apiGroups: [''], resources: ['pods'], verbs: ['create', 'delete', 'get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['create', 'delete', 'get', 'list', 'patch'] },
];

async function binDir(): Promise<string> {
  const { stdout } = await run(join(SCRIPTS, 'build-testenv.sh'), ['--print-bin']);
  return stdout.trim();
}

/** Why the env cannot start here, or undefined when the binaries are present. */
export async function k8sEnvMissing(opts: { metrics?: boolean } = {}): Promise<string | undefined> {
  const bin = process.env.IARNET_K8S_BIN ?? (await binDir().catch(() => ''));
  const absent = [...BINARIES, ...(opts.metrics ? ['metrics-server'] : [])].filter(
    (b) => !existsSync(join(bin, b)),
  );
  return absent.length
    ? `Kubernetes test binaries missing in ${bin || '(unknown)'}: ${absent.join(', ')} (run test/k8s/build-testenv.sh)`
    : undefined;
}

function parseEnvFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^['"]|['"]$/g, '');
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start an env for this test file; undefined (after a loud warning) when it cannot run here outside CI. */
export async function startK8sEnv(
  opts: {
    controllerManager?: boolean;
    /** Serve metrics.k8s.io: kwok's emulated kubelet metrics + a real metrics-server behind an APIService. */
    metrics?: boolean;
  } = {},
): Promise<K8sEnv | undefined> {
  const missing = await k8sEnvMissing(opts);
  if (missing) {
    unavailable(missing);
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'iarnet-k8s-env-'));
  try {
    await run(join(SCRIPTS, 'start-testenv.sh'), [dir], {
      env: {
        ...process.env,
        IARNET_K8S_CONTROLLER_MANAGER: opts.controllerManager ? '1' : '0',
        IARNET_K8S_METRICS: opts.metrics ? '1' : '0',
      },
      timeout: 150_000,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`start-testenv.sh failed:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
  const env = parseEnvFile(join(dir, 'env'));
  const apiUrl = env.K8S_API_URL!;
  const caFile = env.K8S_CA_FILE!;
  const admin = new k8s.KubeConfig();
  admin.loadFromOptions({
    clusters: [{ name: 'c', server: apiUrl, caFile }],
    users: [{ name: 'u', token: env.K8S_ADMIN_TOKEN }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
  const pidsFile = join(dir, 'pids');
  let apiserverArgs: string[] | undefined;

  const apiserverPid = () => {
    const line = readFileSync(pidsFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('kube-apiserver '));
    return line ? Number(line.split(' ')[1]) : undefined;
  };
  const alive = (pid: number) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return !/\) Z /.test(stat);
    } catch {
      return false;
    }
  };
  const ready = async (boundMs: number) => {
    const end = Date.now() + boundMs;
    while (Date.now() < end) {
      const ok = await core
        .listNamespace({ limit: 1 })
        .then(() => true)
        .catch(() => false);
      if (ok) return;
      await sleep(200);
    }
    throw new Error('kube-apiserver did not come back');
  };
  // Whether the limited user may create pods, per namespace it was granted in (SubjectAccessReview).
  const authz = admin.makeApiClient(k8s.AuthorizationV1Api);
  const grantedNamespaces = new Set<string>();
  let grantsBefore: Record<string, boolean> | undefined;
  const limitedGrants = async (): Promise<Record<string, boolean>> => {
    const out: Record<string, boolean> = {};
    for (const namespace of grantedNamespaces) {
      const review = await authz.createSubjectAccessReview({
        body: {
          spec: {
            user: env.K8S_LIMITED_USER!,
            resourceAttributes: { namespace, verb: 'create', resource: 'pods' },
          },
        },
      });
      out[namespace] = review.status?.allowed === true;
    }
    return out;
  };
  const ignore409 = (e: unknown) => {
    if ((e as { code?: number }).code !== 409) throw e;
  };

  const self: K8sEnv = {
    dir,
    apiUrl,
    caFile,
    ca: readFileSync(caFile, 'utf8'),
    adminToken: env.K8S_ADMIN_TOKEN!,
    limitedToken: env.K8S_LIMITED_TOKEN!,
    limitedUser: env.K8S_LIMITED_USER!,
    admin,
    core,
    rbac,
    async addNode(name, allocatable) {
      await core
        .createNode({
          body: {
            metadata: {
              name,
              labels: { type: 'kwok', 'kubernetes.io/hostname': name },
              annotations: {
                'kwok.x-k8s.io/node': 'fake',
                // Where kwok serves this node's emulated kubelet metrics (read by metrics-server, when started).
                'metrics.k8s.io/resource-metrics-path': `/metrics/nodes/${name}/metrics/resource`,
              },
            },
            status: { allocatable, capacity: allocatable },
          },
        })
        .catch(ignore409);
      const end = Date.now() + 60_000;
      for (;;) {
        const n = await core.readNode({ name });
        const isReady = n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        const tainted = n.spec?.taints?.some((t) => t.key.startsWith('node.kubernetes.io/'));
        if (isReady && !tainted) return;
        if (Date.now() > end) throw new Error(`node ${name} not Ready`);
        await sleep(100);
      }
    },
    async namespace(name) {
      await core.createNamespace({ body: { metadata: { name } } }).catch(ignore409);
    },
    async grantLimited(namespace, rules, o = {}) {
      grantedNamespaces.add(namespace);
      const subjects = [{ kind: 'User', name: self.limitedUser, apiGroup: 'rbac.authorization.k8s.io' }];
      const role = { metadata: { name: 'iarnet-runner' }, rules };
      // A second grant replaces the first (tests widen the rights step by step).
      await rbac.createNamespacedRole({ namespace, body: role }).catch(async (e) => {
        ignore409(e);
        await rbac.replaceNamespacedRole({ name: 'iarnet-runner', namespace, body: role });
      });
      await rbac
        .createNamespacedRoleBinding({
          namespace,
          body: {
            metadata: { name: 'iarnet-runner' },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'iarnet-runner' },
            subjects,
          },
        })
        .catch(ignore409);
      if (o.nodes) {
        await rbac
          .createClusterRole({
            body: {
              metadata: { name: 'iarnet-nodes-reader' },
              rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list'] }],
            },
          })
          .catch(ignore409);
        await rbac
          .createClusterRoleBinding({
            body: {
              metadata: { name: 'iarnet-nodes-reader' },
              roleRef: {
                apiGroup: 'rbac.authorization.k8s.io',
                kind: 'ClusterRole',
                name: 'iarnet-nodes-reader',
              },
              subjects,
            },
          })
          .catch(ignore409);
      }
    },
    async pods(namespace, labelSelector) {
      return (await core.listNamespacedPod({ namespace, ...(labelSelector ? { labelSelector } : {}) })).items;
    },
    async stopApiServer() {
      const pid = apiserverPid();
      if (!pid || !alive(pid)) throw new Error('kube-apiserver is not running');
      grantsBefore = await limitedGrants();
      apiserverArgs = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      process.kill(pid, 'SIGTERM');
      const end = Date.now() + 20_000;
      while (alive(pid) && Date.now() < end) await sleep(100);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    },
    async startApiServer() {
      if (!apiserverArgs) throw new Error('stopApiServer() first');
      const [cmd, ...args] = apiserverArgs;
      const log = openSync(join(dir, 'logs', 'kube-apiserver.restarted.log'), 'a');
      const child = spawn(cmd!, args, { detached: true, stdio: ['ignore', log, log] });
      child.unref();
      // stop-testenv.sh stops what the pids file lists: record the new process there.
      const lines = readFileSync(pidsFile, 'utf8')
        .split('\n')
        .map((l) => (l.startsWith('kube-apiserver ') ? `kube-apiserver ${child.pid}` : l));
      writeFileSync(pidsFile, lines.join('\n'));
      await ready(60_000);
      // A restarted API server answers before its RBAC authorizer has read the Roles back: the
      // limited token gets 403 for a moment. Wait until it may again do what it could before.
      const end = Date.now() + 60_000;
      while (grantsBefore && Date.now() < end) {
        const now = await limitedGrants().catch(() => undefined);
        if (now && Object.entries(grantsBefore).every(([ns, ok]) => now[ns] === ok)) break;
        await sleep(200);
      }
    },
    async stop() {
      await run(join(SCRIPTS, 'stop-testenv.sh'), [dir], { timeout: 60_000 }).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}
