/**
 * The gossip protocol with real protobuf encoding: nodes wired in memory converge, failures are
 * detected, leaves spread, partitions heal; HMAC auth refuses wrong secrets, replays and stale
 * messages (changing nothing); caps hold; and a client built from the design document's proto
 * alone (only known_peers) gets the peer list over real gRPC.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, describe, expect, it } from 'vitest';
import { checkPeerAddress } from '../../plugins/discovery/address.ts';
import { MessageAuth } from '../../plugins/discovery/auth.ts';
import { PeerClients } from '../../plugins/discovery/client.ts';
import { Gossiper, GossipRefused } from '../../plugins/discovery/gossiper.ts';
import { Membership } from '../../plugins/discovery/membership.ts';
import { PeerServer } from '../../plugins/discovery/server.ts';
import { loadPeerWire } from '../../plugins/discovery/wire.ts';

const wire = loadPeerWire();
const ex = wire.service.ExchangePeers!;
const SECRET = 'a'.repeat(40);

interface TestNode {
  id: string;
  addr: string;
  m: Membership;
  g: Gossiper;
}

/** A cluster in memory: every call goes through protobuf encoding, like the network. */
function cluster(
  n: number,
  opts: { secret?: (i: number) => string | undefined; clock?: { t: number } } = {},
) {
  const clock = opts.clock ?? { t: 0 };
  const nodes = new Map<string, TestNode>();
  const down = new Set<string>();
  const cut = new Set<string>(); // "a|b" pairs that cannot talk
  const transport = (from: string) => ({
    async exchange(addr: string, req: object) {
      const target = nodes.get(addr);
      if (!target || down.has(addr) || cut.has(`${from}|${addr}`) || cut.has(`${addr}|${from}`)) {
        throw new Error('unreachable');
      }
      const decoded = ex.requestDeserialize(ex.requestSerialize(req));
      const res = target.g.handleExchange(decoded as never);
      return ex.responseDeserialize(ex.responseSerialize(res)) as never;
    },
  });
  const list: TestNode[] = [];
  for (let i = 0; i < n; i++) {
    const id = `n${i}`;
    const addr = `10.9.0.${i + 1}:50051`;
    const m = new Membership({
      self: { id, grpcAddr: addr, httpAddr: `10.9.0.${i + 1}:8080`, version: 't' },
      incarnation: 1,
      now: () => clock.t,
      suspectAfterMs: 1000,
      deadAfterMs: 3000,
      tombstoneTtlMs: 60_000,
      maxMembers: 100,
      maxNewPerMessage: 50,
      checkAddress: (a) => checkPeerAddress(a, { allowLoopback: false }),
    });
    const secret = opts.secret ? opts.secret(i) : undefined;
    const g = new Gossiper({
      membership: m,
      ...(secret ? { auth: new MessageAuth(secret, { maxClockSkewMs: 30_000 }) } : {}),
      encodeRequest: (x) => wire.encodeRequest('ExchangePeers', x),
      encodeResponse: (x) => wire.encodeResponse('ExchangePeers', x),
      transport: transport(addr),
      seeds: i === 0 ? [] : ['10.9.0.1:50051'],
      fanout: 3,
      maxEntriesPerMessage: 100,
      recentWindowMs: 1000,
      checkAddress: (a) => checkPeerAddress(a, { allowLoopback: false }),
    });
    const node = { id, addr, m, g };
    nodes.set(addr, node);
    list.push(node);
  }
  return {
    nodes: list,
    down,
    cut,
    clock,
    async rounds(k: number, stepMs = 200) {
      for (let r = 0; r < k; r++) {
        clock.t += stepMs;
        await Promise.all(list.filter((x) => !down.has(x.addr)).map((x) => x.g.round()));
      }
    },
    view: (x: TestNode) => Object.fromEntries(x.m.members().map((m) => [m.id, m.status])),
  };
}

