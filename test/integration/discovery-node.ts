/**
 * One real IARNet process for the discovery tests: its own loopback address (127.0.0.x), peer
 * port, data dir and config file; helpers to log in, read /api/nodes and poll with a deadline.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ROOT } from '../support/runtimes.ts';
import { type RunningIarnet, spawnIarnet } from '../support/spawn-iarnet.ts';

export const PASSWORD = 'discovery-test-password-1';
// node --import tsx: one process per node, so signals reach IARNet itself (not a wrapper).
const IARNET = [process.execPath, '--import', 'tsx', join(ROOT, 'core/cli.ts')];
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Loopback aliases beyond 127.0.0.1 exist on Linux. */
export const hasLoopbackAliases = () =>
  freePort('127.0.0.11').then(
    () => true,
    () => false,
  );

export interface NodeView {
  id: string;
  status: string;
  incarnation: number;
  grpc_address: string;
  http_address: string;
}

export interface DiscoveryNodeOptions {
  id: string;
  ip: string;
  seeds: string[];
  /** The `discovery:` section's lines (indented by the caller's choice of keys). */
  discovery: Record<string, string | number>;
  /** Extra top-level YAML (e.g. a grpc.tls block). */
  extraYaml?: string;
  env?: Record<string, string>;
}

export class DiscoveryNode {
  proc?: RunningIarnet;
  token = '';
  readonly dataDir = mkdtempSync(join(tmpdir(), 'iarnet-disc-'));
  readonly configFile = join(this.dataDir, 'config.yaml');
  peerPort = 0;
  readonly o: DiscoveryNodeOptions;

  constructor(o: DiscoveryNodeOptions) {
    this.o = o;
  }

  get id() {
    return this.o.id;
  }

  get peerAddr() {
    return `${this.o.ip}:${this.peerPort}`;
  }

  async start(): Promise<void> {
    if (!this.peerPort) this.peerPort = await freePort(this.o.ip);
    writeFileSync(
      this.configFile,
      [
        `node_id: ${this.o.id}`,
        'discovery:',
        ...Object.entries(this.o.discovery).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
        this.o.extraYaml ?? '',
        '',
      ].join('\n'),
    );
    this.proc = await spawnIarnet(IARNET, {
      dataDir: this.dataDir,
      args: [
        '--config',
        this.configFile,
        '--listen',
        `${this.o.ip}:0`,
        '--peer-listen',
        this.peerAddr,
        ...(this.o.seeds.length ? ['--initial-peers', this.o.seeds.join(',')] : []),
      ],
      env: { IARNET_ADMIN_PASSWORD: PASSWORD, IARNET_AUTH__SCRYPT_LOG_N: '12', ...this.o.env },
      timeoutMs: 60_000,
    });
    const login = await fetch(`${this.proc.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    this.token = (await login.json()).token;
  }

  call(path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
    return fetch(`${this.proc!.url}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(60_000),
    });
  }

  /** GET /api/nodes as a list (duplicates would show here). */
  async nodeList(): Promise<NodeView[]> {
    const res = await fetch(`${this.proc!.url}/api/nodes`, {
      headers: { authorization: `Bearer ${this.token}` },
      signal: AbortSignal.timeout(2000),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: NodeView[] }).items;
  }

  async nodes(): Promise<Record<string, NodeView>> {
    return Object.fromEntries((await this.nodeList()).map((n) => [n.id, n]));
  }

  async statusOf(id: string): Promise<string | undefined> {
    return (await this.nodes())[id]?.status;
  }

  /** Kill by pid (SIGKILL) if still running. */
  kill(): void {
    const p = this.proc?.process;
    if (p?.pid && p.exitCode === null && p.signalCode === null) {
      p.kill('SIGCONT');
      p.kill('SIGKILL');
    }
  }
}

/** Poll until `check` passes; returns the elapsed milliseconds. */
export async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  let last: unknown;
  while (Date.now() - start < ms) {
    try {
      if (await check()) return Date.now() - start;
    } catch (e) {
      last = e;
    }
    await sleep(50);
  }
  throw new Error(`${what} did not happen within ${ms} ms${last ? `: ${last}` : ''}`);
}
