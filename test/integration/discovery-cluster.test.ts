/**
 * Gossip between real IARNet processes on 127.0.0.11-15 (each with its own peer port): a cluster
 * forms from one seed; SIGKILL → dead; SIGSTOP → suspect → dead, SIGCONT → alive again (refuted);
 * SIGTERM → left quickly; restart → rejoins with a higher incarnation; a node with the wrong
 * cluster secret stays out; oversized and malformed messages are refused and change nothing.
 * Each step is bounded in time; every process is killed by pid at the end.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTestImage, requireDocker, TEST_IMAGE } from '../support/docker-env.ts';
import { removeNodeContainers } from '../support/platform-node.ts';
import { DiscoveryNode, hasLoopbackAliases, sleep, within } from './discovery-node.ts';

const SECRET = 'cluster-secret-for-the-discovery-test-0123456789';
const INTERVAL = 200;
const SUSPECT = 1000;
const DEAD = 2500;

// Loopback aliases beyond 127.0.0.1 exist on Linux; elsewhere skip loudly.
const loopbackAliases = await hasLoopbackAliases();

/** A cluster member with this file's timings and secret, plus a signal and a log count. */
class TestNode extends DiscoveryNode {
  constructor(id: string, ip: string, seeds: string[], secret = SECRET, env: Record<string, string> = {}) {
    super({
      id,
      ip,
      seeds,
      env,
      discovery: {
        gossip_interval_ms: INTERVAL,
        suspect_after_ms: SUSPECT,
        dead_after_ms: DEAD,
        rpc_timeout_ms: 500,
        cluster_secret: secret,
        max_message_bytes: 65536,
      },
    });
  }

  /** Logged 'node failed' events naming `id`. */
  failuresOf(id: string): number {
    return (this.proc?.logs ?? []).filter((l) => l.msg === 'node failed (no heartbeat)' && l.nodeId === id)
      .length;
  }

  signal(signal: NodeJS.Signals) {
    this.proc!.process.kill(signal);
  }
}

const statusOn = async (observer: TestNode, id: string) => (await observer.nodes())[id]?.status;

