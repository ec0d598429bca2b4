import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { newAllocationId, QuotaExceededError, QuotaLedger } from '../../core/domain/ledger/ledger.ts';
import type { Usage } from '../../core/domain/ledger/types.ts';
import { place } from '../../core/domain/scheduler.ts';
import type { Storage } from '../../core/slots/storage.ts';
import { openTestStorage } from '../support/storage-host.ts';

const GiB = 2 ** 30;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function ledger(
  limits: Usage,
  dataDir?: string,
): Promise<{ ledger: QuotaLedger; storage: Storage; dataDir: string }> {
  const opened = await openTestStorage(dataDir);
  closers.push(opened.close);
  await opened.storage.migrate('ledger', new URL('../../core/domain/ledger/migrations', import.meta.url));
  return {
    ledger: new QuotaLedger(opened.storage, 'node-test', limits),
    storage: opened.storage,
    dataDir: opened.dataDir,
  };
}

const resource = (id: string, cpuMilli: number, memory: number, gpu = 0) => ({
  id,
  name: id,
  capacity: { cpuMilli, memory, gpu },
});
const req = (cpuMilli: number, memory: number, gpu = 0, extra: object = {}) => ({
  cpuMilli,
  memory,
  gpu,
  image: 'busybox',
  owner: 'u1',
  candidates: [resource('r1', 8000, 16 * GiB, 2)],
  ...extra,
});

describe('allocation ids', () => {
  it('are unique, sort in the order they were made, and read as a creation time', () => {
    const before = Date.now();
    // Many per millisecond: the sequence within one millisecond must keep them apart and ordered.
    const ids = Array.from({ length: 50_000 }, newAllocationId);
    const after = Date.now();
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    for (const id of [ids[0]!, ids.at(-1)!]) {
      expect(id).toMatch(/^a[0-9a-f]{23}$/);
      const ms = Number.parseInt(id.slice(1, 12), 16);
      expect(ms).toBeGreaterThanOrEqual(before);
      expect(ms).toBeLessThanOrEqual(after);
    }
  });

  it('start each millisecond at a random point, not where the last one stopped', async () => {
    const starts: number[] = [];
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 2));
      starts.push(Number.parseInt(newAllocationId().slice(12), 16));
    }
    const jumps = starts.slice(1).map((s, i) => Math.abs(s - starts[i]!));
    // A counter carried over would move by 1; random 47-bit starts move by ~2^46.
    expect(jumps.every((j) => j > 2 ** 20)).toBe(true);
  });
});

describe('scheduler', () => {
  it('packs: picks the resource that is fullest after placement', () => {
    const a = { ...resource('a', 4000, 8 * GiB), used: { cpuMilli: 3000, memory: 1 * GiB, gpu: 0 } };
    const b = { ...resource('b', 4000, 8 * GiB), used: { cpuMilli: 0, memory: 0, gpu: 0 } };
    const placed = place({ cpuMilli: 500, memory: GiB, gpu: 0 }, [b, a]);
    expect(placed.ok && placed.candidate.id).toBe('a');
  });

  it('names the first short dimension when nothing fits', () => {
    const a = { ...resource('a', 1000, 8 * GiB), used: { cpuMilli: 0, memory: 0, gpu: 0 } };
    expect(place({ cpuMilli: 2000, memory: GiB, gpu: 0 }, [a])).toEqual({
      ok: false,
      short: 'CPU',
      tried: ['a'],
    });
    expect(place({ cpuMilli: 500, memory: 9 * GiB, gpu: 0 }, [a])).toMatchObject({
      ok: false,
      short: 'memory',
    });
    expect(place({ cpuMilli: 500, memory: GiB, gpu: 1 }, [a])).toMatchObject({ ok: false, short: 'GPU' });
  });
});

