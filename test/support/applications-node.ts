/**
 * A real node for the applications tests: storage (SQLite in a temp dir) + static auth + the git
 * plugin (optional) + the applications module, driven through the assembled HTTP app.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import applicationsPlugin from '../../core/domain/applications/plugin.ts';
import { createIarnet, type Iarnet } from '../../core/iarnet.ts';
import { loadConfig } from '../../core/kernel/config.ts';
import type { AnyPlugin } from '../../core/kernel/plugin.ts';
import { loadRuntime } from '../../core/runtime/index.ts';
import type { Role } from '../../core/slots/auth.ts';
import gitPlugin from '../../plugins/git/index.ts';
import storagePlugin from '../../plugins/storage/index.ts';
import { bearer, staticAuth } from './static-auth.ts';

export interface AppsNode {
  node: Iarnet;
  dataDir: string;
  rawLogs: string[];
  request(method: string, path: string, opts?: { role?: Role; body?: unknown }): Promise<Response>;
}

export async function startAppsNode(
  opts: {
    git?: Record<string, unknown> | false;
    dataDir?: string;
    applications?: Record<string, unknown>;
  } = {},
): Promise<AppsNode> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'iarnet-apps-'));
  const runtime = await loadRuntime();
  const rawLogs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void rawLogs.push(line) });
  const { core } = loadConfig({ overrides: { data_dir: dataDir } });
  const plugins = [storagePlugin, staticAuth, ...(opts.git === false ? [] : [gitPlugin]), applicationsPlugin];
  const node = await createIarnet({
    core,
    sections: {
      ...(opts.git === false ? {} : { git: opts.git ?? {} }),
      ...(opts.applications ? { applications: opts.applications } : {}),
    },
    plugins: plugins as AnyPlugin[],
    runtime,
    logger,
  });
  await node.start();
  return {
    node,
    dataDir,
    rawLogs,
    request(method, path, { role = 'operator', body } = {}) {
      return Promise.resolve(
        node.app.request(path, {
          method,
          headers: {
            ...bearer(role),
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
        }),
      );
    },
  };
}
