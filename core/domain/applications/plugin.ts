/**
 * # applications — the design document's Application (sections 4.1.2, 4.2.2, 5.2)
 *
 * A core plugin (`dependencies: ['storage']`, set up after `git` and `platform` when present).
 * Stores applications (table `applications`, migration owner `applications`), serves
 * /api/applications and /api/deploy (routes.ts) and /api/status, per-application status, logs
 * and redeploy (status-routes.ts); builds images from Git (build.ts), deploys through the
 * platform's RunService (deploy.ts), checks health (health.ts), and provides
 * {@link ApplicationServiceKey}. Events: `application:build` (output lines, batched),
 * `application:status` (status seen outside, with `warning`), `application:health`.
 * Config: config.ts.
 *
 * Secret env values and Git tokens are sealed with the same key as resource credentials:
 * `resources.encryption.key`, else `<data_dir>/secrets.key` (generated 0600 by whichever owner
 * starts first; loadSecretKey makes the two agree). An explicit key is `applications.encryption.key`. The Git service is looked up per request, so
 * the module works without the git plugin (parse-git then answers 503 and URLs must be https).
 */
import { join } from 'node:path';
import { definePlugin } from '../../kernel/plugin.ts';
import { serviceKey } from '../../kernel/services.ts';
import { GitServiceKey } from '../../slots/git.ts';
import { StorageKey } from '../../slots/storage.ts';
import { VERSION } from '../../version.ts';
import { EventBusKey } from '../events.ts';
import { IdempotencyStore } from '../idempotency.ts';
import { LedgerReaderKey } from '../ledger/types.ts';
import { SECRET_KEY_FILE } from '../resources/config.ts';
import { ResourceCatalogKey } from '../resources/types.ts';
import { RunServiceKey } from '../runs.ts';
import { loadSecretKey, SecretBox } from '../secret-box.ts';
import { ApplicationBuilder } from './build.ts';
import { applicationsConfigSchema } from './config.ts';
import { ApplicationDeployer } from './deploy.ts';
import { HealthMonitor } from './health.ts';
import { watchInstances } from './instance-watch.ts';
import { applicationRoutes } from './routes.ts';
import { ApplicationService, type StatusChange } from './service.ts';
import { effectiveStatus, instanceCount, StatusReader } from './status.ts';
import { applicationStatusRoutes } from './status-routes.ts';

export { applicationsConfigSchema } from './config.ts';

export const ApplicationServiceKey = serviceKey<ApplicationService>('applications');

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
    const events = () => ctx.tryUse(EventBusKey);
    // Status changes go on the event stream as the status seen outside (warning when unhealthy).
    const onStatus = (change: StatusChange) => {
      events()?.emit('application:status', {
        applicationId: change.id,
        name: change.name,
        status: effectiveStatus(change.status, health.health(change.id)),
        applicationStatus: change.status,
        previous: change.previous,
        ...(change.reason ? { reason: change.reason } : {}),
      });
    };
    const service = new ApplicationService({
      storage,
      box,
      git: () => ctx.tryUse(GitServiceKey),
      logger: ctx.logger,
      onStatus,
    });
    const health: HealthMonitor = new HealthMonitor({
      settings: async (id) => {
        const row = await service.row(id).catch(() => undefined);
        return row?.healthCheck ?? undefined;
      },
      targets: (id, check) => deployer.healthTargets(id, check),
      threshold: ctx.config.health.failure_threshold,
      logger: ctx.logger,
      onChange: (id, now, previous) => {
        void service
          .row(id)
          .then((row) => {
            events()?.emit('application:health', {
              applicationId: id,
              name: row.name,
              health: now,
              previous,
            });
            const before = effectiveStatus(row.status, previous);
            const after = effectiveStatus(row.status, now);
            if (before !== after) {
              events()?.emit('application:status', {
                applicationId: id,
                name: row.name,
                status: after,
                applicationStatus: row.status,
                previous: before,
                ...(after === 'warning' ? { reason: 'health checks fail' } : {}),
              });
            }
          })
          .catch(() => {});
      },
    });
    const builder = new ApplicationBuilder({
      git: () => ctx.tryUse(GitServiceKey),
      catalog: () => ctx.tryUse(ResourceCatalogKey),
      ledger: () => ctx.tryUse(LedgerReaderKey),
      events,
      gitToken: (row) => service.gitToken(row),
      baseImages: ctx.config.base_images,
      timeoutMs: ctx.config.build.timeout_seconds * 1000,
      maxContextBytes: ctx.config.build.max_context_bytes,
      memory: ctx.config.build.memory,
      cpu: ctx.config.build.cpu,
      nodeId: () => ctx.core.node_id || undefined,
      logger: ctx.logger,
    });
    const deployer = new ApplicationDeployer({
      apps: service,
      runs: () => ctx.tryUse(RunServiceKey),
      catalog: () => ctx.tryUse(ResourceCatalogKey),
      ledger: () => ctx.tryUse(LedgerReaderKey),
      builder,
      health,
      logger: ctx.logger,
    });
    const status = new StatusReader({
      catalog: () => ctx.tryUse(ResourceCatalogKey),
      buildOutput: (id) => builder.recentOutput(id),
      health,
      cacheMs: ctx.config.status.cache_ms,
      logLines: ctx.config.status.log_lines,
    });
    ctx.provide(ApplicationServiceKey, service);
    // The idempotency table belongs to the platform's migrations: use it only when that is loaded.
    const idempotency = new IdempotencyStore(storage);
    ctx.http.routes((app) => {
      applicationRoutes(app, service, deployer, () => (ctx.tryUse(RunServiceKey) ? idempotency : undefined));
      applicationStatusRoutes(app, service, deployer, status, () =>
        ctx.tryUse(RunServiceKey) ? idempotency : undefined,
      );
    });
    let stopWatching: (() => void) | undefined;
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
        // Health checks of what runs resume with the node.
        for (const row of await service.rows()) if (row.status === 'running') deployer.resume(row);
        const bus = events();
        if (bus) {
          stopWatching = watchInstances({
            events: bus,
            row: (id) => service.row(id).catch(() => undefined),
            running: async (id) =>
              instanceCount((await deployer.allocations(id).catch(() => [])).filter((a) => a.workloadId)),
            health: (id) => health.health(id),
            push: ({ row, status, previous, reason }) =>
              bus.emit('application:status', {
                applicationId: row.id,
                name: row.name,
                status,
                applicationStatus: row.status,
                previous,
                ...(reason ? { reason } : {}),
              }),
          });
        }
      },
      stop() {
        stopWatching?.();
        health.stopAll();
        builder.cancelAll();
      },
    };
  },
});