describe('QuotaLedger', () => {
  it('reserves, commits and releases exactly once', async () => {
    const { ledger: l } = await ledger({ cpuMilli: 4000, memory: 8 * GiB, gpu: 1 });
    const a = await l.reserve(req(1500, 2 * GiB));
    expect(a).toMatchObject({ state: 'reserved', resourceId: 'r1', workloadName: `iarnet-${a.id}` });
    expect(await l.usage()).toEqual({ cpuMilli: 1500, memory: 2 * GiB, gpu: 0 });
    expect(await l.commit(a.id, 'c1')).toBe(true);
    expect((await l.get(a.id))?.state).toBe('committed');
    expect(await l.release(a.id, 'stopped')).toBe(true);
    expect(await l.release(a.id, 'stopped again')).toBe(false);
    expect(await l.commit(a.id, 'c1')).toBe(false);
    expect(await l.usage()).toEqual({ cpuMilli: 0, memory: 0, gpu: 0 });
    expect((await l.get(a.id))?.releaseReason).toBe('stopped');
    expect((await l.get(a.id))?.removedAt).toBeUndefined();
  });

  it('releases and marks removed in one write, or neither when it was already released', async () => {
    const { ledger: l } = await ledger({ cpuMilli: 4000, memory: 8 * GiB, gpu: 0 });
    const a = await l.reserve(req(1000, GiB));
    await l.commit(a.id, 'c1');
    expect(await l.release(a.id, 'vanished', 'removed', { removed: true })).toBe(true);
    const gone = await l.get(a.id);
    expect(gone).toMatchObject({ state: 'released', workloadState: 'removed', releaseReason: 'vanished' });
    expect(gone?.removedAt).toBe(gone?.releasedAt);
    expect(await l.find(a.id)).toBeUndefined();
    expect(await l.visible()).toEqual([]);

    const b = await l.reserve(req(1000, GiB));
    await l.release(b.id, 'stopped');
    expect(await l.release(b.id, 'vanished', 'removed', { removed: true })).toBe(false);
    expect((await l.get(b.id))?.removedAt).toBeUndefined();
    expect((await l.visible()).map((x) => x.id)).toEqual([b.id]);
  });

  it('refuses what exceeds the node limits, naming the resource (CPU first, as the document checks)', async () => {
    const { ledger: l } = await ledger({ cpuMilli: 2000, memory: 4 * GiB, gpu: 0 });
    await expect(l.reserve(req(2500, GiB))).rejects.toMatchObject({
      scope: 'node',
      short: 'CPU',
      message: 'Insufficient CPU resources',
    });
    await expect(l.reserve(req(500, 5 * GiB))).rejects.toMatchObject({ short: 'memory' });
    await expect(l.reserve(req(500, GiB, 1))).rejects.toMatchObject({ short: 'GPU' });
    expect(await l.active()).toEqual([]);
  });

  it('refuses what no resource can hold, and honours an explicit resource', async () => {
    const { ledger: l } = await ledger({ cpuMilli: 100_000, memory: 100 * GiB, gpu: 8 });
    const two = [resource('small', 1000, GiB), resource('big', 4000, 8 * GiB)];
    await expect(l.reserve(req(5000, GiB, 0, { candidates: two }))).rejects.toMatchObject({
      scope: 'resource',
      short: 'CPU',
      tried: ['small', 'big'],
    });
    expect((await l.reserve(req(500, GiB / 2, 0, { candidates: two, resourceId: 'big' }))).resourceId).toBe(
      'big',
    );
    await expect(
      l.reserve(req(2000, GiB, 0, { candidates: two, resourceId: 'small' })),
    ).rejects.toBeInstanceOf(QuotaExceededError);
  });

  it('never over-commits under 50 concurrent reservations (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ cpu: fc.integer({ min: 100, max: 3000 }), mem: fc.integer({ min: 1, max: 6 }) }),
          { minLength: 50, maxLength: 50 },
        ),
        async (asks) => {
          const { ledger: l } = await ledger({ cpuMilli: 8000, memory: 12 * GiB, gpu: 0 });
          const results = await Promise.allSettled(asks.map((a) => l.reserve(req(a.cpu, a.mem * GiB))));
          const granted = asks.filter((_, i) => results[i]!.status === 'fulfilled');
          const used = await l.usage();
          const cpu = granted.reduce((s, a) => s + a.cpu, 0);
          const mem = granted.reduce((s, a) => s + a.mem * GiB, 0);
          expect(used).toEqual({ cpuMilli: cpu, memory: mem, gpu: 0 });
          expect(used.cpuMilli).toBeLessThanOrEqual(8000);
          expect(used.memory).toBeLessThanOrEqual(12 * GiB);
          for (const r of results)
            if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(QuotaExceededError);
          // Every refusal was necessary: the refused ask would not have fitted at the end either.
          expect(granted.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 5 },
    );
  });

  it('releases exactly once under concurrent stop and reconcile', async () => {
    const { ledger: l } = await ledger({ cpuMilli: 4000, memory: 8 * GiB, gpu: 0 });
    const a = await l.reserve(req(1000, GiB));
    const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => l.release(a.id, `r${i}`)));
    expect(wins.filter(Boolean)).toHaveLength(1);
  });

  it('keeps its state across a reopen (crash safety of the file)', async () => {
    const first = await ledger({ cpuMilli: 4000, memory: 8 * GiB, gpu: 0 });
    const a = await first.ledger.reserve(req(1000, GiB));
    await first.ledger.commit(a.id, 'c1');
    const again = await ledger({ cpuMilli: 4000, memory: 8 * GiB, gpu: 0 }, first.dataDir);
    expect((await again.ledger.active()).map((x) => x.id)).toEqual([a.id]);
  });

  it('adopts a workload it has no active allocation for, and finds by workload id prefix', async () => {
    const { ledger: l } = await ledger({ cpuMilli: 4000, memory: 8 * GiB, gpu: 0 });
    await l.adopt({
      id: 'aadopted',
      resourceId: 'r1',
      cpuMilli: 500,
      memory: GiB,
      gpu: 0,
      image: 'x',
      workloadName: 'iarnet-aadopted',
      workloadId: 'abcdef0123456789',
      workloadState: 'running',
      owner: 'adopted',
    });
    expect(await l.usage()).toEqual({ cpuMilli: 500, memory: GiB, gpu: 0 });
    expect((await l.find('abcdef012345'))?.id).toBe('aadopted');
    expect((await l.find('abcdef0123456789'))?.id).toBe('aadopted');
    expect(await l.find('abc')).toBeUndefined();
    expect(await l.find('abcdef012346')).toBeUndefined();
    // A prefix two workloads share names neither.
    await l.adopt({
      id: 'atwin',
      resourceId: 'r1',
      cpuMilli: 1,
      memory: 1,
      gpu: 0,
      image: 'x',
      workloadName: 'iarnet-atwin',
      workloadId: 'abcdef0123459999',
      workloadState: 'running',
      owner: 'adopted',
    });
    expect(await l.find('abcdef012345')).toBeUndefined();
    expect((await l.find('abcdef01234599'))?.id).toBe('atwin');
  });
});

