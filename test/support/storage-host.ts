/** A plugin host with just the storage plugin on a temp SQLite file, for domain tests. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { coreConfigSchema } from '../../core/kernel/config.ts';
import { PluginHost } from '../../core/kernel/loader.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import { loadRuntime } from '../../core/runtime/index.ts';
import { type Storage, StorageKey } from '../../core/slots/storage.ts';
import storagePlugin from '../../plugins/storage/index.ts';

export async function openTestStorage(
  dataDir = mkdtempSync(join(tmpdir(), 'iarnet-domain-')),
): Promise<{ storage: Storage; dataDir: string; close(): Promise<void> }> {
  const host = new PluginHost({
    plugins: [storagePlugin],
    core: v.parse(coreConfigSchema, { data_dir: dataDir }),
    runtime: await loadRuntime(),
    logger: silentLogger(),
  });
  await host.setup();
  await host.start();
  return { storage: host.services.get(StorageKey), dataDir, close: () => host.stop() };
}
