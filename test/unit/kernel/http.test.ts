import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIarnet, type Iarnet } from '../../../core/iarnet.ts';
import { loadConfig } from '../../../core/kernel/config.ts';
import { requireRole } from '../../../core/kernel/guard.ts';
import { describe as doc } from '../../../core/kernel/openapi.ts';
import { type AnyPlugin, definePlugin } from '../../../core/kernel/plugin.ts';
import { validate } from '../../../core/kernel/validation.ts';
import hello from '../../../examples/hello-plugin/index.ts';
import { fakeRuntime } from '../../support/fake-runtime.ts';
import { bearer, staticAuth } from '../../support/static-auth.ts';

const echo = definePlugin({
  name: 'echo',
  version: '1.0.0',
  setup(ctx) {
    ctx.http.routes((app) => {
      app.post(
        '/api/echo',
        doc({ summary: 'Echo', tags: ['test'], body: true, responses: { 200: { description: 'ok' } } }),
        requireRole('operator'),
        validate(
          'json',
          v.strictObject({
            cpu: v.pipe(v.number(), v.minValue(0.001)),
            tags: v.optional(v.array(v.string())),
          }),
        ),
        (c) => c.json(c.req.valid('json')),
      );
      app.get(
        '/api/crash',
        doc({ summary: 'Crash', tags: ['test'], responses: { 200: { description: 'never' } } }),
        () => {
          throw new Error('secret internal detail');
        },
      );
    });
  },
}) as AnyPlugin;

let node: Iarnet;
beforeAll(async () => {
  node = await createIarnet({
    core: loadConfig({ overrides: { http: { body_limit: '1Ki' } } }).core,
    sections: { hello: { greeting: 'Ni hao' } },
    plugins: [staticAuth, echo, hello as AnyPlugin],
    runtime: fakeRuntime(),
  });
  await node.start();
});
afterAll(() => node.stop());

const req = (path: string, init: RequestInit = {}) => node.app.request(path, init);

describe('HTTP kernel', () => {
  it('serves health and readiness anonymously', async () => {
    expect(await (await req('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await req('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', state: 'started' });
  });

  it('requires credentials everywhere else (default deny) and gives the error shape', async () => {
    const res = await req('/api/hello/world');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    const body = await res.json();
    expect(body).toMatchObject({ error: 'Unauthorized', code: 'UNAUTHORIZED' });
    expect(typeof body.details).toBe('string');
    expect(body.requestId).toBe(res.headers.get('x-request-id'));
  });

  it('passes an auth hook rejection through as 401', async () => {
    const res = await req('/api/hello/world', { headers: { authorization: 'Bearer garbage' } });
    expect(res.status).toBe(401);
    expect((await res.json()).details).toBe('Unknown token');
  });

  it('runs the example plugin with its config, hook and service', async () => {
    const res = await req('/api/hello/world', { headers: bearer('viewer') });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ greeting: 'Ni hao, world!', count: 1 });
  });

  it('checks roles: 403 with the role named', async () => {
    const res = await req('/api/echo', {
      method: 'POST',
      headers: { ...bearer('viewer'), 'content-type': 'application/json' },
      body: '{"cpu":1}',
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({
      code: 'FORBIDDEN',
      details: expect.stringContaining('operator'),
    });
  });

  it('validates bodies with field errors at the full path', async () => {
    const res = await req('/api/echo', {
      method: 'POST',
      headers: { ...bearer('operator'), 'content-type': 'application/json' },
      body: JSON.stringify({ cpu: -1, tags: ['ok', 5] }),
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.code).toBe('VALIDATION_FAILED');
    expect(body.fields.map((f: { path: string }) => f.path).sort()).toEqual(['cpu', 'tags.1']);
  });

  it('refuses unknown keys', async () => {
    const res = await req('/api/echo', {
      method: 'POST',
      headers: { ...bearer('operator'), 'content-type': 'application/json' },
      body: JSON.stringify({ cpu: 1, privileged: true }),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).fields[0].path).toBe('privileged');
  });

  it('answers malformed JSON, wrong content type and oversized bodies with clear errors', async () => {
    const malformed = await req('/api/echo', {
      method: 'POST',
      headers: { ...bearer('operator'), 'content-type': 'application/json' },
      body: '{"cpu":',
    });
    expect(malformed.status).toBe(400);
    expect((await malformed.json()).code).toBe('MALFORMED_JSON');

    const text = await req('/api/echo', {
      method: 'POST',
      headers: { ...bearer('operator'), 'content-type': 'text/plain' },
      body: 'cpu=1',
    });
    expect(text.status).toBe(415);
    expect((await text.json()).code).toBe('UNSUPPORTED_MEDIA_TYPE');

    const big = await req('/api/echo', {
      method: 'POST',
      headers: { ...bearer('operator'), 'content-type': 'application/json' },
      body: JSON.stringify({ cpu: 1, tags: ['x'.repeat(2000)] }),
    });
    expect(big.status).toBe(413);
    expect((await big.json()).code).toBe('BODY_TOO_LARGE');
  });

  it('hides internal errors behind a 500 with a request id', async () => {
    const res = await req('/api/crash', { headers: bearer('viewer') });
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body.code).toBe('INTERNAL');
    expect(JSON.stringify(body)).not.toContain('secret internal detail');
  });

  it('answers unknown routes with the error shape', async () => {
    const res = await req('/api/nope', { headers: bearer('viewer') });
    expect(res.status).toBe(404);
    expect((await res.json()).code).toBe('NOT_FOUND');
  });

  it('serves an OpenAPI 3.1 document with every route, security and the shared error schema', async () => {
    const spec = (await (await req('/openapi.json')).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
      tags: { name: string }[];
      components: { schemas: Record<string, unknown> };
    };
    expect(spec.openapi).toBe('3.1.0');
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining(['/healthz', '/readyz', '/openapi.json', '/api/echo', '/api/hello/{name}']),
    );
    expect(spec.paths['/healthz']?.get?.security).toEqual([]);
    expect(spec.paths['/api/echo']?.post?.security).toEqual([{ bearerAuth: [] }]);
    expect(Object.keys(spec.paths['/api/echo']?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400', '401', '403', '413', '415']),
    );
    expect(spec.components.schemas.Error).toBeDefined();
    expect(spec.tags).toContainEqual(expect.objectContaining({ name: 'hello' }));
    expect(spec.paths['/docs']).toBeUndefined();
  });

  it('serves the API reference page with local assets', async () => {
    const page = await req('/docs');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('/docs/assets/swagger-ui-bundle.js');
    expect(html).not.toMatch(/https?:\/\//);
    const js = await req('/docs/assets/swagger-ui-bundle.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
    expect((await js.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
    expect((await req('/docs/assets/..%2Fpackage.json')).status).toBe(404);
  });
});
