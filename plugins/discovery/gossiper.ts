/**
 * The gossip protocol over one Membership: answering ExchangePeers, running a round (push-pull
 * with `fanout` random peers), and the graceful leave. Transport-agnostic (the gRPC client and
 * server adapt it), so tests can wire nodes together in memory.
 *
 * One exchange: the caller sends digests plus the full entries that changed recently (so news
 * spreads without being asked for); the answer carries the full entries the caller lacks or holds
 * older, the answerer's digests, and the ids it still wants, which the caller pushes in a second
 * call that also asks for the ids the caller lacks. Heartbeat progress travels in digests, so a
 * steady cluster exchanges digests only. Bytes stay bounded as the cluster grows: at most
 * `maxDigestsSent` digests (all of them in a small cluster, a round-robin slice in a large one) and `maxEntriesSent` unasked entries per message.
 */
import type { ExchangeRequest__Output } from '../../proto/generated/ExchangeRequest.ts';
import type { ExchangeResponse, ExchangeResponse__Output } from '../../proto/generated/ExchangeResponse.ts';
import { AuthError, type MessageAuth } from './auth.ts';
import { type Digest, isDown, type MemberState, type Membership } from './membership.ts';
import { fromWireDigest, fromWireState, toWireDigest, toWireState, WireError } from './wire.ts';

export type RefusalCode = 'unauthenticated' | 'invalid' | 'too-large' | 'throttled';

