import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../core/kernel/config.ts';
import { AggregatePluginError, ConfigError, PluginError } from '../../../core/kernel/errors.ts';
import { orderPlugins, PluginHost } from '../../../core/kernel/loader.ts';
import { silentLogger } from '../../../core/kernel/logger.ts';
import { type AnyPlugin, definePlugin } from '../../../core/kernel/plugin.ts';
import { serviceKey } from '../../../core/kernel/services.ts';
import { fakeRuntime } from '../../support/fake-runtime.ts';

function host(plugins: AnyPlugin[], sections: Record<string, unknown> = {}) {
  return new PluginHost({
    plugins,
    core: loadConfig({}).core,
    sections,
    runtime: fakeRuntime(),
    logger: silentLogger(),
  });
}

/** A plugin that records its lifecycle into `log`. */
function recorder(
  name: string,
  log: string[],
  extra: Partial<AnyPlugin> & { failStart?: boolean; failStop?: boolean } = {},
) {
  const { failStart, failStop, ...rest } = extra;
  return definePlugin({
    name,
    version: '1.0.0',
    setup() {
      log.push(`setup:${name}`);
      return {
        start() {
          if (failStart) throw new Error(`${name} cannot start`);
          log.push(`start:${name}`);
        },
        stop() {
          log.push(`stop:${name}`);
          if (failStop) throw new Error(`${name} cannot stop`);
        },
      };
    },
    ...rest,
  }) as AnyPlugin;
}

describe('orderPlugins', () => {
  const p = (name: string, dependencies: string[] = [], optionalDependencies: string[] = []) =>
    ({ name, version: '1', dependencies, optionalDependencies, setup() {} }) as AnyPlugin;

  it('puts dependencies first and otherwise keeps the given order', () => {
    const order = orderPlugins([
      p('api', ['auth', 'storage']),
      p('auth', ['storage']),
      p('storage'),
      p('extra'),
    ]);
    expect(order.map((x) => x.name)).toEqual(['storage', 'auth', 'api', 'extra']);
  });

  it('orders optional dependencies only when present', () => {
    expect(orderPlugins([p('a', [], ['b', 'ghost']), p('b')]).map((x) => x.name)).toEqual(['b', 'a']);
  });

  it('names the plugin with a missing dependency', () => {
    expect(() => orderPlugins([p('runner', ['storage'])])).toThrow(
      /plugin "runner" failed in load: depends on "storage"/,
    );
  });

  it('names the cycle', () => {
    const err = (() => {
      try {
        orderPlugins([p('a', ['b']), p('b', ['c']), p('c', ['a'])]);
      } catch (e) {
        return e as PluginError;
      }
    })();
    expect(err).toBeInstanceOf(PluginError);
    expect(err?.message).toMatch(/dependency cycle: a → b → c → a/);
  });

  it('refuses two plugins with one name', () => {
    expect(() => orderPlugins([p('x'), p('x')])).toThrow(/plugin "x".*already loaded/);
  });
});

