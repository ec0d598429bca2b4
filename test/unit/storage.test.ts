/**
 * The storage plugin on Node (the runtime vitest runs on), with real SQLite files in temp dirs.
 * The same checks on Node 24, Bun and Deno live in test/conformance/storage-drivers.test.ts.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eq, sql } from 'drizzle-orm';
import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { coreConfigSchema } from '../../core/kernel/config.ts';
import { ConfigError } from '../../core/kernel/errors.ts';
import { PluginHost } from '../../core/kernel/loader.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import { type AnyPlugin, definePlugin } from '../../core/kernel/plugin.ts';
import { loadRuntime } from '../../core/runtime/index.ts';
import type { SqliteDb, WriteGate } from '../../core/runtime/types.ts';
import { StorageKey } from '../../core/slots/storage.ts';
import storagePlugin from '../../plugins/storage/index.ts';
import { createStorage } from '../../plugins/storage/service.ts';
import { counters, items } from '../support/storage-fixture/schema.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE_MIGRATIONS = new URL('../support/storage-fixture/migrations/', import.meta.url);

let work: string;
const hosts: PluginHost[] = [];

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'iarnet-storage-'));
});
afterEach(async () => {
  for (const host of hosts.splice(0)) await host.stop().catch(() => undefined);
  await rm(work, { recursive: true, force: true });
});

async function startStorage(
  opts: { dataDir?: string; config?: Record<string, unknown>; plugins?: AnyPlugin[] } = {},
) {
  const host = new PluginHost({
    plugins: [storagePlugin, ...(opts.plugins ?? [])],
    core: v.parse(coreConfigSchema, { data_dir: opts.dataDir ?? join(work, 'data') }),
    sections: opts.config ? { storage: opts.config } : {},
    runtime: await loadRuntime(),
    logger: silentLogger(),
  });
  hosts.push(host);
  await host.setup();
  await host.start();
  return { host, storage: host.services.get(StorageKey) };
}

const counterValue = async (db: SqliteDb, name: string) =>
  (await db.select().from(counters).where(eq(counters.name, name)))[0]?.value;

const rowCount = async (db: SqliteDb, table: string) =>
  Number((await db.values<[number]>(sql.raw(`SELECT count(*) FROM "${table}"`)))[0]?.[0]);

describe('opening the database', () => {
  it('creates data_dir (0700) and <data_dir>/iarnet.db with better-sqlite3 in WAL mode on Node 20', async () => {
    const dataDir = join(work, 'nested', 'data');
    const { storage } = await startStorage({ dataDir });
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(storage.path).toBe(join(dataDir, 'iarnet.db'));
    expect(existsSync(storage.path)).toBe(true);
    expect(storage.driver).toBe(process.versions.node.startsWith('20.') ? 'better-sqlite3' : 'node:sqlite');
    const pragma = async (name: string) => (await storage.db.values(sql.raw(`PRAGMA ${name}`)))[0]?.[0];
    expect(await pragma('journal_mode')).toBe('wal');
    expect(await pragma('foreign_keys')).toBe(1);
    expect(await pragma('busy_timeout')).toBe(5000);
    expect(await pragma('synchronous')).toBe(1); // NORMAL
  });

  it('takes storage.path relative to data_dir, absolute, or :memory:', async () => {
    const relative = await startStorage({ config: { path: 'db/relative.db' } });
    expect(relative.storage.path).toBe(join(work, 'data', 'db', 'relative.db'));
    expect(existsSync(relative.storage.path)).toBe(true);

    const absolutePath = join(work, 'elsewhere', 'abs.db');
    const absolute = await startStorage({ dataDir: join(work, 'data2'), config: { path: absolutePath } });
    expect(absolute.storage.path).toBe(absolutePath);
    expect(existsSync(absolutePath)).toBe(true);

    const memory = await startStorage({ dataDir: join(work, 'data3'), config: { path: ':memory:' } });
    expect(memory.storage.path).toBe(':memory:');
    await memory.storage.checkWritable();
    expect((await memory.storage.db.values(sql`PRAGMA journal_mode`))[0]?.[0]).toBe('memory');
  });

  it('refuses unknown keys in its config section, naming them', async () => {
    const error = await startStorage({ config: { pth: 'x.db' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.path)).toEqual(['storage.pth']);
  });

  it('keeps data across a restart and closes the file on stop', async () => {
    const first = await startStorage({});
    await first.storage.migrate('fixture', FIXTURE_MIGRATIONS);
    await first.storage.transaction(async (db) => {
      await db.insert(counters).values({ name: 'kept', value: 42 });
    });
    await first.host.stop();
    await expect(first.storage.transaction(async () => 1)).rejects.toThrow(/storage is closed/);
    // The last connection closing checkpoints the WAL into the main file.
    expect(existsSync(`${first.storage.path}-wal`)).toBe(false);

    const second = await startStorage({});
    await second.storage.migrate('fixture', FIXTURE_MIGRATIONS);
    expect(await counterValue(second.storage.db, 'kept')).toBe(42);
  });
});

describe('migrate', () => {
  it('applies an owner’s drizzle-kit migrations once, recorded in __migrations_<owner>', async () => {
    const fixture = definePlugin({
      name: 'fixture',
      version: '0.0.0',
      dependencies: ['storage'],
      async setup(ctx) {
        await ctx.use(StorageKey).migrate('fixture', FIXTURE_MIGRATIONS);
      },
    });
    const { storage } = await startStorage({ plugins: [fixture] });
    expect(await rowCount(storage.db, '__migrations_fixture')).toBe(2);
    expect(await rowCount(storage.db, '__migrations_storage')).toBe(1);

    // Again, and with the folder as a path instead of a URL: nothing is re-applied.
    await storage.migrate('fixture', fileURLToPath(FIXTURE_MIGRATIONS));
    expect(await rowCount(storage.db, '__migrations_fixture')).toBe(2);

    // Both tables exist, and foreign keys are enforced.
    await storage.db.insert(counters).values({ name: 'a' });
    await storage.db.insert(items).values({ counter: 'a', label: 'ok' });
    await expect(storage.db.insert(items).values({ counter: 'missing', label: 'x' })).rejects.toThrow();
  });

  it('tracks progress per owner, and rolls a failed migration back entirely', async () => {
    const { storage } = await startStorage({});
    await storage.migrate('fixture', FIXTURE_MIGRATIONS);
    // A second owner with the same tables fails on "table already exists" — its progress is its own.
    await expect(storage.migrate('other-owner', FIXTURE_MIGRATIONS)).rejects.toThrow(
      /migrations of "other-owner" .* failed: .*already exists/,
    );
    expect(await rowCount(storage.db, '__migrations_fixture')).toBe(2);
    // The failed migration was rolled back entirely.
    expect(await rowCount(storage.db, '__migrations_other-owner')).toBe(0);
  });

  it('names the owner when its folder is wrong, and refuses odd owner names', async () => {
    const { storage } = await startStorage({});
    await expect(storage.migrate('ghost', join(work, 'nowhere'))).rejects.toThrow(/migrations of "ghost"/);
    await expect(storage.migrate('bad name; drop', FIXTURE_MIGRATIONS)).rejects.toThrow(
      /invalid migration owner/,
    );
  });
});

describe('transaction', () => {
  it('commits, and rolls back everything when the callback throws', async () => {
    const { storage } = await startStorage({});
    await storage.migrate('fixture', FIXTURE_MIGRATIONS);
    const returned = await storage.transaction(async (db) => {
      await db.insert(counters).values({ name: 'a', value: 1 });
      await db.insert(items).values({ counter: 'a', label: 'first' });
      return 'done';
    });
    expect(returned).toBe('done');
    expect(await counterValue(storage.db, 'a')).toBe(1);

    await expect(
      storage.transaction(async (db) => {
        await db.update(counters).set({ value: 2 }).where(eq(counters.name, 'a'));
        await db.insert(items).values({ counter: 'a', label: 'second' });
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await counterValue(storage.db, 'a')).toBe(1);
    expect(await rowCount(storage.db, 'fixture_items')).toBe(1);

    // A failed statement inside rolls back too, and the queue goes on.
    await expect(
      storage.transaction(async (db) => {
        await db.update(counters).set({ value: 3 }).where(eq(counters.name, 'a'));
        await db.insert(items).values({ counter: 'missing', label: 'x' });
      }),
    ).rejects.toThrow();
    expect(await counterValue(storage.db, 'a')).toBe(1);
    await storage.transaction(async (db) => {
      await db.update(counters).set({ value: 4 }).where(eq(counters.name, 'a'));
    });
    expect(await counterValue(storage.db, 'a')).toBe(4);
  });

  it('serializes concurrent transactions: 50 read-yield-write increments end at exactly 50', async () => {
    const { storage } = await startStorage({});
    await storage.migrate('fixture', FIXTURE_MIGRATIONS);
    await storage.db.insert(counters).values({ name: 'n', value: 0 });
    let active = 0;
    let maxActive = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        storage.transaction(async (db) => {
          maxActive = Math.max(maxActive, ++active);
          const current = (await counterValue(db, 'n')) ?? 0;
          // Yield to the event loop between read and write: unserialized, the others would read the same value.
          await new Promise((r) => setTimeout(r, 0));
          await db
            .update(counters)
            .set({ value: current + 1 })
            .where(eq(counters.name, 'n'));
          order.push(i);
          active--;
        }),
      ),
    );
    expect(await counterValue(storage.db, 'n')).toBe(50);
    expect(maxActive).toBe(1);
    // First come, first served.
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('group commit: queued transactions each succeed or fail alone, in order', async () => {
    const { storage } = await startStorage({});
    await storage.migrate('fixture', FIXTURE_MIGRATIONS);
    await storage.db.insert(counters).values({ name: 'n', value: 0 });
    // 40 queued at once are carried by a few COMMITs; every 7th throws after writing, every 11th
    // hits a foreign-key failure: their writes must vanish while their neighbours' stay.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        storage.transaction(async (db) => {
          const current = (await counterValue(db, 'n')) ?? 0;
          await db
            .update(counters)
            .set({ value: current + 1 })
            .where(eq(counters.name, 'n'));
          await db.insert(items).values({ counter: i % 11 === 10 ? 'missing' : 'n', label: `t${i}` });
          if (i % 7 === 6) throw new Error(`t${i} changed its mind`);
          return i;
        }),
      ),
    );
    const failed = (i: number) => i % 7 === 6 || i % 11 === 10;
    outcomes.forEach((o, i) => {
      if (failed(i)) expect(o.status, `t${i}`).toBe('rejected');
      else expect(o).toEqual({ status: 'fulfilled', value: i });
    });
    const kept = Array.from({ length: 40 }, (_, i) => i).filter((i) => !failed(i));
    expect(await counterValue(storage.db, 'n')).toBe(kept.length);
    const labels = (await storage.db.select({ label: items.label }).from(items)).map((r) => r.label);
    expect(labels.sort()).toEqual(kept.map((i) => `t${i}`).sort());
    // The queue goes on afterwards, and a lone transaction still commits.
    expect(await storage.transaction(async () => 'alone')).toBe('alone');
  });

  it('transactionSync shares the queue and the group commit with transaction(), each failing alone', async () => {
    const { storage } = await startStorage({});
    await storage.migrate('fixture', FIXTURE_MIGRATIONS);
    await storage.db.insert(counters).values({ name: 'n', value: 0 });
    const bump = storage.prepare('UPDATE fixture_counters SET value = value + 1 WHERE name = ?');
    const label = storage.prepare('INSERT INTO fixture_items (counter, label) VALUES (?, ?)');
    // Sync and async transactions queued together, in one batch: every 5th sync one throws after
    // writing, every 7th hits a foreign-key failure; the async ones read what the sync ones wrote.
    const seen: number[] = [];
    const outcomes = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        i % 3 === 2
          ? storage.transaction(async (db) => {
              seen.push((await counterValue(db, 'n')) ?? -1);
              return i;
            })
          : storage.transactionSync(() => {
              bump.run('n');
              label.run(i % 7 === 6 ? 'missing' : 'n', `t${i}`);
              if (i % 5 === 4) throw new Error(`t${i} changed its mind`);
              return i;
            }),
      ),
    );
    const failed = (i: number) => i % 3 !== 2 && (i % 5 === 4 || i % 7 === 6);
    outcomes.forEach((o, i) => {
      if (failed(i)) expect(o.status, `t${i}`).toBe('rejected');
      else expect(o).toEqual({ status: 'fulfilled', value: i });
    });
    const kept = Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 3 !== 2 && !failed(i));
    expect(await counterValue(storage.db, 'n')).toBe(kept.length);
    // Each async transaction saw exactly the successful sync ones queued before it.
    expect(seen).toEqual(Array.from({ length: 10 }, (_, k) => kept.filter((i) => i < 3 * k + 2).length));
    // A sync transaction cannot be awaited from inside an async one (it would wait forever).
    await expect(storage.transaction(async () => storage.transactionSync(() => 1))).rejects.toThrow(
      /inside storage.transaction\(\)/,
    );
    expect(await storage.transactionSync(() => 'alone')).toBe('alone');
  });

  it('refuses a nested transaction instead of deadlocking', async () => {
    const { storage } = await startStorage({});
    await expect(storage.transaction(async () => storage.transaction(async () => 1))).rejects.toThrow(
      /inside storage.transaction\(\)/,
    );
    await expect(storage.transaction(async () => storage.checkWritable())).rejects.toThrow(
      /inside storage.transaction\(\)/,
    );
    // Work started inside a transaction but run after it ended is not refused.
    let later: Promise<number> | undefined;
    await storage.transaction(async () => {
      later = new Promise<void>((r) => setTimeout(r, 10)).then(() => storage.transaction(async () => 2));
    });
    expect(await later).toBe(2);
  });

  it('hands the connection a write gate: gated work waits for running transactions and holds later ones', async () => {
    const path = join(work, 'gate.db');
    const handle = await (await loadRuntime()).openSqlite(path);
    let gate: WriteGate | undefined;
    const storage = createStorage(
      {
        ...handle,
        setWriteGate: (g) => {
          gate = g;
        },
      },
      path,
    );
    try {
      expect(gate).toBeDefined();
      await storage.migrate('fixture', FIXTURE_MIGRATIONS);
      const order: string[] = [];
      let finishFirst!: () => void;
      const first = storage.transaction(async (db) => {
        order.push('tx1 start');
        await new Promise<void>((r) => {
          finishFirst = r;
        });
        await db.insert(counters).values({ name: 'a', value: 1 });
        order.push('tx1 end');
      });
      await new Promise((r) => setTimeout(r, 5));
      let finishGated!: () => void;
      const gated = gate!(async () => {
        order.push('gated start');
        await new Promise<void>((r) => {
          finishGated = r;
        });
        order.push('gated end');
      });
      await new Promise((r) => setTimeout(r, 5));
      expect(order).toEqual(['tx1 start']);
      finishFirst();
      await first;
      await new Promise((r) => setTimeout(r, 5));
      const second = storage.transactionSync(() => order.push('tx2'));
      await new Promise((r) => setTimeout(r, 5));
      expect(order).toEqual(['tx1 start', 'tx1 end', 'gated start']);
      finishGated();
      await Promise.all([gated, second]);
      expect(order).toEqual(['tx1 start', 'tx1 end', 'gated start', 'gated end', 'tx2']);
    } finally {
      await storage.close();
    }
    // A closed storage refuses gated work, so a late checkpoint just skips its round.
    await expect(gate!(async () => undefined)).rejects.toThrow(/closed/);
  });
});

describe('checkWritable and health:ready', () => {
  it('passes on a writable database', async () => {
    const { host, storage } = await startStorage({});
    await storage.checkWritable();
    await expect(host.hooks.call('health:ready')).resolves.toBeUndefined();
    expect(await rowCount(storage.db, '__health')).toBe(1);
  });

  /*
   * A read-only file: the tests run as root, and root writes to a 0444 file regardless of its mode.
   * SQLite's own read-only open would not test the plugin against a read-only *file*, and a
   * read-only mount needs privileges CI may not have. So the check runs in a child process as an
   * unprivileged user (uid 65534, "nobody") — the situation of a non-root container whose volume
   * file is not writable. Not root: plain chmod 0444 is enough and the child runs as ourselves.
   */
  it('fails on a read-only database file, and so does /readyz’s hook', async () => {
    const { host } = await startStorage({ dataDir: join(work, 'writer') });
    await host.stop();

    const roDir = join(work, 'ro');
    mkdirSync(roDir);
    // The directory stays writable: SQLite needs its -shm/-wal files beside a WAL database to read it.
    await chmod(work, 0o755);
    await chmod(roDir, 0o1777);
    const file = join(roDir, 'iarnet.db');
    copyFileSync(join(work, 'writer', 'iarnet.db'), file);
    await chmod(file, 0o444);

    const asRoot = process.getuid?.() === 0;
    const out = await runChild(
      [
        resolve(ROOT, 'node_modules/tsx/dist/cli.mjs'),
        'test/support/storage-readonly-check.ts',
        file,
        join(roDir, 'data'),
      ],
      asRoot ? { uid: 65534, gid: 65534 } : {},
    );
    expect(out.uid).not.toBe(0);
    expect(out.readRows).toBe(1); // reads still work
    expect(out.checkWritable).toMatch(
      /^the database cannot be written: attempt to write a readonly database/,
    );
    expect(out.checkWritable).not.toContain(file); // /readyz is anonymous: no paths
    expect(out.ready).toMatch(/storage.*health:ready.*readonly database/);
  });

  /* A real full disk needs a small filesystem: a tmpfs, which only privileged processes may mount. */
  it('fails while the disk is full and recovers when space is freed', async (ctx) => {
    const mountPoint = join(work, 'small');
    mkdirSync(mountPoint);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    } catch (e) {
      const reason = `cannot mount a tmpfs to fill (${(e as Error).message.split('\n')[0]}); needs CAP_SYS_ADMIN`;
      // CI runs as root and must prove this; only a hand run without the capability may skip.
      if (process.env.CI === 'true') throw new Error(reason);
      ctx.skip(reason);
    }
    try {
      const { host, storage } = await startStorage({ dataDir: join(mountPoint, 'data') });
      await storage.checkWritable();
      const filler = join(mountPoint, 'filler');
      try {
        writeFileSync(filler, Buffer.alloc(2 * 1024 * 1024));
      } catch {
        // ENOSPC: the file takes whatever space was left.
      }
      await expect(storage.checkWritable()).rejects.toThrow(/cannot be written: database or disk is full/);
      await expect(host.hooks.call('health:ready')).rejects.toThrow(/disk is full/);
      rmSync(filler);
      await storage.checkWritable();
      await host.stop();
    } finally {
      hosts.splice(0);
      execFileSync('umount', [mountPoint]);
    }
  });
});

function runChild(args: string[], ids: { uid?: number; gid?: number }): Promise<Record<string, unknown>> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...ids });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) return reject(new Error(`child exited ${code} without a result:\n${stdout}\n${stderr}`));
      const result = JSON.parse(line.slice('RESULT '.length)) as Record<string, unknown>;
      if (result.error) return reject(new Error(`child failed: ${result.error}\n${stderr}`));
      resolvePromise(result);
    });
  });
}
