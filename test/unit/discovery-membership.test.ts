/**
 * The membership state machine, driven by a fake clock: suspicion and death timing, leave,
 * incarnations and refutation, stale and replayed news, caps, address checks, tombstones.
 */
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { checkPeerAddress } from '../../plugins/discovery/address.ts';
import { discoveryConfigSchema } from '../../plugins/discovery/config.ts';
import { type MemberState, Membership, type MembershipEvent } from '../../plugins/discovery/membership.ts';

function setup(opts: { maxNewPerMessage?: number; maxMembers?: number; allowLoopback?: boolean } = {}) {
  let t = 0;
  const events: MembershipEvent[] = [];
  const m = new Membership({
    self: { id: 'self', grpcAddr: '10.0.0.1:50051', httpAddr: '10.0.0.1:8080', version: '1' },
    incarnation: 1,
    now: () => t,
    wallClock: () => 1_000_000 + t,
    suspectAfterMs: 1000,
    deadAfterMs: 3000,
    tombstoneTtlMs: 10_000,
    maxMembers: opts.maxMembers ?? 100,
    maxNewPerMessage: opts.maxNewPerMessage ?? 10,
    checkAddress: (a) => checkPeerAddress(a, { allowLoopback: opts.allowLoopback ?? false }),
    onEvent: (e) => events.push(e),
  });
  return {
    m,
    events,
    advance(ms: number, step = 100) {
      for (let i = 0; i < ms; i += step) {
        t += step;
        m.tick();
      }
    },
    types: () => events.map((e) => ('member' in e ? `${e.type}:${e.member.id}` : e.type)),
  };
}

const peer = (id: string, over: Partial<MemberState> = {}): MemberState => ({
  id,
  grpcAddr: `10.0.0.${id.length + 10}:50051`,
  httpAddr: `10.0.0.${id.length + 10}:8080`,
  incarnation: 5,
  heartbeat: 10,
  status: 'alive',
  version: '1',
  updatedAt: 1,
  dataVersion: 1,
  ...over,
});

