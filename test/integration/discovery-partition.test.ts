/**
 * A partition of real IARNet processes, healed: four nodes on 127.0.0.41-44 form a cluster, then
 * the test-only fault injection (IARNET_DISCOVERY__TEST_DROP_FILE, plugins/discovery/fault.ts)
 * cuts {a, b} from {c, d} — each node drops its calls to the other side's addresses. Both sides
 * must declare the other dead while keeping their own side alive; after the files are emptied the
 * cluster must be whole again by itself: every node sees all four alive, each exactly once.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscoveryNode, hasLoopbackAliases, within } from './discovery-node.ts';

const SECRET = 'cluster-secret-for-the-partition-test-0123456789';
const INTERVAL = 200;
const SUSPECT = 1000;
const DEAD = 2500;
const loopbackAliases = await hasLoopbackAliases();
if (process.env.CI === 'true' && !loopbackAliases) throw new Error('CI needs loopback aliases (127.0.0.x)');

describe.skipIf(!loopbackAliases)('discovery: a partition between real processes heals by itself', () => {
  const nodes: DiscoveryNode[] = [];
  const dropFile = (n: DiscoveryNode) => join(n.dataDir, 'drop-peers');
  const timings: Record<string, number> = {};

  const make = (id: string, ip: string, seeds: string[]) => {
    const n: DiscoveryNode = new DiscoveryNode({
      id,
      ip,
      seeds,
      discovery: {
        gossip_interval_ms: INTERVAL,
        suspect_after_ms: SUSPECT,
        dead_after_ms: DEAD,
        rpc_timeout_ms: 500,
        cluster_secret: SECRET,
      },
      env: {},
    });
    // The drop file lives in the node's own data dir (created with it).
    n.o.env = { IARNET_DISCOVERY__TEST_DROP_FILE: dropFile(n) };
    nodes.push(n);
    return n;
  };
  const a = make('part-a', '127.0.0.41', []);
  let b: DiscoveryNode;
  let c: DiscoveryNode;
  let d: DiscoveryNode;

  beforeAll(async () => {
    await a.start();
    b = make('part-b', '127.0.0.42', [a.peerAddr]);
    c = make('part-c', '127.0.0.43', [a.peerAddr]);
    d = make('part-d', '127.0.0.44', [a.peerAddr]);
    await Promise.all([b.start(), c.start(), d.start()]);
  }, 120_000);

  afterAll(() => {
    for (const n of nodes) n.kill();
    console.log('partition timings (ms):', JSON.stringify(timings));
  });

  const allSee = async (observers: DiscoveryNode[], ids: string[], status: string) => {
    for (const o of observers) {
      const view = await o.nodes();
      for (const id of ids) if (view[id]?.status !== status) return false;
    }
    return true;
  };

  it('forms a cluster of four from one seed', async () => {
    timings.formed = await within(15_000, 'cluster formation', () =>
      allSee(
        nodes,
        nodes.map((n) => n.id),
        'alive',
      ),
    );
    expect(a.proc!.logs.some((l) => String(l.msg).includes('test-only fault injection'))).toBe(true);
  });

  it('cut in two: each side declares the other dead and keeps its own side alive', async () => {
    const left = [a, b];
    const right = [c, d];
    for (const n of left) writeFileSync(dropFile(n), right.map((x) => x.peerAddr).join('\n'));
    for (const n of right) writeFileSync(dropFile(n), left.map((x) => x.peerAddr).join('\n'));
    const cut = Date.now();
    await within(DEAD + 5000, 'the left side sees the right dead', () =>
      allSee(
        left,
        right.map((x) => x.id),
        'dead',
      ),
    );
    await within(DEAD + 5000, 'the right side sees the left dead', () =>
      allSee(
        right,
        left.map((x) => x.id),
        'dead',
      ),
    );
    timings.cutToDeadBothSides = Date.now() - cut;
    // Nobody is declared dead before the detector's bound (dead_after, minus a tick or two).
    expect(timings.cutToDeadBothSides).toBeGreaterThanOrEqual(DEAD - 2 * INTERVAL);
    // Each side still sees its own members alive.
    expect(
      await allSee(
        left,
        left.map((x) => x.id),
        'alive',
      ),
    ).toBe(true);
    expect(
      await allSee(
        right,
        right.map((x) => x.id),
        'alive',
      ),
    ).toBe(true);
    // The "node failed" events were logged on both sides.
    expect(a.proc!.logs.some((l) => l.msg === 'node failed (no heartbeat)' && l.nodeId === 'part-c')).toBe(
      true,
    );
    expect(d.proc!.logs.some((l) => l.msg === 'node failed (no heartbeat)' && l.nodeId === 'part-b')).toBe(
      true,
    );
  });

  it('healed: every node sees all four alive, each exactly once', async () => {
    for (const n of nodes) writeFileSync(dropFile(n), '');
    const healed = Date.now();
    await within(20_000, 'all alive everywhere after the heal', () =>
      allSee(
        nodes,
        nodes.map((n) => n.id),
        'alive',
      ),
    );
    timings.healToWhole = Date.now() - healed;
    for (const n of nodes) {
      const ids = (await n.nodeList()).map((v) => v.id).sort();
      expect(ids).toEqual(['part-a', 'part-b', 'part-c', 'part-d']);
    }
    // Stays whole (no flapping back to suspect right after the heal).
    await new Promise((r) => setTimeout(r, 5 * INTERVAL));
    expect(
      await allSee(
        nodes,
        nodes.map((n) => n.id),
        'alive',
      ),
    ).toBe(true);
  });
});
