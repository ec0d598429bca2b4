/**
 * WAL checkpoints run in a worker thread on Node (core/runtime/sqlite-checkpointer.ts): the main
 * connection checkpoints by itself only past a high cap, yet committed pages still reach the
 * database file, closing leaves no WAL behind, a writer that never pauses cannot make the WAL grow
 * past the cap, and with a write gate a steady writer's WAL is rewritten from its start long
 * before the cap.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { loadRuntime } from '../../core/runtime/index.ts';
import { startCheckpointer, WAL_CAP_PAGES } from '../../core/runtime/sqlite-checkpointer.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A WAL database on better-sqlite3 with a checkpointer whose timer never fires during a test
 * (60 s): only the cap, or commits through a gate, can start a checkpoint.
 */
async function walDatabase(walCapPages: number) {
  const dir = mkdtempSync(join(tmpdir(), 'iarnet-ckpt-'));
  dirs.push(dir);
  const path = join(dir, 'test.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const checkpointer = await startCheckpointer({
    path,
    driver: 'better-sqlite3',
    modulePath: createRequire(import.meta.url).resolve('better-sqlite3'),
    exec: async (q) => void db.exec(q),
    intervalMs: 60_000,
    walCapPages,
  });
  expect(checkpointer).toBeDefined();
  return { path, db, checkpointer };
}

describe('SQLite checkpoints off the event loop (Node)', () => {
  it('raises the automatic checkpoint to the cap, copies WAL pages into the file from the worker, and closes cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iarnet-ckpt-'));
    dirs.push(dir);
    const path = join(dir, 'test.db');
    const runtime = await loadRuntime();
    const handle = await runtime.openSqlite(path);
    const [auto] = (await handle.db.values(sql`PRAGMA wal_autocheckpoint`)) as number[][];
    expect(auto?.[0]).toBe(WAL_CAP_PAGES);

    await handle.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)');
    const sizeBefore = statSync(path).size;
    // ~4 MB through the WAL, far below the cap: only the worker copies it into the file.
    for (let i = 0; i < 40; i++) {
      await handle.exec('BEGIN');
      for (let j = 0; j < 25; j++) {
        await handle.db.run(sql`INSERT INTO blobs (data) VALUES (randomblob(4096))`);
      }
      await handle.exec('COMMIT');
    }
    const deadline = Date.now() + 5_000;
    while (statSync(path).size < sizeBefore + 3_500_000 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(statSync(path).size).toBeGreaterThan(sizeBefore + 3_500_000);

    await handle.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('keeps the WAL under the cap while a writer commits without ever pausing', async () => {
    const cap = 200;
    const { path, db, checkpointer } = await walDatabase(cap);
    try {
      db.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)');
      const insert = db.prepare('INSERT INTO blobs (data) VALUES (randomblob(3000))');
      let largest = 0;
      // ~2,000 one-page commits with no await between them: the worker could never catch up.
      for (let i = 0; i < 2_000; i++) {
        insert.run();
        if (i % 50 === 0) largest = Math.max(largest, statSync(`${path}-wal`).size);
      }
      // A commit may push the WAL a few frames past the cap before the checkpoint it triggers.
      expect(largest).toBeGreaterThan(cap * 0.5 * 4096);
      expect(largest).toBeLessThan((cap + 20) * (4096 + 24) + 32);
    } finally {
      await checkpointer?.stop();
      db.close();
    }
  });

  it('with a write gate, checkpoints every so many commits complete under a steady writer', async () => {
    // A cap out of reach: only gated checkpoints can keep this WAL short.
    const { path, db, checkpointer } = await walDatabase(1_000_000);
    let held: Promise<void> | undefined;
    let gated = 0;
    let writesWhileGated = 0;
    checkpointer!.setGate((work) => {
      gated++;
      const done = work().finally(() => {
        held = undefined;
      });
      held = done;
      return done;
    });
    try {
      db.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)');
      for (let id = 1; id <= 10; id++) db.exec('INSERT INTO blobs (data) VALUES (randomblob(3000))');
      // Rewrites one row in place: one page, one WAL frame per commit.
      const update = db.prepare('UPDATE blobs SET data = randomblob(3000) WHERE id = ?');
      let largest = 0;
      // A writer that yields (as the event loop does) but never stops: 7,000 commits.
      for (let i = 0; i < 7_000; i++) {
        if (held) await held;
        if (held) writesWhileGated++;
        update.run((i % 10) + 1);
        checkpointer!.committed();
        if (i % 50 === 0) {
          largest = Math.max(largest, statSync(`${path}-wal`).size);
          await new Promise((r) => setImmediate(r));
        }
      }
      expect(writesWhileGated).toBe(0);
      // A checkpoint every 2,000 commits, each completed, so the WAL restarts: without them it
      // would hold all 7,000 frames (~29 MB).
      expect(gated).toBeGreaterThanOrEqual(3);
      expect(largest).toBeLessThan(2_500 * (4096 + 24));
    } finally {
      await checkpointer?.stop();
      db.close();
    }
  });
});
