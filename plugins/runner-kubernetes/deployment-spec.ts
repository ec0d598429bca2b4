/**
 * WorkloadSpec (with `replicas` > 1) ⇄ Deployment: an application's identical instances run as
 * one Deployment, so Kubernetes itself keeps the count (a deleted or evicted pod is replaced)
 * while IARNet books one allocation of replicas × the per-pod requests.
 *
 *  - The pod template is the single-pod workload's (pod-spec.ts: requests = limits, no host
 *    access, no token), with restartPolicy Always, the only one a Deployment allows.
 *  - Its pods carry the workload's labels except `iarnet.alloc`, plus
 *    `iarnet.replica-of: <deployment>`: workload listings select on `iarnet.alloc`, so a replica
 *    is never taken for a workload of its own (the reconciler would otherwise see N workloads
 *    claiming one allocation). The pod watch selects on `iarnet.node`, so a replica that exits or
 *    vanishes still prompts its node to look at the Deployment at once.
 *  - Rolling updates never surge (maxSurge 0, maxUnavailable 1): a restart replaces pods one by
 *    one without ever running more pods than the allocation books.
 */
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { LABELS, type WorkloadInfo, type WorkloadSpec, type WorkloadState } from '../../core/slots/runner.ts';
import { buildPod, CONTAINER, type PodProblem, podProblem, podState, toWorkloadInfo } from './pod-spec.ts';

/** Label on a Deployment's pods naming their Deployment (also its selector). */
export const REPLICA_OF = 'iarnet.replica-of';
/** Pod-template annotation changed by a restart (what `kubectl rollout restart` does). */
export const RESTARTED_AT = 'iarnet.io/restarted-at';

export function buildDeployment(
  spec: WorkloadSpec,
  namespace: string,
  opts: { terminationGraceSeconds?: number } = {},
): V1Deployment {
  const pod = buildPod({ ...spec, restartPolicy: 'always' }, namespace, opts);
  const { [LABELS.alloc]: _alloc, ...shared } = spec.labels;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: spec.name, namespace, labels: { ...spec.labels } },
    spec: {
      replicas: spec.replicas ?? 1,
      selector: { matchLabels: { [REPLICA_OF]: spec.name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      // Old ReplicaSets hold no pods but clutter the namespace; one is enough to read history.
      revisionHistoryLimit: 1,
      template: {
        metadata: { labels: { ...shared, [REPLICA_OF]: spec.name } },
        spec: pod.spec!,
      },
    },
  };
}

/** Why the Deployment's pods do not run: the first pod problem, or the ReplicaSet's refusal (quota). */
export type DeploymentProblem = PodProblem | { kind: 'quota'; message: string };

export function deploymentProblem(d: V1Deployment, pods: V1Pod[]): DeploymentProblem | undefined {
  for (const p of pods) {
    const problem = podProblem(p);
    if (problem) return problem;
  }
  // Pods the ReplicaSet could not create at all (a ResourceQuota refusal) exist only as a condition.
  const failure = d.status?.conditions?.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  if (failure?.message && /exceeded quota|must specify limits/i.test(failure.message)) {
    return { kind: 'quota', message: failure.message };
  }
  return undefined;
}

export function deploymentState(d: V1Deployment, pods: V1Pod[]): WorkloadState {
  if (d.metadata?.deletionTimestamp) return 'removing';
  if ((d.status?.readyReplicas ?? 0) > 0) return 'running';
  // None ready: pods that ran and went down are restarting; otherwise nothing has started yet.
  const states = pods.map(podState);
  return states.some((s) => s === 'restarting' || s === 'exited') ? 'restarting' : 'created';
}

/** Ready means running and not terminating, counted from the pods (fresher than the status). */
export function readyCount(d: V1Deployment, pods: V1Pod[]): number {
  const fromPods = pods.filter((p) => podState(p) === 'running').length;
  return Math.max(fromPods, d.status?.readyReplicas ?? 0);
}

/** Whether a rollout (creation or restart) has put every desired pod of the current template up. */
export function rolledOut(d: V1Deployment): boolean {
  const desired = d.spec?.replicas ?? 1;
  const s = d.status;
  return (
    (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
    (s?.updatedReplicas ?? 0) >= desired &&
    (s?.readyReplicas ?? 0) >= desired &&
    (s?.replicas ?? 0) <= desired
  );
}

export function deploymentInfo(d: V1Deployment, pods: V1Pod[]): WorkloadInfo {
  const desired = d.spec?.replicas ?? 1;
  // The template as a pod, to read image, requests and ports the way single pods are read.
  const template = toWorkloadInfo({
    metadata: { name: d.metadata?.name ?? '', creationTimestamp: d.metadata?.creationTimestamp },
    spec: d.spec?.template?.spec ?? { containers: [] },
  } as V1Pod);
  const state = deploymentState(d, pods);
  const ready = readyCount(d, pods);
  const problem = deploymentProblem(d, pods);
  const reason =
    problem?.message ??
    (state === 'running' && ready < desired ? `${ready} of ${desired} pods ready` : undefined);
  const started = pods
    .map((p) => toWorkloadInfo(p).startedAt)
    .filter((t): t is string => t !== undefined)
    .sort();
  return {
    id: d.metadata?.name ?? '',
    name: d.metadata?.name ?? '',
    image: d.spec?.template?.spec?.containers?.find((c) => c.name === CONTAINER)?.image ?? template.image,
    state,
    ...(reason ? { reason } : {}),
    labels: { ...(d.metadata?.labels ?? {}) },
    // What the allocation books: every copy's requests.
    resources: {
      cpu: template.resources.cpu * desired,
      memory: template.resources.memory * desired,
      gpu: template.resources.gpu * desired,
    },
    createdAt: template.createdAt,
    ...(started.length && state !== 'created' ? { startedAt: started[0] } : {}),
    ports: template.ports,
    replicas: { desired, ready },
  };
}
