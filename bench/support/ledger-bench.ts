/**
 * (b1) QuotaLedger.reserve on SQLite, without HTTP: one caller at a time, then 8 concurrent
 * callers, each reservation released right after so the quota never fills. Each phase gets a
 * fresh database, so both start from an empty table; released rows stay in it (as in production)
 * and the figures show whether the cost grows with them.
 *
 * Under concurrency the ledger's transactions queue in-process (Storage.transaction is
 * serialized, and queued transactions share one COMMIT), so a call's latency is its wait, its own
 * work and the batch's COMMIT. Reported: "latency" (call → answer), "service" (the reservation's
 * own statements: its transaction callback, inside its savepoint) and the throughput.
 */
import { rmSync } from 'node:fs';
import { QuotaLedger, type ReserveRequest } from '../../core/domain/ledger/ledger.ts';
import type { SqliteDb } from '../../core/runtime/types.ts';
import type { Storage } from '../../core/slots/storage.ts';
import { openTestStorage } from '../../test/support/storage-host.ts';
import { fmt, quantile } from './stats.ts';

const LEDGER_MIGRATIONS = new URL('../../core/domain/ledger/migrations', import.meta.url);
export const RESERVE_TARGET_US = 100;

const REQUEST: ReserveRequest = {
  cpuMilli: 10,
  memory: 10 * 2 ** 20,
  gpu: 0,
  image: 'iarnet-test/busybox:latest',
  command: ['sleep', '300'],
  owner: 'bench',
  candidates: [
    { id: 'res_a', name: 'a', capacity: { cpuMilli: 1e9, memory: 2 ** 60, gpu: 0 } },
    { id: 'res_b', name: 'b', capacity: { cpuMilli: 1e9, memory: 2 ** 60, gpu: 0 } },
  ],
};
const LIMITS = { cpuMilli: 1e12, memory: 2 ** 60, gpu: 0 };

/**
 * A Storage that times each transaction's callback (its own statements, after its wait in the
 * queue and before the shared COMMIT), keyed by the object it returned (reserve's Allocation).
 */
function timedStorage(inner: Storage): Storage & { service: WeakMap<object, number> } {
  const service = new WeakMap<object, number>();
  return {
    get db() {
      return inner.db;
    },
    driver: inner.driver,
    path: inner.path,
    service,
    migrate: (owner, folder) => inner.migrate(owner, folder),
    checkWritable: () => inner.checkWritable(),
    prepare: (sql) => inner.prepare(sql),
    async transaction<T>(fn: (db: SqliteDb) => Promise<T>): Promise<T> {
      return inner.transaction(async (db) => {
        const start = performance.now();
        const result = await fn(db);
        if (typeof result === 'object' && result !== null) service.set(result, performance.now() - start);
        return result;
      });
    },
    transactionSync<T>(fn: () => T): Promise<T> {
      return inner.transactionSync(() => {
        const start = performance.now();
        const result = fn();
        if (typeof result === 'object' && result !== null) service.set(result, performance.now() - start);
        return result;
      });
    },
  };
}

/**
 * A ledger on a fresh database. With `timed` it goes through timedStorage (its service times are
 * in `storage.service`); without, it uses the Storage directly, so no timing work counts.
 */
async function freshLedger(timed: boolean) {
  const host = await openTestStorage();
  await host.storage.migrate('ledger', LEDGER_MIGRATIONS);
  const storage = timedStorage(host.storage);
  const close = async () => {
    await host.close();
    rmSync(host.dataDir, { recursive: true, force: true });
  };
  return { ledger: new QuotaLedger(timed ? storage : host.storage, 'bench-node', LIMITS), storage, close };
}

export interface LedgerFigures {
  sequential: {
    n: number;
    p50: number;
    p99: number;
    firstMedian: number;
    lastMedian: number;
    perSecond: number;
  };
  concurrent: {
    n: number;
    callers: number;
    latencyP50: number;
    latencyP99: number;
    serviceP50: number;
    serviceP99: number;
    perSecond: number;
  };
}

export async function ledgerBench(
  opts: { iterations?: number; callers?: number } = {},
): Promise<LedgerFigures> {
  const iterations = opts.iterations ?? 20_000;
  const callers = opts.callers ?? 8;

  // ---- one at a time
  // Unwrapped: the timing wrapper's own work would count in the figure.
  const seq = await freshLedger(false);
  for (let i = 0; i < 2_000; i++) {
    const a = await seq.ledger.reserve(REQUEST);
    await seq.ledger.release(a.id, 'bench');
  }
  const seqUs: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    const s = performance.now();
    const a = await seq.ledger.reserve(REQUEST);
    seqUs.push((performance.now() - s) * 1000);
    await seq.ledger.release(a.id, 'bench');
  }
  const seqElapsed = performance.now() - t0;
  await seq.close();
  const bucket = Math.min(1_000, Math.floor(iterations / 4));

  // ---- concurrent callers
  const con = await freshLedger(true);
  for (let i = 0; i < 2_000; i++) {
    const a = await con.ledger.reserve(REQUEST);
    await con.ledger.release(a.id, 'bench');
  }
  const latency: number[] = [];
  const service: number[] = [];
  let remaining = iterations;
  const caller = async () => {
    while (remaining-- > 0) {
      const s = performance.now();
      const a = await con.ledger.reserve(REQUEST);
      latency.push((performance.now() - s) * 1000);
      service.push(con.storage.service.get(a)! * 1000);
      await con.ledger.release(a.id, 'bench');
    }
  };
  const c0 = performance.now();
  await Promise.all(Array.from({ length: callers }, caller));
  const conElapsed = performance.now() - c0;
  await con.close();

  return {
    sequential: {
      n: iterations,
      p50: quantile(seqUs, 0.5),
      p99: quantile(seqUs, 0.99),
      firstMedian: quantile(seqUs.slice(0, bucket), 0.5),
      lastMedian: quantile(seqUs.slice(-bucket), 0.5),
      perSecond: iterations / (seqElapsed / 1000),
    },
    concurrent: {
      n: latency.length,
      callers,
      latencyP50: quantile(latency, 0.5),
      latencyP99: quantile(latency, 0.99),
      serviceP50: quantile(service, 0.5),
      serviceP99: quantile(service, 0.99),
      perSecond: latency.length / (conElapsed / 1000),
    },
  };
}

export function describeLedger(f: LedgerFigures): string {
  const s = f.sequential;
  const c = f.concurrent;
  return (
    `reserve one at a time: p50 ${fmt(s.p50, 0)} µs, p99 ${fmt(s.p99, 0)} µs over ${s.n} ` +
    `(median ${fmt(s.firstMedian, 0)} µs in the first 1000, ${fmt(s.lastMedian, 0)} µs in the last; ` +
    `${fmt(s.perSecond, 0)} reserve+release/s); ${c.callers} concurrent callers: own statements p50 ${fmt(c.serviceP50, 0)} µs, ` +
    `p99 ${fmt(c.serviceP99, 0)} µs, call latency incl. queueing p99 ${fmt(c.latencyP99, 0)} µs, ${fmt(c.perSecond, 0)} reserve+release/s`
  );
}