describe('resource_usage totals (kept by triggers)', () => {
  it('always equal the sums of active allocations, whatever sequence of writes made them', async () => {
    const { ledger: l, storage } = await ledger({ cpuMilli: 1e9, memory: 2 ** 50, gpu: 100 });
    const candidates = [resource('r1', 1e8, 2 ** 48, 50), resource('r2', 1e8, 2 ** 48, 50)];
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('reserve' as const),
        cpu: fc.integer({ min: 1, max: 4000 }),
        mem: fc.integer({ min: 1, max: 4 * GiB }),
        gpu: fc.integer({ min: 0, max: 2 }),
        on: fc.constantFrom('r1', 'r2'),
      }),
      fc.record({
        kind: fc.constantFrom('commit' as const, 'release' as const, 'adopt' as const),
        pick: fc.nat(),
      }),
      fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
    );
    // What the totals must be: summed the slow way, straight from the allocations table.
    const slowSums = async () => {
      const sums = new Map<string, Usage>();
      for (const a of await l.active()) {
        const s = sums.get(a.resourceId) ?? { cpuMilli: 0, memory: 0, gpu: 0 };
        sums.set(a.resourceId, {
          cpuMilli: s.cpuMilli + a.cpuMilli,
          memory: s.memory + a.memory,
          gpu: s.gpu + a.gpu,
        });
      }
      return sums;
    };
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
        const ids: string[] = [];
        for (const o of ops) {
          const pickId = 'pick' in o && ids.length ? ids[o.pick % ids.length] : undefined;
          if (o.kind === 'reserve') {
            const a = await l.reserve({ ...req(o.cpu, o.mem, o.gpu), candidates, resourceId: o.on });
            ids.push(a.id);
          } else if (o.kind === 'commit' && pickId) {
            await l.commit(pickId, `w-${pickId}`);
          } else if (o.kind === 'release' && pickId) {
            await l.release(pickId, 'test');
          } else if (o.kind === 'adopt' && pickId) {
            // Re-adopting a released allocation makes it active again.
            const a = (await l.get(pickId))!;
            await l.adopt({ ...a, workloadId: a.workloadId ?? `w-${pickId}`, workloadState: 'running' });
          } else if (o.kind === 'delete' && pickId) {
            await storage.transaction((db) => db.run(sql`DELETE FROM allocations WHERE id = ${pickId}`));
            ids.splice(ids.indexOf(pickId), 1);
          }
        }
        expect(await l.usageByResource()).toEqual(await slowSums());
      }),
      { numRuns: 40 },
    );
  });
});
