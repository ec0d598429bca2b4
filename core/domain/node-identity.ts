/**
 * A node's stable identity: `node_id` from config, else generated once and kept in the data dir,
 * so labels on workloads (iarnet.node) still match after a restart.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const VALID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function loadNodeId(dataDir: string, configured?: string): string {
  if (configured) return configured;
  const file = join(dataDir, 'node-id');
  if (existsSync(file)) {
    const id = readFileSync(file, 'utf8').trim();
    if (VALID.test(id)) return id;
    throw new Error(`${file} does not hold a valid node id (a DNS label)`);
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const id = `node-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(file, `${id}\n`, { flag: 'wx', mode: 0o644 });
    return id;
  } catch (e) {
    // Another process won the race: use its id.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw e;
  }
}
