/**
 * Measured usage of a cluster resource: what IARNet's pods in the resource's namespace use now,
 * from the metrics API (metrics.k8s.io, served through the API server's aggregator by
 * metrics-server or an equivalent). The ledger books requests; this shows how much of that is
 * really used. It is advisory: a cluster without the metrics API, or a token that may not read it,
 * has no measured usage (undefined), and nothing else changes.
 *
 * Scope: pods with the `iarnet.alloc` label (every IARNet node's, the same pods the runner's
 * watch follows) and the pods of IARNet's Deployments (`iarnet.replica-of`), not the whole cluster: other tenants' pods are not IARNet's to account, and
 * reading them would need cluster-wide rights the runner does not ask for.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { LABELS, type MeasuredUsage, RunnerUnreachableError } from '../../core/slots/runner.ts';
import { REPLICA_OF } from './deployment-spec.ts';
import { quantityOr } from './quantity.ts';
import type { PodMetricsObject } from './stats.ts';

export interface PodMetricsList {
  items?: (PodMetricsObject & { metadata?: { name?: string } })[];
}

/**
 * Sum a PodMetricsList: cores and working-set bytes over every container of every pod. `at` is
 * the oldest sample's time (the figure is at least that fresh); `now` when there are no pods.
 * Malformed quantities count as 0 rather than failing the whole figure.
 */
export function sumPodMetrics(list: PodMetricsList, now: () => Date = () => new Date()): MeasuredUsage {
  const items = Array.isArray(list?.items) ? list.items : [];
  let cpu = 0;
  let memory = 0;
  let oldest: number | undefined;
  for (const pod of items) {
    for (const c of Array.isArray(pod?.containers) ? pod.containers : []) {
      cpu += Math.max(0, quantityOr(c?.usage?.cpu, 0));
      memory += Math.max(0, quantityOr(c?.usage?.memory, 0));
    }
    const t = pod?.timestamp ? Date.parse(pod.timestamp) : Number.NaN;
    if (Number.isFinite(t) && (oldest === undefined || t < oldest)) oldest = t;
  }
  return {
    // Millicore precision is what the API gives; float sums would show 0.30000000000000004.
    cpu: Math.round(cpu * 1000) / 1000,
    memory: Math.round(memory),
    at: new Date(oldest ?? now().getTime()).toISOString(),
    scope: 'workloads',
    count: items.length,
  };
}

/**
 * Read the metrics of IARNet's pods in `namespace`. `call` is the runner's deadline-and-translate
 * wrapper. undefined when the metrics API does not answer: not registered (404), its server down
 * or slow (503, timeouts), or not readable with this token (403). Only an unreachable API server
 * is an error: the caller already knows that one from capacity().
 */
export async function measuredUsage(
  call: <T>(what: string, fn: () => Promise<T>) => Promise<T>,
  kc: KubeConfig,
  namespace: string,
): Promise<MeasuredUsage | undefined> {
  const api = kc.makeApiClient(CustomObjectsApi);
  try {
    // Label selectors cannot say "either label": one read per kind of pod.
    const lists = await Promise.all(
      [LABELS.alloc, REPLICA_OF].map(
        async (labelSelector) =>
          (await call('read pod metrics', () =>
            api.listNamespacedCustomObject({
              group: 'metrics.k8s.io',
              version: 'v1beta1',
              namespace,
              plural: 'pods',
              labelSelector,
            }),
          )) as PodMetricsList,
      ),
    );
    return sumPodMetrics({ items: lists.flatMap((l) => (Array.isArray(l?.items) ? l.items : [])) });
  } catch (err) {
    if (err instanceof RunnerUnreachableError) throw err;
    return undefined;
  }
}
