/**
 * A real `iarnet` process for the Kubernetes test files: one identity (node id + data dir) that
 * can be started, stopped and restarted, logged in as the admin, with no local Docker resource
 * (every run lands on a cluster). Refreshes resources every 2 s so status and measured usage
 * follow the cluster quickly.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './runtimes.ts';
import { type RunningIarnet, spawnIarnet } from './spawn-iarnet.ts';

const IARNET = [process.execPath, '--import', 'tsx', join(ROOT, 'core/cli.ts')];
const PASSWORD = 'kubernetes-admin-pw-1';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Probe until `done` holds or the bound passes; the last value either way. */
export async function waitFor<T>(probe: () => Promise<T>, done: (v: T) => boolean, boundMs = 20_000) {
  const t0 = Date.now();
  let last = await probe();
  while (!done(last) && Date.now() - t0 < boundMs) {
    await sleep(200);
    last = await probe();
  }
  return last;
}

export class K8sIarnetNode {
  readonly nodeId = `k8s-${randomBytes(4).toString('hex')}`;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'iarnet-k8s-node-'));
  readonly configFile = join(this.dataDir, 'config.yaml');
  proc: RunningIarnet | undefined;
  token = '';
  readonly namespace: string;
  readonly extra: { env?: Record<string, string>; args?: string[] };

  /**
   * `namespace`: the runner's default namespace (runner_kubernetes.namespace); `extra`: more
   * environment and CLI arguments (e.g. in-cluster mode).
   */
  constructor(namespace: string, extra: { env?: Record<string, string>; args?: string[] } = {}) {
    this.namespace = namespace;
    this.extra = extra;
    writeFileSync(
      this.configFile,
      'platform:\n  reconcile_interval: 1\n  start_grace: 5\nresources:\n  refresh_interval: 2\n',
    );
  }

  async start(): Promise<void> {
    this.proc = await spawnIarnet(IARNET, {
      dataDir: this.dataDir,
      args: ['--config', this.configFile, ...(this.extra.args ?? [])],
      env: {
        IARNET_ADMIN_PASSWORD: PASSWORD,
        IARNET_NODE_ID: this.nodeId,
        IARNET_RESOURCE_LIMITS__CPU: '4',
        IARNET_RESOURCE_LIMITS__MEMORY: '8Gi',
        IARNET_RESOURCE_LIMITS__GPU: '0',
        IARNET_RUNNER_KUBERNETES__NAMESPACE: this.namespace,
        IARNET_RUNNER_DOCKER__DEFAULT_SOCKET: join(this.dataDir, 'no-docker.sock'),
        ...this.extra.env,
      },
    });
    const ready = await waitFor(
      async () => (await fetch(`${this.proc!.url}/readyz`).catch(() => undefined))?.status ?? 0,
      (s) => s === 200,
      30_000,
    );
    if (ready !== 200) throw new Error(`iarnet not ready (readyz ${ready})`);
    const login = await fetch(`${this.proc.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    if (login.status !== 200) throw new Error(`admin login failed: ${login.status}`);
    this.token = (await login.json()).token;
  }

  call(path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
    if (!this.proc) throw new Error('the node is not running');
    return fetch(`${this.proc.url}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(60_000),
    });
  }

  /** Status and parsed body (res.json() is untyped: tests check the fields they expect). */
  async json(path: string, init: { method?: string; body?: unknown } = {}) {
    const res = await this.call(path, init);
    return { status: res.status, body: await res.json().catch(() => undefined) };
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.proc?.stop(signal);
    this.proc = undefined;
  }

  /** Stop and remove the data dir. */
  async dispose(): Promise<void> {
    await this.stop().catch(() => undefined);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
