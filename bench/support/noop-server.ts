/**
 * An IARNet node for admission benchmarks, as its own process: storage, resources, the no-op
 * runner (registered as the built-in docker resource), platform and the test-only static auth,
 * with node limits large enough that a tiny request never hits the quota. Logs JSON at `info` to
 * stdout like `iarnet` itself; its first line of its own is `{"bench":"listening","url":...}`.
 *
 *   node --import tsx bench/support/noop-server.ts <data-dir>
 *
 * SIGTERM / SIGINT stop it (drain, stop plugins, close the database).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import platformPlugin from '../../core/domain/platform-plugin.ts';
import resourcesPlugin from '../../core/domain/resources/plugin.ts';
import { createIarnet } from '../../core/iarnet.ts';
import { loadConfig } from '../../core/kernel/config.ts';
import { createLogger } from '../../core/kernel/logger.ts';
import type { AnyPlugin } from '../../core/kernel/plugin.ts';
import { loadRuntime } from '../../core/runtime/index.ts';
import storagePlugin from '../../plugins/storage/index.ts';
import { staticAuth } from '../../test/support/static-auth.ts';
import { noopRunnerPlugin } from './noop-runner.ts';

export const NOOP_NODE_ID = 'bench-noop';

const dataDir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'iarnet-bench-noop-'));
const loaded = loadConfig({
  overrides: {
    node_id: NOOP_NODE_ID,
    data_dir: dataDir,
    listen_addr: '127.0.0.1:0',
    // 100k cores and 1 PiB: 0.01-core runs never run out during a benchmark.
    resource_limits: { cpu: '100000', memory: '1Pi', gpu: '0' },
    logging: { level: 'info', output: 'stdout' },
    http: { shutdown_grace: 2 },
  },
});
const logger = createLogger(loaded.core.logging, { service: 'iarnet-bench-noop' });
const node = await createIarnet({
  core: loaded.core,
  sections: { platform: { reconcile_interval: 3600, start_grace: 3600 } },
  plugins: [storagePlugin, resourcesPlugin, noopRunnerPlugin, platformPlugin, staticAuth] as AnyPlugin[],
  runtime: await loadRuntime(),
  logger,
});
await node.start();
const server = await node.listen();
process.stdout.write(
  `${JSON.stringify({ bench: 'listening', url: server.url, dataDir, db: join(dataDir, 'iarnet.db') })}\n`,
);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  node.stop().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
