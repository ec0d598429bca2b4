/**
 * WorkloadSpec ⇄ Pod. A workload is one pod with one container named `main`:
 *  - requests = limits (cpu in millicores, memory in bytes, GPUs as `nvidia.com/gpu`), so what
 *    the ledger books is exactly what the scheduler and a ResourceQuota see;
 *  - the spec's `command` is Docker's Cmd, i.e. the container's `args` (the image entrypoint stays);
 *  - never privileged, no host namespaces, paths or ports, no added capabilities, no service
 *    account token mounted (a workload must not act with IARNet's own rights).
 * The pod's name is the workload name (deterministic), and also its id in the Runner contract:
 * Kubernetes addresses pods by name, and a restarted (re-created) pod keeps its name.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { badRequest, type FieldError } from '../../core/kernel/errors.ts';
import type { PortMapping, WorkloadInfo, WorkloadSpec, WorkloadState } from '../../core/slots/runner.ts';
import { envNameProblem, labelFieldErrors, podNameProblem } from './names.ts';
import { formatCpu, formatMemory, quantityOr } from './quantity.ts';

export const CONTAINER = 'main';
export const GPU_RESOURCE = 'nvidia.com/gpu';

/** Waiting reasons that mean the image cannot be had (the kubelet retries, we do not wait). */
export const IMAGE_PULL_REASONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'RegistryUnavailable',
]);
/** Waiting reasons that mean the pod as created can never start. */
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

/**
 * Host ports are never offered: a pod would be tied to one node's port, and several pods of a
 * Deployment on one node would collide. Also what the scheduler asks before placing a run here.
 */
export function hostPortErrors(ports: PortMapping[] | undefined): FieldError[] {
  return (ports ?? []).flatMap((p, i) =>
    p.hostPort
      ? [
          {
            path: `ports[${i}].hostPort`,
            message:
              'host ports are not offered on Kubernetes resources; reach the pod by its IP or a Service',
          },
        ]
      : [],
  );
}

/** Field errors for anything Kubernetes would refuse in this spec; empty when it is acceptable. */
export function specFieldErrors(spec: WorkloadSpec): FieldError[] {
  const out: FieldError[] = [];
  const nameProblem = podNameProblem(spec.name);
  if (nameProblem) out.push({ path: 'name', message: `pod name ${nameProblem}` });
  out.push(...labelFieldErrors(spec.labels, 'labels'));
  for (const key of Object.keys(spec.env ?? {})) {
    const p = envNameProblem(key);
    if (p) out.push({ path: `env.${key}`, message: `environment variable name ${p}` });
  }
  (spec.ports ?? []).forEach((p, i) => {
    if (!Number.isInteger(p.containerPort) || p.containerPort < 1 || p.containerPort > 65535) {
      out.push({ path: `ports[${i}].containerPort`, message: 'must be between 1 and 65535' });
    }
  });
  out.push(...hostPortErrors(spec.ports));
  const seen = new Set<string>();
  (spec.ports ?? []).forEach((p, i) => {
    const key = `${p.containerPort}/${p.protocol}`;
    if (seen.has(key)) out.push({ path: `ports[${i}]`, message: `port ${key} is listed twice` });
    seen.add(key);
  });
  const { cpu, memory, gpu } = spec.resources;
  if (!Number.isFinite(cpu) || cpu <= 0)
    out.push({ path: 'cpu', message: 'must be a positive number of cores' });
  if (!Number.isFinite(memory) || memory <= 0)
    out.push({ path: 'memory', message: 'must be a positive amount' });
  if (!Number.isInteger(gpu) || gpu < 0) out.push({ path: 'gpu', message: 'must be a whole number ≥ 0' });
  return out;
}

/** 400 with every field error, before any API call. */
export function checkSpec(spec: WorkloadSpec): void {
  const fields = specFieldErrors(spec);
  if (fields.length) {
    throw badRequest(
      `Kubernetes would refuse this workload: ${fields[0]!.path}: ${fields[0]!.message}`,
      fields,
    );
  }
}

const RESTART: Record<NonNullable<WorkloadSpec['restartPolicy']>, 'Never' | 'OnFailure' | 'Always'> = {
  no: 'Never',
  'on-failure': 'OnFailure',
  always: 'Always',
  'unless-stopped': 'Always',
};

