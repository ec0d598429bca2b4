/**
 * The runtime adapters and the storage plugin on every runtime IARNet supports. Each runtime runs
 * test/support/storage-driver-check.ts from the TypeScript sources (Node 20 through tsx; Node 24
 * strips types natively; Bun and Deno run TypeScript themselves) and reports JSON we assert here.
 *
 * With CI=true a missing runtime fails the run; otherwise its tests are skipped with the reason.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = 'test/support/storage-driver-check.ts';
const CI = process.env.CI === 'true';

interface RuntimeCase {
  id: string;
  runtime: 'node' | 'bun' | 'deno';
  /** The driver the adapter must pick there. */
  driver: 'better-sqlite3' | 'node:sqlite' | 'bun:sqlite';
  /** Command and arguments before the script path, or why the runtime is unavailable. */
  locate(): { command: string; args: string[] } | { missing: string };
}

/** What `<binary> --version` prints, or undefined when it does not run. */
function versionOf(binary: string): string | undefined {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 15_000 }).trim();
  } catch {
    return undefined;
  }
}

const local = (path: string) => join(ROOT, path);

const RUNTIMES: RuntimeCase[] = [
  {
    id: 'Node 20',
    runtime: 'node',
    driver: 'better-sqlite3',
    locate() {
      // node_modules' better-sqlite3 is built for Node 20: the runner itself when it is Node 20.
      const candidates = [process.env.NODE20_BIN, process.execPath, 'node'].filter((c): c is string => !!c);
      const node = candidates.find((c) => versionOf(c)?.startsWith('v20.'));
      if (!node) return { missing: `none of ${candidates.join(', ')} is Node 20 (set NODE20_BIN)` };
      return { command: node, args: [local('node_modules/tsx/dist/cli.mjs')] };
    },
  },
  {
    id: 'Node 24',
    runtime: 'node',
    // The shared node_modules holds a better-sqlite3 binary for Node 20's ABI, which Node 24
    // refuses to load: the adapter must fall back to node:sqlite.
    driver: 'node:sqlite',
    locate() {
      const node = local('node_modules/node24/bin/node');
      const version = existsSync(node) ? versionOf(node) : undefined;
      if (!version?.startsWith('v24.')) return { missing: `${node} is ${version ?? 'missing'}, not Node 24` };
      return { command: node, args: [] };
    },
  },
  {
    id: 'Bun',
    runtime: 'bun',
    driver: 'bun:sqlite',
    locate() {
      const bun = local('node_modules/.bin/bun');
      return existsSync(bun) && versionOf(bun)
        ? { command: bun, args: ['run'] }
        : { missing: `${bun} is missing` };
    },
  },
  {
    id: 'Deno',
    runtime: 'deno',
    driver: 'node:sqlite',
    locate() {
      const deno = local('node_modules/.bin/deno');
      // --no-lock: no deno.lock appears in the repository.
      return existsSync(deno) && versionOf(deno)
        ? { command: deno, args: ['run', '-A', '--quiet', '--no-lock'] }
        : { missing: `${deno} is missing` };
    },
  },
];

let tlsDir: string | undefined;
let tlsEnv: Record<string, string> = {};
let tlsMissing: string | undefined;

beforeAll(async () => {
  // A throw-away certificate for 127.0.0.1, so no key material lives in the repository.
  tlsDir = await mkdtemp(join(tmpdir(), 'iarnet-tls-'));
  const cert = join(tlsDir, 'cert.pem');
  const key = join(tlsDir, 'key.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
      ].concat([
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ]),
      { stdio: 'pipe' },
    );
    tlsEnv = { TLS_CERT_FILE: cert, TLS_KEY_FILE: key };
  } catch (e) {
    tlsMissing = `openssl could not make a test certificate: ${(e as Error).message.split('\n')[0]}`;
  }
});

afterAll(async () => {
  if (tlsDir) await rm(tlsDir, { recursive: true, force: true });
});

/** Resolves the runtime's command, or fails (CI) / skips (locally) the test with the reason. */
function requireRuntime(rt: RuntimeCase, ctx: TestContext): { command: string; args: string[] } {
  const found = rt.locate();
  if ('command' in found) return found;
  const reason = `${rt.id} is not available: ${found.missing}`;
  if (CI) throw new Error(`${reason} (CI=true: every runtime must be present)`);
  console.warn(`\n⚠️  SKIPPING ${rt.id} conformance: ${reason}\n`);
  return ctx.skip(reason);
}

function runScript(
  cmd: { command: string; args: string[] },
  extraArgs: string[] = [],
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.command, [...cmd.args, SCRIPT, ...extraArgs], {
      cwd: ROOT,
      env: { ...process.env, ...tlsEnv, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 90_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) {
        return reject(
          new Error(`${cmd.command} exited ${code ?? signal} without a result\n${stdout}\n${stderr}`),
        );
      }
      const result = JSON.parse(line.slice('RESULT '.length)) as Record<string, unknown>;
      if (result.error)
        return reject(new Error(`the check failed under ${cmd.command}:\n${result.error}\n${stderr}`));
      resolve(result);
    });
  });
}

