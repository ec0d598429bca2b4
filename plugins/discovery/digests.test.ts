/**
 * Bounded gossip: past `digests_per_message` members a node sends a round-robin slice of digests
 * (flagged partial) and at most `updates_per_message` unasked entries, so message size stops
 * growing with the cluster — while a large cluster still converges, a newcomer is learnt by all,
 * and nobody alive is suspected. Messages go through the real protobuf encoding, in memory.
 */
import { describe, expect, it } from 'vitest';
import { checkPeerAddress } from './address.ts';
import { Gossiper } from './gossiper.ts';
import { Membership, type MembershipEvent } from './membership.ts';
import { loadPeerWire } from './wire.ts';

const wire = loadPeerWire();
const ex = wire.service.ExchangePeers!;
const check = (a: string) => checkPeerAddress(a, { allowLoopback: false });

function membership(id: string, clock: { t: number }, events?: MembershipEvent[]) {
  return new Membership({
    self: {
      id,
      grpcAddr: `10.7.${Number(id.slice(1)) >> 8}.${(Number(id.slice(1)) & 255) + 1}:50051`,
      httpAddr: '',
      version: 't',
    },
    incarnation: 1,
    now: () => clock.t,
    suspectAfterMs: 5000,
    deadAfterMs: 15000,
    tombstoneTtlMs: 600_000,
    maxMembers: 4096,
    maxNewPerMessage: 64,
    checkAddress: check,
    ...(events ? { onEvent: (e: MembershipEvent) => events.push(e) } : {}),
  });
}

describe('Membership.selectDigests', () => {
  it('sends every digest in a small cluster and a round-robin slice (self first) in a large one', () => {
    const clock = { t: 0 };
    const m = membership('n0', clock);
    const others = Array.from({ length: 299 }, (_, i) => membership(`n${i + 1}`, clock).self);
    for (let i = 0; i < others.length; i += 50) m.mergeEntries(others.slice(i, i + 50));
    expect(m.members()).toHaveLength(300);

    expect(m.selectDigests(1000)).toMatchObject({ partial: false });
    expect(m.selectDigests(1000).digests).toHaveLength(300);

    const seen = new Set<string>();
    for (let k = 0; k < 3; k++) {
      const { digests, partial } = m.selectDigests(128);
      expect(partial).toBe(true);
      expect(digests).toHaveLength(128);
      expect(digests[0]!.id).toBe('n0');
      for (const d of digests) seen.add(d.id);
    }
    // 3 × 127 slots ≥ 299 others: every member went out once.
    expect(seen.size).toBe(300);
  });

  it('a partial selection does not make the answerer push members it did not list', () => {
    const clock = { t: 0 };
    const a = membership('n0', clock);
    a.mergeEntries([membership('n1', clock).self, membership('n2', clock).self]);
    const theirs = [{ id: 'n9', incarnation: 1, heartbeat: 1, status: 'alive' as const, dataVersion: 1 }];
    expect(
      a
        .newerThan(theirs, true)
        .map((m) => m.id)
        .sort(),
    ).toEqual(['n0', 'n1', 'n2']);
    expect(a.newerThan(theirs, false)).toEqual([]);
  });
});

describe('a 150-node cluster with 48 digests per message', () => {
  it('converges, learns a newcomer, suspects nobody alive, and keeps every message bounded', async () => {
    const clock = { t: 0 };
    const events: MembershipEvent[] = [];
    const nodes = new Map<string, Gossiper>();
    const members = new Map<string, Membership>();
    let maxDigests = 0;
    let maxEntries = 0;
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const add = (i: number, seeds: string[]) => {
      const m = membership(`n${i}`, clock, events);
      const g = new Gossiper({
        membership: m,
        encodeRequest: (x) => wire.encodeRequest('ExchangePeers', x),
        encodeResponse: (x) => wire.encodeResponse('ExchangePeers', x),
        transport: {
          async exchange(addr, req) {
            const target = nodes.get(addr);
            if (!target) throw new Error('unreachable');
            const r = req as { digests: unknown[]; nodes: unknown[]; want: unknown[] };
            // Regular exchanges (with digests) are bounded by these caps; asked-for pushes are not.
            if (r.digests.length) maxEntries = Math.max(maxEntries, r.nodes.length);
            maxDigests = Math.max(maxDigests, r.digests.length);
            const res = target.handleExchange(ex.requestDeserialize(ex.requestSerialize(req)) as never);
            maxDigests = Math.max(maxDigests, res.digests?.length ?? 0);
            return ex.responseDeserialize(ex.responseSerialize(res)) as never;
          },
        },
        seeds,
        fanout: 3,
        maxEntriesPerMessage: 1024,
        maxDigestsSent: 48,
        maxEntriesSent: 8,
        recentWindowMs: 5000,
        checkAddress: check,
        random,
      });
      nodes.set(m.self.grpcAddr, g);
      members.set(m.selfId, m);
      return m.self.grpcAddr;
    };
    const first = add(0, []);
    for (let i = 1; i < 150; i++) add(i, [first]);
    const round = async () => {
      clock.t += 1000;
      for (const m of members.values()) m.tick();
      await Promise.all([...nodes.values()].map((g) => g.round(undefined, false)));
    };
    const allKnow = (ids: string[]) =>
      [...members.values()].every((m) => ids.every((id) => m.get(id)?.status === 'alive'));

    let rounds = 0;
    const everyone = [...members.keys()];
    while (!allKnow(everyone) && rounds < 60) {
      await round();
      rounds++;
    }
    expect(allKnow(everyone)).toBe(true);
    for (let i = 0; i < 10; i++) await round();

    add(150, [first]);
    let join = 0;
    while (!allKnow(['n150']) && join < 30) {
      await round();
      join++;
    }
    expect(allKnow(['n150'])).toBe(true);
    // The logistic model (Serf's simulator) gives 10 rounds to 99.99 % at N=151, fanout 3.
    expect(join).toBeLessThanOrEqual(12);
    expect(events.filter((e) => e.type === 'suspect' || e.type === 'failed')).toEqual([]);
    expect(maxDigests).toBeLessThanOrEqual(48);
    expect(maxEntries).toBeLessThanOrEqual(8);
  }, 60_000);
});
