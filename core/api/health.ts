/** Liveness and readiness probes (Kubernetes-style), anonymous by design. */
import * as v from 'valibot';
import type { PluginHost } from '../kernel/loader.ts';
import { describe } from '../kernel/openapi.ts';
import type { App } from '../kernel/plugin.ts';

const Health = v.object({ status: v.literal('ok') });
const Ready = v.object({
  status: v.picklist(['ready', 'not-ready']),
  state: v.pipe(v.string(), v.description('Plugin host state: set-up, started, stopping, ...')),
  reason: v.optional(v.string()),
});

export function healthRoutes(app: App, host: PluginHost): void {
  app.get(
    '/healthz',
    describe({
      summary: 'Liveness: the process serves HTTP',
      tags: ['health'],
      anonymous: true,
      responses: { 200: { description: 'Alive', schema: Health } },
    }),
    (c) => c.json({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    describe({
      summary: 'Readiness: every plugin started and storage is writable',
      tags: ['health'],
      anonymous: true,
      responses: {
        200: { description: 'Ready to serve', schema: Ready },
        503: { description: 'Not ready (starting, stopping, or a check failed)', schema: Ready },
      },
    }),
    async (c) => {
      if (host.state !== 'started') {
        return c.json(
          { status: 'not-ready' as const, state: host.state, reason: 'plugins are not started' },
          503,
        );
      }
      try {
        await host.hooks.call('health:ready');
        return c.json({ status: 'ready' as const, state: host.state }, 200);
      } catch (e) {
        c.get('logger').warn({ err: e }, 'readiness check failed');
        return c.json({ status: 'not-ready' as const, state: host.state, reason: (e as Error).message }, 503);
      }
    },
  );
}
