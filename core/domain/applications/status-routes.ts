/**
 * Routes of running applications (the design document's 运行状态, sections 4.1.3 and 5.3):
 *
 *   GET  /api/status                       viewer    ApplicationStatus of every application
 *   GET  /api/applications/{id}/status     viewer    one ApplicationStatus
 *   GET  /api/applications/{id}/logs       viewer    merged instance logs (tail, since, follow=SSE)
 *   POST /api/applications/{id}/redeploy   operator  replace the instances (rebuild from Git)
 *
 * `GET /status` (no prefix) stays the document's container list of section 3.4.3; `/api/status`
 * is the application status the dashboard's 运行状态 page reads.
 */
import * as v from 'valibot';
import { streamLogLines } from '../../api/log-stream.ts';
import { LogsQuery } from '../../api/run-model.ts';
import { requireRole } from '../../kernel/guard.ts';
import { describe } from '../../kernel/openapi.ts';
import type { App } from '../../kernel/plugin.ts';
import { validate } from '../../kernel/validation.ts';
import type { IdempotencyStore } from '../idempotency.ts';
import { engineCall } from '../runs.ts';
import type { ApplicationDeployer } from './deploy.ts';
import { idempotent } from './idempotent.ts';
import { followLogs, mergedLogs } from './logs.ts';
import { AppIdParam, ApplicationSchema } from './model.ts';
import type { ApplicationService } from './service.ts';
import type { StatusReader } from './status.ts';

const TAGS = ['applications'];

const Level = v.picklist(['error', 'warn', 'info', 'debug']);

export const ApplicationStatusSchema = v.pipe(
  v.object({
    id: v.string(),
    name: v.string(),
    status: v.pipe(
      v.picklist(['running', 'stopped', 'error', 'warning', 'deploying']),
      v.description('warning: running but unhealthy or short of instances; idle shows as stopped'),
    ),
    applicationStatus: v.pipe(v.string(), v.description('The stored Application status')),
    statusReason: v.optional(v.string()),
    uptime: v.pipe(v.string(), v.description('Since the oldest running instance started, e.g. "2h 5m"')),
    uptimeSeconds: v.number(),
    instances: v.pipe(v.number(), v.description('Instances running now')),
    desiredInstances: v.number(),
    runningOn: v.array(v.string()),
    cpu: v.pipe(v.number(), v.description('Percent of the CPU the instances were allotted')),
    memory: v.pipe(v.number(), v.description('Percent of the memory the instances were allotted')),
    network: v.pipe(v.number(), v.description('Bytes per second, received + sent')),
    storage: v.pipe(v.number(), v.description('Percent; 0 (containers have no disk quota to measure)')),
    metrics: v.object({
      requestsPerSecond: v.optional(v.number()),
      responseTime: v.optional(v.pipe(v.number(), v.description('ms, mean of the last health checks'))),
      errorRate: v.optional(v.pipe(v.number(), v.description('Percent of health checks that failed'))),
    }),
    health: v.picklist(['healthy', 'unhealthy', 'unknown']),
    healthChecks: v.array(
      v.object({
        name: v.string(),
        status: v.picklist(['pass', 'fail']),
        message: v.optional(v.string()),
        lastCheck: v.string(),
        instanceId: v.string(),
        state: v.picklist(['unknown', 'healthy', 'unhealthy']),
        consecutiveFailures: v.number(),
        responseTime: v.optional(v.number()),
      }),
    ),
    logs: v.array(
      v.object({ timestamp: v.string(), level: Level, message: v.string(), source: v.optional(v.string()) }),
    ),
    lastUpdated: v.string(),
  }),
  v.title('ApplicationStatus'),
);

const AppLogLines = v.object({
  items: v.array(
    v.object({
      timestamp: v.string(),
      level: Level,
      message: v.string(),
      stream: v.picklist(['stdout', 'stderr']),
      source: v.pipe(v.string(), v.description('Container name of the instance')),
      instanceId: v.string(),
    }),
  ),
});

