/**
 * Typed hook registry. The host (whoever owns a hook) decides its kind, Rollup-style:
 *  - `serial`    handlers run one after another; the first error stops the chain.
 *  - `parallel`  handlers run concurrently; every error is collected.
 *  - `first`     handlers run in order until one returns something other than `undefined`.
 *  - `waterfall` each handler receives the previous handler's result; the last result is returned.
 * Handlers may ask to run `pre` or `post` the others; otherwise registration order holds.
 *
 * Hook names and handler signatures come from one interface, {@link IarnetHooks}, that core
 * and third-party plugins extend by declaration merging with namespaced names:
 *
 *   declare module 'iarnet/kernel' {   // or the relative path to core/kernel/hooks.ts
 *     interface IarnetHooks { 'myplugin:greeted': SerialHook<[name: string]> }
 *   }
 */
import { AggregatePluginError, PluginError } from './errors.ts';

export type HookKind = 'serial' | 'parallel' | 'first' | 'waterfall';

/** Type-level description of a hook: its kind, its arguments and its result. */
export interface HookSpec<K extends HookKind, A extends unknown[], R> {
  kind: K;
  args: A;
  result: R;
}
export type SerialHook<A extends unknown[]> = HookSpec<'serial', A, void>;
export type ParallelHook<A extends unknown[]> = HookSpec<'parallel', A, void>;
export type FirstHook<A extends unknown[], R> = HookSpec<'first', A, R | undefined>;
export type WaterfallHook<T, A extends unknown[] = []> = HookSpec<'waterfall', [value: T, ...rest: A], T>;

/**
 * Every hook known to the build. Core hooks are declared in `core-hooks.ts`; plugins add theirs with
 * `declare module` blocks. Names are namespaced `owner:event`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: extended by declaration merging
export interface IarnetHooks {}

export type HookName = keyof IarnetHooks & string;
type SpecOf<N extends HookName> =
  IarnetHooks[N] extends HookSpec<HookKind, unknown[], unknown> ? IarnetHooks[N] : never;
type Awaitable<T> = T | Promise<T>;

export type HookHandler<N extends HookName> =
  SpecOf<N> extends HookSpec<'first', infer A, infer R>
    ? (...args: A) => Awaitable<R>
    : SpecOf<N> extends HookSpec<'waterfall', infer A, infer R>
      ? (...args: A) => Awaitable<R>
      : SpecOf<N> extends HookSpec<'serial' | 'parallel', infer A, void>
        ? (...args: A) => Awaitable<void>
        : never;

export type HookArgs<N extends HookName> = SpecOf<N>['args'];
export type HookResult<N extends HookName> = SpecOf<N>['result'];

export interface HandlerOptions {
  order?: 'pre' | 'post';
}

interface Registered {
  plugin: string;
  handler: (...args: unknown[]) => unknown;
  order: 'pre' | 'normal' | 'post';
}

const ORDER_RANK = { pre: 0, normal: 1, post: 2 } as const;

export class HookRegistry {
  private readonly kinds = new Map<string, { kind: HookKind; owner: string }>();
  private readonly handlers = new Map<string, Registered[]>();

  /** The host of a hook declares its kind once; a second, different declaration is a programming error. */
  define<N extends HookName>(name: N, kind: SpecOf<N>['kind'], owner = 'core'): void {
    const existing = this.kinds.get(name);
    if (existing && existing.kind !== kind) {
      throw new Error(`hook "${name}" is already defined as ${existing.kind} by ${existing.owner}`);
    }
    this.kinds.set(name, { kind, owner });
  }

  isDefined(name: HookName): boolean {
    return this.kinds.has(name);
  }

  /** Register a handler. Returns a function that removes it again. */
  on<N extends HookName>(
    name: N,
    handler: HookHandler<N>,
    options: HandlerOptions = {},
    plugin = 'core',
  ): () => void {
    const list = this.handlers.get(name) ?? [];
    const entry: Registered = {
      plugin,
      handler: handler as (...args: unknown[]) => unknown,
      order: options.order ?? 'normal',
    };
    list.push(entry);
    // Stable sort keeps registration order within pre / normal / post.
    list.sort((a, b) => ORDER_RANK[a.order] - ORDER_RANK[b.order]);
    this.handlers.set(name, list);
    return () => {
      const current = this.handlers.get(name);
      if (!current) return;
      const at = current.indexOf(entry);
      if (at >= 0) current.splice(at, 1);
    };
  }

  count(name: HookName): number {
    return this.handlers.get(name)?.length ?? 0;
  }

  /** Call a hook with the kind its host declared. Handler errors become {@link PluginError}s. */
  async call<N extends HookName>(name: N, ...args: HookArgs<N>): Promise<HookResult<N>> {
    const declared = this.kinds.get(name);
    if (!declared) throw new Error(`hook "${name}" was called but never defined`);
    const registered = this.handlers.get(name);
    // No handlers (e.g. run:validate on most nodes, once per POST /run): skip the copy and closures.
    if (!registered?.length) {
      return (declared.kind === 'waterfall' ? args[0] : undefined) as HookResult<N>;
    }
    const list = [...registered];
    const run = async (h: Registered, callArgs: unknown[]) => {
      try {
        return await h.handler(...callArgs);
      } catch (cause) {
        throw cause instanceof PluginError ? cause : new PluginError(h.plugin, name, cause);
      }
    };
    switch (declared.kind) {
      case 'serial': {
        for (const h of list) await run(h, args);
        return undefined as HookResult<N>;
      }
      case 'parallel': {
        const settled = await Promise.allSettled(list.map((h) => run(h, args)));
        const errors = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as PluginError] : []));
        if (errors.length === 1) throw errors[0];
        if (errors.length > 1) throw new AggregatePluginError(errors, `hook "${name}" failed`);
        return undefined as HookResult<N>;
      }
      case 'first': {
        for (const h of list) {
          const result = await run(h, args);
          if (result !== undefined) return result as HookResult<N>;
        }
        return undefined as HookResult<N>;
      }
      case 'waterfall': {
        let [value, ...rest] = args as unknown[];
        for (const h of list) value = await run(h, [value, ...rest]);
        return value as HookResult<N>;
      }
    }
  }

  /** A view of the registry that stamps every handler with the plugin that registered it. */
  forPlugin(plugin: string): PluginHooks {
    return {
      define: (name, kind) => this.define(name, kind, plugin),
      on: (name, handler, options) => this.on(name, handler, options, plugin),
      call: (name, ...args) => this.call(name, ...args),
      isDefined: (name) => this.isDefined(name),
    };
  }
}

export interface PluginHooks {
  define<N extends HookName>(name: N, kind: SpecOf<N>['kind']): void;
  on<N extends HookName>(name: N, handler: HookHandler<N>, options?: HandlerOptions): () => void;
  call<N extends HookName>(name: N, ...args: HookArgs<N>): Promise<HookResult<N>>;
  isDefined(name: HookName): boolean;
}
