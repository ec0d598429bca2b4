/**
 * Gossip at scale over real gRPC: N = 16, 64 and 256 discovery nodes in one process, each with its
 * own grpc-js server on 127.0.0.1 (random port), the plugin's Gossiper, PeerServer and PeerClients,
 * every message HMAC-signed. Per N it measures
 *   - rounds and wall time until every node knows a node that joins a converged cluster, against
 *     the logistic epidemic model of Serf's convergence simulator (rounds to 99.99 %, same fanout);
 *   - bytes sent per node per second in steady state (requests and answers, as serialized);
 *   - time until every node suspects a node whose server was stopped without a leave, against the
 *     suspicion timeout the detector uses at that size (suspect_after × log10 N).
 * One process runs hundreds of servers on a shared machine, so wall times are noisy; rounds and
 * bytes are counts. Run alone: `npx tsx bench/gossip.ts` (or `npm run bench -- gossip`).
 */
import { BenchNode, type ClusterConfig, modelRounds, round } from './support/gossip-cluster.ts';

const FANOUT = 3;
const SIZES: { n: number; intervalMs: number }[] = process.env.GOSSIP_BENCH_SIZES
  ? // e.g. GOSSIP_BENCH_SIZES=256:1000 (size:interval, comma-separated) to run one size alone
    process.env.GOSSIP_BENCH_SIZES.split(',').map((x) => {
      const [n, i] = x.split(':').map(Number);
      return { n: n!, intervalMs: i! };
    })
  : [
      { n: 16, intervalMs: 200 },
      { n: 64, intervalMs: 400 },
      { n: 256, intervalMs: 3500 },
    ];
/** memberlist's defaults: 3 × 1400-byte packets per 200 ms, sent and received (Serf's simulator). */
const BYTES_TARGET = 42_000;
/** The plugin's default gossip_interval_ms: bytes per second are judged at the configured pace. */
const DEFAULT_INTERVAL_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Figures {
  n: number;
  intervalMs: number;
  formedRounds: number;
  joinRounds: number;
  joinMs: number;
  modelRounds: number;
  bytesPerNodeRound: number;
  bytesPerNodeSecond: number;
  detectMs: number;
  suspicionMs: number;
  falseSuspicions: number;
  meanRoundMs: number;
}

async function measure(n: number, intervalMs: number): Promise<Figures> {
  const cfg: ClusterConfig = {
    intervalMs,
    fanout: FANOUT,
    // The plugin's default ratios: suspect after 5 intervals, dead after 15.
    suspectAfterMs: 5 * intervalMs,
    deadAfterMs: 15 * intervalMs,
    rpcTimeoutMs: intervalMs,
    digestsPerMessage: 128,
    updatesPerMessage: 16,
  };
  const nodes: BenchNode[] = [];
  const seed = new BenchNode('n0');
  await seed.start(cfg, []);
  nodes.push(seed);
  for (let i = 1; i < n; i++) {
    const node = new BenchNode(`n${i}`);
    await node.start(cfg, [seed.addr]);
    nodes.push(node);
  }
  let rounds = 0;
  let busyMs = 0;
  /** Paced rounds: one starts every interval (or at once when the last one overran). */
  const step = async () => {
    const started = performance.now();
    await round(nodes, cfg.rpcTimeoutMs);
    rounds++;
    busyMs += performance.now() - started;
    if (process.env.GOSSIP_BENCH_DEBUG)
      console.log(`round ${rounds}: ${(performance.now() - started).toFixed(0)} ms`);
    const left = intervalMs - (performance.now() - started);
    if (left > 0) await sleep(left);
  };
  const knowsAll = (ids: string[]) =>
    nodes.filter((x) => x.running).every((x) => ids.every((id) => x.statusOf(id) === 'alive'));

  try {
    const ids = nodes.map((x) => x.id);
    while (!knowsAll(ids) && rounds < 200) await step();
    const formedRounds = rounds;
    // Settle: entries changed during the join stop being pushed after the recent-change window
    // (suspect_after = 5 intervals), so steady state starts after 6 more rounds.
    for (let i = 0; i < 6; i++) await step();
    const suspicionsBefore = countSuspicions(nodes);

    // Steady state: bytes per node per second.
    for (const x of nodes) x.bytesSent = 0;
    const steadyStart = performance.now();
    const steadyRounds = 4;
    for (let i = 0; i < steadyRounds; i++) await step();
    const steadyMs = performance.now() - steadyStart;
    const bytes = nodes.reduce((s, x) => s + x.bytesSent, 0);
    const bytesPerNodeRound = bytes / n / steadyRounds;
    const bytesPerNodeSecond = bytes / n / (steadyMs / 1000);

    // A new node joins through a random member: rounds until every node knows it.
    const newcomer = new BenchNode('newcomer');
    await newcomer.start(cfg, [nodes[1 + Math.floor(Math.random() * (n - 1))]!.addr]);
    nodes.push(newcomer);
    const joinStart = performance.now();
    const r0 = rounds;
    while (!knowsAll(['newcomer']) && rounds - r0 < 100) await step();
    const joinRounds = rounds - r0;
    const joinMs = performance.now() - joinStart;

    // A node's server stops without a leave: time until every other node suspects it.
    const victim = nodes[Math.floor(n / 2)]!;
    const suspicionMs = nodes[0]!.membership.timeouts().suspectAfterMs;
    await victim.crash();
    const crashAt = performance.now();
    const detected = () =>
      nodes.filter((x) => x.running).every((x) => ['suspect', 'dead'].includes(x.statusOf(victim.id)!));
    while (!detected() && performance.now() - crashAt < 5 * suspicionMs) {
      await step();
    }
    const detectMs = performance.now() - crashAt;
    // Suspicions of live nodes since the cluster settled (the victim's do not count).
    const falseSuspicions = countSuspicions(nodes, victim.id) - suspicionsBefore;
    return {
      n,
      intervalMs,
      formedRounds,
      joinRounds,
      joinMs,
      modelRounds: modelRounds(n + 1, FANOUT),
      bytesPerNodeRound,
      bytesPerNodeSecond,
      detectMs,
      suspicionMs,
      falseSuspicions,
      meanRoundMs: busyMs / rounds,
    };
  } finally {
    await Promise.all(nodes.filter((x) => x.running).map((x) => x.crash()));
  }
}

