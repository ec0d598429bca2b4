/**
 * An in-process IARNet node with the platform plugins (storage, resources, Docker runner,
 * platform) and the test-only static auth, against the real Docker engine. Containers carry
 * `iarnet.node=<nodeId>`; removeNodeContainers() cleans them up by that label.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import platformPlugin from '../../core/domain/platform-plugin.ts';
import resourcesPlugin from '../../core/domain/resources/plugin.ts';
import { createIarnet, type Iarnet } from '../../core/iarnet.ts';
import { loadConfig } from '../../core/kernel/config.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import type { AnyPlugin } from '../../core/kernel/plugin.ts';
import { loadRuntime } from '../../core/runtime/index.ts';
import runnerDocker from '../../plugins/runner-docker/index.ts';
import storagePlugin from '../../plugins/storage/index.ts';
import { staticAuth } from './static-auth.ts';

export interface PlatformNodeOptions {
  nodeId?: string;
  dataDir?: string;
  limits?: { cpu?: string | number; memory?: string; gpu?: string | number };
  sections?: Record<string, unknown>;
}

export async function startPlatformNode(
  opts: PlatformNodeOptions = {},
): Promise<Iarnet & { nodeId: string; dataDir: string }> {
  const nodeId = opts.nodeId ?? `test-${randomBytes(4).toString('hex')}`;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'iarnet-platform-'));
  const loaded = loadConfig({
    overrides: {
      node_id: nodeId,
      data_dir: dataDir,
      resource_limits: { cpu: '4', memory: '4Gi', gpu: '0', ...opts.limits },
    },
  });
  const node = await createIarnet({
    core: loaded.core,
    sections: { platform: { reconcile_interval: 3600, start_grace: 5 }, ...opts.sections },
    plugins: [storagePlugin, resourcesPlugin, runnerDocker, platformPlugin, staticAuth] as AnyPlugin[],
    runtime: await loadRuntime(),
    logger: silentLogger(),
  });
  await node.start();
  return Object.assign(node, { nodeId, dataDir });
}

export const docker = (socketPath = '/var/run/docker.sock') => new Docker({ socketPath });

export async function nodeContainers(nodeId: string, socketPath?: string) {
  return docker(socketPath).listContainers({ all: true, filters: { label: [`iarnet.node=${nodeId}`] } });
}

export async function removeNodeContainers(nodeId: string, socketPath?: string): Promise<void> {
  const d = docker(socketPath);
  for (const c of await nodeContainers(nodeId, socketPath))
    await d
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => {});
}
