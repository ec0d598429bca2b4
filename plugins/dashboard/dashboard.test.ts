import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIarnet, type Iarnet } from '../../core/iarnet.ts';
import { loadConfig } from '../../core/kernel/config.ts';
import type { AnyPlugin } from '../../core/kernel/plugin.ts';
import { loadRuntime } from '../../core/runtime/index.ts';
import { staticAuth } from '../../test/support/static-auth.ts';
import dashboard, { isReserved } from './index.ts';

async function node(dir: string): Promise<Iarnet> {
  const n = await createIarnet({
    core: loadConfig({}).core,
    sections: { dashboard: { dir } },
    plugins: [staticAuth, dashboard as AnyPlugin],
    runtime: await loadRuntime(),
  });
  await n.start();
  return n;
}

describe('dashboard plugin', () => {
  let n: Iarnet;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iarnet-web-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>IARNet</title><div id="root"></div>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    n = await node(dir);
  });
  afterAll(() => n.stop());

  it('serves index.html at / and at client routes, anonymously, not cached', async () => {
    for (const path of [
      '/',
      '/login',
      '/compute',
      '/applications',
      '/monitor',
      '/nodes',
      '/users',
      '/tokens/x',
    ]) {
      const res = await n.app.request(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toContain('<div id="root">');
    }
  });

  it('serves hashed assets with a long cache, and top-level files', async () => {
    const res = await n.app.request('/assets/index-abc123.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await res.text()).toBe('console.log(1)');
    const icon = await n.app.request('/favicon.svg');
    expect(icon.status).toBe(200);
    expect((await n.app.request('/assets/missing.js')).status).toBe(404);
  });

  it('never answers API and core paths with the SPA', async () => {
    expect((await n.app.request('/api/nothing')).status).toBe(401);
    expect((await n.app.request('/status')).status).toBe(401);
    const health = await n.app.request('/healthz');
    expect(await health.json()).toEqual({ status: 'ok' });
    expect((await n.app.request('/openapi.json')).headers.get('content-type')).toMatch(/json/);
    expect(isReserved('/run')).toBe(true);
    expect(isReserved('/resources/x')).toBe(true);
    expect(isReserved('/running')).toBe(false);
    expect(isReserved('/compute')).toBe(false);
  });
});

describe('dashboard plugin without a build', () => {
  it('answers with a page that says to build it', async () => {
    const n = await node(join(tmpdir(), 'iarnet-no-such-dist'));
    try {
      const res = await n.app.request('/');
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run build:web');
      expect((await n.app.request('/healthz')).status).toBe(200);
    } finally {
      await n.stop();
    }
  });
});
