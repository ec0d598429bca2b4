/**
 * Many discovery nodes in one process, each with the plugin's real parts: a PeerServer (grpc-js)
 * on 127.0.0.1 and a random port, PeerClients dialling the others, a Gossiper and a Membership,
 * every message HMAC-signed. Rounds are driven by the caller (all nodes at once, as a round), so
 * round counts are exact; the failure detector ticks on its own timer as in the plugin.
 */
import { checkPeerAddress } from '../../plugins/discovery/address.ts';
import { MessageAuth } from '../../plugins/discovery/auth.ts';
import { PeerBudget } from '../../plugins/discovery/budget.ts';
import { clientCredentials, PeerClients } from '../../plugins/discovery/client.ts';
import { Gossiper } from '../../plugins/discovery/gossiper.ts';
import { Membership, type MembershipEvent } from '../../plugins/discovery/membership.ts';
import { PeerServer, serverCredentials } from '../../plugins/discovery/server.ts';
import { loadPeerWire } from '../../plugins/discovery/wire.ts';

export interface ClusterConfig {
  intervalMs: number;
  fanout: number;
  suspectAfterMs: number;
  deadAfterMs: number;
  rpcTimeoutMs: number;
  digestsPerMessage: number;
  updatesPerMessage: number;
}

const SECRET = 'bench-cluster-secret-0123456789abcdef';

export class BenchNode {
  readonly id: string;
  membership!: Membership;
  gossiper!: Gossiper;
  server!: PeerServer;
  clients!: PeerClients;
  addr = '';
  /** Bytes this node serialized: its requests and its answers. */
  bytesSent = 0;
  running = false;
  readonly events: MembershipEvent[] = [];
  #tick?: ReturnType<typeof setInterval>;

  constructor(id: string) {
    this.id = id;
  }

  async start(cfg: ClusterConfig, seeds: string[]): Promise<void> {
    const wire = loadPeerWire((direction, n) => {
      if (direction === 'sent') this.bytesSent += n;
    });
    const check = (a: string) => checkPeerAddress(a, { allowLoopback: true });
    this.membership = new Membership({
      self: { id: this.id, grpcAddr: '127.0.0.1:1', httpAddr: '', version: 'bench' },
      incarnation: Math.floor(Date.now() / 1000),
      now: () => performance.now(),
      suspectAfterMs: cfg.suspectAfterMs,
      deadAfterMs: cfg.deadAfterMs,
      tombstoneTtlMs: 600_000,
      maxMembers: 1024,
      maxNewPerMessage: 64,
      stallMs: Math.max(cfg.suspectAfterMs / 2, 3 * cfg.intervalMs),
      checkAddress: check,
      onEvent: (e) => this.events.push(e),
    });
    const auth = new MessageAuth(SECRET, { maxClockSkewMs: 30_000 });
    this.clients = new PeerClients(wire, {
      credentials: clientCredentials(undefined),
      maxMessageBytes: 1 << 20,
      timeoutMs: cfg.rpcTimeoutMs,
    });
    this.gossiper = new Gossiper({
      membership: this.membership,
      auth,
      encodeRequest: (m) => wire.encodeRequest('ExchangePeers', m),
      encodeResponse: (m) => wire.encodeResponse('ExchangePeers', m),
      transport: this.clients,
      seeds,
      fanout: cfg.fanout,
      maxEntriesPerMessage: 1024,
      maxDigestsSent: cfg.digestsPerMessage,
      maxEntriesSent: cfg.updatesPerMessage,
      recentWindowMs: cfg.suspectAfterMs,
      checkAddress: check,
    });
    this.server = new PeerServer({
      wire,
      gossiper: this.gossiper,
      credentials: serverCredentials(undefined),
      maxMessageBytes: 1 << 20,
      budget: new PeerBudget({
        messagesPerInterval: 10,
        bytesPerInterval: 2 << 20,
        intervalMs: cfg.intervalMs,
      }),
    });
    const port = await this.server.listen('127.0.0.1', 0);
    this.addr = `127.0.0.1:${port}`;
    this.membership.updateSelf({ grpcAddr: this.addr });
    this.#tick = setInterval(() => this.membership.tick(), cfg.intervalMs);
    this.running = true;
  }

  /** Crash: the server goes away at once, no leave is sent, the node stops gossiping. */
  async crash(): Promise<void> {
    this.running = false;
    clearInterval(this.#tick);
    await this.server.stop(0);
    this.clients.close();
  }

  statusOf(id: string) {
    return this.membership.get(id)?.status;
  }
}

/** One round: every running node gossips with its fanout at once; resolves when all are done. */
export async function round(nodes: BenchNode[], timeoutMs: number): Promise<void> {
  await Promise.all(nodes.filter((n) => n.running).map((n) => n.gossiper.round(timeoutMs, false)));
}

/**
 * The logistic epidemic model of Serf's convergence simulator: after r rounds, the infected
 * fraction is 1 / (1 + (n+1)·e^(−c·n·r)) with contact rate c = fanout / n / 2. Returns the first
 * whole round at which the fraction reaches `target`.
 */
export function modelRounds(n: number, fanout: number, target = 0.9999): number {
  const c = (fanout / n) * 0.5;
  for (let r = 0; r < 1000; r++) {
    if (1 / (1 + (n + 1) * Math.exp(-c * n * r)) >= target) return r;
  }
  return Number.POSITIVE_INFINITY;
}
