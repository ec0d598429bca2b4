/**
 * The cluster IARNet runs in (`mode: k8s`): KUBERNETES_SERVICE_HOST/PORT from the pod's
 * environment and the ServiceAccount's token, CA and namespace files. The token is passed as a
 * file path, not a copy, so the runner follows its rotation.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { join } from 'node:path';
import type { ResourceConnection } from '../../core/slots/runner.ts';
import { NAMESPACE_RE } from './config.ts';

/** Id of the resource a k8s-mode node registers for its own cluster. */
export const LOCAL_KUBERNETES_RESOURCE_ID = 'local-kubernetes';

type Env = Record<string, string | undefined>;

export function detectInCluster(
  env: Env,
  serviceAccountDir: string,
  fallbackNamespace: string,
): ResourceConnection | undefined {
  const host = env.KUBERNETES_SERVICE_HOST?.trim();
  const port = env.KUBERNETES_SERVICE_PORT?.trim() || '443';
  if (!host || !/^\d{1,5}$/.test(port)) return undefined;
  const tokenFile = join(serviceAccountDir, 'token');
  const caFile = join(serviceAccountDir, 'ca.crt');
  if (!existsSync(tokenFile)) return undefined;
  let ca: string | undefined;
  try {
    ca = readFileSync(caFile, 'utf8');
  } catch {
    ca = undefined;
  }
  let namespace = fallbackNamespace;
  try {
    const ns = readFileSync(join(serviceAccountDir, 'namespace'), 'utf8').trim();
    if (NAMESPACE_RE.test(ns)) namespace = ns;
  } catch {
    // no namespace file: the configured one
  }
  const shownHost = isIPv6(host) ? `[${host}]` : host;
  return {
    id: LOCAL_KUBERNETES_RESOURCE_ID,
    type: 'kubernetes',
    url: `https://${shownHost}:${port}`,
    ...(ca ? { tls: { ca } } : {}),
    options: { namespace, token_file: tokenFile },
  };
}
