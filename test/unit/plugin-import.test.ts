import { describe, expect, it } from 'vitest';
import { PluginError } from '../../core/kernel/errors.ts';
import { importPlugins } from '../../core/main.ts';
import { ROOT } from '../support/runtimes.ts';

describe('importPlugins (third-party plugins from config)', () => {
  it('loads a plugin by path relative to the config file’s folder', async () => {
    const [plugin] = await importPlugins(['./examples/hello-plugin/index.ts'], ROOT);
    expect(plugin).toMatchObject({ name: 'hello', version: '1.0.0' });
    expect(typeof plugin?.setup).toBe('function');
  });

  it('names a package that cannot be resolved', async () => {
    await expect(importPlugins(['iarnet-no-such-plugin-package'], ROOT)).rejects.toThrow(
      /plugin "iarnet-no-such-plugin-package" failed in load/,
    );
  });

  it('names a module that exports no plugin', async () => {
    const err = await importPlugins(['./test/fixtures/not-a-plugin.ts'], ROOT).catch((e) => e);
    expect(err).toBeInstanceOf(PluginError);
    expect(err.message).toMatch(/not-a-plugin\.ts.*no default export made with definePlugin/);
  });
});