export function buildPod(
  spec: WorkloadSpec,
  namespace: string,
  opts: { terminationGraceSeconds?: number } = {},
): V1Pod {
  const { cpu, memory, gpu } = spec.resources;
  const amounts: Record<string, string> = { cpu: formatCpu(cpu), memory: formatMemory(memory) };
  if (gpu > 0) amounts[GPU_RESOURCE] = String(gpu);
  const env = Object.entries(spec.env ?? {}).map(([name, value]) => ({ name, value }));
  const ports = (spec.ports ?? []).map((p) => ({
    containerPort: p.containerPort,
    protocol: p.protocol === 'udp' ? 'UDP' : 'TCP',
  }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: spec.name, namespace, labels: { ...spec.labels } },
    spec: {
      restartPolicy: RESTART[spec.restartPolicy ?? 'no'],
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      ...(opts.terminationGraceSeconds !== undefined
        ? { terminationGracePeriodSeconds: opts.terminationGraceSeconds }
        : {}),
      containers: [
        {
          name: CONTAINER,
          image: spec.image,
          ...(spec.command?.length ? { args: [...spec.command] } : {}),
          ...(env.length ? { env } : {}),
          ...(ports.length ? { ports } : {}),
          resources: { requests: { ...amounts }, limits: { ...amounts } },
          securityContext: { privileged: false, allowPrivilegeEscalation: false },
        },
      ],
    },
  };
}

/** Why a pod is not running (and will not be without help), when its status says so. */
export type PodProblem =
  | { kind: 'image'; message: string }
  | { kind: 'unschedulable'; message: string }
  | { kind: 'config'; message: string };

export function podProblem(pod: V1Pod): PodProblem | undefined {
  const status = pod.status;
  for (const cs of [...(status?.initContainerStatuses ?? []), ...(status?.containerStatuses ?? [])]) {
    const waiting = cs.state?.waiting;
    if (!waiting?.reason) continue;
    const text = `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`;
    if (IMAGE_PULL_REASONS.has(waiting.reason)) return { kind: 'image', message: text };
    if (CONFIG_REASONS.has(waiting.reason)) return { kind: 'config', message: text };
  }
  const scheduled = status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return { kind: 'unschedulable', message: scheduled.message ?? 'no node can run the pod' };
  }
  return undefined;
}

export function podState(pod: V1Pod): WorkloadState {
  if (pod.metadata?.deletionTimestamp) return 'removing';
  switch (pod.status?.phase) {
    case 'Running': {
      const main = mainStatus(pod);
      return main?.state?.waiting ? 'restarting' : 'running';
    }
    case 'Succeeded':
    case 'Failed':
      return 'exited';
    case 'Unknown':
      return 'unknown';
    default:
      // Pending (scheduling, pulling): not started yet.
      return 'created';
  }
}

function mainStatus(pod: V1Pod) {
  const statuses = pod.status?.containerStatuses ?? [];
  return statuses.find((c) => c.name === CONTAINER) ?? statuses[0];
}

function iso(t: Date | string | undefined): string | undefined {
  if (t === undefined || t === null) return undefined;
  const d = t instanceof Date ? t : new Date(t);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export function toWorkloadInfo(pod: V1Pod): WorkloadInfo {
  const container = pod.spec?.containers?.find((c) => c.name === CONTAINER) ?? pod.spec?.containers?.[0];
  const requests = (container?.resources?.requests ?? container?.resources?.limits ?? {}) as Record<
    string,
    string
  >;
  const main = mainStatus(pod);
  const terminated = main?.state?.terminated;
  const state = podState(pod);
  const problem = podProblem(pod);
  const reason =
    problem?.message ??
    (state === 'exited' ? (terminated?.reason ?? pod.status?.reason) : undefined) ??
    (state === 'restarting' ? main?.state?.waiting?.reason : undefined) ??
    (state === 'unknown' ? (pod.status?.reason ?? 'the node of this pod does not report') : undefined);
  const startedAt = iso(main?.state?.running?.startedAt ?? terminated?.startedAt ?? pod.status?.startTime);
  const finishedAt = iso(terminated?.finishedAt);
  const podIp = pod.status?.podIP;
  return {
    id: pod.metadata?.name ?? '',
    name: pod.metadata?.name ?? '',
    image: container?.image ?? '',
    state,
    ...(terminated && state === 'exited' ? { exitCode: terminated.exitCode } : {}),
    ...(reason ? { reason } : {}),
    labels: { ...(pod.metadata?.labels ?? {}) },
    resources: {
      cpu: quantityOr(requests.cpu, 0),
      memory: Math.round(quantityOr(requests.memory, 0)),
      gpu: Math.round(quantityOr(requests[GPU_RESOURCE], 0)),
    },
    createdAt: iso(pod.metadata?.creationTimestamp) ?? new Date(0).toISOString(),
    ...(startedAt && state !== 'created' ? { startedAt } : {}),
    ...(finishedAt ? { finishedAt } : {}),
    ports: (container?.ports ?? []).map((p) => ({
      containerPort: p.containerPort,
      protocol: p.protocol === 'UDP' ? ('udp' as const) : ('tcp' as const),
      ...(podIp ? { hostIp: podIp } : {}),
    })),
  };
}
