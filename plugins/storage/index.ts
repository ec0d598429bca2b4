/**
 * # storage — the SQLite database every owner of tables shares
 *
 * Provides {@link StorageKey} (see `core/slots/storage.ts`): one Drizzle database over one SQLite
 * file, opened through the runtime adapter, which picks the driver (better-sqlite3 on Node,
 * `node:sqlite` on Node ≥ 22.5 when better-sqlite3 does not load, `bun:sqlite` on Bun, `node:sqlite`
 * on Deno). Connections run in WAL mode with `foreign_keys=ON`, `busy_timeout=5000` and
 * `synchronous=NORMAL`.
 *
 * ## Config (`storage:` section)
 *
 *     storage:
 *       path: iarnet.db     # default; relative to data_dir, or absolute, or ":memory:"
 *
 * data_dir is created (mode 0700) when missing.
 *
 * ## Using it from another plugin
 *
 *     definePlugin({
 *       name: 'quota', version, dependencies: ['storage'],
 *       async setup(ctx) {
 *         const storage = ctx.use(StorageKey);
 *         await storage.migrate('quota', new URL('./migrations/', import.meta.url));
 *         ...
 *         await storage.transaction(async (db) => {
 *           const [row] = await db.select().from(ledger).where(eq(ledger.id, 1));
 *           await db.update(ledger).set({ used: row!.used + 1 }).where(eq(ledger.id, 1));
 *         });
 *       },
 *     });
 *
 * - Each owner keeps a Drizzle schema and drizzle-kit migrations in its own folder
 *   (`schema.ts`, `drizzle.config.ts`, `migrations/`; `npm run gen:migrations` regenerates them all)
 *   and applies them with `migrate(owner, folder)`. Progress is recorded per owner in
 *   `__migrations_<owner>`, so owners never see each other's migrations.
 * - `transaction(fn)` runs `fn` in `BEGIN IMMEDIATE … COMMIT` (ROLLBACK when it throws). Transactions
 *   run one at a time in this process: every driver here has one connection, so two interleaved
 *   transactions would silently become one. Consequences: keep `fn` short and about the database
 *   (no network calls inside); never call `transaction`, `migrate` or `checkWritable` from inside
 *   `fn` (refused with an error, it would deadlock); and know that a statement issued *outside*
 *   `transaction()` while one is open joins it. Do not use Drizzle's own `db.transaction()`: it
 *   needs a synchronous callback on better-sqlite3 and bun:sqlite.
 * - Hot paths may use `prepare(sql)` (raw statements, positional `?`, rows as objects) inside
 *   `transactionSync(fn)`: same queue, BEGIN IMMEDIATE and group commit, but `fn` is synchronous
 *   and awaits nothing (the quota ledger's reserve/commit/release do).
 * - Queued transactions start after the current event-loop turn's I/O callbacks (setImmediate), so
 *   concurrent requests share one COMMIT.
 * - On Node the WAL checkpoint takes its turn in the same queue (once a second or every 2,000
 *   commits, a few milliseconds): a steady stream of writes cannot starve it, so the WAL stays
 *   short (core/runtime/sqlite-checkpointer.ts).
 * - Use the query builder. Raw `db.all(sql…)`/`db.get(sql…)` rows are objects on better-sqlite3 and
 *   bun:sqlite but arrays on node:sqlite; `db.values(sql…)` gives arrays everywhere. `db.run()`
 *   reports `changes` and `lastInsertRowid` on every driver.
 * - Query errors arrive wrapped by Drizzle ("Failed query: …"); the driver's error is `cause`.
 *
 * ## Health
 *
 * A `health:ready` handler calls `checkWritable()`, which rewrites one row of `__health`, so
 * /readyz answers 503 while the file is read-only or the disk is full.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { definePlugin } from '../../core/kernel/plugin.ts';
import { StorageKey } from '../../core/slots/storage.ts';
import { VERSION } from '../../core/version.ts';
import { storageConfigSchema } from './config.ts';
import { createStorage, rootMessage } from './service.ts';

export default definePlugin({
  name: 'storage',
  version: VERSION,
  configSchema: storageConfigSchema,
  async setup(ctx) {
    // Credentials and keys of other plugins live beside the database: owner-only.
    await mkdir(ctx.dataDir, { recursive: true, mode: 0o700 });
    const configured = ctx.config.path;
    const path =
      configured === ':memory:' || isAbsolute(configured) ? configured : resolve(ctx.dataDir, configured);
    if (path !== ':memory:') await mkdir(dirname(path), { recursive: true, mode: 0o700 });

    let handle: Awaited<ReturnType<typeof ctx.runtime.openSqlite>>;
    try {
      handle = await ctx.runtime.openSqlite(path);
    } catch (e) {
      throw new Error(`cannot open the database ${path}: ${rootMessage(e)}`, { cause: e });
    }
    const storage = createStorage(handle, path);
    try {
      await storage.migrate('storage', new URL('./migrations/', import.meta.url));
    } catch (e) {
      await storage.close();
      throw e;
    }

    ctx.provide(StorageKey, storage);
    ctx.hooks.on('health:ready', () => storage.checkWritable());
    ctx.logger.info({ path, driver: handle.driver }, 'database open');

    return {
      async start() {
        // A read-only database still starts (reads work); say so now rather than at the first write.
        await storage
          .checkWritable()
          .catch((err) => ctx.logger.error({ err }, 'the database is not writable'));
      },
      stop: () => storage.close(),
    };
  },
});
