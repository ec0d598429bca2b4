/**
 * The Docker runner plugin: resource types `docker` (an engine on a unix socket or TCP, with
 * TLS client certificates or a bearer token for a token-checking proxy) and `vm` (a machine's
 * engine reached over SSH). It registers one RunnerFactory per type with the runner-type
 * registry the core resources module provides; each stored resource becomes a DockerRunner.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../core/kernel/logger.ts';
import { definePlugin } from '../../core/kernel/plugin.ts';
import { type ResourceConnection, type RunnerFactory, RunnerTypesKey } from '../../core/slots/runner.ts';
import { VERSION } from '../../core/version.ts';
import { type RunnerDockerConfig, runnerDockerConfigSchema } from './config.ts';
import { parseEndpoint } from './connection.ts';
import { DockerRunner } from './docker-runner.ts';

export { DockerRunner } from './docker-runner.ts';

/** Id of the resource a standalone node registers for its own engine. */
export const LOCAL_DOCKER_RESOURCE_ID = 'local-docker';

type Env = Record<string, string | undefined>;

export function dockerRunnerFactory(
  type: 'docker' | 'vm',
  config: RunnerDockerConfig,
  logger?: Logger,
  env: () => Env = () => process.env,
): RunnerFactory {
  const factory: RunnerFactory = {
    type,
    create(connection: ResourceConnection) {
      const ep = parseEndpoint(connection);
      if (ep.kind === 'tcp' && !ep.tls && connection.token) {
        logger?.warn(
          { resource: connection.id },
          'docker resource sends its bearer token over plain TCP (no TLS)',
        );
      }
      if (ep.kind === 'ssh' && typeof connection.options?.ssh_host_key !== 'string') {
        logger?.warn(
          { resource: connection.id },
          'ssh resource has no pinned host key (options.ssh_host_key)',
        );
      }
      return new DockerRunner(connection, { config, ...(logger ? { logger } : {}) });
    },
  };
  if (type === 'docker') factory.detectDefault = async () => detectLocalEngine(config, env(), logger);
  return factory;
}

/**
 * The engine this node runs next to: DOCKER_HOST (unix:// or tcp://, with DOCKER_CERT_PATH
 * when DOCKER_TLS_VERIFY=1) or else the configured socket, if it exists. Reachability is not
 * required here; an engine that is down makes the resource `unreachable`, not absent.
 */
export function detectLocalEngine(
  config: RunnerDockerConfig,
  env: Env,
  logger?: Logger,
): ResourceConnection | undefined {
  const base = { id: LOCAL_DOCKER_RESOURCE_ID, type: 'docker' };
  const host = env.DOCKER_HOST?.trim();
  if (host) {
    if (host.startsWith('unix://')) return { ...base, url: host };
    if (host.startsWith('tcp://')) {
      const conn: ResourceConnection = { ...base, url: host };
      const certPath = env.DOCKER_CERT_PATH;
      if (env.DOCKER_TLS_VERIFY === '1' && certPath) {
        try {
          conn.tls = {
            ca: readFileSync(join(certPath, 'ca.pem'), 'utf8'),
            cert: readFileSync(join(certPath, 'cert.pem'), 'utf8'),
            key: readFileSync(join(certPath, 'key.pem'), 'utf8'),
          };
        } catch (err) {
          logger?.warn({ err }, 'DOCKER_CERT_PATH is set but its ca/cert/key.pem cannot be read');
          return undefined;
        }
      }
      return conn;
    }
    logger?.info('DOCKER_HOST is neither unix:// nor tcp://; no local docker resource registered');
    return undefined;
  }
  try {
    if (statSync(config.default_socket).isSocket())
      return { ...base, url: `unix://${config.default_socket}` };
  } catch {
    // no socket: no local engine
  }
  return undefined;
}

export default definePlugin({
  name: 'runner-docker',
  version: VERSION,
  configKey: 'runner_docker',
  // The resources module provides the runner-type registry this plugin registers into.
  optionalDependencies: ['resources'],
  configSchema: runnerDockerConfigSchema,
  setup(ctx) {
    const types = ctx.tryUse(RunnerTypesKey);
    if (!types) {
      ctx.logger.warn('no runner-type registry is provided; docker and vm resources are unavailable');
      return;
    }
    const env = () => ctx.runtime.env();
    types.register(dockerRunnerFactory('docker', ctx.config, ctx.logger, env));
    types.register(dockerRunnerFactory('vm', ctx.config, ctx.logger, env));
  },
});
