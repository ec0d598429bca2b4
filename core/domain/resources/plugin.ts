/**
 * # resources — the compute resources this node runs workloads on
 *
 * A core plugin (`dependencies: ['storage']`). During setup it provides:
 * - `RunnerTypesKey` — the registry runner plugins add their resource types to (list this plugin
 *   before them: runner plugins register during their own setup);
 * - `ResourceCatalogKey` — stored resources, one live Runner each, reachability;
 * and defines the hooks `resource:deleting` and `resource:changed` (both serial).
 *
 * At start, in `mode: standalone` (k8s: the cluster) it registers the node's own engine as a
 * built-in resource when a runner detects it, then refreshes every resource every
 * `resources.refresh_interval` seconds. The quota ledger, when one is loaded, supplies the used
 * amounts the API shows (`LedgerReaderKey`, looked up per request).
 *
 * Config: see config.ts (`resources:` — refresh_interval, test_timeout, outbound.allow/deny,
 * encryption.key). Credentials are sealed with AES-256-GCM; the key is encryption.key or
 * `<data_dir>/secrets.key`, generated on first start (0600).
 */
import { join } from 'node:path';
import { definePlugin } from '../../kernel/plugin.ts';
import { RunnerTypesKey } from '../../slots/runner.ts';
import { StorageKey } from '../../slots/storage.ts';
import { VERSION } from '../../version.ts';
import { AddressPolicy } from '../address-policy.ts';
import { LedgerReaderKey } from '../ledger/types.ts';
import { loadSecretKey, SecretBox } from '../secret-box.ts';
import { ResourceService } from './catalog.ts';
import { resourcesConfigSchema, SECRET_KEY_FILE } from './config.ts';
import { resourceRoutes } from './routes.ts';
import { RunnerTypeRegistry } from './runner-types.ts';
import { ResourceCatalogKey } from './types.ts';

export default definePlugin({
  name: 'resources',
  version: VERSION,
  dependencies: ['storage'],
  configSchema: resourcesConfigSchema,
  // Start registers the local engine (one bounded connection test); stop waits for running refreshes.
  timeouts: { start: 30_000, stop: 15_000 },
  async setup(ctx) {
    const { config, logger } = ctx;
    const storage = ctx.use(StorageKey);
    await storage.migrate('resources', new URL('./migrations/', import.meta.url));

    const keyFile = join(ctx.dataDir, SECRET_KEY_FILE);
    const box = new SecretBox(
      loadSecretKey({ ...(config.encryption.key ? { key: config.encryption.key } : {}), keyFile }),
    );
    const types = new RunnerTypeRegistry();
    ctx.provide(RunnerTypesKey, types);
    ctx.hooks.define('resource:deleting', 'serial');
    ctx.hooks.define('resource:changed', 'serial');

    const service = new ResourceService({
      storage,
      box,
      policy: new AddressPolicy(config.outbound),
      types,
      hooks: ctx.hooks,
      logger,
      ledger: () => ctx.tryUse(LedgerReaderKey),
      testTimeoutMs: config.test_timeout * 1000,
    });
    ctx.provide(ResourceCatalogKey, service);
    ctx.http.routes((app) => resourceRoutes(app, service));

    let timer: ReturnType<typeof setTimeout> | undefined;
    let pass: Promise<void> | undefined;
    const schedule = () => {
      if (config.refresh_interval === 0 || ctx.signal.aborted) return;
      timer = setTimeout(() => {
        pass = service.refreshAll().finally(schedule);
      }, config.refresh_interval * 1000);
      // The refresh timer alone must not keep a process alive.
      timer.unref?.();
    };

    return {
      async start() {
        if (!types.types().length) logger.warn('no runner plugin is loaded: resources cannot be connected');
        try {
          await service.ensureBuiltin(ctx.core.mode);
        } catch (err) {
          logger.warn({ err: (err as Error).name }, 'registering the built-in resource failed; continuing');
        }
        // The first full pass runs in the background: an unreachable resource must not hold up start.
        pass = service.refreshAll().finally(schedule);
      },
      async stop() {
        clearTimeout(timer);
        // close() first: a pass in progress then stops after the refreshes already running.
        await service.close();
        await pass?.catch(() => undefined);
        clearTimeout(timer);
      },
    };
  },
});
