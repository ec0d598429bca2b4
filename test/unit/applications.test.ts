/**
 * The applications module in a real node (storage + static auth + git + applications, SQLite in a
 * temp dir): CRUD, roles, validation with no side effect, write-only secrets, and the quick import
 * (parse-git) against real repositories over file:// — including the hostile inputs.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppsNode, startAppsNode } from '../support/applications-node.ts';
import { hasGit, headCommit, makeRepo, tempDir } from '../support/git-repos.ts';

const git = hasGit();
const nodes: AppsNode[] = [];
let base: string;
let marker: string;
let t: AppsNode;

beforeAll(async () => {
  base = tempDir('iarnet-apps-repos-');
  marker = join(base, 'marker');
  t = await startAppsNode({ git: { allow_schemes: ['https', 'file'], timeout_seconds: 30 } });
  nodes.push(t);
});
afterAll(async () => {
  for (const n of nodes) await n.node.stop().catch(() => {});
  rmSync(base, { recursive: true, force: true });
});

const minimal = (extra: Record<string, unknown> = {}) => ({
  name: 'web-1',
  type: 'web',
  image: 'nginx:1.27',
  resources: { cpu: 0.5, memory: 0.25 },
  ...extra,
});

async function count(n: AppsNode = t): Promise<number> {
  const res = await n.request('GET', '/api/applications', { role: 'viewer' });
  expect(res.status).toBe(200);
  return ((await res.json()) as unknown[]).length;
}

async function expect400(res: Response, field?: string) {
  const text = await res.text();
  expect(res.status, text).toBe(400);
  const body = JSON.parse(text) as {
    error: string;
    details: string;
    code: string;
    fields?: { path: string }[];
  };
  expect(body.details.length).toBeGreaterThan(0);
  if (field) expect(body.fields?.map((f) => f.path)).toContain(field);
  return body;
}

describe('CRUD', () => {
  it('creates, reads, lists, updates and deletes; roles are enforced', async () => {
    const before = await count();
    const viewer = await t.request('POST', '/api/applications', {
      role: 'viewer',
      body: minimal({ name: 'nope' }),
    });
    expect(viewer.status).toBe(403);

    const res = await t.request('POST', '/api/applications', {
      body: minimal({
        name: 'shop',
        description: 'the shop',
        gitUrl: 'https://github.com/example/shop.git',
        branch: 'release/1.0',
        command: ['node', 'server.js'],
        ports: [{ containerPort: 8080, servicePort: 80 }],
        healthCheck: { path: '/healthz', port: 8080, interval: 10, timeout: 2 },
        instances: 2,
        resources: { cpu: 1, memory: 2, gpu: 0, storage: 10 },
      }),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const app = (await res.json()) as Record<string, unknown> & { id: string };
    expect(app).toMatchObject({
      name: 'shop',
      description: 'the shop',
      gitUrl: 'https://github.com/example/shop.git',
      branch: 'release/1.0',
      type: 'web',
      image: 'nginx:1.27',
      command: ['node', 'server.js'],
      env: {},
      resources: { cpu: 1, memory: 2, gpu: 0, storage: 10 },
      ports: [{ containerPort: 8080, servicePort: 80, protocol: 'TCP' }],
      healthCheck: { path: '/healthz', port: 8080, interval: 10, timeout: 2 },
      status: 'idle',
      instances: 2,
      runningOn: [],
      hasGitToken: false,
    });
    expect(app.id).toMatch(/^app_[0-9a-f]{20}$/);
    expect(await count()).toBe(before + 1);

    const got = await t.request('GET', `/api/applications/${app.id}`, { role: 'viewer' });
    expect(await got.json()).toEqual(app);

    const dup = await t.request('POST', '/api/applications', { body: minimal({ name: 'shop' }) });
    expect(dup.status).toBe(409);

    const upd = await t.request('PUT', `/api/applications/${app.id}`, {
      body: { description: 'new', image: null, instances: 3, healthCheck: null },
    });
    expect(upd.status, await upd.clone().text()).toBe(200);
    const updated = (await upd.json()) as Record<string, unknown>;
    expect(updated).toMatchObject({ description: 'new', instances: 3, name: 'shop' });
    expect(updated.image).toBeUndefined();
    expect(updated.healthCheck).toBeUndefined();

    // Neither a Git URL nor an image left: refused, nothing changed.
    const bare = await t.request('PUT', `/api/applications/${app.id}`, { body: { gitUrl: '' } });
    expect(bare.status).toBe(400);

    expect((await t.request('DELETE', `/api/applications/${app.id}`, { role: 'viewer' })).status).toBe(403);
    expect((await t.request('DELETE', `/api/applications/${app.id}`)).status).toBe(204);
    expect((await t.request('GET', `/api/applications/${app.id}`, { role: 'viewer' })).status).toBe(404);
    expect((await t.request('GET', '/api/applications/nope', { role: 'viewer' })).status).toBe(400);
  });

  it('refuses invalid bodies with field errors and writes nothing', async () => {
    const before = await count();
    const cases: [unknown, string][] = [
      [minimal({ name: 'Bad Name' }), 'name'],
      [minimal({ type: 'desktop' }), 'type'],
      [minimal({ resources: { cpu: 0, memory: 1 } }), 'resources.cpu'],
      [minimal({ resources: { cpu: -1, memory: 1 } }), 'resources.cpu'],
      [minimal({ resources: { cpu: 1, memory: 1e9 } }), 'resources.memory'],
      [minimal({ resources: { cpu: 1, memory: 1, gpu: 0.5 } }), 'resources.gpu'],
      [minimal({ ports: [{ containerPort: 70000 }] }), 'ports.0.containerPort'],
      [minimal({ ports: [{ containerPort: 80, protocol: 'SCTP' }] }), 'ports.0.protocol'],
      [minimal({ healthCheck: { path: 'x', port: 80, interval: 5, timeout: 1 } }), 'healthCheck.path'],
      [minimal({ env: { 'BAD-NAME': 'x' } }), 'env.BAD-NAME'],
      [minimal({ command: [] }), 'command'],
      [minimal({ image: 'UPPER/Case' }), 'image'],
      [minimal({ status: 'running' }), 'status'],
      [minimal({ gitUrl: 'ext::sh -c touch% /tmp/marker' }), 'gitUrl'],
      [minimal({ gitUrl: 'https://user:secret@github.com/x/y.git' }), 'gitUrl'],
      [
        minimal({ gitUrl: 'https://github.com/x/y.git', branch: '--upload-pack=touch /tmp/marker' }),
        'branch',
      ],
      [minimal({ gitUrl: 'https://github.com/x/y.git\r\nX: y' }), 'gitUrl'],
      [minimal({ gitUrl: 'ssh://-oProxyCommand=touch /tmp/marker/x' }), 'gitUrl'],
      [minimal({ image: undefined }), '(root)'],
    ];
    for (const [body, field] of cases) {
      await expect400(await t.request('POST', '/api/applications', { body }), field);
    }
    expect(await count()).toBe(before);
  });

  it('keeps secret env values and the Git token sealed and never returns them', async () => {
    const res = await t.request('POST', '/api/applications', {
      body: minimal({
        name: 'secretive',
        gitUrl: 'https://git.example.com/team/app.git',
        gitToken: 'tok-SUPERSECRET-123',
        env: { MODE: 'prod', DB_PASSWORD: { value: 'pw-SUPERSECRET-456', secret: true } },
      }),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const text = await res.clone().text();
    expect(text).not.toContain('SUPERSECRET');
    const app = (await res.json()) as { id: string; env: unknown; hasGitToken: boolean };
    expect(app.env).toEqual({ MODE: 'prod', DB_PASSWORD: { secret: true } });
    expect(app.hasGitToken).toBe(true);

    // Keep the secret by sending {secret: true}; change the plain one.
    const upd = await t.request('PUT', `/api/applications/${app.id}`, {
      body: { env: { MODE: 'dev', DB_PASSWORD: { secret: true } } },
    });
    expect(upd.status, await upd.clone().text()).toBe(200);
    expect(((await upd.json()) as { env: unknown }).env).toEqual({
      MODE: 'dev',
      DB_PASSWORD: { secret: true },
    });
    // {secret: true} for a variable that has no stored secret: refused.
    expect(
      (await t.request('PUT', `/api/applications/${app.id}`, { body: { env: { NEW: { secret: true } } } }))
        .status,
    ).toBe(400);
    // Moving the URL to another host without re-sending the token: refused (a token belongs to its host).
    const move = await t.request('PUT', `/api/applications/${app.id}`, {
      body: { gitUrl: 'https://other.example.org/x.git' },
    });
    await expect400(move, 'gitToken');

    const list = await (await t.request('GET', '/api/applications', { role: 'viewer' })).text();
    expect(list).not.toContain('SUPERSECRET');
    expect(t.rawLogs.join('\n')).not.toContain('SUPERSECRET');
    const db = readFileSync(join(t.dataDir, 'iarnet.db'));
    expect(db.includes('SUPERSECRET')).toBe(false);
    const wal = join(t.dataDir, 'iarnet.db-wal');
    if (existsSync(wal)) expect(readFileSync(wal).includes('SUPERSECRET')).toBe(false);
  });

  it('refuses deleting a running application', async () => {
    const res = await t.request('POST', '/api/applications', { body: minimal({ name: 'busy' }) });
    const { id } = (await res.json()) as { id: string };
    const { ApplicationServiceKey } = await import('../../core/domain/applications/plugin.ts');
    const service = t.node.host.services.get(ApplicationServiceKey);
    await service.setStatus(id, 'running', { runningOn: ['local-docker'] });
    expect((await t.request('DELETE', `/api/applications/${id}`)).status).toBe(409);
    const got = (await (
      await t.request('GET', `/api/applications/${id}`, { role: 'viewer' })
    ).json()) as Record<string, unknown>;
    expect(got).toMatchObject({ status: 'running', runningOn: ['local-docker'] });
  });
});

describe('deploy without a platform', () => {
  it('answers 503 (nothing changes) and validates the id', async () => {
    const res = await t.request('POST', '/api/applications', { body: minimal({ name: 'lonely' }) });
    const { id } = (await res.json()) as { id: string };
    const deploy = await t.request('POST', '/api/deploy', { body: { applicationId: id } });
    expect(deploy.status).toBe(503);
    expect(((await deploy.json()) as { code: string }).code).toBe('PLATFORM_UNAVAILABLE');
    expect((await t.request('POST', `/api/applications/${id}/stop`)).status).toBe(503);
    await expect400(
      await t.request('POST', '/api/deploy', { body: { applicationId: 'x' } }),
      'applicationId',
    );
    expect(
      (await t.request('POST', '/api/deploy', { role: 'viewer', body: { applicationId: id } })).status,
    ).toBe(403);
    const got = (await (await t.request('GET', `/api/applications/${id}`, { role: 'viewer' })).json()) as {
      status: string;
    };
    expect(got.status).toBe('idle');
  });

  it('settles an application left deploying by a crash when the node starts again', async () => {
    const n = await startAppsNode({ git: false });
    const res = await n.request('POST', '/api/applications', { body: minimal({ name: 'interrupted' }) });
    const { id } = (await res.json()) as { id: string };
    const { ApplicationServiceKey } = await import('../../core/domain/applications/plugin.ts');
    await n.node.host.services.get(ApplicationServiceKey).claim(id, ['idle'], 'deploying');
    await n.node.stop();
    const again = await startAppsNode({ git: false, dataDir: n.dataDir });
    nodes.push(again);
    const got = (await (
      await again.request('GET', `/api/applications/${id}`, { role: 'viewer' })
    ).json()) as Record<string, unknown>;
    expect(got).toMatchObject({ status: 'error', statusReason: 'interrupted by a restart of this node' });
  });
});

describe.skipIf(!git)('parse-git (quick import) over file://', () => {
  const workspace = () => join(t.dataDir, 'git');

  it('detects a Dockerfile repo, a Node repo and a static site', async () => {
    const docker = makeRepo(base, 'docker-app', {
      Dockerfile: 'FROM nginx:1.27\nEXPOSE 8081\n',
      'README.md': 'x',
    });
    const nodeRepo = makeRepo(
      base,
      'node-api',
      { 'package.json': '{"dependencies":{"express":"^4"}}' },
      'trunk',
    );
    const site = makeRepo(base, 'site', { 'index.html': '<h1>hello</h1>' });

    const parse = (gitUrl: string, branch?: string) =>
      t.request('POST', '/api/applications/parse-git', { body: { gitUrl, ...(branch ? { branch } : {}) } });

    const d = await parse(`file://${docker}`);
    expect(d.status, await d.clone().text()).toBe(200);
    expect(await d.json()).toEqual({
      name: 'docker-app',
      type: 'web',
      detectedType: 'web',
      runtime: 'docker',
      defaultPort: 8081,
      commitHash: headCommit(docker),
      branch: 'main',
      hasDockerfile: true,
    });
    const n = await parse(`file://${nodeRepo}`);
    expect(await n.json()).toMatchObject({
      name: 'node-api',
      runtime: 'node',
      type: 'api',
      defaultPort: 3000,
      branch: 'trunk',
    });
    const s = await parse(`file://${site}`, 'main');
    expect(await s.json()).toMatchObject({
      runtime: 'static',
      type: 'web',
      defaultPort: 80,
      hasDockerfile: false,
    });
    // Viewers cannot trigger clones.
    expect(
      (
        await t.request('POST', '/api/applications/parse-git', {
          role: 'viewer',
          body: { gitUrl: `file://${site}` },
        })
      ).status,
    ).toBe(403);
    // Nothing is left in the workspace.
    expect(readdirSync(workspace())).toEqual([]);
  });

  it('ignores a Dockerfile that is a symlink to /etc/passwd', async () => {
    const evil = makeRepo(base, 'evil', { Dockerfile: { symlink: '/etc/passwd' }, 'index.html': 'x' });
    const res = await t.request('POST', '/api/applications/parse-git', {
      body: { gitUrl: `file://${evil}` },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain('root:');
    expect(JSON.parse(text)).toMatchObject({ hasDockerfile: false, runtime: 'static' });
  });

  it('refuses hostile URLs and branches with 400 and no side effect', async () => {
    const ok = makeRepo(base, 'target', { 'index.html': 'x' });
    const before = await count();
    const hostile: [Record<string, unknown>, string][] = [
      [{ gitUrl: `ext::sh -c touch% ${marker}` }, 'gitUrl'],
      [{ gitUrl: `ext::sh -c "touch ${marker}"` }, 'gitUrl'],
      [{ gitUrl: `--upload-pack=touch ${marker}` }, 'gitUrl'],
      [{ gitUrl: `file://${ok}`, branch: `--upload-pack=touch ${marker}` }, 'branch'],
      [{ gitUrl: `file://${ok}`, branch: '-b' }, 'branch'],
      [{ gitUrl: `ssh://-oProxyCommand=touch ${marker}/x` }, 'gitUrl'],
      [{ gitUrl: `file://${ok}\r\n` }, 'gitUrl'],
      [{ gitUrl: `file://${ok}\nhttps://x/y` }, 'gitUrl'],
      [{ gitUrl: 'https://169.254.169.254/latest/meta-data.git' }, 'gitUrl'],
      [{ gitUrl: 'https://[::ffff:169.254.169.254]/x.git' }, 'gitUrl'],
      [{ gitUrl: 'https://tok:secret@github.com/x/y.git' }, 'gitUrl'],
      [{ gitUrl: `file://${ok}`, gitToken: 'abc' }, 'gitUrl'],
      [{ gitUrl: 'https://github.com/x/y.git', gitToken: 'a\r\nX-Evil: 1' }, 'gitToken'],
    ];
    for (const [body, field] of hostile) {
      const res = await t.request('POST', '/api/applications/parse-git', { body });
      await expect400(res, field);
    }
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(`${marker}/x`)).toBe(false);
    expect(readdirSync(workspace())).toEqual([]);
    expect(await count()).toBe(before);
  });

  it('refuses file:// when it is not configured, and reports a missing branch as 400', async () => {
    const repo = makeRepo(base, 'plain', { 'go.mod': 'module x\n' });
    const strict = await startAppsNode({ git: {} });
    nodes.push(strict);
    const res = await strict.request('POST', '/api/applications/parse-git', {
      body: { gitUrl: `file://${repo}` },
    });
    const body = await expect400(res, 'gitUrl');
    expect(body.details).toMatch(/scheme "file" is not allowed/);
    expect(readdirSync(join(strict.dataDir, 'git'))).toEqual([]);

    const missing = await t.request('POST', '/api/applications/parse-git', {
      body: { gitUrl: `file://${repo}`, branch: 'nope' },
    });
    const m = await expect400(missing);
    expect(m.code).toBe('GIT_NOT_FOUND');
  });

  it('answers 503 when the git plugin is not loaded, and still checks URLs on create', async () => {
    const bare = await startAppsNode({ git: false });
    nodes.push(bare);
    const res = await bare.request('POST', '/api/applications/parse-git', {
      body: { gitUrl: 'https://github.com/x/y.git' },
    });
    expect(res.status).toBe(503);
    await expect400(
      await bare.request('POST', '/api/applications', { body: minimal({ gitUrl: 'file:///etc' }) }),
      'gitUrl',
    );
    await expect400(
      await bare.request('POST', '/api/applications', {
        body: minimal({ gitUrl: 'https://github.com/x/y.git', branch: '-x' }),
      }),
      'branch',
    );
    expect(await count(bare)).toBe(0);
  });
});