describe.skipIf(!loopbackAliases)('discovery: a cluster of real IARNet processes', () => {
  const a = new TestNode('node-a', '127.0.0.11', []);
  let b: TestNode;
  let c: TestNode;
  let d: TestNode;
  let all: TestNode[] = [];
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    await a.start();
    b = new TestNode('node-b', '127.0.0.12', [a.peerAddr]);
    c = new TestNode('node-c', '127.0.0.13', [a.peerAddr]);
    d = new TestNode('node-d', '127.0.0.14', [a.peerAddr]);
    all = [a, b, c, d];
    await Promise.all([b.start(), c.start(), d.start()]);
  }, 120_000);

  afterAll(async () => {
    for (const n of all) {
      const p = n.proc?.process;
      if (p?.pid && p.exitCode === null && p.signalCode === null) {
        p.kill('SIGCONT');
        p.kill('SIGKILL');
      }
    }
    console.log('discovery timings (ms):', JSON.stringify(timings));
  });

  it('forms a cluster from one seed', async () => {
    timings.formed = await within(10_000, 'cluster formation', async () => {
      for (const n of all) {
        const view = await n.nodes();
        // Alive, and each one's HTTP address (published once it listens) has spread too.
        if (Object.values(view).filter((v) => v.status === 'alive' && v.http_address).length !== 4)
          return false;
      }
      return true;
    });
    const view = await a.nodes();
    expect(view['node-b']).toMatchObject({ grpc_address: b.peerAddr, status: 'alive' });
    expect(view['node-b']!.http_address).toMatch(/^127\.0\.0\.12:\d+$/);
  });

  it('SIGKILL: the others mark the node dead within the configured bound', async () => {
    d.signal('SIGKILL');
    timings.killedToDead = await within(DEAD + 3000, 'node-d dead on a, b, c', async () => {
      for (const n of [a, b, c]) if ((await statusOn(n, 'node-d')) !== 'dead') return false;
      return true;
    });
    expect(timings.killedToDead).toBeGreaterThanOrEqual(DEAD - 2 * INTERVAL - 100);
  });

  it('SIGSTOP: suspected, then dead; after SIGCONT it refutes and is alive again', async () => {
    const stoppedPhase = async () => {
      await within(SUSPECT + 2000, 'node-c suspect on a', async () =>
        ['suspect', 'dead'].includes((await statusOn(a, 'node-c')) ?? ''),
      );
      await within(DEAD + 3000, 'node-c dead on a and b', async () => {
        for (const n of [a, b]) if ((await statusOn(n, 'node-c')) !== 'dead') return false;
        return true;
      });
    };
    const before = (await a.nodes())['node-c']!.incarnation;
    const stoppedAt = Date.now();
    c.signal('SIGSTOP');
    try {
      await stoppedPhase();
    } finally {
      c.signal('SIGCONT');
    }
    // Exact times from a's own log lines.
    const loggedAt = (msg: string) =>
      Date.parse(String(a.proc!.logs.find((l) => l.msg === msg && l.nodeId === 'node-c')?.time)) - stoppedAt;
    timings.stopToSuspectLogged = loggedAt('node suspected');
    timings.stopToDeadLogged = loggedAt('node failed (no heartbeat)');
    expect(timings.stopToDeadLogged).toBeGreaterThanOrEqual(DEAD - 2 * INTERVAL);
    timings.contToAlive = await within(5000, 'node-c alive again on a and b', async () => {
      for (const n of [a, b]) if ((await statusOn(n, 'node-c')) !== 'alive') return false;
      return true;
    });
    // Back either by heartbeat progress (same incarnation) or by refuting (higher): never lower.
    expect((await a.nodes())['node-c']!.incarnation).toBeGreaterThanOrEqual(before);
    // c itself sees the others alive again.
    await within(5000, 'a and b alive on c', async () => {
      const v = await c.nodes();
      return v['node-a']?.status === 'alive' && v['node-b']?.status === 'alive';
    });
  });

  it('never declared a node dead while it was alive and answering', () => {
    for (const n of [a, b, c]) {
      expect(n.failuresOf('node-a')).toBe(0);
      expect(n.failuresOf('node-b')).toBe(0);
    }
    // c was frozen, not its peers: on waking it must not declare them dead.
    expect(c.failuresOf('node-a') + c.failuresOf('node-b') + c.failuresOf('node-d')).toBeLessThanOrEqual(1);
    expect(c.failuresOf('node-a') + c.failuresOf('node-b')).toBe(0);
    expect(a.failuresOf('node-c')).toBe(1);
  });

  it('graceful stop: peers see "left" quickly; restart: rejoins with a higher incarnation', async () => {
    const before = (await a.nodes())['node-b']!.incarnation;
    const stopped = Date.now();
    const code = await b.proc!.stop('SIGTERM');
    expect(code).toBe(0);
    timings.termToLeft = await within(2000, 'node-b left on a and c', async () => {
      for (const n of [a, c]) if ((await statusOn(n, 'node-b')) !== 'left') return false;
      return true;
    });
    timings.termToLeftIncludingExit = Date.now() - stopped;
    await b.start();
    timings.restartToAlive = await within(5000, 'node-b alive again on a and c', async () => {
      for (const n of [a, c]) if ((await statusOn(n, 'node-b')) !== 'alive') return false;
      return true;
    });
    expect((await a.nodes())['node-b']!.incarnation).toBeGreaterThan(before);
    expect(a.failuresOf('node-b')).toBe(0);
  });

  it('a node with the wrong cluster secret is refused and stays out', async () => {
    const e = new TestNode('node-e', '127.0.0.15', [a.peerAddr], 'x'.repeat(48));
    all.push(e);
    await e.start();
    await sleep(10 * INTERVAL);
    for (const n of [a, b, c]) expect((await n.nodes())['node-e']).toBeUndefined();
    expect(Object.keys(await e.nodes())).toEqual(['node-e']);
    expect(a.proc!.logs.some((l) => l.msg === 'refused a gossip message')).toBe(true);
    await e.proc!.stop('SIGKILL');
  });

  it('oversized and malformed messages are refused and change nothing', async () => {
    const before = JSON.stringify(
      Object.values(await a.nodes())
        .map((v) => [v.id, v.status])
        .sort(),
    );
    const client = new grpc.Client(a.peerAddr, grpc.credentials.createInsecure());
    const call = (payload: Buffer) =>
      new Promise<grpc.ServiceError | null>((resolve) =>
        client.makeUnaryRequest(
          '/PeerService/ExchangePeers',
          (x: Buffer) => x,
          (x: Buffer) => x,
          payload,
          { deadline: Date.now() + 3000 },
          (err) => resolve(err),
        ),
      );
    // 100 KiB: over max_message_bytes (64 KiB).
    const huge = await call(Buffer.alloc(100 * 1024, 0x0a));
    const garbage = await call(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]));
    // Well-formed but unsigned.
    const unsigned = await call(Buffer.from([0x12, 0x04, 0x65, 0x76, 0x69, 0x6c]));
    client.close();
    expect(huge?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(garbage?.code).not.toBeUndefined();
    expect(unsigned?.code).toBe(grpc.status.UNAUTHENTICATED);
    const after = JSON.stringify(
      Object.values(await a.nodes())
        .map((v) => [v.id, v.status])
        .sort(),
    );
    expect(after).toBe(before);
  });

  it('publishes peer metrics', async () => {
    const text = await (await fetch(`${a.proc!.url}/metrics`)).text();
    expect(text).toMatch(/iarnet_peers\{status="alive"\} 2/);
    expect(text).toMatch(/iarnet_gossip_rounds_total \d+/);
    expect(text).toMatch(/iarnet_gossip_bytes_total\{direction="sent"\} \d+/);
  });
});

