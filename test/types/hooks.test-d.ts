/**
 * Type-level tests: wrong hook names or handler shapes must not compile.
 * Each @ts-expect-error fails the typecheck if the line below it compiles.
 */
import { expectTypeOf, test } from 'vitest';
import {
  type FirstHook,
  HookRegistry,
  type SerialHook,
  type WaterfallHook,
} from '../../core/kernel/hooks.ts';
import { ServiceRegistry, serviceKey } from '../../core/kernel/services.ts';

declare module '../../core/kernel/hooks.ts' {
  interface IarnetHooks {
    'typetest:serial': SerialHook<[id: string]>;
    'typetest:first': FirstHook<[n: number], { ok: boolean }>;
    'typetest:waterfall': WaterfallHook<string[]>;
  }
}

test('hook names and handler types are checked', () => {
  const hooks = new HookRegistry();
  hooks.on('typetest:serial', (id) => {
    expectTypeOf(id).toEqualTypeOf<string>();
  });
  // @ts-expect-error unknown hook name
  hooks.on('typetest:nope', () => {});
  // @ts-expect-error wrong argument type
  hooks.on('typetest:serial', (id: number) => void id);
  // @ts-expect-error a first hook must return its result type (or undefined)
  hooks.on('typetest:first', () => 'not an object');
  // @ts-expect-error a waterfall handler must return the value type
  hooks.on('typetest:waterfall', (list) => list.length);
  // @ts-expect-error kind must match the declared one
  hooks.define('typetest:serial', 'first');
  // @ts-expect-error call arguments are checked
  void hooks.call('typetest:serial', 42);
  expectTypeOf(hooks.call('typetest:first', 1)).resolves.toEqualTypeOf<{ ok: boolean } | undefined>();
  expectTypeOf(hooks.call('typetest:waterfall', ['a'])).resolves.toEqualTypeOf<string[]>();
});

test('service keys carry their type', () => {
  const services = new ServiceRegistry();
  const key = serviceKey<{ ping(): number }>('pinger');
  services.provide(key, { ping: () => 1 });
  expectTypeOf(services.get(key).ping()).toEqualTypeOf<number>();
  // @ts-expect-error the value must match the key's type
  services.provide(key, { pong: () => 1 });
});
