/**
 * Prometheus metrics at GET /metrics (text format 0.0.4): HTTP requests by route pattern,
 * iarnet_build_info{version,runtime}, and process metrics where the runtime has the APIs.
 * Other plugins add their metrics to the registry this plugin provides (MetricsKey).
 */
import { prometheus } from '@hono/prometheus';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import * as v from 'valibot';
import { requireRole } from '../../core/kernel/guard.ts';
import { describe } from '../../core/kernel/openapi.ts';
import { definePlugin } from '../../core/kernel/plugin.ts';
import { MetricsKey } from '../../core/slots/metrics.ts';
import { VERSION } from '../../core/version.ts';
import { metricsConfigSchema } from './config.ts';

// Only these become label values; anything else would let a client mint new series at will.
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export default definePlugin({
  name: 'metrics',
  version: VERSION,
  configSchema: metricsConfigSchema,
  setup(ctx) {
    const registry = new Registry();
    const { printMetrics, registerMetrics } = prometheus({ registry, prefix: 'iarnet_' });

    new Gauge({
      name: 'iarnet_build_info',
      help: 'IARNet build information; the value is always 1',
      labelNames: ['version', 'runtime'] as const,
      registers: [registry],
    }).set({ version: VERSION, runtime: `${ctx.runtime.name}-${ctx.runtime.version}` }, 1);

    if (ctx.config.process_metrics) {
      try {
        collectDefaultMetrics({ register: registry, prefix: 'iarnet_' });
      } catch (err) {
        ctx.logger.info(
          { err, runtime: ctx.runtime.name },
          'process metrics are not available on this runtime',
        );
      }
    }

    ctx.provide(MetricsKey, { registry });
    ctx.http.middleware(async (c, next) => {
      if (!KNOWN_METHODS.has(c.req.method)) return next();
      return registerMetrics(c, next);
    });

    const path = ctx.config.path;
    if (!ctx.config.require_auth) ctx.http.allowAnonymous('GET', path);
    ctx.http.routes((app) => {
      app.get(
        path,
        describe({
          summary: 'Prometheus metrics',
          tags: ['meta'],
          anonymous: !ctx.config.require_auth,
          responses: {
            200: {
              description: 'Prometheus text exposition format',
              schema: v.string(),
              contentType: 'text/plain',
            },
          },
        }),
        ...(ctx.config.require_auth ? [requireRole('viewer')] : []),
        async (c) => {
          const res = await printMetrics(c);
          res.headers.set('content-type', registry.contentType);
          return res;
        },
      );
    });
  },
});