/** An incoming message refused as a whole: nothing in it was applied. */
export class GossipRefused extends Error {
  override name = 'GossipRefused';
  readonly code: RefusalCode;
  constructor(code: RefusalCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface ExchangeTransport {
  exchange(addr: string, req: object, timeoutMs?: number): Promise<ExchangeResponse__Output>;
}

export interface GossiperOptions {
  membership: Membership;
  /** Absent: open cluster, messages are not signed or checked. */
  auth?: MessageAuth;
  encodeRequest(msg: object): Buffer;
  encodeResponse(msg: object): Buffer;
  transport: ExchangeTransport;
  seeds: string[];
  fanout: number;
  /** Receive cap, and the most entries sent when asked for them (a joining node's first sync). */
  maxEntriesPerMessage: number;
  /** Most digests sent in one message (default: maxEntriesPerMessage). */
  maxDigestsSent?: number;
  /** Most unasked (recently changed) entries pushed in one request (default: maxEntriesPerMessage). */
  maxEntriesSent?: number;
  /** Entries changed within this window are pushed unasked. */
  recentWindowMs: number;
  /** Validates addresses learnt from document-only clients before they are dialled. */
  checkAddress(addr: string): string | undefined;
  random?: () => number;
  onRefused?: (from: string, e: Error) => void;
}

const MAX_SEEDS = 64;
const LEAVE_FANOUT = 32;

export class Gossiper {
  readonly #o: GossiperOptions;
  readonly #m: Membership;
  readonly #seeds = new Set<string>();
  readonly #random: () => number;
  #round = 0;

  constructor(opts: GossiperOptions) {
    this.#o = opts;
    this.#m = opts.membership;
    this.#random = opts.random ?? Math.random;
    for (const s of opts.seeds) this.#addSeed(s);
  }

  get rounds(): number {
    return this.#round;
  }

  /** gRPC addresses of members believed alive, this node included: the document's known_peers. */
  knownPeers(): string[] {
    return this.#m
      .members()
      .filter((m) => m.status === 'alive')
      .map((m) => m.grpcAddr)
      .slice(0, this.#o.maxEntriesPerMessage);
  }

  /** Answer one ExchangePeers call. Throws GossipRefused (and changes nothing) on a bad message. */
  handleExchange(req: ExchangeRequest__Output): ExchangeResponse {
    this.#verify(req, 'ExchangePeers/req', this.#o.encodeRequest(req));
    const { nodes, digests } = this.#decode(req);
    const legacy = !req.sender_id;
    const max = this.#o.maxEntriesPerMessage;
    if (legacy) {
      // A client built from the document's proto: it only sends known_peers and wants the list back.
      for (const p of req.known_peers) if (!this.#o.checkAddress(p)) this.#addSeed(p);
    }
    this.#m.mergeEntries(nodes);
    const want = this.#m.mergeDigests(digests);
    // known_peers is the document's answer; IARNet peers get the same from digests and entries.
    const res: ExchangeResponse = legacy
      ? { known_peers: this.knownPeers(), sender_id: this.#m.selfId }
      : { sender_id: this.#m.selfId };
    if (!legacy) {
      // A push-only call (answering our `want`, or a leave) carries no digests: it gets back only
      // the entries it asks for, and no digests of ours.
      const pushOnly = digests.length === 0;
      const out = pushOnly ? [] : this.#m.newerThan(digests, !req.digests_partial);
      const asked = new Set(req.want);
      for (const m of this.#m.members()) if (asked.has(m.id) && !out.includes(m)) out.push(m);
      res.nodes = out.slice(0, max).map(toWireState);
      res.digests = pushOnly ? [] : this.#digests().digests.map(toWireDigest);
      res.want = want.slice(0, max);
    }
    if (this.#o.auth && req.auth) {
      res.auth = this.#o.auth.sign('ExchangePeers/res', this.#o.encodeResponse(res), req.auth.nonce);
    }
    return res;
  }

  /** One gossip round: local detector tick, then push-pull with up to `fanout` peers. */
  async round(timeoutMs?: number, tick = true): Promise<{ ok: number; failed: number }> {
    // The plugin ticks on its own timer (so a slow round never looks like a stall); tests tick here.
    if (tick) this.#m.tick();
    this.#round++;
    const targets = this.#targets();
    const results = await Promise.allSettled(targets.map((a) => this.exchangeWith(a, timeoutMs)));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    return { ok, failed: results.length - ok };
  }

  /** Push-pull with one peer address. */
  async exchangeWith(addr: string, timeoutMs?: number): Promise<void> {
    const max = this.#o.maxEntriesPerMessage;
    const { digests: mine, partial } = this.#digests();
    const req = this.#request(
      this.#m.recentlyChanged(this.#o.recentWindowMs, Math.min(max, this.#o.maxEntriesSent ?? max)),
      mine,
      { partial },
    );
    const res = await this.#o.transport.exchange(addr, req, timeoutMs);
    this.#verifyAnswer(addr, res, req);
    const { nodes, digests } = this.#decode(res);
    this.#m.mergeEntries(nodes);
    const lacking = this.#m.mergeDigests(digests).slice(0, max);
    const wanted = new Set(res.want);
    const entries = wanted.size ? this.#m.members().filter((m) => wanted.has(m.id)) : [];
    if (entries.length || lacking.length) {
      // Second call: push what the peer asked for, and ask for what its digests showed we lack.
      const push = this.#request(entries.slice(0, max), [], { want: lacking });
      const res2 = await this.#o.transport.exchange(addr, push, timeoutMs);
      this.#verifyAnswer(addr, res2, push);
      this.#m.mergeEntries(this.#decode(res2).nodes);
    }
  }

  #digests() {
    const max = Math.min(this.#o.maxEntriesPerMessage, this.#o.maxDigestsSent ?? Number.POSITIVE_INFINITY);
    return this.#m.selectDigests(max);
  }

  #verifyAnswer(addr: string, res: { auth?: unknown }, req: { auth?: { nonce: Buffer } }): void {
    try {
      this.#verify(res, 'ExchangePeers/res', this.#o.encodeResponse(res), req.auth?.nonce);
    } catch (e) {
      this.#o.onRefused?.(addr, e as Error);
      throw e;
    }
  }

  /** Graceful leave: mark self left and push it to many peers at once. */
  async leave(timeoutMs: number): Promise<void> {
    const self = this.#m.leave();
    const peers = this.#shuffle(this.#m.reachable()).slice(0, LEAVE_FANOUT);
    // No digests: a push-only call, so peers answer without entries and the leave stays cheap.
    const req = () => this.#request([self], []);
    await Promise.allSettled(peers.map((p) => this.#o.transport.exchange(p.grpcAddr, req(), timeoutMs)));
  }

  #request(entries: MemberState[], digests: Digest[], opts: { partial?: boolean; want?: string[] } = {}) {
    const req: Record<string, unknown> = {
      sender_id: this.#m.selfId,
      nodes: entries.map(toWireState),
      digests: digests.map(toWireDigest),
      want: opts.want ?? [],
      digests_partial: opts.partial ?? false,
    };
    if (this.#o.auth) req.auth = this.#o.auth.sign('ExchangePeers/req', this.#o.encodeRequest(req));
    return req as { auth?: { nonce: Buffer } } & Record<string, unknown>;
  }

  #targets(): string[] {
    const self = this.#m.self.grpcAddr;
    const reachable = this.#shuffle(this.#m.reachable()).slice(0, this.#o.fanout);
    const targets = reachable.map((m) => m.grpcAddr);
    const knownAddrs = new Set(this.#m.members().map((m) => m.grpcAddr));
    const seeds = [...this.#seeds].filter((s) => s !== self && !targets.includes(s));
    if (!reachable.length) {
      // Alone: knock on every seed (and every dead member, in case a partition healed).
      const dead = this.#m
        .members()
        .filter((m) => m.status === 'dead')
        .map((m) => m.grpcAddr);
      return [...new Set([...seeds, ...dead])].slice(0, MAX_SEEDS);
    }
    // Now and then try one dead member or unknown seed: that is how partitions heal.
    if (this.#round % 5 === 0) {
      const candidates = [
        ...this.#m
          .members()
          .filter((m) => m.status === 'dead')
          .map((m) => m.grpcAddr),
        ...seeds.filter((s) => !knownAddrs.has(s)),
      ].filter((a) => !targets.includes(a));
      const pick = candidates[Math.floor(this.#random() * candidates.length)];
      if (pick) targets.push(pick);
    }
    return targets;
  }

  #verify(msg: { auth?: unknown }, label: string, body: Buffer, requestNonce?: Buffer): void {
    if (!this.#o.auth) return;
    try {
      this.#o.auth.verify(label, body, msg.auth as Parameters<MessageAuth['verify']>[2], requestNonce);
    } catch (e) {
      if (e instanceof AuthError) throw new GossipRefused('unauthenticated', e.message);
      throw e;
    }
  }

  #decode(msg: {
    known_peers: string[];
    nodes: ExchangeRequest__Output['nodes'];
    digests: ExchangeRequest__Output['digests'];
    want: string[];
  }) {
    const max = this.#o.maxEntriesPerMessage;
    if (
      msg.nodes.length > max ||
      msg.digests.length > max ||
      msg.known_peers.length > max ||
      msg.want.length > max
    ) {
      throw new GossipRefused('too-large', `more than ${max} entries in one message`);
    }
    try {
      return { nodes: msg.nodes.map(fromWireState), digests: msg.digests.map(fromWireDigest) };
    } catch (e) {
      if (e instanceof WireError) throw new GossipRefused('invalid', e.message);
      throw e;
    }
  }

  #addSeed(addr: string): void {
    if (this.#seeds.size < MAX_SEEDS) this.#seeds.add(addr);
  }

  #shuffle<T>(xs: T[]): T[] {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }
}

export { isDown };
