/**
 * Importing applications from real Git servers on loopback: `git daemon` (git://) and
 * `git http-backend` behind a node:http CGI bridge (http://), with repositories the test creates.
 * Covers detection, private repositories with a token (never logged), and the limits: a
 * repository too large and a server that stalls are each stopped within their bound, leave
 * nothing behind, and answer 400 with a code. In CI (CI=true) a missing `git` fails the run.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppsNode, startAppsNode } from '../support/applications-node.ts';
import {
  hasGit,
  headCommit,
  makeRepo,
  startGitDaemon,
  startHttpBackend,
  startStallingServer,
  tempDir,
} from '../support/git-repos.ts';
import { unavailable } from '../support/runtimes.ts';

const ready = hasGit() || unavailable('git is not installed') !== 'skip';

const stops: (() => unknown)[] = [];
let base: string;
let node: AppsNode;
let daemon: Awaited<ReturnType<typeof startGitDaemon>>;
let http: Awaited<ReturnType<typeof startHttpBackend>>;
let privateHttp: Awaited<ReturnType<typeof startHttpBackend>>;
const TOKEN = `ghp_${randomBytes(12).toString('hex')}`;

beforeAll(async () => {
  if (!ready) return;
  base = tempDir('iarnet-git-int-');
  makeRepo(base, 'docker-app', { Dockerfile: 'FROM nginx:1.27\nEXPOSE 8080\n' });
  makeRepo(base, 'node-app', {
    'package.json': '{"name":"x","dependencies":{"fastify":"^5"}}',
    'index.js': '',
  });
  makeRepo(base, 'site', { 'index.html': '<h1>hi</h1>', 'style.css': '' });
  makeRepo(base, 'evil', { Dockerfile: { symlink: '/etc/passwd' }, 'requirements.txt': 'flask\n' });
  makeRepo(base, 'big', { 'blob.bin': randomBytes(6 * 1024 * 1024) });
  daemon = await startGitDaemon(base);
  stops.push(daemon.stop);
  http = await startHttpBackend(base);
  stops.push(http.stop);
  privateHttp = await startHttpBackend(base, { requireToken: TOKEN });
  stops.push(privateHttp.stop);
  node = await startAppsNode({
    git: { allow_schemes: ['https', 'http', 'git'], timeout_seconds: 3, max_repo_bytes: '2Mi' },
  });
  stops.push(() => node.node.stop());
});

afterAll(async () => {
  for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => {});
  if (base) rmSync(base, { recursive: true, force: true });
});

const parse = (body: Record<string, unknown>) =>
  node.request('POST', '/api/applications/parse-git', { body });
const workspaceEmpty = () => expect(readdirSync(join(node.dataDir, 'git'))).toEqual([]);

/** Processes whose command line mentions `needle` (to prove a killed clone left no helper behind). */
function processesMentioning(needle: string): string[] {
  try {
    return execFileSync('ps', ['-eo', 'args'])
      .toString()
      .split('\n')
      .filter((l) => l.includes(needle) && !l.includes('ps -eo'));
  } catch {
    return [];
  }
}