const dockerEnv = loopbackAliases
  ? await requireDocker()
  : { ok: false as const, skipReason: 'no loopback aliases' };

describe.skipIf(!loopbackAliases || !dockerEnv.ok)('discovery: placing a run on a peer (real Docker)', () => {
  const limits = (cpu: string, memory: string) => ({
    IARNET_RESOURCE_LIMITS__CPU: cpu,
    IARNET_RESOURCE_LIMITS__MEMORY: memory,
    IARNET_RESOURCE_LIMITS__GPU: '0',
  });
  const small = new TestNode('place-a', '127.0.0.21', [], SECRET, limits('100m', '64Mi'));
  let roomy: TestNode;

  beforeAll(async () => {
    await ensureTestImage();
    await small.start();
    roomy = new TestNode('place-b', '127.0.0.22', [small.peerAddr], SECRET, limits('2', '2Gi'));
    await roomy.start();
    // B's available resources must have reached A.
    await within(15_000, 'B known on A with resources', async () => {
      const b = (await small.nodes())['place-b'] as unknown as { status: string; resources: unknown };
      return b?.status === 'alive' && b.resources !== null;
    });
  }, 120_000);

  afterAll(async () => {
    for (const n of [small, roomy]) {
      const p = n?.proc?.process;
      if (p?.pid && p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
    for (const id of ['place-a', 'place-b']) await removeNodeContainers(id).catch(() => {});
  });

  it('POST /run on a full node is placed on the peer with room', async () => {
    const started = Date.now();
    const res = await small.call('/run', {
      method: 'POST',
      body: { image: TEST_IMAGE, command: ['sleep', '300'], cpu: 0.5, memory: 0.125 },
    });
    const body = await res.json();
    const await0 = await small.nodes();
    const why = () =>
      JSON.stringify({
        body,
        peers: Object.values(await0),
        logs: small.proc!.logs.filter((l) => String(l.msg).includes('peer')).slice(-5),
        peerLogs: roomy
          .proc!.logs.filter((l) => l.level === 'warn' || l.level === 50 || l.level === 40)
          .slice(-5),
      });
    expect(res.status, why()).toBe(202);
    expect(body).toMatchObject({ status: 'accepted', node_id: 'place-b' });
    console.log('placed on peer in (ms):', Date.now() - started);
    const quota = await (await roomy.call('/resources')).json();
    expect(quota.current.cpu).toBeCloseTo(0.5);
    // Nothing is booked on the full node.
    const local = await (await small.call('/resources')).json();
    expect(local.current.cpu).toBe(0);
    // The origin's views list the run with the node it runs on.
    const list = (await (await small.call('/api/containers')).json()) as {
      items: { id: string; nodeId: string; status: string; allocationId: string }[];
    };
    expect(list.items).toContainEqual(
      expect.objectContaining({
        id: body.container_id,
        allocationId: body.allocation_id,
        nodeId: 'place-b',
        status: 'remote',
      }),
    );
    const status = (await (await small.call('/status')).json()) as {
      containers: { id: string; node_id: string }[];
    };
    expect(status.containers).toContainEqual(
      expect.objectContaining({ id: body.container_id, node_id: 'place-b' }),
    );
    // The peer lists it as its own.
    const onPeer = (await (await roomy.call('/api/containers')).json()) as {
      items: { id: string; nodeId: string }[];
    };
    expect(onPeer.items).toContainEqual(
      expect.objectContaining({ id: body.container_id, nodeId: 'place-b' }),
    );
  });

  it('the origin reads the log of, stops, restarts, samples and deletes a run it placed on a peer; the peer books and releases its quota', async () => {
    const res = await small.call('/run', {
      method: 'POST',
      body: {
        image: TEST_IMAGE,
        command: ['sh', '-c', 'echo hello from the peer; sleep 300'],
        cpu: 0.25,
        memory: 0.125,
      },
    });
    const placed = await res.json();
    expect(res.status, JSON.stringify(placed)).toBe(202);
    expect(placed.node_id).toBe('place-b');

    // Its log, read through the peer (RunLogs): the last lines, then followed over SSE.
    await within(10_000, 'the line in the remote log', async () => {
      const r = await small.call(`/api/containers/${placed.container_id}/logs?tail=10`);
      const b = (await r.json()) as { items?: { message: string }[] };
      return r.status === 200 && (b.items ?? []).some((l) => l.message === 'hello from the peer');
    });
    const ac = new AbortController();
    const sse = await fetch(
      `${small.proc!.url}/api/containers/${placed.allocation_id}/logs?follow=true&tail=5`,
      {
        headers: { authorization: `Bearer ${small.token}` },
        signal: ac.signal,
      },
    );
    expect(sse.headers.get('content-type')).toContain('text/event-stream');
    const reader = sse.body!.getReader();
    let text = '';
    while (!text.includes('hello from the peer')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    ac.abort();
    expect(text).toContain('event: log');
    const peerCpu = async () => (await (await roomy.call('/resources')).json()).current.cpu as number;
    const before = await peerCpu();

    // Stopped from the origin, by its container id: stopped on the peer, quota released there.
    const stopped = await small.call(`/api/containers/${placed.container_id}/stop`, { method: 'POST' });
    const stoppedBody = await stopped.json();
    expect(stopped.status, JSON.stringify(stoppedBody)).toBe(200);
    expect(stoppedBody).toMatchObject({ nodeId: 'place-b', status: 'exited', allocation: 'released' });
    expect(await peerCpu()).toBeCloseTo(before - 0.25);
    const onPeer = (await (await roomy.call(`/api/containers/${placed.allocation_id}`)).json()) as {
      allocation: string;
    };
    expect(onPeer.allocation).toBe('released');
    // Stopping again is not an error (the peer finds it stopped).
    expect(
      (await small.call(`/api/containers/${placed.allocation_id}/stop`, { method: 'POST' })).status,
    ).toBe(200);
    // Stats of a stopped run: 409, as for a local one.
    expect((await small.call(`/api/containers/${placed.allocation_id}/stats`)).status).toBe(409);

    // Restarted from the origin: booked again and started on the peer, listed as running here.
    const restarted = await small.call(`/api/containers/${placed.container_id}/restart`, { method: 'POST' });
    const restartedBody = await restarted.json();
    expect(restarted.status, JSON.stringify(restartedBody)).toBe(200);
    expect(restartedBody).toMatchObject({ nodeId: 'place-b', status: 'remote' });
    expect(await peerCpu()).toBeCloseTo(before);
    expect(
      ((await (await roomy.call(`/api/containers/${placed.allocation_id}`)).json()) as { allocation: string })
        .allocation,
    ).toBe('committed');
    // Its resource use, sampled by the peer's engine and read through the origin.
    const stats = await small.call(`/api/containers/${placed.container_id}/stats`);
    const sample = (await stats.json()) as Record<string, unknown>;
    expect(stats.status, JSON.stringify(sample)).toBe(200);
    expect(sample).toMatchObject({ cpuPercent: expect.any(Number), at: expect.any(String) });
    expect(sample.memoryBytes as number).toBeGreaterThan(0);

    // Deleted from the origin: gone on both nodes.
    expect((await small.call(`/api/containers/${placed.allocation_id}`, { method: 'DELETE' })).status).toBe(
      204,
    );
    const originList = (await (await small.call('/api/containers')).json()) as { items: { id: string }[] };
    expect(originList.items.map((i) => i.id)).not.toContain(placed.container_id);
    expect((await roomy.call(`/api/containers/${placed.allocation_id}`)).status).toBe(404);
    expect(
      (await small.call(`/api/containers/${placed.allocation_id}/stop`, { method: 'POST' })).status,
    ).toBe(404);
  });

  it('a run that fits nowhere keeps the local 503', async () => {
    const res = await small.call('/run', {
      method: 'POST',
      body: { image: TEST_IMAGE, command: ['sleep', '300'], cpu: 64, memory: 0.125 },
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: 'Resource limit exceeded' });
  });
});