describe('discovery gossip protocol', () => {
  it('converges from one seed, detects a crash, spreads a leave, and heals a partition', async () => {
    const c = cluster(5);
    await c.rounds(6);
    for (const x of c.nodes) expect(Object.keys(c.view(x)).sort()).toEqual(['n0', 'n1', 'n2', 'n3', 'n4']);

    c.down.add(c.nodes[4]!.addr);
    await c.rounds(10); // 2 s: suspect, not yet dead
    expect(c.view(c.nodes[0]!).n4).toBe('suspect');
    await c.rounds(6);
    for (const x of c.nodes.slice(0, 4)) expect(c.view(x).n4).toBe('dead');
    for (const x of c.nodes.slice(0, 4))
      expect(Object.values(c.view(x)).filter((s) => s === 'alive')).toHaveLength(4);

    await c.nodes[3]!.g.leave(100);
    c.down.add(c.nodes[3]!.addr);
    await c.rounds(2);
    for (const x of c.nodes.slice(0, 3)) expect(c.view(x).n3).toBe('left');

    // Partition {n0} | {n1, n2}: each side declares the other dead, then heals.
    for (const b of [1, 2]) c.cut.add(`${c.nodes[0]!.addr}|${c.nodes[b]!.addr}`);
    await c.rounds(20);
    expect(c.view(c.nodes[0]!).n1).toBe('dead');
    expect(c.view(c.nodes[1]!).n0).toBe('dead');
    c.cut.clear();
    await c.rounds(15);
    for (const x of c.nodes.slice(0, 3)) {
      expect([c.view(x).n0, c.view(x).n1, c.view(x).n2]).toEqual(['alive', 'alive', 'alive']);
    }
  });

  it('a steady cluster exchanges digests, not full entries', async () => {
    const c = cluster(4);
    await c.rounds(10);
    let fullEntries = 0;
    const n0 = c.nodes[0]!;
    const real = n0.g;
    const res = real.handleExchange(
      ex.requestDeserialize(
        ex.requestSerialize({
          sender_id: 'n1',
          digests: c.nodes[1]!.m.digests().map((d) => ({
            node_id: d.id,
            incarnation: d.incarnation,
            heartbeat: d.heartbeat,
            status: d.status.toUpperCase(),
            data_version: d.dataVersion,
          })),
        }),
      ) as never,
    );
    fullEntries = res.nodes?.length ?? 0;
    // At most the entries whose heartbeat n0 has seen advance beyond n1's view.
    expect(fullEntries).toBeLessThanOrEqual(4);
    expect(res.digests).toHaveLength(4);
  });

  it('with a cluster secret, a node with the wrong secret stays out and changes nothing', async () => {
    const c = cluster(3, { secret: (i) => (i === 2 ? 'b'.repeat(40) : SECRET) });
    await c.rounds(6);
    expect(Object.keys(c.view(c.nodes[0]!)).sort()).toEqual(['n0', 'n1']);
    expect(Object.keys(c.view(c.nodes[1]!)).sort()).toEqual(['n0', 'n1']);
    expect(Object.keys(c.view(c.nodes[2]!))).toEqual(['n2']);
  });

  it('refuses unsigned, replayed, stale and tampered messages', () => {
    const c = cluster(2, { secret: () => SECRET });
    const target = c.nodes[0]!;
    const sender = new MessageAuth(SECRET, { maxClockSkewMs: 30_000 });
    const entry = {
      node_id: 'evil',
      grpc_address: '10.9.9.9:50051',
      http_address: '',
      incarnation: 1,
      heartbeat: 1,
      status: 'ALIVE',
      version: 'x',
      updated_at_ms: 1,
      data_version: 1,
    };
    const body = { sender_id: 'evil', nodes: [entry], digests: [], known_peers: [], want: [] };
    const decode = (m: object) => ex.requestDeserialize(ex.requestSerialize(m)) as never;
    const refusal = (m: object) => {
      try {
        target.g.handleExchange(decode(m));
        return 'accepted';
      } catch (e) {
        return e instanceof GossipRefused ? e.code : String(e);
      }
    };
    expect(refusal(body)).toBe('unauthenticated');
    const signed = {
      ...body,
      auth: sender.sign('ExchangePeers/req', wire.encodeRequest('ExchangePeers', body)),
    };
    expect(refusal({ ...signed, nodes: [{ ...entry, heartbeat: 2 }] })).toBe('unauthenticated'); // tampered
    const stale = new MessageAuth(SECRET, { maxClockSkewMs: 30_000, now: () => Date.now() - 60_000 });
    expect(
      refusal({ ...body, auth: stale.sign('ExchangePeers/req', wire.encodeRequest('ExchangePeers', body)) }),
    ).toBe('unauthenticated');
    expect(target.m.get('evil')).toBeUndefined();
    expect(refusal(signed)).toBe('accepted');
    expect(target.m.get('evil')).toBeDefined();
    expect(refusal(signed)).toBe('unauthenticated'); // replay
  });

  it('signatures survive the round trip whatever defaults the sender spelled out', () => {
    const place = wire.service.PlaceRun!;
    const auth = new MessageAuth(SECRET, { maxClockSkewMs: 30_000 });
    const res = {
      accepted: true,
      node_id: 'b',
      container_id: 'c',
      allocation_id: 'x',
      resource_id: 'r',
      error: '',
    };
    const signed = { ...res, auth: auth.sign('PlaceRun/res', wire.encodeResponse('PlaceRun', res)) };
    const received = place.responseDeserialize(place.responseSerialize(signed)) as typeof signed;
    const verifier = new MessageAuth(SECRET, { maxClockSkewMs: 30_000 });
    expect(() =>
      verifier.verify('PlaceRun/res', wire.encodeResponse('PlaceRun', received), received.auth),
    ).not.toThrow();
    const req = { sender_id: 'a', image: 'i', command: [], cpu_milli: 1, memory: 1, gpu: 0, env: { A: '' } };
    const sreq = { ...req, auth: auth.sign('PlaceRun/req', wire.encodeRequest('PlaceRun', req)) };
    const rreq = place.requestDeserialize(place.requestSerialize(sreq)) as typeof sreq;
    expect(() =>
      verifier.verify('PlaceRun/req', wire.encodeRequest('PlaceRun', rreq), rreq.auth),
    ).not.toThrow();
    const tampered = place.requestDeserialize(
      place.requestSerialize({ ...sreq, env: { A: '', B: '' } }),
    ) as typeof sreq;
    expect(() =>
      verifier.verify('PlaceRun/req', wire.encodeRequest('PlaceRun', tampered), tampered.auth),
    ).toThrow();
  });

  it('refuses messages over the per-message entry cap as a whole', () => {
    const c = cluster(1);
    const many = Array.from({ length: 101 }, (_, i) => ({
      node_id: `x${i}`,
      incarnation: 1,
      heartbeat: 1,
      status: 'ALIVE',
      data_version: 1,
    }));
    const req = ex.requestDeserialize(ex.requestSerialize({ sender_id: 'x', digests: many }));
    expect(() => c.nodes[0]!.g.handleExchange(req as never)).toThrow(GossipRefused);
  });
});

