/**
 * Placing runs on peers: candidates by gossiped room, refusals and failures fall through to the
 * next peer, all failing keeps the local 503 (undefined); the serving side authenticates, accepts
 * only alive members, and runs the request as a 'node' principal through its RunService.
 */
import { describe, expect, it } from 'vitest';
import type { RunService } from '../../core/domain/runs.ts';
import { ApiError } from '../../core/kernel/errors.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import type { Principal } from '../../core/slots/auth.ts';
import { MessageAuth } from '../../plugins/discovery/auth.ts';
import { GossipRefused } from '../../plugins/discovery/gossiper.ts';
import { type MemberState, Membership } from '../../plugins/discovery/membership.ts';
import { Placement } from '../../plugins/discovery/placement.ts';
import { loadPeerWire } from '../../plugins/discovery/wire.ts';

const wire = loadPeerWire();
const place = wire.service.PlaceRun!;
const SECRET = 's'.repeat(40);
const GiB = 2 ** 30;

function membership(id: string) {
  const m = new Membership({
    self: { id, grpcAddr: '10.0.0.1:50051', httpAddr: '', version: 't' },
    incarnation: 1,
    now: () => 0,
    suspectAfterMs: 1000,
    deadAfterMs: 3000,
    tombstoneTtlMs: 10_000,
    maxMembers: 10,
    maxNewPerMessage: 10,
  });
  const peer = (pid: string, cpu: number, i: number): MemberState => ({
    id: pid,
    grpcAddr: `10.0.1.${i}:50051`,
    httpAddr: '',
    incarnation: 1,
    heartbeat: 1,
    status: 'alive',
    version: 't',
    updatedAt: 0,
    dataVersion: 1,
    resources: {
      limits: { cpu, memory: 4 * GiB, gpu: 0 },
      current: { cpu: 0, memory: 0, gpu: 0 },
      available: { cpu, memory: 4 * GiB, gpu: 0 },
      resourceCount: 1,
    },
  });
  m.mergeEntries([peer('small', 0.25, 1), peer('big', 4, 2), peer('mid', 2, 3)]);
  return m;
}

const request = { image: 'busybox', cpuMilli: 1000, memory: GiB, gpu: 0 };
const user: Principal = { id: 'u1', name: 'alice', role: 'operator', kind: 'user' };

describe('discovery placement', () => {
  it('tries peers with room, most free CPU first, and falls through refusals and failures', async () => {
    const m = membership('origin');
    const auth = new MessageAuth(SECRET, { maxClockSkewMs: 30_000 });
    const peerAuth = new MessageAuth(SECRET, { maxClockSkewMs: 30_000 });
    const tried: string[] = [];
    const clients = {
      async placeRun(addr: string, req: object) {
        tried.push(addr);
        const r = place.requestDeserialize(place.requestSerialize(req)) as { auth: { nonce: Buffer } };
        if (addr === '10.0.1.2:50051') throw new Error('unreachable');
        const res = {
          accepted: true,
          node_id: 'mid',
          container_id: 'c1',
          allocation_id: 'a1',
          resource_id: 'r1',
        };
        const signed = {
          ...res,
          auth: peerAuth.sign('PlaceRun/res', wire.encodeResponse('PlaceRun', res), r.auth.nonce),
        };
        return place.responseDeserialize(place.responseSerialize(signed)) as never;
      },
    };
    const p = new Placement({
      membership: m,
      clients,
      wire,
      auth,
      nodeId: 'origin',
      logger: silentLogger(),
      timeoutMs: 1000,
    });
    expect(p.candidates(request).map((x) => x.id)).toEqual(['big', 'mid']);
    expect(await p.overflow(request, user)).toEqual({
      nodeId: 'mid',
      containerId: 'c1',
      allocationId: 'a1',
      resourceId: 'r1',
    });
    expect(tried).toEqual(['10.0.1.2:50051', '10.0.1.3:50051']);
  });

  it('all peers refusing (or forging answers) keeps the local 503', async () => {
    const m = membership('origin');
    const auth = new MessageAuth(SECRET, { maxClockSkewMs: 30_000 });
    const forger = new MessageAuth('f'.repeat(40), { maxClockSkewMs: 30_000 });
    const clients = {
      async placeRun(addr: string) {
        const res = addr.endsWith('.2:50051')
          ? { accepted: false, error: 'Insufficient CPU resources' }
          : { accepted: true, node_id: 'x', container_id: 'c', allocation_id: 'a', resource_id: 'r' };
        return place.responseDeserialize(
          place.responseSerialize({
            ...res,
            auth: forger.sign('PlaceRun/res', wire.encodeResponse('PlaceRun', res)),
          }),
        ) as never;
      },
    };
    const p = new Placement({
      membership: m,
      clients,
      wire,
      auth,
      nodeId: 'origin',
      logger: silentLogger(),
      timeoutMs: 1000,
    });
    expect(await p.overflow(request, user)).toBeUndefined();
    expect(await p.overflow({ ...request, cpuMilli: 8000 }, user)).toBeUndefined();
  });

  it('serves PlaceRun: authenticated, alive members only, through RunService as a node principal', async () => {
    const m = membership('big');
    m.mergeEntries([
      {
        id: 'origin',
        grpcAddr: '10.0.1.9:50051',
        httpAddr: '',
        incarnation: 1,
        heartbeat: 1,
        status: 'alive',
        version: 't',
        updatedAt: 0,
        dataVersion: 1,
      },
    ]);
    const calls: Principal[] = [];
    const runs = {
      async run(_req: unknown, principal: Principal) {
        calls.push(principal);
        if (calls.length > 1)
          throw new ApiError(503, 'QUOTA_EXCEEDED', 'Resource limit exceeded', 'Insufficient CPU');
        return {
          where: 'local',
          allocation: { id: 'a9', resourceId: 'r9' },
          workload: { id: 'c9' },
        };
      },
    } as unknown as RunService;
    const serverAuth = new MessageAuth(SECRET, { maxClockSkewMs: 30_000 });
    const p = new Placement({
      membership: m,
      clients: { placeRun: () => Promise.reject(new Error('unused')) },
      wire,
      auth: serverAuth,
      runs,
      nodeId: 'big',
      logger: silentLogger(),
      timeoutMs: 1000,
    });
    const client = new MessageAuth(SECRET, { maxClockSkewMs: 30_000 });
    const send = (body: Record<string, unknown>, signer = client) =>
      p.handlePlaceRun(
        place.requestDeserialize(
          place.requestSerialize({
            ...body,
            auth: signer.sign('PlaceRun/req', wire.encodeRequest('PlaceRun', body)),
          }),
        ) as never,
      );
    const body = { sender_id: 'origin', image: 'busybox', cpu_milli: 500, memory: GiB, gpu: 0 };
    expect(await send(body)).toMatchObject({
      accepted: true,
      node_id: 'big',
      container_id: 'c9',
      allocation_id: 'a9',
    });
    expect(calls[0]).toMatchObject({ kind: 'node', id: 'node:origin' });
    expect(await send(body)).toMatchObject({ accepted: false, error: 'Insufficient CPU' });
    expect(await send({ ...body, sender_id: 'stranger' })).toMatchObject({ accepted: false });
    await expect(
      send(body, new MessageAuth('w'.repeat(40), { maxClockSkewMs: 30_000 })),
    ).rejects.toBeInstanceOf(GossipRefused);
    await expect(send({ ...body, cpu_milli: 0 })).rejects.toBeInstanceOf(GossipRefused);
    expect(calls).toHaveLength(2);
  });
});
