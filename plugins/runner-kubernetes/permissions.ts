/**
 * "Test connection" for a cluster: ask the API server what this token may do
 * (SelfSubjectAccessReview — allowed for every authenticated user) and name what is missing.
 */
import type { AuthorizationV1Api } from '@kubernetes/client-node';

export interface Permission {
  verb: string;
  /** API group; the core group when absent. */
  group?: string;
  resource: string;
  subresource?: string;
  /** Cluster-scoped checks (nodes) carry no namespace. */
  clusterScoped?: boolean;
}

/**
 * What the runner needs: pods to run and watch workloads, their logs, nodes for capacity, and
 * Deployments for replicated workloads (an application's instances).
 */
export const REQUIRED_PERMISSIONS: readonly Permission[] = [
  { verb: 'create', resource: 'pods' },
  { verb: 'delete', resource: 'pods' },
  { verb: 'get', resource: 'pods' },
  { verb: 'list', resource: 'pods' },
  { verb: 'watch', resource: 'pods' },
  { verb: 'get', resource: 'pods', subresource: 'log' },
  { verb: 'list', resource: 'nodes', clusterScoped: true },
  ...(['create', 'delete', 'get', 'list', 'patch'] as const).map((verb) => ({
    verb,
    group: 'apps',
    resource: 'deployments',
  })),
];

export function describePermission(p: Permission, namespace: string): string {
  const resource = p.group ? `${p.resource}.${p.group}` : p.resource;
  const what = p.subresource ? `${resource}/${p.subresource}` : resource;
  return p.clusterScoped ? `${p.verb} ${what} (cluster-wide)` : `${p.verb} ${what} in namespace ${namespace}`;
}

/** The required permissions this token lacks, as phrases (empty when it has them all). */
export async function missingPermissions(
  api: AuthorizationV1Api,
  namespace: string,
  required: readonly Permission[] = REQUIRED_PERMISSIONS,
): Promise<string[]> {
  const answers = await Promise.all(
    required.map(async (p) => {
      const review = await api.createSelfSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: {
            resourceAttributes: {
              verb: p.verb,
              ...(p.group ? { group: p.group } : {}),
              resource: p.resource,
              ...(p.subresource ? { subresource: p.subresource } : {}),
              ...(p.clusterScoped ? {} : { namespace }),
            },
          },
        },
      });
      return review.status?.allowed === true ? undefined : describePermission(p, namespace);
    }),
  );
  return answers.filter((x): x is string => x !== undefined);
}
