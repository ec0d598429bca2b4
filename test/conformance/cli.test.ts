/**
 * The `iarnet` command as an operator meets it: help, version, the boot table, and start-up
 * refusing bad configuration with a message that names the key (exit code 2).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import { ROOT, runtimeCommands } from '../support/runtimes.ts';

const node20 = runtimeCommands().find((r) => r.name === 'node20')!;

function iarnet(args: string[], env: Record<string, string> = {}) {
  const [cmd, ...prefix] = node20.argv;
  return spawnSync(cmd!, [...prefix, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
  });
}

describe.skipIf(Boolean(node20.missing))('iarnet CLI', () => {
  it('prints help and version', () => {
    const help = iarnet(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--initial-peers');
    expect(help.stdout).toContain('IARNET_RESOURCE_LIMITS__CPU');
    expect(iarnet(['--version']).stdout.trim()).toBe(pkg.version);
  });

  it('prints the plugin boot order with timings', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'iarnet-cli-'));
    const out = iarnet(['plugins', '--data-dir', dataDir, '--log-level', 'silent'], {
      IARNET_ADMIN_PASSWORD: 'cli-test-password-1',
    });
    expect(out.status).toBe(0);
    const names = out.stdout
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((line) => line.trim().split(/\s+/)[1]);
    expect(names.indexOf('storage')).toBeLessThan(names.indexOf('auth'));
    expect(names.indexOf('resources')).toBeLessThan(names.indexOf('platform'));
    expect(out.stdout).toMatch(/setup\s+start/);
  });

  it.each([
    [['--listen', 'nonsense'], {}, 'listen_addr'],
    [['--mode', 'swarm'], {}, 'mode'],
    [[], { IARNET_RESOURCE_LIMITS__CPU: 'lots' }, 'resource_limits.cpu'],
    [[], { IARNET_STORAG__PATH: 'x' }, 'storag: unknown configuration key'],
    [[], { IARNET_AUTH__TOKEN_TTL: '-5' }, 'auth.token_ttl'],
  ])('refuses bad configuration %j %j naming %s', (args, env, key) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'iarnet-cli-'));
    const out = iarnet([...args, '--data-dir', dataDir], env as Record<string, string>);
    expect(out.status).toBe(2);
    expect(out.stderr).toContain(key);
  });

  it('refuses an unknown flag and an unknown command', () => {
    expect(iarnet(['--frobnicate']).status).toBe(2);
    expect(iarnet(['explode']).stderr).toContain('unknown command');
  });

  it('loads a third-party plugin named in the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iarnet-cli-'));
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `data_dir: ${join(dir, 'data')}\nplugins: ["${join(ROOT, 'dist/examples/hello-plugin/index.js')}"]\nhello:\n  greeting: Salut\n`,
    );
    const out = iarnet(['plugins', '--config', config, '--log-level', 'silent'], {
      IARNET_ADMIN_PASSWORD: 'cli-test-password-1',
    });
    expect(out.stderr).toBe('');
    expect(out.stdout).toMatch(/\bhello\s+1\.0\.0/);
  });
});
