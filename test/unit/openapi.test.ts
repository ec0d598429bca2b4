/**
 * The committed spec is the contract the dashboard and generated clients build on:
 * it must be current, valid OpenAPI 3.1, and cover every route the default node serves.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validate } from '@scalar/openapi-parser';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/kernel/config.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import { createNode } from '../../core/main.ts';
import { loadRuntime } from '../../core/runtime/index.ts';
import { generateSpecText } from '../../scripts/gen-openapi.ts';
import { ROOT } from '../support/runtimes.ts';

const committedText = readFileSync(join(ROOT, 'openapi/openapi.json'), 'utf8');
const committed = JSON.parse(committedText) as {
  paths: Record<string, Record<string, { responses: Record<string, { description?: string }> }>>;
};

describe('openapi/openapi.json', () => {
  it('matches what the code generates (run `npm run gen:openapi` after changing routes)', async () => {
    expect(await generateSpecText()).toBe(committedText);
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await validate(committedText);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(result.version).toBe('3.1');
  });

  it('describes every response of every operation', () => {
    for (const [path, ops] of Object.entries(committed.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(Object.keys(op.responses).length, `${method} ${path}`).toBeGreaterThan(0);
        for (const [status, response] of Object.entries(op.responses)) {
          expect(response.description, `${method} ${path} ${status}`).toBeTruthy();
        }
      }
    }
  });

  it('contains every route the default node serves', async () => {
    const loaded = loadConfig({ overrides: { data_dir: mkdtempSync(join(tmpdir(), 'iarnet-routes-')) } });
    const node = await createNode(loaded, {
      runtime: await loadRuntime(),
      logger: silentLogger(),
      baseDir: ROOT,
    });
    try {
      const served = node.app.routes
        .filter((r) => r.method !== 'ALL' && !r.path.startsWith('/docs'))
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
      const documented = Object.entries(committed.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m} ${path}`),
      );
      expect(served.length).toBeGreaterThan(5);
      for (const route of new Set(served)) expect(documented, route).toContain(route);
    } finally {
      await node.stop();
    }
  });

  it('matches the dashboard’s generated client types (run `npm run gen:client` after changing the spec)', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'iarnet-client-')), 'schema.d.ts');
    const gen = spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules/openapi-typescript/bin/cli.js'),
        join(ROOT, 'openapi/openapi.json'),
        '-o',
        out,
      ],
      { encoding: 'utf8' },
    );
    expect(gen.status, gen.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(ROOT, 'web/src/api/schema.d.ts'), 'utf8'));
  });
});
