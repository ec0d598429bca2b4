/** Start a real `iarnet` process and wait until it listens. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from './runtimes.ts';

export interface RunningIarnet {
  url: string;
  dataDir: string;
  process: ChildProcess;
  /** Every log line so far (parsed JSON where possible). */
  logs: Record<string, unknown>[];
  stderr: string[];
  /** Send a signal and wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

/**
 * Data dirs this module made: removed after the importing test file's own afterAll hooks (hooks
 * run last-registered first, and this one registers at import), not at stop(), because some tests
 * start a node again on the same dir (crash recovery, restarts). A process-exit handler would not
 * run: vitest ends its workers with a signal.
 */
const madeDirs = new Set<string>();
// Benchmarks import this module too, outside vitest: there the caller cleans up.
if (process.env.VITEST) {
  const { afterAll } = await import('vitest');
  afterAll(() => {
    for (const dir of madeDirs) rmSync(dir, { recursive: true, force: true });
    madeDirs.clear();
  });
}

export async function spawnIarnet(
  argv: string[],
  opts: { args?: string[]; env?: Record<string, string>; dataDir?: string; timeoutMs?: number } = {},
): Promise<RunningIarnet> {
  let dataDir = opts.dataDir;
  if (!dataDir) {
    dataDir = mkdtempSync(join(tmpdir(), 'iarnet-node-'));
    madeDirs.add(dataDir);
  }
  const [cmd, ...prefix] = argv;
  const child = spawn(
    cmd!,
    [
      ...prefix,
      '--listen',
      '127.0.0.1:0',
      '--peer-listen',
      '127.0.0.1:0',
      '--data-dir',
      dataDir,
      ...(opts.args ?? []),
    ],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', NO_COLOR: '1', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `iarnet did not listen within ${opts.timeoutMs ?? 30_000} ms\nstderr:\n${stderr.join('\n')}\nlogs:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`,
          ),
        ),
      opts.timeoutMs ?? 30_000,
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line);
      } catch {
        entry = { raw: line };
      }
      logs.push(entry);
      if (entry.msg === 'listening' && typeof entry.url === 'string') {
        clearTimeout(timer);
        resolve(entry.url);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        new Error(
          `iarnet exited with ${code} before listening\nstderr:\n${stderr.join('\n')}\nlogs:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`,
        ),
      );
    });
  });

  return {
    url,
    dataDir,
    process: child,
    logs,
    stderr,
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs));
      const result = await Promise.race([exited, timeout]);
      if (result === 'timeout') {
        child.kill('SIGKILL');
        throw new Error(`iarnet did not exit within ${timeoutMs} ms of ${signal}`);
      }
      return result;
    },
  };
}
