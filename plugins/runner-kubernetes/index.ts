/**
 * The Kubernetes runner plugin: resource type `kubernetes` — a cluster reached by API server
 * URL + bearer token (+ CA), or, in `mode: k8s`, the cluster this node runs in (detectDefault).
 * Each stored resource becomes a KubernetesRunner working in one namespace: the resource's
 * options.namespace, else `runner_kubernetes.namespace`.
 */
import type { Logger } from '../../core/kernel/logger.ts';
import { definePlugin } from '../../core/kernel/plugin.ts';
import { type ResourceConnection, type RunnerFactory, RunnerTypesKey } from '../../core/slots/runner.ts';
import { VERSION } from '../../core/version.ts';
import { type RunnerKubernetesConfig, runnerKubernetesConfigSchema } from './config.ts';
import { detectInCluster } from './in-cluster.ts';
import { KubernetesRunner } from './kubernetes-runner.ts';
import { hostPortErrors } from './pod-spec.ts';

export { LOCAL_KUBERNETES_RESOURCE_ID } from './in-cluster.ts';
export { KubernetesRunner } from './kubernetes-runner.ts';

type Env = Record<string, string | undefined>;

export function kubernetesRunnerFactory(
  config: RunnerKubernetesConfig,
  logger?: Logger,
  env: () => Env = () => process.env,
): RunnerFactory {
  return {
    type: 'kubernetes',
    // Replicated workloads run as Deployments (the application deployer's instances > 1).
    replicated: true,
    unsupported: (request) => hostPortErrors(request.ports),
    create(connection: ResourceConnection) {
      if (connection.tls?.skipVerify) {
        logger?.warn(
          { resource: connection.id },
          'kubernetes resource does not verify the API server certificate',
        );
      }
      return new KubernetesRunner(connection, { config, ...(logger ? { logger } : {}) });
    },
    detectDefault: async () => detectInCluster(env(), config.service_account_dir, config.namespace),
  };
}

export default definePlugin({
  name: 'runner-kubernetes',
  version: VERSION,
  configKey: 'runner_kubernetes',
  // The resources module provides the runner-type registry this plugin registers into.
  optionalDependencies: ['resources'],
  configSchema: runnerKubernetesConfigSchema,
  setup(ctx) {
    const types = ctx.tryUse(RunnerTypesKey);
    if (!types) {
      ctx.logger.warn('no runner-type registry is provided; kubernetes resources are unavailable');
      return;
    }
    types.register(kubernetesRunnerFactory(ctx.config, ctx.logger, () => ctx.runtime.env()));
  },
});
