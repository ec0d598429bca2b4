/**
 * The composition root: the one file in core that names the built-in plugins.
 * Everything else in core depends on slot contracts, never on a plugin.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import authPlugin from '../plugins/auth/index.ts';
import dashboardPlugin from '../plugins/dashboard/index.ts';
import discoveryPlugin from '../plugins/discovery/index.ts';
import gitPlugin from '../plugins/git/index.ts';
import metricsPlugin from '../plugins/metrics/index.ts';
import runnerDockerPlugin from '../plugins/runner-docker/index.ts';
import runnerKubernetesPlugin from '../plugins/runner-kubernetes/index.ts';
import storagePlugin from '../plugins/storage/index.ts';
import applicationsPlugin from './domain/applications/plugin.ts';
import platformPlugin from './domain/platform-plugin.ts';
import resourcesPlugin from './domain/resources/plugin.ts';
import { createIarnet, type Iarnet } from './iarnet.ts';
import type { LoadedConfig } from './kernel/config.ts';
import { PluginError } from './kernel/errors.ts';
import type { Logger } from './kernel/logger.ts';
import type { AnyPlugin } from './kernel/plugin.ts';
import type { Runtime } from './runtime/types.ts';

/** Built-in plugins; the loader orders them by their dependencies. */
export const BUILTIN_PLUGINS: AnyPlugin[] = [
  storagePlugin,
  authPlugin,
  metricsPlugin,
  resourcesPlugin,
  runnerDockerPlugin,
  runnerKubernetesPlugin,
  platformPlugin,
  gitPlugin,
  applicationsPlugin,
  dashboardPlugin,
  discoveryPlugin,
] as AnyPlugin[];

function isPlugin(x: unknown): x is AnyPlugin {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as AnyPlugin).name === 'string' &&
    typeof (x as AnyPlugin).setup === 'function'
  );
}

/**
 * Load third-party plugins named in config: a path (relative to the config file's folder, or cwd)
 * or a package name. The module's default export (or its `plugin` export) is the plugin.
 */
export async function importPlugins(specs: string[], baseDir: string): Promise<AnyPlugin[]> {
  const out: AnyPlugin[] = [];
  for (const spec of specs) {
    const isPath = spec.startsWith('.') || isAbsolute(spec);
    const target = isPath ? pathToFileURL(resolve(baseDir, spec)).href : spec;
    let mod: Record<string, unknown>;
    try {
      mod = await import(target);
    } catch (cause) {
      throw new PluginError(spec, 'load', cause);
    }
    const plugin = mod.default ?? mod.plugin;
    if (!isPlugin(plugin)) {
      throw new PluginError(
        spec,
        'load',
        new Error('the module has no default export made with definePlugin()'),
      );
    }
    out.push(plugin);
  }
  return out;
}

export async function createNode(
  loaded: LoadedConfig,
  opts: { runtime: Runtime; logger: Logger; baseDir: string },
): Promise<Iarnet> {
  const disabled = new Set(loaded.core.disable_plugins);
  const builtins = BUILTIN_PLUGINS.filter((p) => !disabled.has(p.name));
  const extra = await importPlugins(loaded.core.plugins, opts.baseDir);
  return createIarnet({
    core: loaded.core,
    sections: loaded.sections,
    plugins: [...builtins, ...extra],
    reservedKeys: BUILTIN_PLUGINS.filter((p) => disabled.has(p.name)).map((p) => p.configKey ?? p.name),
    runtime: opts.runtime,
    logger: opts.logger,
  });
}
