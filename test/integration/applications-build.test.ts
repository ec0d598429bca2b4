/**
 * From a Git URL to healthy running instances and back, on the real Docker engine, with Git
 * repositories the test creates and serves on loopback (`git daemon`):
 *
 * - a repository with a Dockerfile FROM the local test image running busybox httpd: parse,
 *   import, build (output on the event stream), deploy two instances, health checks pass,
 *   merged logs with levels (and follow over SSE), ApplicationStatus values, a failing check
 *   turning the status to `warning`, rolling redeploy, a redeploy with a changed instance count,
 *   a redeploy under a tight quota (never above it), stop — quota exact after every step;
 * - a repository without a Dockerfile recognised as a static site gets a generated Dockerfile;
 * - a Dockerfile that is a symlink to a host file is refused, so is a context over the size limit;
 * - a failing build ends in `error` with the reason, no allocation and no container.
 *
 * In CI (CI=true) a missing engine or git fails the run.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import applicationsPlugin from '../../core/domain/applications/plugin.ts';
import { EventBusKey, type IarnetEvent } from '../../core/domain/events.ts';
import platformPlugin from '../../core/domain/platform-plugin.ts';
import resourcesPlugin from '../../core/domain/resources/plugin.ts';
import { createIarnet, type Iarnet } from '../../core/iarnet.ts';
import { loadConfig } from '../../core/kernel/config.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import type { AnyPlugin } from '../../core/kernel/plugin.ts';
import { loadRuntime } from '../../core/runtime/index.ts';
import gitPlugin from '../../plugins/git/index.ts';
import runnerDocker from '../../plugins/runner-docker/index.ts';
import storagePlugin from '../../plugins/storage/index.ts';
import { ensureTestImage, requireDocker, TEST_IMAGE } from '../support/docker-env.ts';
import { commitFile, hasGit, headCommit, makeRepo, startGitDaemon, tempDir } from '../support/git-repos.ts';
import { docker, nodeContainers, removeNodeContainers } from '../support/platform-node.ts';
import { unavailable } from '../support/runtimes.ts';
import { bearer, staticAuth } from '../support/static-auth.ts';

const env = await requireDocker();
const gitReady = hasGit() || unavailable('git is not installed') !== 'skip';
const suffix = randomBytes(3).toString('hex');
const MARKER = `iarnet-build-marker-${suffix}`;
const SLOW_MARKER = `iarnet-slow-build-${suffix}`;

const WEB_DOCKERFILE = [
  `FROM ${TEST_IMAGE}`,
  'COPY www /www',
  'EXPOSE 8080',
  `CMD ["sh", "-c", "echo 'INFO starting web'; echo 'WARN no config file, using defaults' >&2; exec httpd -f -p 8080 -h /www"]`,
  '',
].join('\n');

describe.skipIf(!env.ok || !gitReady)('applications from Git on a real Docker engine', () => {
  let node: Iarnet;
  let base: string;
  let dataDir: string;
  let daemon: Awaited<ReturnType<typeof startGitDaemon>>;
  const nodeId = `test-apps-build-${suffix}`;
  const events: IarnetEvent[] = [];
  let localId: string;

  beforeAll(async () => {
    await ensureTestImage();
    base = tempDir('iarnet-apps-build-');
    makeRepo(base, 'web', {
      Dockerfile: WEB_DOCKERFILE,
      'www/index.html': '<h1>web</h1>',
      'www/health': 'ok',
    });
    makeRepo(base, 'site', { 'index.html': '<h1>static site</h1>' });
    makeRepo(base, 'versions', { Dockerfile: `FROM ${TEST_IMAGE}\nCOPY version /version\n`, version: '1\n' });
    makeRepo(base, 'evil', { Dockerfile: { symlink: '/etc/passwd' }, 'index.html': '<h1>x</h1>' });
    makeRepo(base, 'huge', { Dockerfile: `FROM ${TEST_IMAGE}\n`, 'blob.bin': randomBytes(256 * 1024) });
    // The same blob, listed in .dockerignore: never sent, so the context stays under the limit.
    makeRepo(base, 'ignored', {
      Dockerfile: `FROM ${TEST_IMAGE}\nCOPY . /ctx\nRUN test ! -e /ctx/blob.bin && test ! -e /ctx/node_modules && test -e /ctx/keep.txt && test -e /ctx/logs/keep.log && test ! -e /ctx/logs/debug.log\n`,
      '.dockerignore': 'blob.bin\nnode_modules\nlogs/*.log\n!logs/keep.log\n',
      'blob.bin': randomBytes(256 * 1024),
      'node_modules/dep/index.js': 'module.exports = 1;\n',
      'keep.txt': 'kept\n',
      'logs/debug.log': 'noise\n',
      'logs/keep.log': 'kept\n',
    });
    makeRepo(base, 'slow', { Dockerfile: `FROM ${TEST_IMAGE}\nRUN echo ${SLOW_MARKER} && sleep 120\n` });
    makeRepo(base, 'broken', { Dockerfile: `FROM ${TEST_IMAGE}\nRUN echo ${MARKER} && false\n` });
    daemon = await startGitDaemon(base);
    dataDir = mkdtempSync(join(tmpdir(), 'iarnet-apps-build-data-'));
    const loaded = loadConfig({
      overrides: {
        node_id: nodeId,
        data_dir: dataDir,
        resource_limits: { cpu: '2', memory: '2Gi', gpu: '0' },
      },
    });
    node = await createIarnet({
      core: loaded.core,
      sections: {
        platform: { reconcile_interval: 3600, start_grace: 5 },
        runner_docker: { stop_timeout_seconds: 1 },
        git: { allow_schemes: ['https', 'git'], timeout_seconds: 30 },
        applications: {
          base_images: { static: TEST_IMAGE },
          build: { max_context_bytes: '128Ki' },
          health: { failure_threshold: 2 },
          status: { cache_ms: 500, log_lines: 10 },
        },
      },
      plugins: [
        storagePlugin,
        resourcesPlugin,
        runnerDocker,
        platformPlugin,
        gitPlugin,
        staticAuth,
        applicationsPlugin,
      ] as AnyPlugin[],
      runtime: await loadRuntime(),
      logger: silentLogger(),
    });
    await node.start();
    node.host.services.get(EventBusKey).subscribe((e) => events.push(e));
    const resources = (await (await call('GET', '/api/resources')).json()) as {
      id: string;
      builtin: boolean;
    }[];
    localId = resources.find((r) => r.builtin)!.id;
  });

  afterAll(async () => {
    await node?.stop();
    await removeNodeContainers(nodeId);
    daemon?.stop();
    const d = docker();
    for (const img of await d.listImages({ filters: { label: [`iarnet.node=${nodeId}`] } })) {
      await d
        .getImage(img.Id)
        .remove({ force: true })
        .catch(() => {});
    }
    if (base) rmSync(base, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, body?: unknown) =>
    node.app.request(path, {
      method,
      headers: {
        ...bearer('operator'),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const json = async <T = Record<string, unknown>>(res: Response, status = 200): Promise<T> => {
    expect(res.status, await res.clone().text()).toBe(status);
    return (await res.json()) as T;
  };
  const quota = async () =>
    (await json<{ current: { cpu: number; memory: number } }>(await call('GET', '/resources'))).current;
  const appContainers = async (id: string) =>
    (await nodeContainers(nodeId)).filter((c) => c.Labels['iarnet.app'] === id);
  const running = async (id: string) => (await appContainers(id)).filter((c) => c.State === 'running');
  const until = async <T>(
    what: string,
    fn: () => Promise<T | undefined | false>,
    ms = 30_000,
  ): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  type Status = {
    status: string;
    instances: number;
    health: string;
    healthChecks: { status: string; state: string; instanceId: string; lastCheck: string }[];
    cpu: number;
    memory: number;
    network: number;
    runningOn: string[];
    logs: { level: string; message: string; source?: string }[];
    uptime: string;
    metrics: { responseTime?: number; errorRate?: number };
  };
  const status = (id: string) => call('GET', `/api/applications/${id}/status`).then((r) => json<Status>(r));
  const workspaceBuilds = () => readdirSync(join(dataDir, 'git')).filter((e) => e.startsWith('build-'));

  it('imports, builds, deploys two healthy instances, logs, redeploys and stops, quota exact', async () => {
    const url = daemon.url('web');
    const parsed = await json(await call('POST', '/api/applications/parse-git', { gitUrl: url }));
    expect(parsed).toMatchObject({ runtime: 'docker', hasDockerfile: true, defaultPort: 8080, type: 'web' });

    const app = await json<{ id: string }>(
      await call('POST', '/api/applications', {
        name: `web-${suffix}`,
        type: 'web',
        gitUrl: url,
        branch: 'main',
        ports: [{ containerPort: 8080 }],
        healthCheck: { path: '/health', port: 8080, interval: 1, timeout: 1 },
        instances: 2,
        resources: { cpu: 0.25, memory: 0.125 },
      }),
      201,
    );
    const id = app.id;
    expect(await quota()).toMatchObject({ cpu: 0 });

    const deployed = await json<{ status: string; commitHash: string; runningOn: string[] }>(
      await call('POST', `/api/applications/${id}/deploy`),
    );
    expect(deployed.status).toBe('running');
    expect(deployed.commitHash).toBe(headCommit(join(base, 'web')));
    expect(deployed.runningOn).toEqual([localId]);
    expect(await running(id)).toHaveLength(2);
    expect(
      (await running(id)).every(
        (c) => c.Image === `iarnet/web-${suffix}:${deployed.commitHash.slice(0, 12)}`,
      ),
    ).toBe(true);
    expect((await quota()).cpu).toBeCloseTo(0.5);
    expect(workspaceBuilds()).toEqual([]);

    // Build output and status changes were pushed on the event stream.
    const buildLines = events
      .filter((e) => e.type === 'application:build' && e.data.applicationId === id)
      .flatMap((e) => e.data.lines as string[]);
    expect(buildLines.some((l) => /Step 1\/\d+ : FROM/.test(l))).toBe(true);
    expect(buildLines.some((l) => l.startsWith('Built iarnet/'))).toBe(true);
    const statusEvents = events
      .filter((e) => e.type === 'application:status' && e.data.applicationId === id)
      .map((e) => e.data.status);
    expect(statusEvents.slice(0, 2)).toEqual(['deploying', 'running']);

    // Health checks pass on both instances (and the engine's first stats samples are in: a first
    // look answers without waiting for them).
    const healthy = await until('healthy', async () => {
      const s = await status(id);
      return (
        s.health === 'healthy' &&
        s.healthChecks.filter((c) => c.status === 'pass').length === 2 &&
        s.memory > 0 &&
        s
      );
    });
    expect(healthy).toMatchObject({ status: 'running', instances: 2, runningOn: [localId] });
    expect(healthy.cpu).toBeGreaterThanOrEqual(0);
    expect(healthy.memory).toBeGreaterThan(0);
    expect(healthy.memory).toBeLessThan(100);
    expect(healthy.metrics.responseTime).toBeGreaterThanOrEqual(0);
    expect(healthy.uptime).toMatch(/^\d+[dhms]/);
    expect(
      events.some(
        (e) => e.type === 'application:health' && e.data.applicationId === id && e.data.health === 'healthy',
      ),
    ).toBe(true);

    // The list endpoint has the same application.
    const list = await json<(Status & { id: string })[]>(await call('GET', '/api/status'));
    expect(list.find((s) => s.id === id)).toMatchObject({
      status: 'running',
      instances: 2,
      health: 'healthy',
    });
    // GET /status (no prefix) is still the document's container list.
    const containers = await json<{ total_containers: number }>(await call('GET', '/status'));
    expect(containers.total_containers).toBeGreaterThanOrEqual(2);

    // Merged logs of both instances, with levels.
    const logs = await json<{
      items: { level: string; message: string; source: string; timestamp: string }[];
    }>(await call('GET', `/api/applications/${id}/logs?tail=50`));
    expect(new Set(logs.items.map((l) => l.source)).size).toBe(2);
    expect(logs.items.filter((l) => l.message === 'INFO starting web').every((l) => l.level === 'info')).toBe(
      true,
    );
    const warns = logs.items.filter((l) => l.message.startsWith('WARN no config'));
    expect(warns).toHaveLength(2);
    expect(warns.every((l) => l.level === 'warn')).toBe(true);
    const times = logs.items.map((l) => l.timestamp);
    expect(times.every((t) => !Number.isNaN(Date.parse(t)))).toBe(true);
    expect(
      await until('recent logs in the status', async () =>
        (await status(id)).logs.some((l) => l.level === 'warn'),
      ),
    ).toBe(true);

    // follow=true streams `log` events (SSE).
    const followed = await call('GET', `/api/applications/${id}/logs?tail=5&follow=true`);
    expect(followed.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = followed.body!.getReader();
    let text = '';
    while (!text.includes('event: log')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    expect(text).toMatch(/event: log\ndata: \{.*"level":/);

    // A failing check turns the application into `warning`; fixing it brings it back.
    await json(
      await call('PUT', `/api/applications/${id}`, {
        healthCheck: { path: '/missing', port: 8080, interval: 1, timeout: 1 },
      }),
    );
    await until('warning', async () => (await status(id)).status === 'warning');
    expect((await status(id)).health).toBe('unhealthy');
    expect(
      events.some(
        (e) => e.type === 'application:status' && e.data.applicationId === id && e.data.status === 'warning',
      ),
    ).toBe(true);
    await json(
      await call('PUT', `/api/applications/${id}`, {
        healthCheck: { path: '/health', port: 8080, interval: 1, timeout: 1 },
      }),
    );
    await until('running again', async () => (await status(id)).status === 'running');

    // Rolling redeploy: new instances replace the old ones; quota back to exactly two instances.
    const before = new Set((await running(id)).map((c) => c.Id));
    await json(await call('POST', `/api/applications/${id}/redeploy`));
    const after = await running(id);
    expect(after).toHaveLength(2);
    expect(after.some((c) => before.has(c.Id))).toBe(false);
    expect((await quota()).cpu).toBeCloseTo(0.5);

    // A changed instance count applies on redeploy.
    await json(await call('PUT', `/api/applications/${id}`, { instances: 1 }));
    await json(await call('POST', `/api/applications/${id}/redeploy`));
    expect(await running(id)).toHaveLength(1);
    expect((await quota()).cpu).toBeCloseTo(0.25);
    await until('one healthy instance', async () => {
      const s = await status(id);
      return s.health === 'healthy' && s.instances === 1 && s.healthChecks.length === 1;
    });

    // Stop releases everything and stops the checks.
    const stopped = await json(await call('POST', `/api/applications/${id}/stop`));
    expect(stopped).toMatchObject({ status: 'stopped', runningOn: [] });
    expect(await running(id)).toHaveLength(0);
    expect((await quota()).cpu).toBe(0);
    expect(await status(id)).toMatchObject({
      status: 'stopped',
      instances: 0,
      health: 'unknown',
      healthChecks: [],
    });
  });

  it('redeploys under a tight quota without ever exceeding it', async () => {
    // Two instances of 0.75 cores on a 2-core node: old + new (2.25) would not fit.
    const app = await json<{ id: string }>(
      await call('POST', '/api/applications', {
        name: `tight-${suffix}`,
        type: 'worker',
        image: TEST_IMAGE,
        command: ['sh', '-c', 'sleep 300'],
        instances: 2,
        resources: { cpu: 0.75, memory: 0.125 },
      }),
      201,
    );
    await json(await call('POST', `/api/applications/${app.id}/deploy`));
    expect((await quota()).cpu).toBeCloseTo(1.5);
    let active = 2;
    let peak = 2;
    const unsubscribe = node.host.services.get(EventBusKey).subscribe((e) => {
      if (e.type === 'run:started') active++;
      if (e.type === 'run:stopped') active--;
      peak = Math.max(peak, active);
    });
    try {
      await json(await call('POST', `/api/applications/${app.id}/redeploy`));
    } finally {
      unsubscribe();
    }
    expect(peak).toBe(2);
    expect(await running(app.id)).toHaveLength(2);
    expect((await quota()).cpu).toBeCloseTo(1.5);
    await json(await call('POST', `/api/applications/${app.id}/stop`));
    expect((await quota()).cpu).toBe(0);
  });

  it('builds a static site without a Dockerfile from a generated one', async () => {
    const url = daemon.url('site');
    expect(await json(await call('POST', '/api/applications/parse-git', { gitUrl: url }))).toMatchObject({
      runtime: 'static',
      hasDockerfile: false,
    });
    const app = await json<{ id: string }>(
      await call('POST', '/api/applications', {
        name: `site-${suffix}`,
        type: 'web',
        gitUrl: url,
        command: ['httpd', '-f', '-p', '80', '-h', '/usr/share/nginx/html'],
        ports: [{ containerPort: 80 }],
        healthCheck: { path: '/index.html', port: 80, interval: 1, timeout: 1 },
        resources: { cpu: 0.1, memory: 0.0625 },
      }),
      201,
    );
    await json(await call('POST', `/api/applications/${app.id}/deploy`));
    const lines = events
      .filter((e) => e.type === 'application:build' && e.data.applicationId === app.id)
      .flatMap((e) => e.data.lines as string[]);
    expect(lines).toContain('No Dockerfile: generated one for static');
    expect(lines.some((l) => l.includes(`FROM ${TEST_IMAGE}`))).toBe(true);
    await until('static site healthy', async () => (await status(app.id)).health === 'healthy');
    // The site answers on its published port.
    const [c] = await running(app.id);
    const port = c!.Ports.find((p) => p.PrivatePort === 80 && p.PublicPort)!.PublicPort;
    expect(await (await fetch(`http://127.0.0.1:${port}/index.html`)).text()).toContain('static site');
    await json(await call('POST', `/api/applications/${app.id}/stop`));
    expect((await quota()).cpu).toBe(0);
  });

  it('refuses a Dockerfile that is a symlink to a host file: error, nothing booked or left', async () => {
    const app = await json<{ id: string }>(
      await call('POST', '/api/applications', {
        name: `evil-${suffix}`,
        type: 'web',
        gitUrl: daemon.url('evil'),
        resources: { cpu: 0.1, memory: 0.0625 },
      }),
      201,
    );
    const res = await call('POST', `/api/applications/${app.id}/deploy`);
    const body = await json<{ code: string; details: string }>(res, 422);
    expect(body.code).toBe('BUILD_REFUSED');
    expect(body.details).toMatch(/symlink/);
    const after = await json<{ status: string; statusReason: string }>(
      await call('GET', `/api/applications/${app.id}`),
    );
    expect(after.status).toBe('error');
    expect(after.statusReason).toMatch(/symlink/);
    expect((await quota()).cpu).toBe(0);
    expect(await appContainers(app.id)).toHaveLength(0);
    expect(workspaceBuilds()).toEqual([]);
  });

  it('refuses a build context over build.max_context_bytes before sending it', async () => {
    const app = await json<{ id: string }>(
      await call('POST', '/api/applications', {
        name: `huge-${suffix}`,
        type: 'worker',
        gitUrl: daemon.url('huge'),
        resources: { cpu: 0.1, memory: 0.0625 },
      }),
      201,
    );
    const body = await json<{ code: string; details: string }>(
      await call('POST', `/api/applications/${app.id}/deploy`),
      422,
    );
    expect(body).toMatchObject({ code: 'BUILD_REFUSED' });
    expect(body.details).toMatch(/larger than 131072 bytes/);
    expect((await quota()).cpu).toBe(0);
    expect(await docker().listImages({ filters: { reference: [`iarnet/huge-${suffix}`] } })).toHaveLength(0);
    expect(workspaceBuilds()).toEqual([]);
  });

  it('honours .dockerignore: ignored files are neither sent nor counted against the context limit', async () => {
    const app = await json<{ id: string }>(
      await call('POST', '/api/applications', {
        name: `ignored-${suffix}`,
        type: 'worker',
        gitUrl: daemon.url('ignored'),
        command: ['sleep', '300'],
        resources: { cpu: 0.1, memory: 0.0625 },
      }),
      201,
    );
    // The Dockerfile's RUN fails the build if an ignored file made it into the context.
    const deployed = await call('POST', `/api/applications/${app.id}/deploy`);
    expect(deployed.status, await deployed.clone().text()).toBe(200);
    expect(((await deployed.json()) as { status: string }).status).toBe('running');
    await json(await call('POST', `/api/applications/${app.id}/stop`), 200);
    expect((await quota()).cpu).toBe(0);
  });

  it('removes the images of earlier builds after a redeploy, and all of them with the application', async () => {
    const app = await json<{ id: string }>(
      await call('POST', '/api/applications', {
        name: `versions-${suffix}`,
        type: 'worker',
        gitUrl: daemon.url('versions'),
        command: ['sleep', '300'],
        resources: { cpu: 0.1, memory: 0.0625 },
      }),
      201,
    );
    const images = async () =>
      (await docker().listImages({ filters: { label: [`iarnet.app=${app.id}`] } })).flatMap(
        (i) => i.RepoTags ?? [],
      );
    const tag = (commit: string) => `iarnet/versions-${suffix}:${commit.slice(0, 12)}`;
    const first = headCommit(join(base, 'versions'));
    await json(await call('POST', `/api/applications/${app.id}/deploy`), 200);
    expect(await images()).toEqual([tag(first)]);

    const second = commitFile(join(base, 'versions'), 'version', '2\n');
    await json(await call('POST', `/api/applications/${app.id}/redeploy`), 200);
    // The first build's image ran the old instances, which are gone: so is it.
    expect(await images()).toEqual([tag(second)]);

    await json(await call('POST', `/api/applications/${app.id}/stop`), 200);
    expect((await call('DELETE', `/api/applications/${app.id}`)).status).toBe(204);
    expect(await images()).toEqual([]);
  });

  it('stopping during a build cancels it: stopped, no container of the build left, nothing booked', async () => {
    const app = await json<{ id: string }>(
      await call('POST', '/api/applications', {
        name: `slow-${suffix}`,
        type: 'worker',
        gitUrl: daemon.url('slow'),
        resources: { cpu: 0.1, memory: 0.0625 },
      }),
      201,
    );
    const deploying = call('POST', `/api/applications/${app.id}/deploy`);
    await until('the RUN step to start', async () =>
      events.some(
        (e) =>
          e.type === 'application:build' &&
          e.data.applicationId === app.id &&
          (e.data.lines as string[]).some((l) => l === SLOW_MARKER),
      ),
    );
    const stopped = await json(await call('POST', `/api/applications/${app.id}/stop`));
    expect(stopped).toMatchObject({ status: 'stopped' });
    const cancelled = await json<{ code: string }>(await deploying, 409);
    expect(cancelled.code).toBe('BUILD_CANCELLED');
    expect((await quota()).cpu).toBe(0);
    // The engine removes the cancelled step's container (forcerm).
    await until('no build container', async () =>
      (await docker().listContainers({ all: true })).every((c) => !c.Command.includes(SLOW_MARKER)),
    );
    expect(workspaceBuilds()).toEqual([]);
  });

  it('a failing build ends in error with the reason, no allocation and no container', async () => {
    const app = await json<{ id: string }>(
      await call('POST', '/api/applications', {
        name: `broken-${suffix}`,
        type: 'worker',
        gitUrl: daemon.url('broken'),
        resources: { cpu: 0.1, memory: 0.0625 },
      }),
      201,
    );
    const res = await call('POST', `/api/applications/${app.id}/deploy`);
    const body = await json<{ code: string; details: string }>(res, 422);
    expect(body.code).toBe('BUILD_FAILED');
    expect(body.details).toMatch(/non-zero code/);
    const after = await json<{ status: string; statusReason: string }>(
      await call('GET', `/api/applications/${app.id}`),
    );
    expect(after).toMatchObject({ status: 'error' });
    expect(after.statusReason).toMatch(/build failed/i);
    expect((await quota()).cpu).toBe(0);
    const containers = await json<{ items: { appId?: string }[] }>(await call('GET', '/api/containers'));
    expect(containers.items.filter((c) => c.appId === app.id)).toHaveLength(0);
    // The failed RUN step's container was removed by the engine (forcerm).
    const all = await docker().listContainers({ all: true });
    expect(all.filter((c) => c.Command.includes(MARKER))).toHaveLength(0);
    expect(workspaceBuilds()).toEqual([]);
    // While nothing runs, the status shows the build's last output, the failure as an error.
    const st = await status(app.id);
    expect(st).toMatchObject({ status: 'error', instances: 0 });
    expect(st.logs.at(-1)).toMatchObject({ level: 'error', source: 'build' });
    expect(st.logs.at(-1)?.message).toMatch(/^Build failed: .*non-zero code/);
    const statuses = events
      .filter((e) => e.type === 'application:status' && e.data.applicationId === app.id)
      .map((e) => e.data.status);
    expect(statuses).toEqual(['deploying', 'error']);
  });
});
