/**
 * A real node for the resources tests: storage (SQLite in a temp dir) + static auth + the
 * resources plugin + a scripted runner plugin whose engines answer as each test says. Nothing
 * here talks to Docker; test/integration/resources.test.ts does.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll } from 'vitest';
import resourcesPlugin from '../../core/domain/resources/plugin.ts';
import { createIarnet, type Iarnet } from '../../core/iarnet.ts';
import { loadConfig } from '../../core/kernel/config.ts';
import { type AnyPlugin, definePlugin } from '../../core/kernel/plugin.ts';
import { loadRuntime } from '../../core/runtime/index.ts';
import {
  type Capacity,
  type ResourceConnection,
  type Runner,
  type RunnerFactory,
  RunnerTypesKey,
  RunnerUnreachableError,
} from '../../core/slots/runner.ts';
import storagePlugin from '../../plugins/storage/index.ts';
import { bearer, staticAuth } from '../support/static-auth.ts';

export const GiB = 2 ** 30;
export const LOCAL_SOCKET = 'unix:///fake/local-docker.sock';
export const DEFAULT_CAPACITY: Capacity = {
  cpu: 8,
  memory: 16 * GiB,
  gpu: 0,
  storage: 100 * GiB,
  description: 'Fake Docker 1.0',
};

/** How the engine behind a URL answers capacity(). */
export type Behaviour =
  | { kind: 'ok'; capacity?: Capacity }
  | { kind: 'unreachable'; why?: string }
  | { kind: 'throw'; message: string }
  | { kind: 'hang' }
  | { kind: 'garbage'; value: unknown };

/** Scripted engines, keyed by the URL the runner receives (after pinning). Default: ok. */
export class FakeEngines {
  readonly behaviours = new Map<string, Behaviour>();
  readonly connections: ResourceConnection[] = [];
  readonly closed: Runner[] = [];
  readonly created: (Runner & { connection: ResourceConnection })[] = [];
  localEngine: ResourceConnection | undefined = { id: 'x', type: 'docker', url: LOCAL_SOCKET };
  createError: string | undefined;

  set(url: string, b: Behaviour): void {
    this.behaviours.set(url, b);
  }

  factory(type: string, withDetect = false): RunnerFactory {
    const f: RunnerFactory = {
      type,
      create: (connection) => {
        if (this.createError) throw new Error(this.createError);
        this.connections.push(connection);
        const engines = this;
        const runner = {
          type,
          connection,
          async capacity(): Promise<Capacity> {
            const b = engines.behaviours.get(connection.url) ?? { kind: 'ok' };
            switch (b.kind) {
              case 'ok':
                return { ...(b.capacity ?? DEFAULT_CAPACITY) };
              case 'unreachable':
                throw Object.assign(new RunnerUnreachableError('down'), {
                  kind: b.why ?? 'connection refused',
                });
              case 'throw':
                throw new Error(b.message);
              case 'hang':
                return new Promise<Capacity>(() => {});
              case 'garbage':
                return b.value as Capacity;
            }
          },
          async close() {
            engines.closed.push(runner as unknown as Runner);
          },
        } as unknown as Runner & { connection: ResourceConnection };
        this.created.push(runner);
        return runner;
      },
    };
    if (withDetect) f.detectDefault = async () => this.localEngine;
    return f;
  }
}

export interface ResourcesNode {
  node: Iarnet;
  dataDir: string;
  engines: FakeEngines;
  rawLogs: string[];
  request(
    method: string,
    path: string,
    opts?: { role?: 'viewer' | 'operator' | 'admin' | null; body?: unknown; raw?: string },
  ): Promise<Response>;
  json<T = Record<string, unknown>>(
    method: string,
    path: string,
    opts?: { role?: 'viewer' | 'operator' | 'admin' | null; body?: unknown },
  ): Promise<{ status: number; body: T }>;
}

const started: Iarnet[] = [];
afterAll(async () => {
  for (const n of started) await n.stop().catch(() => {});
});

export async function startResourcesNode(
  opts: {
    dataDir?: string;
    mode?: 'standalone' | 'k8s';
    resources?: Record<string, unknown>;
    engines?: FakeEngines;
    /** Runner types the scripted plugin registers (docker detects the local engine). */
    types?: string[];
    plugins?: AnyPlugin[];
    start?: boolean;
  } = {},
): Promise<ResourcesNode> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'iarnet-resources-'));
  const engines = opts.engines ?? new FakeEngines();
  const types = opts.types ?? ['docker', 'vm'];
  const fakeRunners = definePlugin({
    name: 'fake-runners',
    version: '0.0.0',
    dependencies: ['resources'],
    setup(ctx) {
      const registry = ctx.use(RunnerTypesKey);
      for (const t of types) registry.register(engines.factory(t, t === 'docker'));
    },
  }) as AnyPlugin;
  const rawLogs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void rawLogs.push(line) });
  const { core } = loadConfig({ overrides: { data_dir: dataDir, mode: opts.mode ?? 'standalone' } });
  const node = await createIarnet({
    core,
    sections: { resources: { refresh_interval: 0, test_timeout: 1, ...opts.resources } },
    plugins: [
      storagePlugin,
      staticAuth,
      resourcesPlugin,
      fakeRunners,
      ...(opts.plugins ?? []),
    ] as AnyPlugin[],
    runtime: await loadRuntime(),
    logger,
  });
  started.push(node);
  if (opts.start !== false) await node.start();
  const request: ResourcesNode['request'] = (method, path, { role = 'admin', body, raw } = {}) =>
    Promise.resolve(
      node.app.request(path, {
        method,
        headers: {
          ...(role ? bearer(role) : {}),
          ...(body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
      }),
    );
  return {
    node,
    dataDir,
    engines,
    rawLogs,
    request,
    async json(method, path, o) {
      const res = await request(method, path, o);
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as never };
    },
  };
}

export interface ResourceBody {
  id: string;
  name: string;
  type: string;
  url: string;
  status: string;
  statusReason?: string;
  cpu: { total: number; used: number; available: number };
  memory: { total: number; used: number; available: number };
  storage: { total: number; used: number; available: number };
  gpu?: { total: number; used: number; available: number };
  capacity?: { cpu: number; memory: number; gpu: number; storage?: number; description?: string };
  limits?: { cpu?: number; memory?: number; gpu?: number };
  tags: string[];
  hasToken: boolean;
  credentials: Record<string, unknown>;
  builtin: boolean;
  lastUpdated: string;
  createdAt: string;
  updatedAt: string;
  description?: string;
  location?: string;
}

export interface ErrorBody {
  error: string;
  details: string;
  code: string;
  fields?: { path: string; message: string }[];
}
