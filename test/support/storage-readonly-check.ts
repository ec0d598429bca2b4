/**
 * Opens an existing database the process may read but not write, through the storage plugin, and
 * reports what setup, reads, checkWritable() and the `health:ready` hook do. Spawned by
 * test/unit/storage.test.ts as an unprivileged user (root writes to read-only files regardless).
 *
 *   tsx test/support/storage-readonly-check.ts <database file> <data dir>
 *
 * Prints one line `RESULT <json>`.
 */
import { sql } from 'drizzle-orm';
import * as v from 'valibot';
import { coreConfigSchema } from '../../core/kernel/config.ts';
import { PluginHost } from '../../core/kernel/loader.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import { loadRuntime } from '../../core/runtime/index.ts';
import { StorageKey } from '../../core/slots/storage.ts';
import storagePlugin from '../../plugins/storage/index.ts';

async function main() {
  const [file, dataDir] = process.argv.slice(2);
  if (!file || !dataDir) throw new Error('usage: storage-readonly-check.ts <database file> <data dir>');
  const host = new PluginHost({
    plugins: [storagePlugin],
    core: v.parse(coreConfigSchema, { data_dir: dataDir }),
    sections: { storage: { path: file } },
    runtime: await loadRuntime(),
    logger: silentLogger(),
  });
  await host.setup();
  await host.start();
  const storage = host.services.get(StorageKey);
  const out: Record<string, unknown> = { uid: process.getuid?.(), driver: storage.driver };
  out.readRows = (await storage.db.values(sql`SELECT count(*) FROM "__health"`))[0]?.[0];
  out.checkWritable = await storage.checkWritable().then(
    () => 'ok',
    (e: Error) => e.message,
  );
  out.ready = await host.hooks.call('health:ready').then(
    () => 'ok',
    (e: Error) => e.message,
  );
  await host.stop();
  return out;
}

main().then(
  (out) => process.stdout.write(`RESULT ${JSON.stringify(out)}\n`),
  (e) => {
    process.stdout.write(`RESULT ${JSON.stringify({ error: String((e as Error)?.stack ?? e) })}\n`);
    process.exitCode = 1;
  },
);