describe('discovery membership', () => {
  it('learns a peer, suspects it after suspect_after of silence and declares it dead after dead_after', () => {
    const s = setup();
    s.m.mergeEntries([peer('b')]);
    expect(s.m.get('b')?.status).toBe('alive');
    s.advance(900);
    expect(s.m.get('b')?.status).toBe('alive');
    s.advance(200);
    expect(s.m.get('b')?.status).toBe('suspect');
    s.advance(1800);
    expect(s.m.get('b')?.status).toBe('suspect');
    s.advance(200);
    expect(s.m.get('b')?.status).toBe('dead');
    expect(s.types()).toEqual(['joined:b', 'suspect:b', 'failed:b']);
  });

  it('heartbeat progress keeps a peer alive and clears suspicion; stale heartbeats do not', () => {
    const s = setup();
    s.m.mergeEntries([peer('b')]);
    for (let hb = 11; hb < 20; hb++) {
      s.advance(500);
      s.m.mergeDigests([{ id: 'b', incarnation: 5, heartbeat: hb, status: 'alive', dataVersion: 1 }]);
    }
    expect(s.m.get('b')?.status).toBe('alive');
    s.advance(1100);
    expect(s.m.get('b')?.status).toBe('suspect');
    // The same (replayed) heartbeat proves nothing.
    s.m.mergeDigests([{ id: 'b', incarnation: 5, heartbeat: 19, status: 'alive', dataVersion: 1 }]);
    s.m.mergeEntries([peer('b', { heartbeat: 12 })]);
    expect(s.m.get('b')?.status).toBe('suspect');
    s.m.mergeDigests([{ id: 'b', incarnation: 5, heartbeat: 20, status: 'alive', dataVersion: 1 }]);
    expect(s.m.get('b')?.status).toBe('alive');
  });

  it('never evicts a live member because another node says it is dead or suspect', () => {
    const s = setup();
    s.m.mergeEntries([peer('b')]);
    s.m.mergeEntries([peer('b', { status: 'dead', heartbeat: 10 })]);
    s.m.mergeDigests([{ id: 'b', incarnation: 5, heartbeat: 11, status: 'dead', dataVersion: 1 }]);
    s.m.mergeEntries([peer('b', { status: 'suspect', heartbeat: 12 })]);
    expect(s.m.get('b')?.status).toBe('alive');
  });

  it('a leave is accepted for the current incarnation; a stale leave (older incarnation or heartbeat) is not', () => {
    const s = setup();
    s.m.mergeEntries([peer('b', { incarnation: 6, heartbeat: 30 })]);
    s.m.mergeEntries([peer('b', { incarnation: 5, heartbeat: 99, status: 'left' })]);
    s.m.mergeEntries([peer('b', { incarnation: 6, heartbeat: 29, status: 'left' })]);
    expect(s.m.get('b')?.status).toBe('alive');
    s.m.mergeEntries([peer('b', { incarnation: 6, heartbeat: 31, status: 'left' })]);
    expect(s.m.get('b')?.status).toBe('left');
    // Left is final for that life: old heartbeats do not revive it...
    s.m.mergeDigests([{ id: 'b', incarnation: 6, heartbeat: 40, status: 'alive', dataVersion: 1 }]);
    expect(s.m.get('b')?.status).toBe('left');
    // ...a new life (higher incarnation) does.
    s.m.mergeEntries([peer('b', { incarnation: 7, heartbeat: 1 })]);
    expect(s.m.get('b')?.status).toBe('alive');
    expect(s.types()).toEqual(['joined:b', 'left:b', 'joined:b']);
  });

  it('refutes suspicion of itself by raising its incarnation, and outbids a remembered later life', () => {
    const s = setup();
    s.m.mergeDigests([{ id: 'self', incarnation: 1, heartbeat: 1, status: 'suspect', dataVersion: 1 }]);
    expect(s.m.self.incarnation).toBe(2);
    s.m.mergeEntries([{ ...peer('self'), incarnation: 9, status: 'dead' }]);
    expect(s.m.self.incarnation).toBe(10);
    // Being called alive at an older incarnation needs nothing.
    s.m.mergeDigests([{ id: 'self', incarnation: 3, heartbeat: 1, status: 'dead', dataVersion: 1 }]);
    expect(s.m.self.incarnation).toBe(10);
    expect(s.m.self.status).toBe('alive');
  });

  it('a dead member comes back when its heartbeat advances (resumed process) or it restarts', () => {
    const s = setup();
    s.m.mergeEntries([peer('b')]);
    s.advance(3100);
    expect(s.m.get('b')?.status).toBe('dead');
    s.m.mergeDigests([{ id: 'b', incarnation: 5, heartbeat: 10, status: 'alive', dataVersion: 1 }]);
    expect(s.m.get('b')?.status).toBe('dead');
    s.m.mergeDigests([{ id: 'b', incarnation: 5, heartbeat: 11, status: 'alive', dataVersion: 1 }]);
    expect(s.m.get('b')?.status).toBe('alive');
  });

  it('forgets tombstones after tombstone_ttl and does not re-create them from old news', () => {
    const s = setup();
    s.m.mergeEntries([peer('b')]);
    s.advance(3100);
    expect(s.m.get('b')?.status).toBe('dead');
    s.advance(10_000);
    expect(s.m.get('b')).toBeUndefined();
    s.m.mergeEntries([peer('b', { status: 'dead' })]);
    expect(
      s.m.mergeDigests([{ id: 'b', incarnation: 5, heartbeat: 10, status: 'dead', dataVersion: 1 }]),
    ).toEqual([]);
    expect(s.m.get('b')).toBeUndefined();
  });

  it('asks for full entries it lacks or holds older, and takes new data only from newer versions', () => {
    const s = setup();
    expect(
      s.m.mergeDigests([{ id: 'b', incarnation: 5, heartbeat: 1, status: 'alive', dataVersion: 1 }]),
    ).toEqual(['b']);
    s.m.mergeEntries([peer('b')]);
    expect(
      s.m.mergeDigests([{ id: 'b', incarnation: 5, heartbeat: 11, status: 'alive', dataVersion: 2 }]),
    ).toEqual(['b']);
    s.m.mergeEntries([peer('b', { dataVersion: 2, httpAddr: '10.0.0.99:8080' })]);
    expect(s.m.get('b')?.httpAddr).toBe('10.0.0.99:8080');
    s.m.mergeEntries([peer('b', { dataVersion: 1, httpAddr: '10.0.0.98:8080' })]);
    expect(s.m.get('b')?.httpAddr).toBe('10.0.0.99:8080');
    // newerThan: what a peer holding these digests lacks.
    const theirs = [{ id: 'b', incarnation: 5, heartbeat: 10, status: 'alive' as const, dataVersion: 2 }];
    expect(s.m.newerThan(theirs).map((m) => m.id)).toEqual(['self']);
  });

  it('caps new members per message and in total, and refuses bad addresses and ids', () => {
    const s = setup({ maxNewPerMessage: 3, maxMembers: 5 });
    s.m.mergeEntries(
      ['p1', 'p2', 'p3', 'p4', 'p5'].map((id, i) => peer(id, { grpcAddr: `10.0.1.${i}:50051` })),
    );
    expect(s.m.members()).toHaveLength(4);
    s.m.mergeEntries(['q1', 'q2', 'q3'].map((id, i) => peer(id, { grpcAddr: `10.0.2.${i}:50051` })));
    expect(s.m.members()).toHaveLength(5);
    const t = setup();
    t.m.mergeEntries([
      peer('meta', { grpcAddr: '169.254.169.254:80' }),
      peer('loop', { grpcAddr: '127.0.0.1:50051' }),
      peer('noport', { grpcAddr: '10.0.0.5:0' }),
      peer('junk', { grpcAddr: 'not an address' }),
      peer('Bad_Id'),
      peer('neg', { heartbeat: -1 }),
      peer('res', {
        resources: {
          limits: { cpu: Number.NaN, memory: 1, gpu: 0 },
          current: { cpu: 0, memory: 0, gpu: 0 },
          available: { cpu: 0, memory: 0, gpu: 0 },
          resourceCount: 1,
        },
      }),
    ]);
    expect(t.m.members().map((m) => m.id)).toEqual(['self']);
    expect(t.m.rejected).toHaveLength(7);
    const u = setup({ allowLoopback: true });
    u.m.mergeEntries([peer('loop', { grpcAddr: '127.0.0.1:50051' })]);
    expect(u.m.get('loop')).toBeDefined();
  });

  it('a stall of its own (SIGSTOP, blocked loop) is not held against peers', () => {
    const s = setup();
    s.m.mergeEntries([peer('b')]);
    s.advance(300);
    s.advance(5000, 5000); // one tick after 5 s of nothing
    expect(s.m.get('b')?.status).toBe('alive');
    s.advance(1000);
    expect(s.m.get('b')?.status).toBe('suspect');
  });

  it('scales timeouts by log10 of the cluster size', () => {
    const s = setup({ maxNewPerMessage: 200, maxMembers: 200 });
    expect(s.m.timeouts()).toEqual({ suspectAfterMs: 1000, deadAfterMs: 3000 });
    s.m.mergeEntries(Array.from({ length: 99 }, (_, i) => peer(`p${i}`, { grpcAddr: `10.0.3.${i}:50051` })));
    expect(s.m.timeouts()).toEqual({ suspectAfterMs: 2000, deadAfterMs: 6000 });
  });

  it('leave marks itself left with a higher heartbeat; data changes bump the data version', () => {
    const s = setup();
    const before = s.m.self.dataVersion;
    s.m.updateSelf({ httpAddr: '10.0.0.1:9090' });
    s.m.updateSelf({ httpAddr: '10.0.0.1:9090' });
    expect(s.m.self.dataVersion).toBe(before + 1);
    const hb = s.m.self.heartbeat;
    const self = s.m.leave();
    expect(self).toMatchObject({ status: 'left', heartbeat: hb + 1 });
    s.advance(500);
    expect(s.m.self.heartbeat).toBe(hb + 1);
  });
});

describe('discovery config', () => {
  it('has the documented defaults, takes strings from the environment, and names bad keys', () => {
    expect(v.parse(discoveryConfigSchema, {})).toMatchObject({
      gossip_interval_ms: 1000,
      fanout: 3,
      cluster_secret: '',
      max_message_bytes: 1048576,
    });
    expect(v.parse(discoveryConfigSchema, { fanout: '5', allow_loopback: 'false' })).toMatchObject({
      fanout: 5,
      allow_loopback: false,
    });
    expect(v.safeParse(discoveryConfigSchema, { cluster_secret: 'short' }).issues?.[0]?.message).toMatch(
      /at least 32/,
    );
    expect(
      v.safeParse(discoveryConfigSchema, { suspect_after_ms: 5000, dead_after_ms: 4000 }).issues?.[0]
        ?.message,
    ).toMatch(/below dead_after_ms/);
    expect(v.safeParse(discoveryConfigSchema, { gossip: 1 }).success).toBe(false);
  });
});
