/**
 * Gossip at scale, in memory with the real protobuf encoding: 64 nodes join through one seed.
 * Figures: rounds until every node knows every other, steady-state bytes per node per round
 * (digests only once converged), and rounds until every node has declared a crashed one dead.
 * Run alone: `npx tsx bench/gossip.ts`.
 */
import { checkPeerAddress } from '../plugins/discovery/address.ts';
import { Gossiper } from '../plugins/discovery/gossiper.ts';
import { Membership } from '../plugins/discovery/membership.ts';
import { loadPeerWire } from '../plugins/discovery/wire.ts';

const N = 64;
const INTERVAL = 200;

/** Deterministic random numbers (mulberry32), so the figure does not wobble between runs. */
function seeded(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function run() {
  let bytes = 0;
  // Count each message once, on the sending side.
  const wire = loadPeerWire((direction, n) => {
    if (direction === 'sent') bytes += n;
  });
  const ex = wire.service.ExchangePeers!;
  const clock = { t: 0 };
  const random = seeded(42);
  const down = new Set<string>();
  const nodes = new Map<string, { m: Membership; g: Gossiper }>();
  for (let i = 0; i < N; i++) {
    const addr = `10.8.${i >> 8}.${(i & 255) + 1}:50051`;
    const m = new Membership({
      self: { id: `n${i}`, grpcAddr: addr, httpAddr: '', version: 'bench' },
      incarnation: 1,
      now: () => clock.t,
      suspectAfterMs: 5 * INTERVAL,
      deadAfterMs: 15 * INTERVAL,
      tombstoneTtlMs: 600_000,
      maxMembers: 1024,
      maxNewPerMessage: 256,
      checkAddress: (a) => checkPeerAddress(a, { allowLoopback: false }),
    });
    const g = new Gossiper({
      membership: m,
      encodeRequest: (x) => wire.encodeRequest('ExchangePeers', x),
      encodeResponse: (x) => wire.encodeResponse('ExchangePeers', x),
      transport: {
        async exchange(target, req) {
          const peer = nodes.get(target);
          if (!peer || down.has(target)) throw new Error('unreachable');
          // Both directions are serialized and parsed, as on the wire (the counter sees them).
          const res = peer.g.handleExchange(ex.requestDeserialize(ex.requestSerialize(req)) as never);
          return ex.responseDeserialize(ex.responseSerialize(res)) as never;
        },
      },
      seeds: i === 0 ? [] : ['10.8.0.1:50051'],
      fanout: 3,
      maxEntriesPerMessage: 1024,
      recentWindowMs: 5 * INTERVAL,
      checkAddress: (a) => checkPeerAddress(a, { allowLoopback: false }),
      random,
    });
    nodes.set(addr, { m, g });
  }
  const all = [...nodes.entries()];
  const round = async () => {
    clock.t += INTERVAL;
    await Promise.all(all.filter(([a]) => !down.has(a)).map(([, n]) => n.g.round()));
  };

  let converged = 0;
  while (converged < 100) {
    await round();
    converged++;
    if (all.every(([, n]) => n.m.members().filter((x) => x.status === 'alive').length === N)) break;
  }
  for (let i = 0; i < 20; i++) await round(); // settle
  bytes = 0;
  const steadyRounds = 10;
  for (let i = 0; i < steadyRounds; i++) await round();
  const perNodeRound = bytes / steadyRounds / N;

  const [victimAddr] = all[N - 1]!;
  down.add(victimAddr);
  let detect = 0;
  while (detect < 200) {
    await round();
    detect++;
    if (all.filter(([a]) => a !== victimAddr).every(([, n]) => n.m.get(`n${N - 1}`)?.status === 'dead'))
      break;
  }

  // The detector scales dead_after by log10(cluster size).
  const deadRounds = Math.ceil(15 * Math.max(1, Math.log10(N)));
  const pass = converged <= 20 && perNodeRound <= 16 * 1024 && detect <= deadRounds + 5;
  return {
    name: `gossip: ${N} nodes in memory (fanout 3, protobuf encoding)`,
    figure: `joined from one seed in ${converged} rounds; ${(perNodeRound / 1024).toFixed(1)} KiB per node per round when steady; crash declared dead everywhere after ${detect} rounds`,
    target: `≤ 20 rounds to converge, ≤ 16 KiB sent per node per round, dead everywhere ≤ ${deadRounds + 5} rounds (dead_after 15 rounds × log10(${N}) + 5)`,
    pass,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
