/**
 * The OpenAPI document and an API reference page. The page's assets come from the
 * swagger-ui-dist npm package and are served locally: IARNet never loads anything from a CDN.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import type { OpenApiDocument } from '../kernel/core-hooks.ts';
import { notFound } from '../kernel/errors.ts';
import { describe } from '../kernel/openapi.ts';
import type { App } from '../kernel/plugin.ts';

const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>IARNet API reference</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/init.js"></script>
</body>
</html>`;

// A separate file instead of an inline script, so a strict Content-Security-Policy can apply.
const INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, persistAuthorization: false });`;

let assetDir: string | undefined;
const assetCache = new Map<string, Uint8Array<ArrayBuffer>>();

async function asset(name: string): Promise<Uint8Array<ArrayBuffer>> {
  const cached = assetCache.get(name);
  if (cached) return cached;
  assetDir ??= dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const bytes = new Uint8Array(await readFile(join(assetDir, name)));
  assetCache.set(name, bytes);
  return bytes;
}

export function docsRoutes(app: App, spec: () => Promise<OpenApiDocument>): void {
  app.get(
    '/openapi.json',
    describe({
      summary: 'This OpenAPI 3.1 document',
      tags: ['meta'],
      anonymous: true,
      responses: { 200: { description: 'The document', schema: v.record(v.string(), v.unknown()) } },
    }),
    async (c) => c.json(await spec()),
  );
  app.get('/docs', describeRoute({ hide: true }), (c) => c.html(PAGE));
  app.get('/docs/assets/:name', describeRoute({ hide: true }), async (c) => {
    const name = c.req.param('name');
    if (name === 'init.js') return c.body(INIT, 200, { 'content-type': 'text/javascript; charset=utf-8' });
    const type = ASSETS[name];
    if (!type) throw notFound(`Asset ${name}`);
    return c.body(await asset(name), 200, {
      'content-type': type,
      'cache-control': 'public, max-age=86400',
    });
  });
}
