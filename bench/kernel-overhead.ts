/**
 * What the kernel adds to a request: the assembled app (request id, body limit, content-type
 * check, auth guard through the hook registry, role check, validation, error model) against a
 * bare Hono app doing the same validation, both called in-process through app.fetch so the
 * figure is the kernel's, not the network's. A/B batches alternate; the median ratio is quoted.
 * Target: median ratio ≤ 2.0 (the kernel at most doubles the cost of a trivial JSON route).
 */
import { Hono } from 'hono';
import * as v from 'valibot';
import { createIarnet } from '../core/iarnet.ts';
import { loadConfig } from '../core/kernel/config.ts';
import { requireRole } from '../core/kernel/guard.ts';
import { describe } from '../core/kernel/openapi.ts';
import { type AnyPlugin, definePlugin } from '../core/kernel/plugin.ts';
import { validate } from '../core/kernel/validation.ts';
import { fakeRuntime } from '../test/support/fake-runtime.ts';
import { bearer, staticAuth } from '../test/support/static-auth.ts';

const Body = v.strictObject({ cpu: v.number(), memory: v.number() });
const TARGET = 2.0;
const PAIRS = 31;
const BATCH = 2_000;

const route = definePlugin({
  name: 'bench-route',
  version: '0',
  setup(ctx) {
    ctx.http.routes((app) =>
      app.post(
        '/api/bench',
        describe({
          summary: 'bench',
          tags: ['bench'],
          body: true,
          responses: { 200: { description: 'ok' } },
        }),
        requireRole('operator'),
        validate('json', Body),
        (c) => c.json(c.req.valid('json')),
      ),
    );
  },
}) as AnyPlugin;

export async function run(): Promise<{ name: string; figure: string; target: string; pass: boolean }> {
  const node = await createIarnet({
    core: loadConfig({}).core,
    plugins: [staticAuth, route],
    runtime: fakeRuntime(),
  });
  await node.start();
  const bare = new Hono();
  bare.post('/api/bench', async (c) => c.json(v.parse(Body, await c.req.json())));

  const body = JSON.stringify({ cpu: 1, memory: 0.5 });
  const headers = {
    ...bearer('operator'),
    'content-type': 'application/json',
    'content-length': String(body.length),
  };
  const call = (fetcher: (r: Request) => Response | Promise<Response>) =>
    fetcher(new Request('http://bench/api/bench', { method: 'POST', headers, body }));

  const batch = async (fetcher: (r: Request) => Response | Promise<Response>) => {
    const t0 = performance.now();
    for (let i = 0; i < BATCH; i++) {
      const res = await call(fetcher);
      if (res.status !== 200) throw new Error(`unexpected ${res.status}`);
      await res.arrayBuffer();
    }
    return (performance.now() - t0) / BATCH;
  };
  // Warm both paths (JIT, caches) before measuring.
  await batch(node.app.fetch);
  await batch(bare.fetch);

  const ratios: number[] = [];
  const kernelUs: number[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const first = i % 2 === 0;
    const a = first ? await batch(node.app.fetch) : 0;
    const b = await batch(bare.fetch);
    const k = first ? a : await batch(node.app.fetch);
    ratios.push(k / b);
    kernelUs.push(k * 1000);
  }
  await node.stop();
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const ratio = median(ratios);
  return {
    name: 'kernel request overhead (assembled app vs bare Hono, in-process)',
    figure: `median ratio ${ratio.toFixed(2)} (kernel ${median(kernelUs).toFixed(1)} µs/request, ${PAIRS} alternating pairs of ${BATCH})`,
    target: `ratio ≤ ${TARGET}`,
    pass: ratio <= TARGET,
  };
}
