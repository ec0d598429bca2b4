/**
 * StopRun and RunStats without the network: the peer obeys only the node that placed a run,
 * refuses malformed requests, and stops, restarts or deletes through its RunService (samples
 * from its runner); the origin keeps its record as it was when the peer refuses or cannot be
 * reached. (The real gRPC path between two processes is in
 * test/integration/discovery-cluster.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Allocation } from '../../core/domain/ledger/types.ts';
import type { RunService } from '../../core/domain/runs.ts';
import { ApiError } from '../../core/kernel/errors.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import { openTestStorage } from '../../test/support/storage-host.ts';
import { GossipRefused } from './gossiper.ts';
import { RemoteControl } from './remote-control.ts';
import { RemoteRuns } from './remote-runs.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

const allocation = (extra: Partial<Allocation> = {}): Allocation => ({
  id: 'a0123456789abcdef',
  resourceId: 'r1',
  nodeId: 'node-a',
  state: 'committed',
  cpuMilli: 250,
  memory: 2 ** 27,
  gpu: 0,
  image: 'busybox',
  workloadName: 'iarnet-a0123456789abcdef',
  workloadId: 'c'.repeat(64),
  owner: 'node:node-a',
  createdAt: new Date().toISOString(),
  ...extra,
});

async function setup(opts: { peer?: { status: string; grpcAddr?: string }; answer?: unknown } = {}) {
  const opened = await openTestStorage();
  closers.push(opened.close);
  await opened.storage.migrate('discovery', new URL('./migrations/', import.meta.url));
  const remoteRuns = new RemoteRuns(opened.storage);
  const calls: string[] = [];
  const runs = {
    stop: async (a: Allocation) => {
      calls.push(`stop ${a.id}`);
    },
    remove: async (a: Allocation) => {
      calls.push(`remove ${a.id}`);
    },
    restart: async (a: Allocation) => {
      calls.push(`restart ${a.id}`);
    },
  } as unknown as RunService;
  let stored: Allocation | undefined = allocation();
  const sent: unknown[] = [];
  const control = new RemoteControl({
    membership: {
      get: () => (opts.peer ?? { status: 'alive', grpcAddr: '127.0.0.9:1' }) as never,
    },
    clients: {
      runLogs: async () => (async function* () {})(),
      stopRun: async (_addr, req) => {
        sent.push(req);
        if (opts.answer instanceof Error) throw opts.answer;
        return (opts.answer ?? { ok: true, error: '' }) as never;
      },
      runStats: async (_addr, req) => {
        sent.push(req);
        if (opts.answer instanceof Error) throw opts.answer;
        return (opts.answer ?? { ok: true, error: '' }) as never;
      },
    },
    wire: { encodeRequest: () => Buffer.alloc(0), encodeResponse: () => Buffer.alloc(0) },
    runs,
    runner: async () =>
      ({
        stats: async (id: string) => {
          calls.push(`stats ${id}`);
          return SAMPLE;
        },
      }) as never,
    allocation: async () => stored,
    remoteRuns,
    nodeId: 'node-b',
    logger: silentLogger(),
    timeoutMs: 1000,
  });
  return {
    control,
    remoteRuns,
    calls,
    sent,
    setStored: (a: Allocation | undefined) => {
      stored = a;
    },
  };
}

const SAMPLE = {
  cpuPercent: 12.5,
  memoryBytes: 2 ** 20,
  memoryLimitBytes: 2 ** 27,
  networkRxBytes: 10,
  networkTxBytes: 20,
  blockReadBytes: 30,
  blockWriteBytes: 40,
  at: '2026-11-26T00:00:00.000Z',
};

const request = (extra: object = {}) =>
  ({ sender_id: 'node-a', allocation_id: 'a0123456789abcdef', remove: false, auth: null, ...extra }) as never;

describe('StopRun, peer side', () => {
  it('stops or deletes a run for the node that placed it', async () => {
    const t = await setup();
    expect(await t.control.handleStopRun(request())).toEqual({ ok: true });
    expect(await t.control.handleStopRun(request({ remove: true }))).toEqual({ ok: true });
    expect(t.calls).toEqual(['stop a0123456789abcdef', 'remove a0123456789abcdef']);
    // Already stopped: nothing to do, not an error.
    t.setStored(allocation({ state: 'released' }));
    expect(await t.control.handleStopRun(request())).toEqual({ ok: true });
    expect(t.calls).toHaveLength(2);
    // Restart goes to RunService.restart, stopped or not (it books a stopped run again).
    expect(await t.control.handleStopRun(request({ restart: true }))).toEqual({ ok: true });
    expect(t.calls.at(-1)).toBe('restart a0123456789abcdef');
  });

  it('answers RunStats with the engine’s sample, and says when the run does not run', async () => {
    const t = await setup();
    expect(await t.control.handleRunStats(request())).toEqual({
      ok: true,
      cpu_percent: 12.5,
      memory_bytes: 2 ** 20,
      memory_limit_bytes: 2 ** 27,
      network_rx_bytes: 10,
      network_tx_bytes: 20,
      block_read_bytes: 30,
      block_write_bytes: 40,
      at: SAMPLE.at,
    });
    expect(t.calls).toEqual([`stats ${'c'.repeat(64)}`]);
    t.setStored(allocation({ state: 'released' }));
    expect(await t.control.handleRunStats(request())).toMatchObject({ ok: false, not_running: true });
    t.setStored(allocation({ owner: 'node:node-c' }));
    expect(await t.control.handleRunStats(request())).toEqual({
      ok: false,
      error: 'no such run placed by the sender',
    });
    await expect(t.control.handleRunStats(request({ allocation_id: '' }))).rejects.toBeInstanceOf(
      GossipRefused,
    );
    expect(t.calls).toHaveLength(1);
  });

  it('refuses runs another node (or a user) placed, and unknown runs, alike, touching nothing', async () => {
    const t = await setup();
    const refused = { ok: false, error: 'no such run placed by the sender' };
    expect(await t.control.handleStopRun(request({ sender_id: 'node-c' }))).toEqual(refused);
    t.setStored(allocation({ owner: 'user-1' }));
    expect(await t.control.handleStopRun(request())).toEqual(refused);
    t.setStored(undefined);
    expect(await t.control.handleStopRun(request())).toEqual(refused);
    t.setStored(allocation({ removedAt: new Date().toISOString() }));
    expect(await t.control.handleStopRun(request({ remove: true }))).toEqual(refused);
    expect(t.calls).toEqual([]);
  });

  it('a malformed request is refused as invalid', async () => {
    const t = await setup();
    for (const bad of [{ allocation_id: '' }, { allocation_id: 'x'.repeat(65) }, { sender_id: 'a b' }]) {
      await expect(t.control.handleStopRun(request(bad))).rejects.toBeInstanceOf(GossipRefused);
    }
    expect(t.calls).toEqual([]);
  });
});

describe('StopRun, origin side', () => {
  const placed = {
    nodeId: 'node-a',
    containerId: 'c'.repeat(64),
    allocationId: 'a0123456789abcdef',
    resourceId: 'r1',
  };
  const req = { image: 'busybox', cpuMilli: 250, memory: 2 ** 27, gpu: 0 };

  it('stops by container id (or prefix) and marks the record; delete forgets it', async () => {
    const t = await setup();
    await t.remoteRuns.record(placed, req, 'user-1');
    expect(await t.control.control('stop', 'unknown-ref')).toBeUndefined();
    const stopped = await t.control.control('stop', 'c'.repeat(12));
    expect(stopped).toMatchObject({ allocationId: placed.allocationId, stoppedAt: expect.any(String) });
    expect(t.sent[0]).toMatchObject({
      sender_id: 'node-b',
      allocation_id: placed.allocationId,
      remove: false,
    });
    // Restarted there: listed as running again.
    const restarted = await t.control.control('restart', placed.allocationId);
    expect(restarted).toMatchObject({ allocationId: placed.allocationId });
    expect(restarted).not.toHaveProperty('stoppedAt');
    expect(t.sent[1]).toMatchObject({ restart: true, remove: false });
    expect(await t.control.control('remove', placed.allocationId)).toBe('removed');
    expect(await t.remoteRuns.list()).toEqual([]);
  });

  it('reads a sample from the peer; not running there is a 409', async () => {
    const t = await setup({ answer: { ok: true, error: '', ...toWire(SAMPLE) } });
    await t.remoteRuns.record(placed, req, 'user-1');
    expect(await t.control.stats('unknown-ref')).toBeUndefined();
    expect(await t.control.stats(placed.allocationId)).toEqual(SAMPLE);
    const idle = await setup({ answer: { ok: false, error: 'not running', not_running: true } });
    await idle.remoteRuns.record(placed, req, 'user-1');
    const err = await idle.control.stats(placed.containerId).catch((e: unknown) => e);
    expect((err as ApiError).status).toBe(409);
  });

  it('a peer that refuses (502) or cannot be reached (503) changes nothing here', async () => {
    for (const [opts, status] of [
      [{ answer: { ok: false, error: 'no such run placed by the sender' } }, 502],
      [{ answer: new Error('UNAVAILABLE') }, 503],
      [{ peer: { status: 'dead', grpcAddr: '127.0.0.9:1' } }, 503],
    ] as const) {
      const t = await setup(opts);
      await t.remoteRuns.record(placed, req, 'user-1');
      const err = await t.control.control('remove', placed.allocationId).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(status);
      expect(await t.remoteRuns.list()).toEqual([
        expect.objectContaining({ allocationId: placed.allocationId }),
      ]);
      expect((await t.remoteRuns.list())[0]!.stoppedAt).toBeUndefined();
    }
  });
});

function toWire(s: typeof SAMPLE) {
  return {
    cpu_percent: s.cpuPercent,
    memory_bytes: s.memoryBytes,
    memory_limit_bytes: s.memoryLimitBytes,
    network_rx_bytes: s.networkRxBytes,
    network_tx_bytes: s.networkTxBytes,
    block_read_bytes: s.blockReadBytes,
    block_write_bytes: s.blockWriteBytes,
    at: s.at,
  };
}
