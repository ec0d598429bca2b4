/**
 * The dashboard's budgets (issue 6), measured in headless Chromium against a real IARNet with a
 * real Docker engine:
 *   - initial JavaScript (the entry script and its modulepreloads), gzip -9: target ≤ 150 kB;
 *   - first meaningful render of the Status page (every container row drawn, from navigation
 *     start) with 100 applications deployed: target ≤ 1 s (median of 5 fresh loads);
 *   - a status change visible in the browser ≤ 1 s after it happens: a container is stopped
 *     through the API; from the server's `run:stopped` event time (`at`) to the moment the row's
 *     status changes in the page (max of 3).
 * Needs /usr/bin/chromium (or CHROMIUM_PATH), dockerd and the local test image. Builds web/ (and
 * the server when dist/ is missing). Run alone: `npx tsx bench/dashboard-budget.ts [apps]`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { ensureTestImage, TEST_IMAGE } from '../test/support/docker-env.ts';
import { ROOT } from '../test/support/runtimes.ts';
import { type RunningIarnet, spawnIarnet } from '../test/support/spawn-iarnet.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PASSWORD = 'bench-admin-password-1234';
const WEB_DIST = join(ROOT, 'web', 'dist');
const JS_BUDGET = 150 * 1024;
const RENDER_BUDGET_MS = 1000;
const CHANGE_BUDGET_MS = 1000;
const DEPLOY_CONCURRENCY = 6;
/** Exits at once on SIGTERM (a bare `sleep` as PID 1 ignores it and waits for the kill timeout). */
const COMMAND = ['sh', '-c', 'trap "exit 0" TERM; sleep 600 & wait'];

function build(): void {
  if (!existsSync(join(ROOT, 'dist/core/cli.js'))) {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  }
  execFileSync(join(ROOT, 'node_modules/.bin/vite'), ['build', 'web', '--logLevel', 'warn'], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'production' },
  });
}

export function initialJsGzip(): number {
  const html = readFileSync(join(WEB_DIST, 'index.html'), 'utf8');
  const files = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
  return files.reduce((sum, f) => sum + gzipSync(readFileSync(join(WEB_DIST, f)), { level: 9 }).length, 0);
}

