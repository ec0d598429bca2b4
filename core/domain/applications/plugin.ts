/**
 * # applications — the design document's Application (sections 4.1.2, 4.2.2, 5.2)
 *
 * A core plugin (`dependencies: ['storage']`, set up after `git` and `platform` when present).
 * Stores applications (table `applications`, migration owner `applications`), serves
 * /api/applications and /api/deploy (see routes.ts), deploys through the platform's RunService
 * (deploy.ts) and provides {@link ApplicationServiceKey}.
 *
 * Secret env values and Git tokens are sealed with the same key as resource credentials:
 * `resources.encryption.key`, else `<data_dir>/secrets.key` (generated 0600 by whichever owner
 * starts first; loadSecretKey makes the two agree). An explicit key is `applications.encryption.key`. The Git service is looked up per request, so
 * the module works without the git plugin (parse-git then answers 503 and URLs must be https).
 */
import { join } from 'node:path';
import * as v from 'valibot';
import { definePlugin } from '../../kernel/plugin.ts';
import { serviceKey } from '../../kernel/services.ts';
import { GitServiceKey } from '../../slots/git.ts';
import { StorageKey } from '../../slots/storage.ts';
import { VERSION } from '../../version.ts';
import { IdempotencyStore } from '../idempotency.ts';
import { LedgerReaderKey } from '../ledger/types.ts';
import { SECRET_KEY_FILE } from '../resources/config.ts';
import { ResourceCatalogKey } from '../resources/types.ts';
import { RunServiceKey } from '../runs.ts';
import { loadSecretKey, SecretBox } from '../secret-box.ts';
import { ApplicationDeployer } from './deploy.ts';
import { applicationRoutes } from './routes.ts';
import { ApplicationService } from './service.ts';

export const ApplicationServiceKey = serviceKey<ApplicationService>('applications');

/**
 * `applications:` config. Plugins cannot read each other's sections, so when
 * `resources.encryption.key` is set, set the same value here (or leave both empty: both then use
 * `<data_dir>/secrets.key`).
 */
export const applicationsConfigSchema = v.strictObject({
  encryption: v.optional(
    v.strictObject({
      key: v.optional(
        v.pipe(
          v.string(),
          v.check(
            (s) => s === '' || Buffer.from(s.trim(), 'base64').length === 32,
            'must be 32 bytes, base64-encoded (the same value as resources.encryption.key)',
          ),
        ),
      ),
    }),
    {},
  ),
});

export default definePlugin({
  name: 'applications',
  version: VERSION,
  dependencies: ['storage'],
  optionalDependencies: ['resources', 'git', 'platform'],
  configSchema: applicationsConfigSchema,
  async setup(ctx) {
    const storage = ctx.use(StorageKey);
    await storage.migrate('applications', new URL('./migrations/', import.meta.url));
    const key = ctx.config.encryption.key?.trim();
    const box = new SecretBox(
      loadSecretKey({ ...(key ? { key } : {}), keyFile: join(ctx.dataDir, SECRET_KEY_FILE) }),
    );
    const service = new ApplicationService({
      storage,
      box,
      git: () => ctx.tryUse(GitServiceKey),
      logger: ctx.logger,
    });
    const deployer = new ApplicationDeployer({
      apps: service,
      runs: () => ctx.tryUse(RunServiceKey),
      catalog: () => ctx.tryUse(ResourceCatalogKey),
      ledger: () => ctx.tryUse(LedgerReaderKey),
      logger: ctx.logger,
    });
    ctx.provide(ApplicationServiceKey, service);
    // The idempotency table belongs to the platform's migrations: use it only when that is loaded.
    const idempotency = new IdempotencyStore(storage);
    ctx.http.routes((app) =>
      applicationRoutes(app, service, deployer, () => (ctx.tryUse(RunServiceKey) ? idempotency : undefined)),
    );
    return {
      async start() {
        // A deploy, stop or restart cut short by a crash leaves `deploying`: settle it from the
        // ledger (the platform reconciled it at its own start, before ours).
        for (const row of await service.interrupted()) {
          let running = false;
          try {
            running = (await deployer.allocations(row.id)).length > 0;
          } catch {
            // No platform loaded: nothing can be running.
          }
          await service.setStatus(row.id, running ? 'running' : 'error', {
            reason: running ? null : 'interrupted by a restart of this node',
            ...(running ? {} : { runningOn: [] }),
          });
        }
      },
    };
  },
});
