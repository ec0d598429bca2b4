/**
 * The platform: quota ledger, placement, runs, reconciler and the node's container API,
 * written against slot contracts only (Storage, ResourceCatalog → Runner). A core plugin, so the
 * loader orders it after storage and resources and stops it before them.
 */
import { hostname } from 'node:os';
import * as v from 'valibot';
import { containerRoutes } from '../api/containers.ts';
import { EVENTS_WS_PATH, eventRoutes } from '../api/events.ts';
import { nodeRoutes } from '../api/runs.ts';
import { splitAddress } from '../kernel/config.ts';
import { conflict } from '../kernel/errors.ts';
import { definePlugin } from '../kernel/plugin.ts';
import { RunnerTypesKey } from '../slots/runner.ts';
import { StorageKey } from '../slots/storage.ts';
import { VERSION } from '../version.ts';
import { EventBus, EventBusKey } from './events.ts';
import { IdempotencyStore } from './idempotency.ts';
import { QuotaLedger } from './ledger/ledger.ts';
import { LedgerReaderKey, toMilli } from './ledger/types.ts';
import { loadNodeId } from './node-identity.ts';
import { Reconciler } from './reconciler.ts';
import { ResourceCatalogKey } from './resources/types.ts';
import { RunService, RunServiceKey } from './runs.ts';

/** Whole seconds, from YAML (a number) or from an IARNET_PLATFORM__* variable (a string). */
const seconds = (min: number, max: number, def: number) =>
  v.optional(
    v.pipe(
      v.union([
        v.number(),
        v.pipe(v.string(), v.regex(/^\d{1,9}$/, 'expected whole seconds'), v.transform(Number)),
      ]),
      v.integer(),
      v.minValue(min),
      v.maxValue(max),
    ),
    def,
  );

export const platformConfigSchema = v.strictObject({
  /** Seconds between full reconcile passes (engine events trigger extra ones sooner). */
  reconcile_interval: seconds(1, 3600, 15),
  /** Seconds a reservation may wait for its workload to appear before it counts as abandoned. */
  start_grace: seconds(5, 3600, 120),
});

export default definePlugin({
  name: 'platform',
  version: VERSION,
  dependencies: ['storage', 'resources'],
  configSchema: platformConfigSchema,
  timeouts: { start: 60_000 },
  async setup(ctx) {
    const storage = ctx.use(StorageKey);
    await storage.migrate('ledger', new URL('./ledger/migrations', import.meta.url));
    const catalog = ctx.use(ResourceCatalogKey);
    const nodeId = loadNodeId(ctx.dataDir, ctx.core.node_id);
    const limits = ctx.core.resource_limits;
    const ledger = new QuotaLedger(storage, nodeId, {
      cpuMilli: toMilli(limits.cpu),
      memory: limits.memory,
      gpu: limits.gpu,
    });
    const events = new EventBus();
    const runnerTypes = ctx.use(RunnerTypesKey);
    const runs = new RunService({
      ledger,
      catalog,
      events,
      hooks: ctx.hooks,
      nodeId,
      logger: ctx.logger,
      runnerType: (type) => runnerTypes.get(type),
    });
    const reconciler = new Reconciler({
      ledger,
      catalog,
      events,
      nodeId,
      logger: ctx.logger,
      startGraceMs: ctx.config.start_grace * 1000,
      starting: (id) => runs.isStarting(id),
    });

    ctx.provide(LedgerReaderKey, ledger);
    ctx.provide(EventBusKey, events);
    ctx.provide(RunServiceKey, runs);
    ctx.hooks.define('run:validate', 'serial');
    ctx.hooks.define('run:overflow', 'first');
    ctx.hooks.define('containers:remote', 'waterfall');
    ctx.hooks.define('containers:remote-control', 'first');
    ctx.hooks.define('containers:remote-logs', 'first');
    ctx.hooks.define('containers:remote-stats', 'first');
    const remote = () => ctx.hooks.call('containers:remote', []);

    // Deleting a resource: refuse while its containers hold quota, unless forced.
    ctx.hooks.on('resource:deleting', async (resource, { force }) => {
      const active = await ledger.activeOn(resource.id);
      if (!active.length) return;
      if (!force)
        throw conflict(
          `${active.length} container(s) run on ${resource.name}; delete with force=true to stop them`,
        );
      for (const a of active) {
        await runs.remove(a).catch(async () => {
          // The resource is going away; its quota must not stay booked even if the engine is gone.
          await ledger.release(a.id, 'resource-deleted');
        });
      }
    });

    const followers = new Map<string, AbortController>();
    const follow = (resourceId: string) => {
      if (followers.has(resourceId) || ctx.signal.aborted) return;
      const controller = new AbortController();
      ctx.signal.addEventListener('abort', () => controller.abort(), { once: true });
      followers.set(resourceId, controller);
      void reconciler.followEvents(resourceId, controller.signal);
    };
    ctx.hooks.on('resource:changed', (resource, change) => {
      events.emit('resource:changed', {
        id: resource.id,
        name: resource.name,
        status: resource.status,
        change,
      });
      if (change === 'deleted') {
        followers.get(resource.id)?.abort();
        followers.delete(resource.id);
      } else if (change === 'created') {
        follow(resource.id);
        void reconciler.reconcile(resource.id).catch(() => {});
      }
    });

    // The WebSocket twin of /api/events authenticates by itself (first message or header).
    ctx.http.allowAnonymous('GET', EVENTS_WS_PATH);
    const { host, port } = splitAddress(ctx.core.advertise_addr ?? ctx.core.peer_listen_addr);
    const address = `${host === '0.0.0.0' || host === '::' ? hostname() : host}:${port}`;
    ctx.http.routes((app) => {
      nodeRoutes(app, {
        ledger,
        runs,
        idempotency: new IdempotencyStore(storage),
        nodeId,
        address,
        lastReconciled: () => reconciler.lastPassAt,
        remote,
      });
      containerRoutes(app, {
        ledger,
        runs,
        catalog,
        remote,
        remoteControl: (op, ref) => ctx.hooks.call('containers:remote-control', op, ref),
        remoteLogs: (ref, opts) => ctx.hooks.call('containers:remote-logs', ref, opts),
        remoteStats: (ref) => ctx.hooks.call('containers:remote-stats', ref),
      });
      eventRoutes(app, events, {
        upgradeWebSocket: ctx.runtime.upgradeWebSocket,
        authenticate: (request) => ctx.hooks.call('auth:authenticate', request),
      });
    });

    return {
      async start() {
        // Bring the ledger up to date with the engines before serving (crash recovery).
        const summaries = await reconciler.reconcileAll();
        ctx.logger.info({ nodeId, resources: summaries }, 'reconciled');
        for (const r of await catalog.list()) follow(r.id);
        reconciler.startLoop(ctx.config.reconcile_interval * 1000, ctx.signal);
      },
    };
  },
});
