import * as v from 'valibot';

export const metricsConfigSchema = v.strictObject({
  /** Path Prometheus scrapes. */
  path: v.optional(
    v.pipe(v.string(), v.startsWith('/'), v.regex(/^\/[\w/-]*$/, 'expected a plain path')),
    '/metrics',
  ),
  /** Require a principal (viewer) to scrape. Off by default, as scrapers usually sit inside the network. */
  require_auth: v.optional(v.boolean(), false),
  /** Process metrics (CPU, memory, event loop); collected only where the runtime supports them. */
  process_metrics: v.optional(v.boolean(), true),
});