describe.skipIf(!ready)('import from real Git servers', () => {
  it('parses a Dockerfile repository over git://', async () => {
    const res = await parse({ gitUrl: daemon.url('docker-app') });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toEqual({
      name: 'docker-app',
      type: 'web',
      detectedType: 'web',
      runtime: 'docker',
      defaultPort: 8080,
      commitHash: headCommit(join(base, 'docker-app')),
      branch: 'main',
      hasDockerfile: true,
    });
    workspaceEmpty();
  });

  it('parses a Node repository and a static site over smart HTTP', async () => {
    const n = await parse({ gitUrl: http.url('node-app'), branch: 'main' });
    expect(n.status, await n.clone().text()).toBe(200);
    expect(await n.json()).toMatchObject({
      name: 'node-app',
      runtime: 'node',
      type: 'api',
      defaultPort: 3000,
    });
    const s = await parse({ gitUrl: `${http.url('site')}.git`.replace(/\.git$/, '') });
    expect(await s.json()).toMatchObject({ name: 'site', runtime: 'static', type: 'web', defaultPort: 80 });
    workspaceEmpty();
  });

  it('connects to the checked address of a host name (pinned, not resolved again)', async () => {
    const res = await parse({ gitUrl: http.url('site').replace('127.0.0.1', 'localhost') });
    expect(res.status, await res.clone().text()).toBe(200);
    const viaDaemon = await parse({ gitUrl: daemon.url('site').replace('127.0.0.1', 'localhost') });
    expect(viaDaemon.status, await viaDaemon.clone().text()).toBe(200);
  });

  it('refuses hosts the outbound policy denies, before any connection', async () => {
    const strict = await startAppsNode({
      git: { allow_schemes: ['http'], outbound: { deny: ['127.0.0.0/8', '::1/128'] } },
    });
    stops.push(() => strict.node.stop());
    const before = http.requests;
    const res = await strict.request('POST', '/api/applications/parse-git', {
      body: { gitUrl: http.url('site').replace('127.0.0.1', 'localhost') },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { details: string }).details).toMatch(/not allowed/);
    expect(http.requests).toBe(before);
  });

  it('then creates the application from what parse-git found', async () => {
    const info = (await (await parse({ gitUrl: daemon.url('docker-app') })).json()) as Record<
      string,
      unknown
    >;
    const res = await node.request('POST', '/api/applications', {
      body: {
        name: info.name,
        gitUrl: daemon.url('docker-app'),
        branch: info.branch,
        commitHash: info.commitHash,
        type: info.type,
        ports: [{ containerPort: info.defaultPort }],
        resources: { cpu: 0.5, memory: 0.5 },
      },
    });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(await res.json()).toMatchObject({
      name: 'docker-app',
      status: 'idle',
      commitHash: info.commitHash,
    });
  });

  it('ignores a symlinked Dockerfile served by a real server', async () => {
    const res = await parse({ gitUrl: http.url('evil') });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain('root:');
    expect(JSON.parse(text)).toMatchObject({ hasDockerfile: false, runtime: 'python', type: 'api' });
  });

  it('reads a private repository with a token that appears in no log, argv or response', async () => {
    const denied = await parse({ gitUrl: privateHttp.url('site') });
    expect(denied.status).toBe(400);
    expect(((await denied.json()) as { code: string }).code).toBe('GIT_NOT_FOUND');

    const res = await parse({ gitUrl: privateHttp.url('site'), gitToken: TOKEN });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.text()).not.toContain(TOKEN);
    expect(privateHttp.authHeaders).toContain(
      `Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`,
    );
    expect(node.rawLogs.join('\n')).not.toContain(TOKEN);
    expect(node.rawLogs.join('\n')).not.toContain(Buffer.from(`x-access-token:${TOKEN}`).toString('base64'));

    // Stored with an application, it is sealed and not returned.
    const created = await node.request('POST', '/api/applications', {
      body: {
        name: 'private-site',
        gitUrl: privateHttp.url('site'),
        gitToken: TOKEN,
        type: 'web',
        resources: { cpu: 0.1, memory: 0.1 },
      },
    });
    expect(created.status).toBe(201);
    const text = await created.text();
    expect(text).not.toContain(TOKEN);
    expect(JSON.parse(text)).toMatchObject({ hasGitToken: true });
  });

  it('stops a repository larger than max_repo_bytes', async () => {
    for (const url of [http.url('big'), daemon.url('big')]) {
      const started = Date.now();
      const res = await parse({ gitUrl: url });
      const body = (await res.json()) as { code: string; details: string };
      expect(res.status).toBe(400);
      expect(body.code).toBe('GIT_TOO_LARGE');
      expect(Date.now() - started).toBeLessThan(10_000);
      workspaceEmpty();
    }
  });

  it('stops a server that stalls, within the time limit, killing every git process', async () => {
    const stall = await startStallingServer();
    stops.push(stall.stop);
    for (const url of [`git://127.0.0.1:${stall.port}/repo`, `http://127.0.0.1:${stall.port}/repo`]) {
      const started = Date.now();
      const res = await parse({ gitUrl: url });
      const elapsed = Date.now() - started;
      const body = (await res.json()) as { code: string };
      expect(res.status).toBe(400);
      expect(body.code).toBe('GIT_TIMEOUT');
      expect(elapsed).toBeGreaterThanOrEqual(2_900);
      expect(elapsed).toBeLessThan(8_000);
      workspaceEmpty();
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(processesMentioning(`127.0.0.1:${stall.port}`)).toEqual([]);
  });

  it('does not follow redirects (they could lead where the policy refuses)', async () => {
    let hits = 0;
    const target: Server = createServer((_req, res) => {
      hits++;
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const port = (target.address() as { port: number }).port;
    const redirector: Server = createServer((req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${port}${req.url}` }).end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
    stops.push(
      () => new Promise((r) => target.close(r)),
      () => new Promise((r) => redirector.close(r)),
    );
    const rport = (redirector.address() as { port: number }).port;
    const res = await parse({ gitUrl: `http://127.0.0.1:${rport}/site` });
    expect(res.status).toBe(400);
    expect(hits).toBe(0);
  });

  it('refuses schemes that are not configured and hostile URLs, with no side effect', async () => {
    const marker = join(base, 'marker');
    const cases = [
      { gitUrl: `file://${join(base, 'site')}` },
      { gitUrl: `ext::sh -c touch% ${marker}` },
      { gitUrl: `--upload-pack=touch ${marker}` },
      { gitUrl: http.url('site'), branch: `--upload-pack=touch ${marker}` },
      { gitUrl: `ssh://-oProxyCommand=touch ${marker}/x` },
      { gitUrl: `${http.url('site')}\r\nX: y` },
      { gitUrl: http.url('site'), branch: '-q' },
    ];
    for (const body of cases) {
      const res = await parse(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe('VALIDATION_FAILED');
    }
    expect(existsSync(marker)).toBe(false);
    workspaceEmpty();
  });
});