describe('PluginHost', () => {
  it('sets up all plugins before starting any, in dependency order; stops in reverse', async () => {
    const log: string[] = [];
    const h = host([recorder('b', log, { dependencies: ['a'] }), recorder('a', log)]);
    await h.setup();
    await h.start();
    expect(h.state).toBe('started');
    await h.stop();
    expect(log).toEqual(['setup:a', 'setup:b', 'start:a', 'start:b', 'stop:b', 'stop:a']);
    expect(h.timings.map((t) => t.name)).toEqual(['a', 'b']);
    expect(h.timings[0]?.setupMs).toBeGreaterThanOrEqual(0);
  });

  it('a failing start stops the plugins that already started and rethrows naming the plugin', async () => {
    const log: string[] = [];
    const h = host([recorder('a', log), recorder('b', log, { failStart: true }), recorder('c', log)]);
    await h.setup();
    await expect(h.start()).rejects.toThrow(/plugin "b" failed in start: b cannot start/);
    expect(log).toEqual(['setup:a', 'setup:b', 'setup:c', 'start:a', 'stop:c', 'stop:b', 'stop:a']);
    expect(h.state).toBe('failed');
  });

  it('stop runs every plugin’s stop and reports all errors together', async () => {
    const log: string[] = [];
    const h = host([
      recorder('a', log, { failStop: true }),
      recorder('b', log),
      recorder('c', log, { failStop: true }),
    ]);
    await h.setup();
    await h.start();
    const err = await h.stop().catch((e) => e);
    expect(err).toBeInstanceOf(AggregatePluginError);
    expect((err as AggregatePluginError).errors.map((e: PluginError) => e.plugin)).toEqual(['c', 'a']);
    expect(log.slice(-3)).toEqual(['stop:c', 'stop:b', 'stop:a']);
  });

  it('times out a hanging setup or start with an error naming the plugin', async () => {
    const hanging = definePlugin({
      name: 'sleepy',
      version: '1',
      timeouts: { setup: 50 },
      setup: () => new Promise<void>(() => {}),
    });
    await expect(host([hanging as AnyPlugin]).setup()).rejects.toThrow(
      /plugin "sleepy" failed in setup: timed out after 50 ms/,
    );

    const slowStart = definePlugin({
      name: 'slow-start',
      version: '1',
      timeouts: { start: 50 },
      setup: () => ({ start: () => new Promise<void>(() => {}) }),
    });
    const h = host([slowStart as AnyPlugin]);
    await h.setup();
    await expect(h.start()).rejects.toThrow(/plugin "slow-start" failed in start: timed out after 50 ms/);
  });

  it('a failing setup stops the plugins already set up', async () => {
    const log: string[] = [];
    const broken = definePlugin({
      name: 'broken',
      version: '1',
      setup() {
        throw new Error('no');
      },
    });
    const h = host([recorder('a', log), broken as AnyPlugin]);
    await expect(h.setup()).rejects.toThrow(/plugin "broken" failed in setup: no/);
    expect(log).toEqual(['setup:a', 'stop:a']);
  });

  it('validates each plugin’s config section and names the key', async () => {
    const configured = definePlugin({
      name: 'configured',
      version: '1',
      configSchema: v.strictObject({ size: v.optional(v.pipe(v.number(), v.minValue(1)), 5) }),
      setup(ctx) {
        expect(ctx.config.size).toBe(7);
      },
    });
    await host([configured as AnyPlugin], { configured: { size: 7 } }).setup();
    await expect(host([configured as AnyPlugin], { configured: { size: 0 } }).setup()).rejects.toThrow(
      /configured\.size/,
    );
    await expect(host([configured as AnyPlugin], { configured: { sise: 7 } }).setup()).rejects.toBeInstanceOf(
      ConfigError,
    );
  });

  it('rejects a top-level config key that no plugin owns', () => {
    expect(() => host([], { storag: {} })).toThrow(/storag: unknown configuration key/);
  });

  it('shares services by typed keys and names the missing one', async () => {
    const Counter = serviceKey<{ next(): number }>('counter');
    let got = 0;
    const provider = definePlugin({
      name: 'provider',
      version: '1',
      setup(ctx) {
        let n = 0;
        ctx.provide(Counter, { next: () => ++n });
      },
    });
    const consumer = definePlugin({
      name: 'consumer',
      version: '1',
      dependencies: ['provider'],
      setup(ctx) {
        got = ctx.use(Counter).next();
      },
    });
    await host([consumer as AnyPlugin, provider as AnyPlugin]).setup();
    expect(got).toBe(1);

    const orphan = definePlugin({ name: 'orphan', version: '1', setup: (ctx) => void ctx.use(Counter) });
    await expect(host([orphan as AnyPlugin]).setup()).rejects.toThrow(/"orphan" needs service "counter"/);
  });

  it('aborts the plugin signal when stopping', async () => {
    let signal: AbortSignal | undefined;
    const p = definePlugin({
      name: 'loop',
      version: '1',
      setup: (ctx) => {
        signal = ctx.signal;
      },
    });
    const h = host([p as AnyPlugin]);
    await h.setup();
    await h.start();
    expect(signal?.aborted).toBe(false);
    await h.stop();
    expect(signal?.aborted).toBe(true);
  });
});
