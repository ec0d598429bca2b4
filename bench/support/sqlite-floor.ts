/**
 * The floor under (b1): a reservation's own SQL (read the usage totals, insert the allocation,
 * commit; release it in a second transaction) straight on better-sqlite3, synchronously, with the
 * ledger's migrations, pragmas and the same checkpoint worker, gated the same way (a checkpoint
 * holds the next transaction back until it is done) — no IARNet code in between. Measured
 * in the same run as QuotaLedger.reserve, so the two figures share the machine's noise: what the
 * ledger adds is the difference.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startCheckpointer } from '../../core/runtime/sqlite-checkpointer.ts';
import { quantile } from './stats.ts';

const MIGRATIONS = new URL('../../core/domain/ledger/migrations/', import.meta.url);

export async function sqliteFloor(opts: {
  iterations: number;
  warmup?: number;
}): Promise<{ p50: number; p99: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'iarnet-bench-floor-'));
  const path = join(dir, 'floor.db');
  const db = new Database(path);
  for (const p of [
    'journal_mode = WAL',
    'foreign_keys = ON',
    'busy_timeout = 5000',
    'synchronous = NORMAL',
  ]) {
    db.pragma(p);
  }
  for (const f of readdirSync(MIGRATIONS)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    for (const q of readFileSync(new URL(f, MIGRATIONS), 'utf8').split('--> statement-breakpoint'))
      db.exec(q);
  }
  const checkpointer = await startCheckpointer({
    path,
    driver: 'better-sqlite3',
    modulePath: createRequire(import.meta.url).resolve('better-sqlite3'),
    exec: async (sql) => void db.exec(sql),
  });
  // The ledger's Storage holds writes back while a checkpoint runs: so does this loop.
  let checkpointing: Promise<void> | undefined;
  checkpointer?.setGate((work) => {
    const done = work().finally(() => {
      checkpointing = undefined;
    });
    checkpointing = done;
    return done;
  });
  const usage = db.prepare('SELECT resource_id, cpu_milli, memory, gpu FROM resource_usage WHERE active > 0');
  const insert = db.prepare(
    'INSERT INTO allocations (id, resource_id, node_id, state, cpu_milli, memory, gpu, image, command, ' +
      "workload_name, app_id, replicas, owner, created_at) VALUES (?, ?, ?, 'reserved', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  );
  const release = db.prepare(
    "UPDATE allocations SET state = 'released', released_at = ?, release_reason = ?, workload_state = coalesce(?, workload_state), " +
      "removed_at = coalesce(?, removed_at) WHERE id = ? AND state IN ('reserved', 'committed')",
  );
  const us: number[] = [];
  const warmup = opts.warmup ?? 2_000;
  try {
    for (let i = 0; i < warmup + opts.iterations; i++) {
      const id = `f${i.toString(16).padStart(16, '0')}`;
      const start = performance.now();
      if (checkpointing) await checkpointing;
      db.exec('BEGIN IMMEDIATE');
      usage.all();
      insert.run(
        id,
        'res_a',
        'bench',
        10,
        10 * 2 ** 20,
        0,
        'img',
        '["sleep","300"]',
        `iarnet-${id}`,
        null,
        1,
        'bench',
        new Date().toISOString(),
      );
      db.exec('COMMIT');
      checkpointer?.committed();
      if (i >= warmup) us.push((performance.now() - start) * 1000);
      if (checkpointing) await checkpointing;
      db.exec('BEGIN IMMEDIATE');
      release.run(new Date().toISOString(), 'bench', null, null, id);
      db.exec('COMMIT');
      checkpointer?.committed();
      // Let the event loop (and the checkpoint worker's messages) run now and then, as the ledger's would.
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
  } finally {
    await checkpointer?.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { p50: quantile(us, 0.5), p99: quantile(us, 0.99) };
}
