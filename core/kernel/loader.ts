/**
 * The plugin host: checks and orders dependencies, validates each plugin's config section,
 * runs setup → start with timeouts, and stops in reverse order collecting every error.
 */
import { resolve } from 'node:path';
import type { MiddlewareHandler } from 'hono';
import * as v from 'valibot';
import type { Runtime } from '../runtime/types.ts';
import { CORE_KEYS, type CoreConfig, issuesToFields } from './config.ts';
import { defineCoreHooks } from './core-hooks.ts';
import { AggregatePluginError, ConfigError, type FieldError, PluginError } from './errors.ts';
import { HookRegistry } from './hooks.ts';
import type { Logger } from './logger.ts';
import type { AnyPlugin, App, AppEnv, PluginContext, PluginLifecycle } from './plugin.ts';
import { ServiceRegistry } from './services.ts';

const DEFAULT_TIMEOUTS = { setup: 10_000, start: 30_000, stop: 10_000 };

/** Dependencies first, otherwise the given order. Names the plugin on a duplicate, a missing dependency or a cycle. */
export function orderPlugins(plugins: AnyPlugin[]): AnyPlugin[] {
  const byName = new Map<string, AnyPlugin>();
  for (const p of plugins) {
    if (byName.has(p.name))
      throw new PluginError(p.name, 'load', new Error('a plugin with this name is already loaded'));
    byName.set(p.name, p);
  }
  for (const p of plugins) {
    for (const dep of p.dependencies ?? []) {
      if (!byName.has(dep)) {
        throw new PluginError(p.name, 'load', new Error(`depends on "${dep}", which is not loaded`));
      }
    }
  }
  const ordered: AnyPlugin[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (p: AnyPlugin, path: string[]) => {
    const s = state.get(p.name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...path.slice(path.indexOf(p.name)), p.name].join(' → ');
      throw new PluginError(p.name, 'load', new Error(`dependency cycle: ${cycle}`));
    }
    state.set(p.name, 'visiting');
    const deps = [...(p.dependencies ?? []), ...(p.optionalDependencies ?? []).filter((d) => byName.has(d))];
    for (const dep of deps) visit(byName.get(dep)!, [...path, p.name]);
    state.set(p.name, 'done');
    ordered.push(p);
  };
  for (const p of plugins) visit(p, []);
  return ordered;
}

export async function withTimeout<T>(
  work: () => T | Promise<T>,
  ms: number,
  plugin: string,
  step: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new PluginError(plugin, step, new Error(`timed out after ${ms} ms`))),
      ms,
    );
  });
  try {
    return await Promise.race([Promise.resolve().then(work), timeout]);
  } catch (cause) {
    throw cause instanceof PluginError && cause.plugin === plugin
      ? cause
      : new PluginError(plugin, step, cause);
  } finally {
    clearTimeout(timer);
  }
}

export interface HostOptions {
  plugins: AnyPlugin[];
  core: CoreConfig;
  /** Top-level config sections that are not core keys; each must belong to a plugin. */
  sections?: Record<string, unknown>;
  /** Config keys of plugins that exist but are disabled; their sections are accepted and ignored. */
  reservedKeys?: string[];
  runtime: Runtime;
  logger: Logger;
}

export interface PluginTiming {
  name: string;
  version: string;
  dependencies: string[];
  setupMs?: number;
  startMs?: number;
}

export type HostState = 'new' | 'set-up' | 'started' | 'stopping' | 'stopped' | 'failed';

interface Loaded {
  plugin: AnyPlugin;
  lifecycle: PluginLifecycle;
  timing: PluginTiming;
}

export class PluginHost {
  readonly hooks = new HookRegistry();
  readonly services = new ServiceRegistry();
  readonly middleware: { path: string; handler: MiddlewareHandler<AppEnv>; plugin: string }[] = [];
  readonly routeRegistrations: { plugin: string; register: (app: App) => void }[] = [];
  readonly anonymous: { method: string; pattern: string }[] = [];
  readonly dataDir: string;
  state: HostState = 'new';
  private loaded: Loaded[] = [];
  private readonly abort = new AbortController();
  private readonly ordered: AnyPlugin[];

  private readonly opts: HostOptions;

  constructor(opts: HostOptions) {
    this.opts = opts;
    this.dataDir = resolve(opts.core.data_dir);
    this.ordered = orderPlugins(opts.plugins);
    defineCoreHooks(this.hooks);
    this.checkUnknownSections();
  }

  get plugins(): readonly AnyPlugin[] {
    return this.ordered;
  }

  get timings(): PluginTiming[] {
    return this.loaded.map((l) => l.timing);
  }

