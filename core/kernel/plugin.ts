/**
 * The plugin contract. A plugin is a plain object made with {@link definePlugin}:
 *
 *   export default definePlugin({
 *     name: 'hello', version: '1.0.0', dependencies: ['storage'],
 *     configSchema: v.object({ greeting: v.optional(v.string(), 'hi') }),
 *     setup(ctx) {            // register hooks, routes and services; return per-instance lifecycle
 *       ctx.http.routes((app) => app.get('/api/hello', (c) => c.json({ msg: ctx.config.greeting })));
 *       return { start() {}, stop() {} };
 *     },
 *   });
 *
 * setup() runs for every plugin first (dependencies before dependents), then start() for every
 * plugin in the same order; stop() runs in reverse order and every error is collected.
 */
import type { Hono, MiddlewareHandler } from 'hono';
import type * as v from 'valibot';
import type { Runtime } from '../runtime/types.ts';
import type { Principal } from '../slots/auth.ts';
import type { CoreConfig } from './config.ts';
import type { PluginHooks } from './hooks.ts';
import type { Logger } from './logger.ts';
import type { ServiceKey } from './services.ts';

/** Variables every request handler can read with `c.get(...)`. */
export interface AppEnv {
  Variables: {
    requestId: string;
    /** Set by the core auth guard on every non-anonymous route. */
    principal: Principal;
    logger: Logger;
  };
}
export type App = Hono<AppEnv>;

export interface PluginHttp {
  /** Middleware that runs before the auth guard and every route (e.g. metrics, logging). */
  middleware(handler: MiddlewareHandler<AppEnv>, path?: string): void;
  /** Register routes on the root app. Called after all setups, in plugin order. */
  routes(register: (app: App) => void): void;
  /**
   * Let requests reach a path without credentials. `pattern` is an exact path or a prefix ending
   * in `*` (e.g. `/docs*`). Everything else requires a principal.
   */
  allowAnonymous(method: string, pattern: string): void;
}

export interface PluginLifecycle {
  start?(): void | Promise<void>;
  stop?(): void | Promise<void>;
}

export interface PluginContext<C = unknown> {
  readonly name: string;
  /** This plugin's section of the config file, validated by its configSchema. */
  readonly config: C;
  /** The core configuration (mode, addresses, limits, data_dir, ...). */
  readonly core: CoreConfig;
  readonly runtime: Runtime;
  readonly logger: Logger;
  /** Absolute path of the data directory; plugins keep their files under it. */
  readonly dataDir: string;
  readonly hooks: PluginHooks;
  readonly http: PluginHttp;
  /** Aborted when the host begins to stop; long-running loops watch it. */
  readonly signal: AbortSignal;
  provide<T>(key: ServiceKey<T>, service: T): void;
  /** A service some plugin provides. Throws, naming the service, when none does. */
  use<T>(key: ServiceKey<T>): T;
  tryUse<T>(key: ServiceKey<T>): T | undefined;
}

export interface PluginDefinition<S extends v.GenericSchema = v.GenericSchema> {
  name: string;
  version: string;
  /** Plugins that must be set up before this one; a missing one is an error. */
  dependencies?: string[];
  /** Plugins set up before this one when present. */
  optionalDependencies?: string[];
  /** Top-level config key of this plugin's section; defaults to `name`. */
  configKey?: string;
  configSchema?: S;
  // biome-ignore lint/suspicious/noConfusingVoidType: setup may return nothing, sync or async
  setup(ctx: PluginContext<v.InferOutput<S>>): void | PluginLifecycle | Promise<void | PluginLifecycle>;
  /** Milliseconds each step may take before it fails, naming the plugin. Defaults: 10 s / 30 s / 10 s. */
  timeouts?: { setup?: number; start?: number; stop?: number };
}

export type AnyPlugin = PluginDefinition<v.GenericSchema>;

/** Identity function that gives a plugin object its types (and config inference). */
export function definePlugin<S extends v.GenericSchema = v.GenericSchema>(
  plugin: PluginDefinition<S>,
): PluginDefinition<S> {
  return plugin;
}
