/**
 * Early admission for runs pinned to a cluster: what a pod can never have (a host port) is
 * refused with a field error before the ledger reserves anything. Runs the scheduler places on
 * a cluster by itself are checked by the runner (pod-spec.ts checkSpec), after the reservation,
 * which is then released.
 */
import type { ResourceCatalog } from '../../core/domain/resources/types.ts';
import type { RunRequest } from '../../core/domain/runs.ts';
import { badRequest, type FieldError } from '../../core/kernel/errors.ts';

export async function admitPinnedRun(req: RunRequest, catalog: ResourceCatalog | undefined): Promise<void> {
  if (!req.resourceId || !req.ports?.some((p) => p.hostPort)) return;
  const resource = await catalog?.get(req.resourceId);
  if (resource?.type !== 'kubernetes') return;
  const fields: FieldError[] = [];
  req.ports.forEach((p, i) => {
    if (p.hostPort) {
      fields.push({
        path: `ports[${i}].hostPort`,
        message: 'host ports are not offered on Kubernetes resources; reach the pod by its IP or a Service',
      });
    }
  });
  throw badRequest(`Invalid request: ${fields[0]!.path}: ${fields[0]!.message}`, fields);
}