  private checkUnknownSections(): void {
    const claimed = new Set([
      ...this.ordered.map((p) => p.configKey ?? p.name),
      ...(this.opts.reservedKeys ?? []),
      ...CORE_KEYS,
    ]);
    const unknown: FieldError[] = Object.keys(this.opts.sections ?? {})
      .filter((k) => !claimed.has(k))
      .map((k) => ({ path: k, message: 'unknown configuration key' }));
    if (unknown.length) throw new ConfigError(unknown);
  }

  private configFor(plugin: AnyPlugin): unknown {
    const key = plugin.configKey ?? plugin.name;
    const raw = this.opts.sections?.[key] ?? {};
    if (!plugin.configSchema) return raw;
    const result = v.safeParse(plugin.configSchema, raw);
    if (!result.success) throw new ConfigError(issuesToFields(result.issues, key));
    return result.output;
  }

  private contextFor(plugin: AnyPlugin, config: unknown): PluginContext<unknown> {
    const name = plugin.name;
    return {
      name,
      config,
      core: this.opts.core,
      runtime: this.opts.runtime,
      logger: this.opts.logger.child({ plugin: name }),
      dataDir: this.dataDir,
      hooks: this.hooks.forPlugin(name),
      signal: this.abort.signal,
      http: {
        middleware: (handler, path = '*') => this.middleware.push({ path, handler, plugin: name }),
        routes: (register) => this.routeRegistrations.push({ plugin: name, register }),
        allowAnonymous: (method, pattern) => this.anonymous.push({ method: method.toUpperCase(), pattern }),
      },
      provide: (key, service) => this.services.provide(key, service, name),
      use: (key) => this.services.get(key, name),
      tryUse: (key) => this.services.tryGet(key),
    };
  }

  /** Validate every config section first (so a typo fails before anything opens), then set up in order. */
  async setup(): Promise<void> {
    if (this.state !== 'new') throw new Error(`setup() called in state ${this.state}`);
    const configs = this.ordered.map((p) => this.configFor(p));
    for (const [i, plugin] of this.ordered.entries()) {
      const timing: PluginTiming = {
        name: plugin.name,
        version: plugin.version,
        dependencies: plugin.dependencies ?? [],
      };
      const t0 = performance.now();
      const ctx = this.contextFor(plugin, configs[i]);
      try {
        const lifecycle =
          (await withTimeout(
            () => plugin.setup(ctx as never),
            plugin.timeouts?.setup ?? DEFAULT_TIMEOUTS.setup,
            plugin.name,
            'setup',
          )) ?? {};
        timing.setupMs = performance.now() - t0;
        this.loaded.push({ plugin, lifecycle, timing });
      } catch (e) {
        this.state = 'failed';
        // Plugins already set up may hold resources (open database, timers): release them.
        await this.stop().catch((stopErr) =>
          this.opts.logger.error({ err: stopErr }, 'cleanup after failed setup'),
        );
        throw e;
      }
    }
    this.state = 'set-up';
  }

  /** Start every plugin in dependency order; if one fails, stop the ones that started and rethrow. */
  async start(): Promise<void> {
    if (this.state !== 'set-up') throw new Error(`start() called in state ${this.state}`);
    for (const entry of this.loaded) {
      const t0 = performance.now();
      try {
        if (entry.lifecycle.start) {
          await withTimeout(
            () => entry.lifecycle.start!(),
            entry.plugin.timeouts?.start ?? DEFAULT_TIMEOUTS.start,
            entry.plugin.name,
            'start',
          );
        }
        entry.timing.startMs = performance.now() - t0;
      } catch (e) {
        this.state = 'failed';
        await this.stop().catch((stopErr) =>
          this.opts.logger.error({ err: stopErr }, 'cleanup after failed start'),
        );
        throw e;
      }
    }
    this.state = 'started';
  }

  /** Stop in reverse order. Every plugin gets its turn; all errors are reported together. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    const failedBefore = this.state === 'failed';
    this.state = 'stopping';
    this.abort.abort();
    const errors: PluginError[] = [];
    for (const entry of [...this.loaded].reverse()) {
      if (!entry.lifecycle.stop) continue;
      try {
        await withTimeout(
          () => entry.lifecycle.stop!(),
          entry.plugin.timeouts?.stop ?? DEFAULT_TIMEOUTS.stop,
          entry.plugin.name,
          'stop',
        );
      } catch (e) {
        errors.push(e as PluginError);
      }
    }
    this.loaded = failedBefore ? [] : this.loaded;
    this.state = failedBefore ? 'failed' : 'stopped';
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregatePluginError(errors, 'several plugins failed to stop');
  }
}