describe('discovery over real gRPC', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iarnet-proto-'));
  const cleanups: (() => unknown)[] = [];
  afterAll(async () => {
    for (const f of cleanups.reverse()) await f();
  });

  async function serve(opts: { secret?: string; maxMessageBytes?: number } = {}) {
    const m = new Membership({
      self: { id: 'srv', grpcAddr: '127.0.0.1:1', httpAddr: '', version: 't' },
      incarnation: 1,
      now: () => performance.now(),
      suspectAfterMs: 5000,
      deadAfterMs: 10_000,
      tombstoneTtlMs: 60_000,
      maxMembers: 100,
      maxNewPerMessage: 50,
      checkAddress: (a) => checkPeerAddress(a, { allowLoopback: true }),
    });
    const g = new Gossiper({
      membership: m,
      ...(opts.secret ? { auth: new MessageAuth(opts.secret, { maxClockSkewMs: 30_000 }) } : {}),
      encodeRequest: (x) => wire.encodeRequest('ExchangePeers', x),
      encodeResponse: (x) => wire.encodeResponse('ExchangePeers', x),
      transport: { exchange: () => Promise.reject(new Error('no')) },
      seeds: [],
      fanout: 3,
      maxEntriesPerMessage: 100,
      recentWindowMs: 1000,
      checkAddress: (a) => checkPeerAddress(a, { allowLoopback: true }),
    });
    const server = new PeerServer({
      wire,
      gossiper: g,
      credentials: grpc.ServerCredentials.createInsecure(),
      maxMessageBytes: opts.maxMessageBytes ?? 64 * 1024,
    });
    const port = await server.listen('127.0.0.1', 0);
    m.updateSelf({ grpcAddr: `127.0.0.1:${port}` });
    m.mergeEntries([
      {
        id: 'other',
        grpcAddr: '127.0.0.1:4242',
        httpAddr: '',
        incarnation: 1,
        heartbeat: 1,
        status: 'alive',
        version: 't',
        updatedAt: 1,
        dataVersion: 1,
      },
    ]);
    cleanups.push(() => server.stop(100));
    return { m, g, port };
  }

  it('a client built from the document’s proto alone gets the peer list', async () => {
    const { port } = await serve();
    const file = join(dir, 'doc.proto');
    writeFileSync(
      file,
      `syntax = "proto3";
service PeerService { rpc ExchangePeers(ExchangeRequest) returns (ExchangeResponse); }
message ExchangeRequest { repeated string known_peers = 1; }
message ExchangeResponse { repeated string known_peers = 1; }
`,
    );
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(file, { keepCase: true })) as unknown as {
      PeerService: grpc.ServiceClientConstructor;
    };
    const client = new pkg.PeerService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    type Call = (req: object, cb: (err: unknown, r: unknown) => void) => void;
    const exchange = (client as unknown as { ExchangePeers: Call }).ExchangePeers.bind(client);
    const res = await new Promise<{ known_peers: string[] }>((resolve, reject) =>
      exchange({ known_peers: ['127.0.0.1:9999'] }, (err, r) =>
        err ? reject(err) : resolve(r as { known_peers: string[] }),
      ),
    );
    expect(res.known_peers.sort()).toEqual([`127.0.0.1:${port}`, '127.0.0.1:4242'].sort());
  });

  it('dials host names at their checked address', async () => {
    const { port } = await serve();
    const clients = new PeerClients(wire, {
      credentials: grpc.credentials.createInsecure(),
      maxMessageBytes: 1 << 20,
      timeoutMs: 2000,
      checkAddress: (a) => checkPeerAddress(a, { allowLoopback: true }),
    });
    cleanups.push(() => clients.close());
    const res = await clients.exchange(`localhost:${port}`, { known_peers: [] });
    expect(res.known_peers).toContain(`127.0.0.1:${port}`);
    const strict = new PeerClients(wire, {
      credentials: grpc.credentials.createInsecure(),
      maxMessageBytes: 1 << 20,
      timeoutMs: 2000,
      checkAddress: (a) => checkPeerAddress(a, { allowLoopback: false }),
    });
    cleanups.push(() => strict.close());
    await expect(strict.exchange(`localhost:${port}`, { known_peers: [] })).rejects.toThrow(
      /refused address/,
    );
  });

  it('refuses oversized and malformed messages and unauthenticated calls, changing nothing', async () => {
    const { m, port } = await serve({ secret: SECRET, maxMessageBytes: 4096 });
    const clients = new PeerClients(wire, {
      credentials: grpc.credentials.createInsecure(),
      maxMessageBytes: 1 << 20,
      timeoutMs: 2000,
    });
    cleanups.push(() => clients.close());
    const addr = `127.0.0.1:${port}`;
    const before = JSON.stringify(m.members().map((x) => [x.id, x.status]));
    const big = {
      sender_id: 'x',
      known_peers: Array.from({ length: 500 }, (_, i) => `10.1.${i % 250}.1:5000`),
    };
    await expect(clients.exchange(addr, big)).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    await expect(clients.exchange(addr, { sender_id: 'x', digests: [] })).rejects.toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
    });
    // Raw garbage bytes on the method path.
    const raw = new grpc.Client(addr, grpc.credentials.createInsecure());
    cleanups.push(() => raw.close());
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      raw.makeUnaryRequest(
        '/PeerService/ExchangePeers',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
        (e) => resolve(e!),
      ),
    );
    expect(err.code).not.toBe(grpc.status.OK);
    expect(JSON.stringify(m.members().map((x) => [x.id, x.status]))).toBe(before);
  });
});
