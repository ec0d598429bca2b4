/**
 * Runtime conformance: the same black-box checks against a real `iarnet` process on
 * Node 20, Node 24, Bun and Deno. Later capabilities add their checks here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runtimeCommands, unavailable } from '../support/runtimes.ts';
import { type RunningIarnet, spawnIarnet } from '../support/spawn-iarnet.ts';

const ADMIN_PASSWORD = 'conformance-admin-password-1';
const committedSpec = JSON.parse(readFileSync(join(ROOT, 'openapi/openapi.json'), 'utf8'));

for (const runtime of runtimeCommands()) {
  const run =
    runtime.missing && unavailable(`${runtime.name}: ${runtime.missing}`) === 'skip'
      ? describe.skip
      : describe;

  run(`runtime ${runtime.name}`, () => {
    let node: RunningIarnet;
    let token: string;

    beforeAll(async () => {
      node = await spawnIarnet(runtime.argv, { env: { IARNET_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    });
    afterAll(async () => {
      await node?.stop('SIGKILL').catch(() => {});
    });

    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${node.url}${path}`, { headers });

    it('is alive and ready', async () => {
      expect((await get('/healthz')).status).toBe(200);
      const ready = await get('/readyz');
      expect(await ready.json()).toMatchObject({ status: 'ready' });
      expect(ready.status).toBe(200);
    });

    it('logs in the bootstrap admin', async () => {
      const res = await fetch(`${node.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
      });
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.user).toMatchObject({ username: 'admin', role: 'admin' });
      token = body.token;
      expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    });

    it('answers an authorized call and refuses an unauthorized one', async () => {
      const me = await get('/api/auth/me', { authorization: `Bearer ${token}` });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ name: 'admin', role: 'admin' });
      const anon = await get('/api/auth/me');
      expect(anon.status).toBe(401);
      expect(await anon.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    });

    it('serves the committed OpenAPI document', async () => {
      expect(await (await get('/openapi.json')).json()).toEqual(committedSpec);
    });

    it('exposes Prometheus metrics with its build info', async () => {
      await get('/healthz');
      const res = await get('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      expect(text).toMatch(/^iarnet_build_info\{version="[^"]+",runtime="(node|bun|deno)-[^"]+"\} 1$/m);
      expect(text).toMatch(/^iarnet_http_requests_total\{.*route="\/healthz".*\} \d+$/m);
    });

    it('drains and exits cleanly on SIGTERM', async () => {
      expect(await node.stop('SIGTERM')).toBe(0);
      expect(node.logs.some((l) => l.msg === 'stopped')).toBe(true);
    });
  });
}