export function applicationStatusRoutes(
  app: App,
  service: ApplicationService,
  deployer: ApplicationDeployer,
  status: StatusReader,
  idempotency: () => IdempotencyStore | undefined = () => undefined,
): void {
  app.get(
    '/api/status',
    describe({
      summary: 'Status of every application (the design document’s ApplicationStatus list)',
      description:
        'Instances, placement, CPU/memory (percent of what was allotted), network bytes/s, health and ' +
        'per-instance checks, recent merged logs. Engine reads are cached for applications.status.cache_ms.',
      tags: TAGS,
      operationId: 'listApplicationStatuses',
      responses: {
        200: { description: 'Oldest application first', schema: v.array(ApplicationStatusSchema) },
      },
      errors: { 503: 'The platform is not loaded' },
    }),
    requireRole('viewer'),
    async (c) => {
      const byApp = await deployer.allocationsByApp();
      status.prune(new Set([...byApp.values()].flat().flatMap((a) => (a.workloadId ? [a.workloadId] : []))));
      const rows = await service.rows();
      return c.json(await Promise.all(rows.map((r) => status.status(r, byApp.get(r.id) ?? []))), 200);
    },
  );

  app.get(
    '/api/applications/:id/status',
    describe({
      summary: 'Status of one application (ApplicationStatus)',
      tags: TAGS,
      operationId: 'getApplicationStatus',
      responses: { 200: { description: 'The status', schema: ApplicationStatusSchema } },
      errors: { 404: 'No such application', 503: 'The platform is not loaded' },
    }),
    requireRole('viewer'),
    validate('param', AppIdParam),
    async (c) => {
      const { id } = c.req.valid('param');
      const row = await service.row(id);
      return c.json(await status.status(row, await deployer.allocations(id)), 200);
    },
  );

  app.get(
    '/api/applications/:id/logs',
    describe({
      summary: 'Logs of every running instance merged, with timestamps and levels; follow=true streams (SSE)',
      description:
        'Without follow: the last `tail` lines of all instances together, oldest first. With follow=true: a ' +
        'text/event-stream of `log` events as lines arrive, then `end`. Levels are detected from each line.',
      tags: TAGS,
      operationId: 'getApplicationLogs',
      responses: {
        200: { description: 'Log lines (JSON), or an event stream when follow=true', schema: AppLogLines },
      },
      errors: { 404: 'No such application', 503: 'The platform is not loaded or a resource is unreachable' },
    }),
    requireRole('viewer'),
    validate('param', AppIdParam),
    validate('query', LogsQuery),
    async (c) => {
      const { id } = c.req.valid('param');
      await service.row(id);
      const q = c.req.valid('query');
      const sources = await deployer.logSources(id);
      const opts = { tail: q.tail, ...(q.since ? { since: q.since } : {}) };
      if (q.follow !== 'true' && q.follow !== '1') {
        return c.json({ items: await engineCall(() => mergedLogs(sources, opts)) }, 200);
      }
      return streamLogLines(c, (signal) => followLogs(sources, { ...opts, signal }), { app: id });
    },
  );

  app.post(
    '/api/applications/:id/redeploy',
    describe({
      summary: 'Replace the instances with new ones (rebuilding from Git); deploys when none run',
      description:
        'Starts a new instance, then stops an old one, one by one; when the quota has no room for the extra ' +
        'instance an old one is stopped first, so the quota is never exceeded. Applies a changed instance count. ' +
        'Send an Idempotency-Key header to make retries safe: a repeat returns the first answer.',
      tags: TAGS,
      operationId: 'redeployApplication',
      responses: { 200: { description: 'The application after the redeploy', schema: ApplicationSchema } },
      errors: {
        404: 'No such application',
        409: 'Another deploy/stop/restart is in progress',
        422: 'The image could not be built',
        503: 'Over quota, no resource with room, or the platform is not loaded',
      },
    }),
    requireRole('operator'),
    validate('param', AppIdParam),
    async (c) => {
      const { id } = c.req.valid('param');
      const res = await idempotent(c, idempotency(), { redeploy: id }, () =>
        deployer.redeploy(id, c.get('principal')),
      );
      const p = c.get('principal');
      c.get('logger').info(
        { audit: true, actor: { id: p.id, name: p.name, kind: p.kind }, appId: id },
        'application redeploy',
      );
      return res;
    },
  );
}
