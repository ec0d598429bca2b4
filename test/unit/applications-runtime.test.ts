/**
 * Pure parts of running applications: log level detection, the generated Dockerfiles, the
 * health state machine and its aggregation, the outside status, timestamp ordering of merged
 * logs, and the build context tar (read back by the system `tar`).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { applicationsConfigSchema } from '../../core/domain/applications/config.ts';
import { engineHost } from '../../core/domain/applications/deploy.ts';
import { detectBuildRuntime, generateDockerfile } from '../../core/domain/applications/dockerfile.ts';
import { HealthMonitor, httpCheck } from '../../core/domain/applications/health.ts';
import {
  aggregateHealth,
  type InstanceHealth,
  initialHealth,
  recordCheck,
} from '../../core/domain/applications/health-state.ts';
import { detectLevel } from '../../core/domain/applications/log-level.ts';
import { mergedLogs } from '../../core/domain/applications/logs.ts';
import { effectiveStatus, formatUptime } from '../../core/domain/applications/status.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import { timeKey } from '../../core/slots/log-merge.ts';
import type { LogLine, Runner } from '../../core/slots/runner.ts';
import { buildImage } from '../../plugins/runner-docker/build.ts';
import { collectEntries, entryHeader, tarStream } from '../../plugins/runner-docker/tar.ts';

describe('log level detection', () => {
  it.each([
    ['ERROR could not connect', 'error'],
    ['2026-01-01T00:00:00Z [error] failed', 'error'],
    ['[WARN] disk almost full', 'warn'],
    ['warning: deprecated option', 'warn'],
    ['level=debug msg="cache miss"', 'debug'],
    ['time=now level=warn msg=x', 'warn'],
    ['{"level":50,"msg":"boom"}', 'error'],
    ['{"level":"warn","msg":"x"}', 'warn'],
    ['{"level":20,"msg":"x"}', 'debug'],
    ['{"severity":"ERROR"}', 'error'],
    ['DEBUG starting', 'debug'],
    ['TRACE deep', 'debug'],
    ['FATAL out of memory', 'error'],
    ['INFO listening on :8080', 'info'],
    ['GET /index.html 200', 'info'],
    ['no errors found', 'info'],
    ['the word error in the middle of a sentence', 'info'],
    ['', 'info'],
  ])('%j → %s', (line, level) => {
    expect(detectLevel(line)).toBe(level);
  });
});

describe('generated Dockerfiles', () => {
  const baseImages = v.parse(applicationsConfigSchema, {}).base_images;

  it('uses the configured base image for each runtime and nothing from the repository', () => {
    const node = generateDockerfile({ runtime: 'node', baseImages, port: 3000 });
    expect(node).toMatch(/^FROM node:20-alpine$/m);
    expect(node).toMatch(/^EXPOSE 3000$/m);
    expect(node).toMatch(/^CMD \["npm", "start"\]$/m);
    expect(generateDockerfile({ runtime: 'python', baseImages, pythonEntry: 'app.py' })).toMatch(
      /^CMD \["python", "app.py"\]$/m,
    );
    expect(generateDockerfile({ runtime: 'go', baseImages })).toMatch(/^FROM golang:1\.22-alpine$/m);
    const custom = generateDockerfile({
      runtime: 'static',
      baseImages: { ...baseImages, static: 'iarnet-test/busybox:latest' },
    });
    expect(custom).toMatch(/^FROM iarnet-test\/busybox:latest$/m);
    expect(custom).toMatch(/^COPY \. \/usr\/share\/nginx\/html$/m);
    expect(custom).toMatch(/^EXPOSE 80$/m);
    // Only FROM, COPY, EXPOSE, a comment: no RUN for a static site.
    expect(custom).not.toMatch(/^RUN/m);
  });

  it('refuses base images that could inject a line', () => {
    const bad = v.safeParse(applicationsConfigSchema, { base_images: { node: 'node:20\nRUN curl evil' } });
    expect(bad.success).toBe(false);
    const ok = v.safeParse(applicationsConfigSchema, { build: { max_context_bytes: '1Mi' } });
    expect(ok.success && ok.output.build.max_context_bytes).toBe(1024 * 1024);
  });

  it('detects the runtime from regular root files only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iarnet-rt-'));
    expect(detectBuildRuntime(dir)).toBeUndefined();
    symlinkSync('/etc/hostname', join(dir, 'package.json'));
    expect(detectBuildRuntime(dir)).toBeUndefined();
    writeFileSync(join(dir, 'index.html'), '<h1>hi</h1>');
    expect(detectBuildRuntime(dir)).toBe('static');
    writeFileSync(join(dir, 'go.mod'), 'module x');
    expect(detectBuildRuntime(dir)).toBe('go');
    writeFileSync(join(dir, 'requirements.txt'), 'flask');
    expect(detectBuildRuntime(dir)).toBe('python');
  });
});

describe('health state machine', () => {
  const at = '2026-01-01T00:00:00Z';
  const pass = { ok: true, message: 'HTTP 200', at, responseTimeMs: 3 };
  const fail = { ok: false, message: 'connection failed', at };
  const run = (results: (typeof pass | typeof fail)[], threshold = 3) =>
    results.reduce<InstanceHealth>((h, r) => recordCheck(h, r, threshold), initialHealth());

  it('starts unknown, becomes healthy on a pass, unhealthy only after `threshold` failures in a row', () => {
    expect(run([]).state).toBe('unknown');
    expect(run([fail, fail]).state).toBe('unknown');
    expect(run([fail, fail, fail]).state).toBe('unhealthy');
    expect(run([pass]).state).toBe('healthy');
    const flaky = run([pass, fail, fail]);
    expect(flaky).toMatchObject({ state: 'healthy', last: 'fail', consecutiveFailures: 2 });
    expect(run([pass, fail, fail, fail]).state).toBe('unhealthy');
    expect(run([pass, fail, fail, fail, pass])).toMatchObject({
      state: 'healthy',
      consecutiveFailures: 0,
      checks: 5,
      failures: 3,
    });
    expect(run([fail], 1).state).toBe('unhealthy');
  });

  it('aggregates: any unhealthy → unhealthy; some healthy → healthy; else unknown', () => {
    const h = (state: InstanceHealth['state']) => ({ ...initialHealth(), state });
    expect(aggregateHealth([])).toBe('unknown');
    expect(aggregateHealth([h('unknown')])).toBe('unknown');
    expect(aggregateHealth([h('healthy'), h('unknown')])).toBe('healthy');
    expect(aggregateHealth([h('healthy'), h('unhealthy')])).toBe('unhealthy');
  });

  it('shows a running application as warning when unhealthy or short of instances', () => {
    expect(effectiveStatus('running', 'healthy')).toBe('running');
    expect(effectiveStatus('running', 'unhealthy')).toBe('warning');
    expect(effectiveStatus('running', 'unknown', { running: 1, desired: 2 })).toBe('warning');
    expect(effectiveStatus('running', 'healthy', { running: 0, desired: 2 })).toBe('error');
    expect(effectiveStatus('idle', 'unknown')).toBe('stopped');
    expect(effectiveStatus('deploying', 'unknown')).toBe('deploying');
    expect(formatUptime(3725)).toBe('1h 2m');
    expect(formatUptime(59)).toBe('59s');
  });

  it('the monitor reports changes and stops its timer on unwatch', async () => {
    const changes: string[] = [];
    let ok = true;
    const monitor = new HealthMonitor({
      settings: async () => ({ path: '/', port: 80, interval: 3600, timeout: 1 }),
      targets: async () => [{ instanceId: 'a1', containerId: 'c1', name: 'x', host: '127.0.0.1', port: 1 }],
      threshold: 2,
      logger: silentLogger(),
      onChange: (_id, now, prev) => changes.push(`${prev}→${now}`),
      fetch: (async () => {
        if (!ok) throw new TypeError('fetch failed');
        return new Response('ok', { status: 200 });
      }) as typeof fetch,
    });
    monitor.watch('app');
    await monitor.checkNow('app');
    expect(monitor.health('app')).toBe('healthy');
    ok = false;
    await monitor.checkNow('app');
    expect(monitor.health('app')).toBe('healthy');
    await monitor.checkNow('app');
    expect(monitor.health('app')).toBe('unhealthy');
    expect(monitor.instances('app')[0]?.health).toMatchObject({ last: 'fail', consecutiveFailures: 2 });
    monitor.unwatch('app');
    expect(monitor.watching('app')).toBe(false);
    expect(changes).toEqual(['unknown→healthy', 'healthy→unhealthy', 'unhealthy→unknown']);
  });

  it('an HTTP check passes on 2xx/3xx, fails on 5xx, refused connections and timeouts', async () => {
    const respond = (status: number) => (async () => new Response(null, { status })) as typeof fetch;
    expect((await httpCheck('http://x/', 1000, respond(204))).ok).toBe(true);
    expect((await httpCheck('http://x/', 1000, respond(302))).ok).toBe(true);
    expect(await httpCheck('http://x/', 1000, respond(503))).toMatchObject({
      ok: false,
      message: 'HTTP 503',
    });
    const hang = ((_u: string, init: RequestInit) =>
      new Promise((_, reject) =>
        init.signal?.addEventListener('abort', () => reject(init.signal?.reason)),
      )) as unknown as typeof fetch;
    expect(await httpCheck('http://x/', 50, hang)).toMatchObject({
      ok: false,
      message: 'no answer within 0.05 s',
    });
    expect((await httpCheck('http://127.0.0.1:1/', 1000)).ok).toBe(false);
  });

  it('reaches a local engine on loopback and a remote one on its host', () => {
    expect(engineHost('unix:///var/run/docker.sock')).toBe('127.0.0.1');
    expect(engineHost('tcp://10.1.2.3:2376')).toBe('10.1.2.3');
    expect(engineHost('ssh://ops@vm.example:22')).toBe('vm.example');
  });
});

describe('merged logs', () => {
  it('orders nanosecond timestamps exactly and keeps the last `tail` lines', async () => {
    // Plain string order would put .1Z after .12Z.
    expect(timeKey('2026-01-01T00:00:05.1Z') < timeKey('2026-01-01T00:00:05.12Z')).toBe(true);
    expect(timeKey('2026-01-01T00:00:05.000000002Z') > timeKey('2026-01-01T00:00:05.000000001Z')).toBe(true);
    const runner = (lines: LogLine[]) =>
      ({
        async *logs(_id: string, o: { tail?: number }) {
          yield* lines.slice(-(o.tail ?? lines.length));
        },
      }) as unknown as Runner;
    const a = runner([
      { stream: 'stdout', timestamp: '2026-01-01T00:00:01.5Z', message: 'a1' },
      { stream: 'stderr', timestamp: '2026-01-01T00:00:03Z', message: 'ERROR a2' },
    ]);
    const b = runner([{ stream: 'stdout', timestamp: '2026-01-01T00:00:02.25Z', message: 'b1' }]);
    const merged = await mergedLogs(
      [
        { instanceId: 'i1', containerId: 'c1', name: 'app-1', runner: a },
        { instanceId: 'i2', containerId: 'c2', name: 'app-2', runner: b },
      ],
      { tail: 2 },
    );
    expect(merged.map((l) => [l.message, l.source, l.level])).toEqual([
      ['b1', 'app-2', 'info'],
      ['ERROR a2', 'app-1', 'error'],
    ]);
  });
});

describe('build context tar', () => {
  it('sends links as links, skips excluded entries, handles long names, and is read back by tar', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iarnet-tar-'));
    writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
    mkdirSync(join(dir, '.git'));
    writeFileSync(join(dir, '.git', 'HEAD'), 'x');
    const deep = join(dir, 'a'.repeat(60), 'b'.repeat(60));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'c'.repeat(30)), 'long');
    symlinkSync('/etc/passwd', join(dir, 'passwd'));
    const { entries, bytes } = collectEntries(dir, { exclude: ['.git'] });
    expect(entries.some((e) => e.path.startsWith('.git'))).toBe(false);
    expect(entries.find((e) => e.path === 'passwd')).toMatchObject({
      type: 'symlink',
      linkname: '/etc/passwd',
    });
    expect(bytes).toBe(13 + 4);
    return (async () => {
      const chunks: Buffer[] = [];
      for await (const c of tarStream(dir, entries)) chunks.push(c);
      const tarFile = join(mkdtempSync(join(tmpdir(), 'iarnet-tar-out-')), 'ctx.tar');
      writeFileSync(tarFile, Buffer.concat(chunks));
      const listing = execFileSync('tar', ['-tvf', tarFile]).toString();
      expect(listing).toMatch(/passwd -> \/etc\/passwd/);
      expect(listing).toContain(`${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(30)}`);
      expect(listing).not.toContain('.git');
      expect(() => collectEntries(dir, { maxBytes: 10 })).toThrow(/larger than 10 bytes/);
      expect(entryHeader({ path: 'x', type: 'file', size: 1, mode: 0o644, mtime: 0 }).length).toBe(512);
    })();
  });
});

describe('docker build input checks (before the engine is asked)', () => {
  const neverCalled = {
    docker: {} as never,
    call: async () => {
      throw new Error('the engine must not be asked');
    },
  };
  const ctx = (files: Record<string, string | { symlink: string }>) => {
    const dir = mkdtempSync(join(tmpdir(), 'iarnet-build-'));
    for (const [name, f] of Object.entries(files)) {
      if (typeof f === 'string') writeFileSync(join(dir, name), f);
      else symlinkSync(f.symlink, join(dir, name));
    }
    return dir;
  };

  it('refuses a symlinked or missing Dockerfile, a bad tag or path, and a context over the limit', async () => {
    const tag = 'iarnet/app:abc';
    await expect(
      buildImage(neverCalled, { dir: ctx({ Dockerfile: { symlink: '/etc/passwd' } }) }, { tag }),
    ).rejects.toMatchObject({
      name: 'ImageBuildError',
      reason: 'context',
      message: 'Dockerfile is a symlink, not a file',
    });
    await expect(buildImage(neverCalled, { dir: ctx({ 'a.txt': 'x' }) }, { tag })).rejects.toThrow(/missing/);
    await expect(
      buildImage(neverCalled, { dir: ctx({ Dockerfile: 'FROM x' }) }, { tag: 'Bad Tag' }),
    ).rejects.toThrow(/tag/);
    await expect(
      buildImage(neverCalled, { dir: ctx({ Dockerfile: 'FROM x' }) }, { tag, dockerfile: '../Dockerfile' }),
    ).rejects.toThrow(/inside the context/);
    await expect(
      buildImage(
        neverCalled,
        { dir: ctx({ Dockerfile: 'FROM x', big: 'y'.repeat(2048) }) },
        { tag, maxContextBytes: 1024 },
      ),
    ).rejects.toThrow(/larger than 1024 bytes/);
  });
});