function countSuspicions(nodes: BenchNode[], except?: string): number {
  let k = 0;
  for (const x of nodes) {
    for (const e of x.events) if (e.type === 'suspect' && e.member.id !== except) k++;
  }
  return k;
}

export async function run() {
  const lines: string[] = [];
  let pass = true;
  for (const { n, intervalMs } of SIZES) {
    const f = await measure(n, intervalMs);
    const joinOk = f.joinRounds <= 1.2 * f.modelRounds;
    // The bench paces rounds slower than the default where one process cannot keep up with N
    // servers; bytes per round are a count, so the per-second figure at the default pace is exact.
    const atDefault = (f.bytesPerNodeRound * 1000) / DEFAULT_INTERVAL_MS;
    const bytesOk = n < 256 || atDefault <= BYTES_TARGET;
    const detectOk = f.detectMs <= 1.5 * f.suspicionMs;
    const quiet = f.falseSuspicions === 0;
    pass &&= joinOk && bytesOk && detectOk && quiet;
    const block = [
      `N=${n} (interval ${intervalMs} ms, fanout ${FANOUT}; cluster formed from one seed in ${f.formedRounds} rounds; a round of all nodes took ${f.meanRoundMs.toFixed(0)} ms on average)`,
      `  join: every node knew the new node after ${f.joinRounds} rounds, ${(f.joinMs / 1000).toFixed(2)} s` +
        `   target ≤ 1.2 × ${f.modelRounds} = ${(1.2 * f.modelRounds).toFixed(1)} rounds (logistic model, 99.99 %)  ${joinOk ? 'MET' : 'MISS'}`,
      `  bytes: ${(f.bytesPerNodeRound / 1000).toFixed(2)} kB sent per node per round = ${(atDefault / 1000).toFixed(1)} kB/s per node at the default ${DEFAULT_INTERVAL_MS} ms interval` +
        ` (${(f.bytesPerNodeSecond / 1000).toFixed(1)} kB/s at this run's ${intervalMs} ms pace)` +
        `   target ${n === 256 ? `≤ ${BYTES_TARGET / 1000} kB/s at N=256  ${bytesOk ? 'MET' : 'MISS'}` : `(checked at N=256)`}`,
      `  failure: suspected by every node ${(f.detectMs / 1000).toFixed(2)} s after its server stopped` +
        `   target ≤ 1.5 × ${(f.suspicionMs / 1000).toFixed(2)} s suspicion timeout = ${((1.5 * f.suspicionMs) / 1000).toFixed(2)} s  ${detectOk ? 'MET' : 'MISS'}`,
      `  false suspicions of live nodes: ${f.falseSuspicions}   target 0  ${quiet ? 'MET' : 'MISS'}`,
    ];
    console.log(block.join('\n'));
    lines.push(...block);
  }
  return {
    name: `gossip over real gRPC: ${SIZES.map((s) => s.n).join(', ')} nodes in one process (fanout ${FANOUT}, HMAC-signed)`,
    figure: `\n      ${lines.join('\n      ')}`,
    target:
      'join ≤ 1.2 × logistic-model rounds; ≤ 42 kB/s per node at N=256 (default interval); suspected everywhere ≤ 1.5 × suspicion timeout; no false suspicions',
    pass,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run();
  console.log(`${r.pass ? 'MET ' : 'MISS'}  ${r.name}`);
  process.exit(0);
}
