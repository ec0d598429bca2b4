/**
 * An example third-party plugin. Load it with `plugins: ["./examples/hello-plugin/index.ts"]`
 * in the config file (Bun and Deno run the .ts directly; on Node point at the compiled
 * dist/examples/hello-plugin/index.js). It shows every part of the plugin contract:
 *  - a config section (`hello:` in the config file) validated by a valibot schema;
 *  - a namespaced hook of its own, declared by declaration merging and defined as `serial`;
 *  - a handler on a core hook (`openapi:document`, a waterfall) that amends the spec;
 *  - a service shared through a typed key;
 *  - a route with validation, OpenAPI docs and a role check;
 *  - per-instance state and start/stop.
 */
import * as v from 'valibot';
import { requireRole } from '../../core/kernel/guard.ts';
import type { SerialHook } from '../../core/kernel/hooks.ts';
import { describe } from '../../core/kernel/openapi.ts';
import { definePlugin } from '../../core/kernel/plugin.ts';
import { serviceKey } from '../../core/kernel/services.ts';
import { validate } from '../../core/kernel/validation.ts';

declare module '../../core/kernel/hooks.ts' {
  interface IarnetHooks {
    /** Fired after a greeting was produced; other plugins may listen. */
    'hello:greeted': SerialHook<[name: string, greeting: string]>;
  }
}

export interface Greeter {
  greet(name: string): string;
  readonly count: number;
}
export const GreeterKey = serviceKey<Greeter>('hello:greeter');

const Greeting = v.object({ greeting: v.string(), count: v.number() });

export default definePlugin({
  name: 'hello',
  version: '1.0.0',
  configSchema: v.strictObject({
    greeting: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(40)), 'Hello'),
  }),
  setup(ctx) {
    let count = 0;
    const greeter: Greeter = {
      greet: (name) => {
        count += 1;
        return `${ctx.config.greeting}, ${name}!`;
      },
      get count() {
        return count;
      },
    };
    ctx.provide(GreeterKey, greeter);
    ctx.hooks.define('hello:greeted', 'serial');
    ctx.hooks.on('openapi:document', (doc) => ({
      ...doc,
      tags: [...((doc.tags as unknown[]) ?? []), { name: 'hello', description: 'The example plugin' }],
    }));

    ctx.http.routes((app) => {
      app.get(
        '/api/hello/:name',
        describe({
          summary: 'Greet someone (example plugin)',
          tags: ['hello'],
          responses: { 200: { description: 'The greeting', schema: Greeting } },
        }),
        requireRole('viewer'),
        validate(
          'param',
          v.object({
            name: v.pipe(
              v.string(),
              v.regex(/^[\p{L}\p{N} _-]{1,40}$/u, 'letters, digits, space, _ or -; at most 40'),
            ),
          }),
        ),
        async (c) => {
          const { name } = c.req.valid('param');
          const greeting = greeter.greet(name);
          await ctx.hooks.call('hello:greeted', name, greeting);
          return c.json({ greeting, count: greeter.count });
        },
      );
    });

    return {
      start: () => ctx.logger.debug('hello plugin started'),
      stop: () => ctx.logger.debug({ greeted: count }, 'hello plugin stopped'),
    };
  },
});
