/**
 * Writes openapi/openapi.json: the spec of a node with every built-in plugin mounted,
 * generated offline (nothing listens). `--check` exits 1 when the committed file differs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../core/kernel/config.ts';
import { silentLogger } from '../core/kernel/logger.ts';
import { createNode } from '../core/main.ts';
import { loadRuntime } from '../core/runtime/index.ts';

export async function generateSpecText(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'iarnet-openapi-'));
  try {
    const loaded = loadConfig({ overrides: { data_dir: dataDir } });
    const node = await createNode(loaded, {
      runtime: await loadRuntime(),
      logger: silentLogger(),
      baseDir: process.cwd(),
    });
    try {
      return `${JSON.stringify(await node.spec(), null, 2)}\n`;
    } finally {
      await node.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const target = new URL('../openapi/openapi.json', import.meta.url);

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = await generateSpecText();
  if (process.argv.includes('--check')) {
    const committed = readFileSync(target, 'utf8');
    if (committed !== text) {
      console.error('openapi/openapi.json is out of date: run npm run gen:openapi and commit it');
      process.exit(1);
    }
    console.log('openapi/openapi.json is current');
  } else {
    writeFileSync(target, text);
    console.log(`wrote ${target.pathname}`);
  }
}
