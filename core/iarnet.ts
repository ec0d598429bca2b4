/**
 * One IARNet node in a process: a plugin host plus the assembled HTTP app.
 * createIarnet() sets plugins up; start() starts them; listen() serves HTTP; stop() drains and stops.
 * Tests use it in-process; the CLI uses it for the real thing.
 */
import { readFile } from 'node:fs/promises';
import { docsRoutes } from './api/docs.ts';
import { healthRoutes } from './api/health.ts';
import { type CoreConfig, splitAddress } from './kernel/config.ts';
import type { OpenApiDocument } from './kernel/core-hooks.ts';
import { assembleApp } from './kernel/http.ts';
import { PluginHost } from './kernel/loader.ts';
import { type Logger, silentLogger } from './kernel/logger.ts';
import { buildSpec } from './kernel/openapi.ts';
import type { AnyPlugin, App } from './kernel/plugin.ts';
import type { RunningServer, Runtime } from './runtime/types.ts';
import { VERSION } from './version.ts';

export interface IarnetOptions {
  core: CoreConfig;
  sections?: Record<string, unknown>;
  plugins: AnyPlugin[];
  reservedKeys?: string[];
  runtime: Runtime;
  logger?: Logger;
}

export interface Iarnet {
  host: PluginHost;
  app: App;
  logger: Logger;
  /** The OpenAPI document of every mounted route, generated once. */
  spec(): Promise<OpenApiDocument>;
  start(): Promise<void>;
  /** Serve HTTP on listen_addr (TLS when tls.enabled). */
  listen(): Promise<RunningServer & { url: string }>;
  /** Drain HTTP (up to http.shutdown_grace), then stop plugins in reverse order. */
  stop(): Promise<void>;
}

/** Routes every node serves without credentials. */
const CORE_ANONYMOUS = [
  { method: 'GET', pattern: '/healthz' },
  { method: 'GET', pattern: '/readyz' },
  { method: 'GET', pattern: '/openapi.json' },
  { method: 'GET', pattern: '/docs' },
  { method: 'GET', pattern: '/docs/*' },
];

export async function createIarnet(opts: IarnetOptions): Promise<Iarnet> {
  const logger = opts.logger ?? silentLogger();
  const host = new PluginHost({
    plugins: opts.plugins,
    core: opts.core,
    sections: opts.sections ?? {},
    reservedKeys: opts.reservedKeys ?? [],
    runtime: opts.runtime,
    logger,
  });
  await host.setup();
  host.anonymous.push(...CORE_ANONYMOUS);

  let specPromise: Promise<OpenApiDocument> | undefined;
  const spec = () => {
    specPromise ??= buildSpec(app as never, { version: VERSION }).then((doc) =>
      host.hooks.call('openapi:document', doc),
    );
    return specPromise;
  };
  const app = assembleApp(host, {
    bodyLimit: opts.core.http.body_limit,
    logger,
    coreRoutes: (a) => {
      healthRoutes(a, host);
      docsRoutes(a, spec);
    },
  });

  let server: RunningServer | undefined;
  return {
    host,
    app,
    logger,
    spec,
    start: () => host.start(),
    async listen() {
      const { host: hostname, port } = splitAddress(opts.core.listen_addr);
      const tlsConfig = opts.core.tls;
      const tls = tlsConfig.enabled
        ? {
            cert: await readFile(tlsConfig.cert_file!, 'utf8'),
            key: await readFile(tlsConfig.key_file!, 'utf8'),
          }
        : undefined;
      server = await opts.runtime.serve(app.fetch, { hostname, port, ...(tls ? { tls } : {}) });
      const shown = hostname === '0.0.0.0' || hostname === '::' ? '127.0.0.1' : hostname;
      const url = `${tls ? 'https' : 'http'}://${shown.includes(':') ? `[${shown}]` : shown}:${server.port}`;
      logger.info({ url, port: server.port, runtime: opts.runtime.name, version: VERSION }, 'listening');
      await host.hooks.call('http:listening', { url, port: server.port });
      return Object.assign(server, { url });
    },
    async stop() {
      const current = server;
      server = undefined;
      try {
        await current?.close(opts.core.http.shutdown_grace * 1000);
      } finally {
        await host.stop();
      }
    },
  };
}
