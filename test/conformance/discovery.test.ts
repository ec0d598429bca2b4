/**
 * Discovery across runtimes: one real iarnet process per runtime (Node 20, Node 24, Bun, Deno),
 * seeded from the Node 20 one, gossiping over gRPC with a cluster secret. Every node must see
 * every other alive, and a graceful stop must be seen as "left" by the rest.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runtimeCommands, unavailable } from '../support/runtimes.ts';
import { type RunningIarnet, spawnIarnet } from '../support/spawn-iarnet.ts';

const PASSWORD = 'conformance-discovery-1';
const SECRET = 'conformance-cluster-secret-0123456789abcdef';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const runtimes = runtimeCommands().filter(
  (r) => !r.missing || unavailable(`${r.name}: ${r.missing}`) !== 'skip',
);

describe.skipIf(runtimes.length < 2)('a cluster of one node per runtime', () => {
  const nodes: { name: string; id: string; proc: RunningIarnet; token: string }[] = [];

  beforeAll(async () => {
    let seed = '';
    for (const rt of runtimes) {
      const port = await freePort();
      const id = `conf-${rt.name}`;
      const proc = await spawnIarnet(rt.argv, {
        args: ['--peer-listen', `127.0.0.1:${port}`, ...(seed ? ['--initial-peers', seed] : [])],
        env: {
          IARNET_ADMIN_PASSWORD: PASSWORD,
          IARNET_NODE_ID: id,
          IARNET_DISCOVERY__CLUSTER_SECRET: SECRET,
          IARNET_DISCOVERY__GOSSIP_INTERVAL_MS: '200',
          IARNET_DISCOVERY__SUSPECT_AFTER_MS: '3000',
          IARNET_DISCOVERY__DEAD_AFTER_MS: '8000',
        },
        timeoutMs: 60_000,
      });
      seed ||= `127.0.0.1:${port}`;
      const login = await fetch(`${proc.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: PASSWORD }),
      });
      nodes.push({ name: rt.name, id, proc, token: (await login.json()).token });
    }
  });
  afterAll(async () => {
    for (const n of nodes) await n.proc.stop('SIGKILL').catch(() => {});
  });

  const view = async (n: (typeof nodes)[number]) => {
    const res = await fetch(`${n.proc.url}/api/nodes`, { headers: { authorization: `Bearer ${n.token}` } });
    const body = (await res.json()) as { items: { id: string; status: string }[] };
    return Object.fromEntries(body.items.map((m) => [m.id, m.status]));
  };
  const until = async (what: string, check: () => Promise<boolean>, ms = 20_000) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`not within ${ms} ms: ${what}`);
  };

  it('every node sees every other node alive', async () => {
    const ids = nodes.map((n) => n.id);
    await until('full membership', async () => {
      for (const n of nodes) {
        const v = await view(n);
        if (!ids.every((id) => v[id] === 'alive')) return false;
      }
      return true;
    });
    for (const n of nodes) expect(Object.keys(await view(n)).sort()).toEqual([...ids].sort());
  });

  it('a graceful stop is seen as left by the others', async () => {
    const leaving = nodes.at(-1)!;
    expect(await leaving.proc.stop('SIGTERM')).toBe(0);
    await until(`${leaving.name} left`, async () => {
      for (const n of nodes.slice(0, -1)) if ((await view(n))[leaving.id] !== 'left') return false;
      return true;
    });
  });
});
