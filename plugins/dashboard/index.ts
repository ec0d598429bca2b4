/**
 * Serves the SolidJS dashboard (web/, built by `vite build web` into web/dist) at `/`:
 *  - /assets/*  content-hashed files, cached for a year (immutable);
 *  - files at the top of web/dist (favicon.svg, …);
 *  - every other GET that is not an API or core path gets index.html (SPA fallback), no-cache.
 * The static paths and the dashboard's client routes are anonymous (the app itself logs in
 * through /api/auth/login). When web/dist is missing the node still runs; these paths answer
 * with a short page saying how to build the dashboard.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'hono';
import { definePlugin } from '../../core/kernel/plugin.ts';
import { VERSION } from '../../core/version.ts';
import { dashboardConfigSchema } from './config.ts';

/** Paths the SPA fallback never answers: the API and the core's own endpoints. */
export const RESERVED_PREFIXES = [
  '/api',
  '/metrics',
  '/openapi.json',
  '/docs',
  '/healthz',
  '/readyz',
  '/run',
  '/resources',
  '/status',
] as const;

/** The dashboard's client routes (web/src/App.tsx); a browser may open them directly. */
export const CLIENT_ROUTES = [
  '/login',
  '/compute',
  '/applications',
  '/monitor',
  '/nodes',
  '/users',
  '/tokens',
] as const;

export function isReserved(path: string): boolean {
  return RESERVED_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`));
}

/** web/dist beside the sources (plugins/dashboard) or beside the compiled files (dist/plugins/dashboard). */
export function defaultDistDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [resolve(here, '../../web/dist'), resolve(here, '../../../web/dist')];
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? candidates[0]!;
}

const MISSING_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>IARNet</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem">
<h1>IARNet</h1><p>The dashboard has not been built. Run <code>npm run build:web</code>
(or <code>npm run build</code>) and restart the node.</p>
<p>仪表盘尚未构建：请运行 <code>npm run build:web</code> 后重启节点。</p>
<p>The API is available: <a href="/docs">/docs</a>.</p></body></html>`;

const IMMUTABLE = 'public, max-age=31536000, immutable';

export default definePlugin({
  name: 'dashboard',
  version: VERSION,
  configSchema: dashboardConfigSchema,
  setup(ctx) {
    const dir = ctx.config.dir
      ? isAbsolute(ctx.config.dir)
        ? ctx.config.dir
        : resolve(ctx.config.dir)
      : defaultDistDir();
    const indexFile = join(dir, 'index.html');
    const built = existsSync(indexFile);
    if (!built) {
      ctx.logger.warn(
        { dir },
        'dashboard not built (no index.html); run `npm run build:web` to serve it at /',
      );
    }

    ctx.http.allowAnonymous('GET', '/');
    ctx.http.allowAnonymous('GET', '/index.html');
    ctx.http.allowAnonymous('GET', '/favicon.svg');
    ctx.http.allowAnonymous('GET', '/assets/*');
    for (const route of CLIENT_ROUTES) {
      ctx.http.allowAnonymous('GET', route);
      ctx.http.allowAnonymous('GET', `${route}/*`);
    }

    const files = built ? ctx.runtime.serveStatic({ root: dir }) : undefined;
    const assets = built
      ? ctx.runtime.serveStatic({ root: join(dir, 'assets'), prefix: '/assets' })
      : undefined;

    const sendIndex = async (c: Context) => {
      if (!built) return c.html(MISSING_PAGE, 503, { 'cache-control': 'no-store' });
      try {
        const html = await readFile(indexFile, 'utf8');
        return c.html(html, 200, { 'cache-control': 'no-cache' });
      } catch {
        return c.html(MISSING_PAGE, 503, { 'cache-control': 'no-store' });
      }
    };

    const isRead = (c: Context) => c.req.method === 'GET' || c.req.method === 'HEAD';
    // Registered as handlers for all methods (app.use) that only act on GET/HEAD: they are not
    // API operations, so they stay out of the OpenAPI document and its route-coverage check.
    ctx.http.routes((app) => {
      app.use('/assets/*', async (c, next) => {
        if (!assets || !isRead(c)) return next();
        const res = await assets(c, next);
        if (res instanceof Response && res.ok) res.headers.set('cache-control', IMMUTABLE);
        else if (c.res.ok && c.res.headers.get('content-type')) c.header('cache-control', IMMUTABLE);
        return res;
      });
      app.use('*', async (c, next) => {
        const path = c.req.path;
        if (!isRead(c) || isReserved(path) || path.startsWith('/assets/')) return next();
        if (path === '/' || path === '/index.html') return sendIndex(c);
        // A file at the top of web/dist (favicon.svg, robots.txt, …).
        if (files && /^\/[^/]+\.[A-Za-z0-9]+$/.test(path)) {
          let served = true;
          const res = await files(c, async () => {
            served = false;
          });
          if (served && res instanceof Response) return res;
          if (served && c.res.ok) return c.res;
          return next();
        }
        return sendIndex(c);
      });
    });
  },
});
