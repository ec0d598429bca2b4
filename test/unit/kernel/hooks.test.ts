import { describe, expect, it } from 'vitest';
import { AggregatePluginError, PluginError } from '../../../core/kernel/errors.ts';
import {
  type FirstHook,
  HookRegistry,
  type ParallelHook,
  type SerialHook,
  type WaterfallHook,
} from '../../../core/kernel/hooks.ts';

declare module '../../../core/kernel/hooks.ts' {
  interface IarnetHooks {
    'test:serial': SerialHook<[log: string[]]>;
    'test:parallel': ParallelHook<[log: string[]]>;
    'test:first': FirstHook<[n: number], string>;
    'test:waterfall': WaterfallHook<number, [step: number]>;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function registry() {
  const hooks = new HookRegistry();
  hooks.define('test:serial', 'serial');
  hooks.define('test:parallel', 'parallel');
  hooks.define('test:first', 'first');
  hooks.define('test:waterfall', 'waterfall');
  return hooks;
}

describe('HookRegistry', () => {
  it('serial runs handlers one after another in registration order, waiting for each', async () => {
    const hooks = registry();
    hooks.on('test:serial', async (log) => {
      await sleep(10);
      log.push('a');
    });
    hooks.on('test:serial', (log) => {
      log.push('b');
    });
    const log: string[] = [];
    await hooks.call('test:serial', log);
    expect(log).toEqual(['a', 'b']);
  });

  it('serial stops at the first error and names the plugin and hook', async () => {
    const hooks = registry();
    const log: string[] = [];
    hooks.on(
      'test:serial',
      () => {
        throw new Error('boom');
      },
      {},
      'broken',
    );
    hooks.on('test:serial', (l) => {
      l.push('never');
    });
    const err = await hooks.call('test:serial', log).catch((e) => e);
    expect(err).toBeInstanceOf(PluginError);
    expect(err).toMatchObject({ plugin: 'broken', hook: 'test:serial' });
    expect(err.message).toContain('boom');
    expect(log).toEqual([]);
  });

  it('pre and post handlers run before and after the others, whatever the registration order', async () => {
    const hooks = registry();
    const log: string[] = [];
    hooks.on('test:serial', (l) => void l.push('post'), { order: 'post' });
    hooks.on('test:serial', (l) => void l.push('normal1'));
    hooks.on('test:serial', (l) => void l.push('pre'), { order: 'pre' });
    hooks.on('test:serial', (l) => void l.push('normal2'));
    await hooks.call('test:serial', log);
    expect(log).toEqual(['pre', 'normal1', 'normal2', 'post']);
  });

  it('parallel runs handlers concurrently and collects every error', async () => {
    const hooks = registry();
    const log: string[] = [];
    hooks.on('test:parallel', async (l) => {
      await sleep(30);
      l.push('slow');
    });
    hooks.on('test:parallel', async (l) => {
      l.push('fast');
    });
    const t0 = performance.now();
    await hooks.call('test:parallel', log);
    expect(log).toEqual(['fast', 'slow']);
    expect(performance.now() - t0).toBeLessThan(200);

    hooks.on('test:parallel', () => Promise.reject(new Error('one')), {}, 'p1');
    hooks.on('test:parallel', () => Promise.reject(new Error('two')), {}, 'p2');
    const err = await hooks.call('test:parallel', []).catch((e) => e);
    expect(err).toBeInstanceOf(AggregatePluginError);
    expect((err as AggregatePluginError).errors.map((e: PluginError) => e.plugin)).toEqual(['p1', 'p2']);
  });

  it('first returns the first non-undefined result and skips the rest', async () => {
    const hooks = registry();
    let calledAfter = false;
    hooks.on('test:first', () => undefined);
    hooks.on('test:first', (n) => (n > 1 ? `big ${n}` : undefined));
    hooks.on('test:first', () => {
      calledAfter = true;
      return 'fallback';
    });
    expect(await hooks.call('test:first', 5)).toBe('big 5');
    expect(calledAfter).toBe(false);
    expect(await hooks.call('test:first', 0)).toBe('fallback');
  });

  it('first resolves undefined when no handler answers', async () => {
    const hooks = registry();
    expect(await hooks.call('test:first', 1)).toBeUndefined();
  });

  it('waterfall passes each result to the next handler', async () => {
    const hooks = registry();
    hooks.on('test:waterfall', (v, step) => v + step);
    hooks.on('test:waterfall', async (v, step) => v * step);
    expect(await hooks.call('test:waterfall', 1, 3)).toBe(12);
  });

  it('a removed handler is not called', async () => {
    const hooks = registry();
    const off = hooks.on('test:waterfall', (v) => v + 100);
    off();
    expect(await hooks.call('test:waterfall', 1, 0)).toBe(1);
    expect(hooks.count('test:waterfall')).toBe(0);
  });

  it('refuses to call an undefined hook and to redefine a hook with another kind', async () => {
    const hooks = new HookRegistry();
    await expect(hooks.call('test:serial', [])).rejects.toThrow(/never defined/);
    hooks.define('test:serial', 'serial', 'owner');
    expect(() => hooks.define('test:serial', 'parallel' as 'serial', 'other')).toThrow(
      /already defined as serial by owner/,
    );
  });

  it('forPlugin stamps handlers with the plugin name', async () => {
    const hooks = registry();
    hooks.forPlugin('stamped').on('test:first', () => {
      throw new Error('nope');
    });
    await expect(hooks.call('test:first', 1)).rejects.toMatchObject({
      plugin: 'stamped',
      hook: 'test:first',
    });
  });
});