/** page.goto, retried when Docker's interface changes abort the load. */
async function goto(page: import('playwright-core').Page, url: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await page.goto(url);
      return;
    } catch (err) {
      if (attempt >= 5 || !String(err).includes('ERR_NETWORK_CHANGED')) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

/** Events from /api/events in this process, to learn when a change happened on the server. */
function listen(url: string, token: string) {
  const events: { type: string; at: string; data: Record<string, unknown> }[] = [];
  const ctrl = new AbortController();
  void (async () => {
    const res = await fetch(`${url}/api/events`, {
      headers: { authorization: `Bearer ${token}` },
      signal: ctrl.signal,
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let i = buf.indexOf('\n\n');
      while (i >= 0) {
        const data = buf
          .slice(0, i)
          .split('\n')
          .find((l) => l.startsWith('data: '));
        if (data) events.push(JSON.parse(data.slice(6)));
        buf = buf.slice(i + 2);
        i = buf.indexOf('\n\n');
      }
    }
  })().catch(() => {});
  return { events, close: () => ctrl.abort() };
}

export async function run(): Promise<{ name: string; figure: string; target: string; pass: boolean }> {
  const apps = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 100);
  await ensureTestImage();
  build();
  const jsBytes = initialJsGzip();

  let node: RunningIarnet | undefined;
  const profile = mkdtempSync(join(tmpdir(), 'iarnet-bench-chromium-'));
  let browser: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
  const ids: string[] = [];
  let token = '';
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${node!.url}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    });
  try {
    node = await spawnIarnet(['node', 'dist/core/cli.js'], {
      env: {
        IARNET_ADMIN_PASSWORD: PASSWORD,
        ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
      },
    });
    const login = await fetch(`${node.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    const session = await login.json();
    token = session.token;

    // 100 applications, each one instance of the test image, deployed a few at a time.
    for (let i = 0; i < apps; i++) {
      const res = await api('/api/applications', {
        method: 'POST',
        body: JSON.stringify({
          name: `bench-${i}`,
          type: 'worker',
          image: TEST_IMAGE,
          command: COMMAND,
          resources: { cpu: 0.01, memory: 0.01 },
        }),
      });
      if (res.status !== 201) throw new Error(`create bench-${i}: ${res.status} ${await res.text()}`);
      ids.push(((await res.json()) as { id: string }).id);
    }
    const deployStart = Date.now();
    await pool(ids, DEPLOY_CONCURRENCY, async (id) => {
      const res = await api(`/api/applications/${id}/deploy`, { method: 'POST' });
      if (res.status !== 200) throw new Error(`deploy ${id}: ${res.status} ${await res.text()}`);
    });
    console.log(`      deployed ${apps} applications in ${Date.now() - deployStart} ms`);

    // Launched after the deploys: new container interfaces make Chromium abort loads
    // (net::ERR_NETWORK_CHANGED), so it starts once the network has settled.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
      headless: true,
      locale: 'en',
      viewport: { width: 1280, height: 800 },
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.addInitScript((s) => sessionStorage.setItem('iarnet.session', JSON.stringify(s)), session);
    const renders: number[] = [];
    for (let i = 0; i < 5; i++) {
      await goto(page, `${node.url}/monitor`);
      // performance.now() counts from navigation start.
      const handle = await page.waitForFunction(
        (n) => {
          // Both tables: every application's status row and every running container's row.
          const rows = document.querySelectorAll('[data-testid="container-row"][data-status="running"]');
          const apps = document.querySelectorAll('[data-testid="app-row"][data-status="running"]');
          return rows.length >= n && apps.length >= n ? Math.round(performance.now()) : false;
        },
        apps,
        { polling: 'raf', timeout: 30_000 },
      );
      renders.push((await handle.jsonValue()) as number);
    }
    renders.sort((a, b) => a - b);
    const renderMs = renders[2]!;

    // Live change: stop one container through the API and time its row's change in the page.
    await page.locator('[data-testid="live-indicator"][data-live="on"]').waitFor();
    const feed = listen(node.url, token);
    await new Promise((r) => setTimeout(r, 300));
    const containers = (
      (await (await api('/api/containers')).json()) as { items: { id: string; status: string }[] }
    ).items
      .filter((c) => c.status === 'running')
      .slice(0, 3);
    const changes: number[] = [];
    for (const c of containers) {
      const seen = page.waitForFunction(
        (id) => {
          const row = document.querySelector(`[data-testid="container-row"][data-id="${id}"]`);
          const s = row?.getAttribute('data-status');
          return s && s !== 'running' ? Date.now() : false;
        },
        c.id,
        { polling: 'raf', timeout: 30_000 },
      );
      const res = await api(`/api/containers/${c.id}/stop`, { method: 'POST' });
      if (!res.ok) throw new Error(`stop ${c.id}: ${res.status}`);
      const shownAt = (await (await seen).jsonValue()) as number;
      const event = feed.events.find((e) => e.type === 'run:stopped' && e.data.containerId === c.id);
      if (!event) throw new Error(`no run:stopped event for ${c.id}`);
      changes.push(shownAt - Date.parse(event.at));
    }
    feed.close();
    const changeMs = Math.max(...changes);

    const pass = jsBytes <= JS_BUDGET && renderMs <= RENDER_BUDGET_MS && changeMs <= CHANGE_BUDGET_MS;
    return {
      name: `dashboard: initial JS, Status page first render (${apps} applications), live status change`,
      figure:
        `initial JS ${(jsBytes / 1024).toFixed(1)} kB gzip; first render median ${renderMs} ms ` +
        `(runs ${renders.join(', ')}); status change visible after ${changeMs} ms (max of ${changes.join(', ')})`,
      target: 'initial JS ≤ 150 kB gzip; first render ≤ 1000 ms; status change visible ≤ 1000 ms',
      pass,
    };
  } finally {
    if (node && token) {
      await pool(ids, DEPLOY_CONCURRENCY, async (id) => {
        await api(`/api/applications/${id}/stop`, { method: 'POST' }).catch(() => {});
      });
    }
    await browser?.close();
    await node?.stop();
    if (node) rmSync(node.dataDir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run();
  console.log(`${r.pass ? 'MET ' : 'MISS'}  ${r.name}\n      figure: ${r.figure}\n      target: ${r.target}`);
  process.exitCode = r.pass ? 0 : 1;
}
