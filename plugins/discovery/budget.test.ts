/**
 * Per-sender budgets: the token buckets themselves (clock-driven), and a real PeerServer on
 * loopback where one flooding peer is refused with RESOURCE_EXHAUSTED — its throttled calls change
 * nothing — while another peer keeps being answered.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { checkPeerAddress } from './address.ts';
import { PeerBudget } from './budget.ts';
import { Gossiper } from './gossiper.ts';
import { Membership } from './membership.ts';
import { PeerServer, peerHost } from './server.ts';
import { loadPeerWire } from './wire.ts';

describe('PeerBudget', () => {
  const clock = { t: 0 };
  const budget = () =>
    new PeerBudget({
      messagesPerInterval: 2,
      bytesPerInterval: 1000,
      intervalMs: 100,
      burstIntervals: 2,
      now: () => clock.t,
    });

  it('throttles a sender past its messages, not the others, and refills with time', () => {
    const b = budget();
    for (let i = 0; i < 4; i++) expect(b.take('a@h', 10).ok).toBe(true);
    const refused = b.take('a@h', 10);
    expect(refused).toMatchObject({ ok: false });
    expect(refused.ok ? '' : refused.reason).toMatch(/messages per 100 ms/);
    // Another sender has its own budget.
    expect(b.take('b@h', 10).ok).toBe(true);
    // One interval later, two more messages.
    clock.t += 100;
    expect(b.take('a@h', 10).ok).toBe(true);
    expect(b.take('a@h', 10).ok).toBe(true);
    expect(b.take('a@h', 10).ok).toBe(false);
  });

  it('throttles on bytes, charging nothing for a refused message', () => {
    const b = budget();
    expect(b.take('a@h', 1500).ok).toBe(true);
    const refused = b.take('a@h', 1000);
    expect(refused.ok ? '' : refused.reason).toMatch(/bytes per 100 ms/);
    // The refused 1000 bytes were not charged: 500 are still there.
    expect(b.take('a@h', 500).ok).toBe(true);
  });

  it('keeps at most maxSenders buckets', () => {
    const b = new PeerBudget({
      messagesPerInterval: 1,
      bytesPerInterval: 100,
      intervalMs: 100,
      maxSenders: 3,
    });
    for (let i = 0; i < 10; i++) b.take(`s${i}@h`, 1);
    expect(b.senders).toBe(3);
  });
});

describe('peerHost', () => {
  it('strips the scheme and port grpc-js reports', () => {
    expect(peerHost('127.0.0.1:5000')).toBe('127.0.0.1');
    expect(peerHost('ipv4:127.0.0.1:5000')).toBe('127.0.0.1');
    expect(peerHost('[::1]:5000')).toBe('::1');
    expect(peerHost('ipv6:[::1]:5000')).toBe('::1');
  });
});

describe('a flooding peer is throttled over real gRPC, others are not', () => {
  const wire = loadPeerWire();
  const check = (a: string) => checkPeerAddress(a, { allowLoopback: true });
  const membership = new Membership({
    self: { id: 'target', grpcAddr: '127.0.0.1:1', httpAddr: '', version: 't' },
    incarnation: 1,
    now: () => performance.now(),
    suspectAfterMs: 60_000,
    deadAfterMs: 120_000,
    tombstoneTtlMs: 600_000,
    maxMembers: 100,
    maxNewPerMessage: 10,
    checkAddress: check,
  });
  const gossiper = new Gossiper({
    membership,
    encodeRequest: (m) => wire.encodeRequest('ExchangePeers', m),
    encodeResponse: (m) => wire.encodeResponse('ExchangePeers', m),
    transport: { exchange: () => Promise.reject(new Error('unused')) },
    seeds: [],
    fanout: 3,
    maxEntriesPerMessage: 100,
    recentWindowMs: 1000,
    checkAddress: check,
  });
  // 5 messages per minute (20 at once): a flood of 40 runs out within the test.
  const server = new PeerServer({
    wire,
    gossiper,
    credentials: grpc.ServerCredentials.createInsecure(),
    maxMessageBytes: 65536,
    budget: new PeerBudget({ messagesPerInterval: 5, bytesPerInterval: 1 << 20, intervalMs: 60_000 }),
  });
  const clients: grpc.Client[] = [];
  afterAll(async () => {
    for (const c of clients) c.close();
    await server.stop(0);
  });

  /** An ExchangePeers call from `id`, introducing member `intro` (so an applied call is visible). */
  const call = (client: grpc.Client, id: string, intro?: string) =>
    new Promise<grpc.ServiceError | null>((resolve) => {
      const c = client as unknown as {
        ExchangePeers(req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null) => void): void;
      };
      c.ExchangePeers(
        {
          sender_id: id,
          nodes: intro
            ? [
                {
                  node_id: intro,
                  grpc_address: '127.0.0.1:40000',
                  incarnation: 1,
                  heartbeat: 1,
                  status: 'ALIVE',
                  version: 't',
                  data_version: 1,
                },
              ]
            : [],
          digests: [],
          want: [],
        },
        { deadline: Date.now() + 3000 },
        (err: grpc.ServiceError | null) => resolve(err),
      );
    });

  it('refuses the flooder with RESOURCE_EXHAUSTED and applies nothing it sent once throttled', async () => {
    const port = await server.listen('127.0.0.1', 0);
    const flooder = new wire.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const polite = new wire.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    clients.push(flooder, polite);

    const results: (grpc.ServiceError | null)[] = [];
    for (let i = 0; i < 40; i++) results.push(await call(flooder, 'flooder', `flood-${i}`));
    const ok = results.filter((r) => r === null).length;
    const throttled = results.filter((r) => r?.code === grpc.status.RESOURCE_EXHAUSTED);
    // The burst (4 intervals × 5) passes, the rest is throttled.
    expect(ok).toBe(20);
    expect(throttled).toHaveLength(20);
    expect(throttled[0]!.details).toMatch(/throttled/);
    // Only members introduced by accepted calls exist.
    const known = new Set(membership.members().map((m) => m.id));
    for (let i = 0; i < 40; i++) expect(known.has(`flood-${i}`)).toBe(i < 20);

    // Another sender on the same host is unaffected.
    expect(await call(polite, 'polite', 'from-polite')).toBeNull();
    expect(membership.get('from-polite')).toBeDefined();
    // And the flooder is still refused.
    expect((await call(flooder, 'flooder'))?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });
});
