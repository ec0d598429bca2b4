/**
 * The git plugin's URL/branch checks, detection and hardened clone, against real repositories
 * reached over file:// (the network servers are in test/integration/git-import.test.ts).
 */
import * as fs from 'node:fs';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitFetchError, GitInputError } from '../../core/slots/git.ts';
import { dirSize, gitEnv, hardeningArgs, removeEscapingSymlinks } from '../../plugins/git/clone.ts';
import { gitConfigSchema } from '../../plugins/git/config.ts';
import { detect, exposedPort, nameFromUrl } from '../../plugins/git/detect.ts';
import { GitServiceImpl } from '../../plugins/git/index.ts';
import { checkBranch, checkUrl, redactUrl } from '../../plugins/git/url.ts';
import { hasGit, headCommit, makeRepo, tempDir } from '../support/git-repos.ts';

const git = hasGit();
let base: string;
let marker: string;

beforeAll(() => {
  base = tempDir('iarnet-git-unit-');
  marker = join(base, 'marker');
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

const cfg = (extra: Record<string, unknown> = {}) =>
  v.parse(gitConfigSchema, { allow_schemes: ['https', 'file'], timeout_seconds: 30, ...extra });

describe('checkUrl', () => {
  const https = ['https'] as const;
  it.each([
    ['ext::sh -c touch% /tmp/marker', /remote helper/],
    ['ext::sh -c "touch /tmp/marker"', /./],
    ['--upload-pack=touch /tmp/marker', /./],
    ['-uhttps://example.com/x', /start with "-"/],
    ['ssh://-oProxyCommand=touch /tmp/marker/x', /./],
    ['ssh://git@example.com/x.git', /scheme "ssh" is not allowed/],
    ['git@github.com:owner/repo.git', /absolute URL/],
    ['file:///etc', /scheme "file" is not allowed/],
    ['https://example.com/x\r\nHost: evil', /control characters/],
    ['https://example.com/x\n', /control characters/],
    ['https://exa mple.com/x', /spaces/],
    ['https://user:pass@example.com/x.git', /credentials/],
    ['https://example.com/', /repository path/],
    ['https://example.com/x?a=b', /query/],
    ['', /required/],
  ])('refuses %#: %s', (url, why) => {
    expect(() => checkUrl(url, https)).toThrow(GitInputError);
    expect(() => checkUrl(url, https)).toThrow(why);
  });

  it('refuses URLs longer than 2048 characters', () => {
    expect(() => checkUrl(`https://example.com/${'a'.repeat(3000)}`, https)).toThrow(/at most/);
  });

  it('accepts https and normalises; file only when allowed, never with a host or ..', () => {
    expect(checkUrl('https://github.com/owner/repo.git', https)).toMatchObject({
      scheme: 'https',
      host: 'github.com',
      port: 443,
    });
    expect(checkUrl('HTTPS://GitHub.com:8443/o/r', https)).toMatchObject({ host: 'github.com', port: 8443 });
    expect(checkUrl('file:///srv/repo', ['file']).url).toBe('file:///srv/repo');
    expect(() => checkUrl('file://other/srv/repo', ['file'])).toThrow(/host/);
    // The URL parser removes dot segments: what git receives names the directory plainly.
    expect(checkUrl('file:///srv/../etc', ['file']).url).toBe('file:///etc');
    expect(checkUrl('git://127.0.0.1:9418/r', ['git']).port).toBe(9418);
  });

  it('redacts userinfo from anything it logs', () => {
    expect(redactUrl('https://u:secret@h/x')).toBe('https://h/x');
    expect(redactUrl('weird //tok@en@thing')).not.toContain('tok');
  });
});

describe('checkBranch', () => {
  it.each([
    '-b',
    '--upload-pack=touch /tmp/marker',
    'a..b',
    'a b',
    'x\n',
    'a/',
    '/a',
    'a.lock',
    'a@{1}',
    'a:b',
    'x~1',
    '.hidden',
    'a/.b',
    '',
  ])('refuses %j', (b) => expect(() => checkBranch(b)).toThrow(GitInputError));
  it.each(['main', 'release/1.2', 'feature/x_y-z', 'v1.0+build'])('accepts %j', (b) =>
    expect(checkBranch(b)).toBe(b),
  );
});

describe('config', () => {
  it('defaults to https only and parses sizes', () => {
    const c = v.parse(gitConfigSchema, {});
    expect(c.allow_schemes).toEqual(['https']);
    expect(v.parse(gitConfigSchema, { max_repo_bytes: '2Mi' }).max_repo_bytes).toBe(2 * 1024 * 1024);
    expect(v.parse(gitConfigSchema, { allow_schemes: 'https,http' }).allow_schemes).toEqual([
      'https',
      'http',
    ]);
    expect(v.safeParse(gitConfigSchema, { allow_schemes: ['ssh'] }).success).toBe(false);
    expect(v.safeParse(gitConfigSchema, { allow_schemes: ['ext'] }).success).toBe(false);
    expect(v.safeParse(gitConfigSchema, { max_repo_bytes: '1k' }).success).toBe(false);
  });

  it('builds a sealed environment and restrictive -c options', () => {
    const env = gitEnv({ home: '/h', allowSchemes: ['https'], config: [['http.extraHeader', 'X: y']] });
    expect(env).toMatchObject({
      HOME: '/h',
      GIT_TERMINAL_PROMPT: '0',
      GIT_ASKPASS: '/bin/false',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_ALLOW_PROTOCOL: 'https',
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.extraHeader',
    });
    expect(Object.keys(env).some((k) => k === 'GIT_DIR' || k === 'GIT_SSH_COMMAND')).toBe(false);
    const args = hardeningArgs(['https']).join(' ');
    expect(args).toContain('protocol.allow=never');
    expect(args).toContain('protocol.https.allow=always');
    expect(args).toContain('protocol.http.allow=never');
    expect(args).toContain('protocol.file.allow=never');
    expect(args).toContain('protocol.ext.allow=never');
    expect(args).toContain('http.followRedirects=false');
  });
});

describe('detect', () => {
  const make = (files: Record<string, string | { symlink: string }>) => {
    const dir = tempDir('iarnet-detect-');
    for (const [name, spec] of Object.entries(files)) {
      if (typeof spec === 'string') fs.writeFileSync(join(dir, name), spec);
      else fs.symlinkSync(spec.symlink, join(dir, name));
    }
    return dir;
  };
  it('recognises Dockerfile, Node, Python, Go and static sites', () => {
    expect(detect(make({ Dockerfile: 'FROM nginx\nEXPOSE 8080/tcp\n' }))).toMatchObject({
      runtime: 'docker',
      hasDockerfile: true,
      defaultPort: 8080,
      type: 'web',
    });
    expect(detect(make({ 'package.json': '{"dependencies":{"express":"^4"}}' }))).toMatchObject({
      runtime: 'node',
      type: 'api',
      defaultPort: 3000,
    });
    expect(detect(make({ 'package.json': '{"dependencies":{"next":"14"}}' })).type).toBe('web');
    expect(detect(make({ 'package.json': '{}' }))).toMatchObject({ type: 'worker', defaultPort: null });
    expect(detect(make({ 'requirements.txt': 'flask==3\n' }))).toMatchObject({
      runtime: 'python',
      defaultPort: 5000,
    });
    expect(detect(make({ 'pyproject.toml': 'dependencies = ["fastapi"]' }))).toMatchObject({
      type: 'api',
      defaultPort: 8000,
    });
    expect(detect(make({ 'go.mod': 'module x\nrequire github.com/gin-gonic/gin v1\n' }))).toMatchObject({
      runtime: 'go',
      type: 'api',
    });
    expect(detect(make({ 'index.html': '<h1>hi</h1>' }))).toMatchObject({
      runtime: 'static',
      type: 'web',
      defaultPort: 80,
    });
    expect(detect(make({ 'README.md': 'x' }))).toMatchObject({ runtime: 'unknown', type: 'worker' });
    expect(exposedPort('EXPOSE 99999\nEXPOSE 53/udp')).toBe(53);
  });

  it('never reads a symlinked Dockerfile or package.json', () => {
    const d = detect(
      make({ Dockerfile: { symlink: '/etc/passwd' }, 'package.json': { symlink: '/etc/hostname' } }),
    );
    expect(d).toMatchObject({ hasDockerfile: false, runtime: 'unknown' });
    expect(d.ignoredSymlinks.sort()).toEqual(['Dockerfile', 'package.json']);
  });

  it('names applications from the URL', () => {
    expect(nameFromUrl('https://github.com/Owner/My_Repo.git')).toBe('my-repo');
    expect(nameFromUrl('https://h/x/')).toBe('x');
    expect(nameFromUrl('https://h/.git')).toBe('app');
  });
});

describe('removeEscapingSymlinks', () => {
  it('removes links that leave the tree and keeps those that stay', () => {
    const dir = tempDir('iarnet-links-');
    mkdirSync(join(dir, 'sub'));
    fs.writeFileSync(join(dir, 'sub', 'f'), 'x');
    fs.symlinkSync('/etc/passwd', join(dir, 'abs'));
    fs.symlinkSync('../../../../etc/passwd', join(dir, 'sub', 'up'));
    fs.symlinkSync('sub/f', join(dir, 'ok'));
    fs.symlinkSync('.', join(dir, 'sub', 'self'));
    fs.symlinkSync('sub/self/../..', join(dir, 'tricky'));
    const removed = removeEscapingSymlinks(dir).sort();
    expect(removed).toEqual(['abs', join('sub', 'up'), 'tricky'].sort());
    expect(existsSync(join(dir, 'ok'))).toBe(true);
  });

  it('dirSize stops counting past the limit', () => {
    const dir = tempDir('iarnet-size-');
    fs.writeFileSync(join(dir, 'a'), Buffer.alloc(10_000));
    expect(dirSize(dir)).toBeGreaterThanOrEqual(10_000);
  });
});

describe.skipIf(!git)('GitService over file://', () => {
  it('parses a repository and removes its temporary clone', async () => {
    const repo = makeRepo(base, 'site', { 'index.html': '<p>hi</p>' });
    const ws = join(base, 'ws1');
    const s = new GitServiceImpl({ config: cfg(), workspace: ws });
    const info = await s.parse(`file://${repo}`);
    expect(info).toEqual({
      name: 'site',
      type: 'web',
      runtime: 'static',
      defaultPort: 80,
      commitHash: headCommit(repo),
      branch: 'main',
      hasDockerfile: false,
    });
    expect(readdirSync(ws)).toEqual([]);
  });

  it('refuses file:// unless configured, and unknown branches, leaving nothing behind', async () => {
    const repo = makeRepo(base, 'r2', { 'go.mod': 'module x\n' });
    const ws = join(base, 'ws2');
    const strict = new GitServiceImpl({ config: cfg({ allow_schemes: ['https'] }), workspace: ws });
    await expect(strict.parse(`file://${repo}`)).rejects.toThrow(GitInputError);
    const s = new GitServiceImpl({ config: cfg(), workspace: ws });
    await expect(s.parse(`file://${repo}`, 'nope')).rejects.toMatchObject({
      name: 'GitFetchError',
      reason: 'not-found',
    });
    await expect(s.parse(`file://${repo}`, '--upload-pack=touch /tmp/marker')).rejects.toThrow(GitInputError);
    expect(readdirSync(ws)).toEqual([]);
  });

  it('removes a Dockerfile symlinked to /etc/passwd and never reports it', async () => {
    const repo = makeRepo(base, 'evil', {
      Dockerfile: { symlink: '/etc/passwd' },
      'package.json': '{"dependencies":{"express":"4"}}',
    });
    const s = new GitServiceImpl({ config: cfg(), workspace: join(base, 'ws3') });
    const info = await s.parse(`file://${repo}`);
    expect(info).toMatchObject({ hasDockerfile: false, runtime: 'node', type: 'api' });
  });

  it('stops a clone that grows past max_repo_bytes', async () => {
    const { randomBytes } = await import('node:crypto');
    const repo = makeRepo(base, 'big', { 'blob.bin': randomBytes(3 * 1024 * 1024) });
    const ws = join(base, 'ws4');
    const s = new GitServiceImpl({ config: cfg({ max_repo_bytes: '1Mi' }), workspace: ws });
    const err = await s.parse(`file://${repo}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitFetchError);
    expect((err as GitFetchError).reason).toBe('too-large');
    expect(readdirSync(ws)).toEqual([]);
  });

  it('checks out only inside the workspace', async () => {
    const repo = makeRepo(base, 'co', { Dockerfile: 'FROM scratch\n' });
    const ws = join(base, 'ws5');
    const s = new GitServiceImpl({ config: cfg(), workspace: ws });
    const out = await s.checkout(`file://${repo}`, 'main', join(ws, 'app1'));
    expect(out.commitHash).toBe(headCommit(repo));
    expect(existsSync(join(ws, 'app1', 'Dockerfile'))).toBe(true);
    await expect(s.checkout(`file://${repo}`, 'main', join(base, 'outside'))).rejects.toThrow(
      /inside the Git workspace/,
    );
    await expect(s.checkout(`file://${repo}`, 'main', join(ws, '..', 'escape'))).rejects.toThrow(
      GitInputError,
    );
    await expect(s.checkout(`file://${repo}`, 'main', join(ws, 'app1'))).rejects.toThrow(/already exists/);
    expect(existsSync(join(base, 'outside'))).toBe(false);
    expect(existsSync(marker)).toBe(false);
  });
});
