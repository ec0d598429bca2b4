/**
 * WAL checkpoints run in a worker thread on Node (core/runtime/sqlite-checkpointer.ts): the main
 * connection never checkpoints by itself, yet committed pages still reach the database file, and
 * closing leaves no WAL behind.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { loadRuntime } from '../../core/runtime/index.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('SQLite checkpoints off the event loop (Node)', () => {
  it('turns automatic checkpoints off, copies WAL pages into the file from the worker, and closes cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iarnet-ckpt-'));
    dirs.push(dir);
    const path = join(dir, 'test.db');
    const runtime = await loadRuntime();
    const handle = await runtime.openSqlite(path);
    const [auto] = (await handle.db.values(sql`PRAGMA wal_autocheckpoint`)) as number[][];
    expect(auto?.[0]).toBe(0);

    await handle.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)');
    const sizeBefore = statSync(path).size;
    // ~4 MB through the WAL; with automatic checkpoints off only the worker copies it into the file.
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
});