describe.concurrent('runtime adapter + storage plugin', () => {
  for (const rt of RUNTIMES) {
    it(`${rt.id}: ${rt.driver}, migrations, serialized transactions, serve`, async (ctx) => {
      const cmd = requireRuntime(rt, ctx);
      const result = await runScript(cmd);
      const storage = result.storage as Record<string, unknown>;
      const serve = result.serve as Record<string, unknown>;

      expect(result.runtime).toBe(rt.runtime);
      expect(storage.driver).toBe(rt.driver);
      expect(storage.pragmas).toEqual({
        journal_mode: 'wal',
        foreign_keys: 1,
        busy_timeout: 5000,
        synchronous: 1,
      });
      expect(storage.migrations).toEqual({ fixture: 2, storage: 1 });
      expect(storage.committed).toBe(1);
      expect(storage.rollback).toEqual({ error: 'boom', valueAfter: 1 });
      expect(storage.concurrent).toEqual({ value: 50, maxActive: 1 });
      expect(storage.nestedRefused).toBe(true);
      expect(storage.raw).toEqual({
        inserted: 1,
        rollback: 'raw boom',
        changes: true,
        row: { name: 'raw', value: 50 },
        missing: 0,
      });
      expect(storage.foreignKey).toMatchObject({ message: 'FOREIGN KEY constraint failed' });
      expect(storage.unique).toMatchObject({ message: expect.stringMatching(/^UNIQUE constraint failed/) });
      // `changes` on every driver, so "update … where enough is left" checks work everywhere.
      expect(storage.runChanges).toBe(2);
      expect(storage.returning).toEqual({ id: 1, counter: 'a', label: 'first' });
      expect(storage.writable).toBe(true);
      expect(storage.afterStop).toMatch(/storage is closed/);

      expect(serve.port).toBeGreaterThan(0);
      expect(serve.hello).toEqual({ hello: 'world' });
      expect(serve.static).toEqual({ status: 200, body: 'static hello' });
      expect(serve.staticMissing).toBe(404);
      expect(serve.sse).toMatchObject({
        contentType: 'text/event-stream',
        events: ['data: 0', 'data: 1', 'data: 2'],
        streamed: true,
      });
      const graceful = serve.gracefulClose as { inFlight: string; ms: number; refusedAfter: boolean };
      expect(graceful.inFlight).toBe('slow done');
      expect(graceful.refusedAfter).toBe(true);
      // Returns once the in-flight request is done, not at the end of the 5 s grace period.
      expect(graceful.ms).toBeLessThan(2_000);
      const forced = serve.forcedClose as { ms: number; stream: string };
      expect(forced.ms).toBeGreaterThanOrEqual(250);
      expect(forced.ms).toBeLessThan(2_000);
      expect(['ended', 'errored']).toContain(forced.stream);
      if (tlsMissing) {
        if (CI) throw new Error(tlsMissing);
        console.warn(`\n⚠️  TLS not checked on ${rt.id}: ${tlsMissing}\n`);
      } else {
        expect(serve.tls).toEqual({ hello: 'world' });
      }
      // Bun cuts connections idle for 10 s, even mid-response, unless the adapter lifts that for streams.
      expect(result.quietStream).toMatchObject({ events: ['data: before', 'data: after'] });
    });
  }
});

describe('one database file used by every runtime in turn', () => {
  it('keeps its data, and no runtime re-applies migrations another recorded', async (ctx) => {
    const available = RUNTIMES.map((rt) => ({ rt, found: rt.locate() }));
    const missing = available.filter((a) => 'missing' in a.found);
    if (missing.length) {
      const reason = `not available: ${missing.map((m) => m.rt.id).join(', ')}`;
      if (CI) throw new Error(`${reason} (CI=true: every runtime must be present)`);
      console.warn(`\n⚠️  the shared-database check runs without ${missing.map((m) => m.rt.id).join(', ')}\n`);
    }
    const runnable = available.filter((a) => 'command' in a.found);
    if (runnable.length < 2) ctx.skip('fewer than two runtimes available');
    const dataDir = await mkdtemp(join(tmpdir(), 'iarnet-shared-db-'));
    try {
      let expected = 0;
      for (const { rt, found } of runnable) {
        const result = await runScript(found as { command: string; args: string[] }, ['--shared', dataDir]);
        expected++;
        expect(result, rt.id).toMatchObject({
          runtime: rt.runtime,
          driver: rt.driver,
          shared: expected,
          migrations: { fixture: 2, storage: 1 },
        });
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
