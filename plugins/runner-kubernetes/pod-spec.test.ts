import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../core/kernel/errors.ts';
import type { WorkloadSpec } from '../../core/slots/runner.ts';
import { buildPod, checkSpec, podProblem, podState, specFieldErrors, toWorkloadInfo } from './pod-spec.ts';

const GiB = 2 ** 30;
const spec = (over: Partial<WorkloadSpec> = {}): WorkloadSpec => ({
  name: 'iarnet-a0011223344556677',
  image: 'busybox:latest',
  command: ['sh', '-c', 'echo hi'],
  env: { GREETING: 'hello' },
  resources: { cpu: 0.25, memory: 0.5 * GiB, gpu: 1 },
  ports: [
    { containerPort: 8080, protocol: 'tcp' },
    { containerPort: 53, protocol: 'udp' },
  ],
  labels: { 'iarnet.node': 'n1', 'iarnet.alloc': 'a0011223344556677', 'iarnet.resource': 'res_00aa' },
  restartPolicy: 'no',
  ...over,
});

describe('pod spec', () => {
  it('requests = limits, GPU as nvidia.com/gpu, command as args, labels, no host access', () => {
    const pod = buildPod(spec(), 'ns1', { terminationGraceSeconds: 10 });
    expect(pod.metadata).toEqual({
      name: 'iarnet-a0011223344556677',
      namespace: 'ns1',
      labels: { 'iarnet.node': 'n1', 'iarnet.alloc': 'a0011223344556677', 'iarnet.resource': 'res_00aa' },
    });
    const c = pod.spec!.containers[0]!;
    expect(c.resources).toEqual({
      requests: { cpu: '250m', memory: String(0.5 * GiB), 'nvidia.com/gpu': '1' },
      limits: { cpu: '250m', memory: String(0.5 * GiB), 'nvidia.com/gpu': '1' },
    });
    expect(c.args).toEqual(['sh', '-c', 'echo hi']);
    expect(c.command).toBeUndefined();
    expect(c.env).toEqual([{ name: 'GREETING', value: 'hello' }]);
    expect(c.ports).toEqual([
      { containerPort: 8080, protocol: 'TCP' },
      { containerPort: 53, protocol: 'UDP' },
    ]);
    expect(c.securityContext).toEqual({ privileged: false, allowPrivilegeEscalation: false });
    expect(pod.spec).toMatchObject({
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      terminationGracePeriodSeconds: 10,
    });
    expect(pod.spec!.volumes).toBeUndefined();
    expect(
      buildPod(spec({ resources: { cpu: 1, memory: GiB, gpu: 0 } }), 'ns').spec!.containers[0]!.resources!
        .limits,
    ).toEqual({
      cpu: '1',
      memory: String(GiB),
    });
    expect(buildPod(spec({ restartPolicy: 'unless-stopped' }), 'ns').spec!.restartPolicy).toBe('Always');
  });

  it('round-trips resources exactly through a pod', () => {
    const info = toWorkloadInfo(buildPod(spec(), 'ns'));
    expect(info.resources).toEqual({ cpu: 0.25, memory: 0.5 * GiB, gpu: 1 });
    expect(info.id).toBe('iarnet-a0011223344556677');
    expect(info.state).toBe('created');
  });

  it('refuses what Kubernetes would refuse, with field errors, before any call', () => {
    const bad = spec({
      name: 'Bad_Name',
      labels: { 'iarnet.node': 'n1', 'iarnet.app': 'my app!' },
      env: { '1X': 'a', OK: 'b' },
      ports: [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' }],
    });
    const fields = specFieldErrors(bad).map((f) => f.path);
    expect(fields).toEqual(['name', 'labels.iarnet.app', 'env.1X', 'ports[0].hostPort']);
    expect(() => checkSpec(bad)).toThrow(ApiError);
    try {
      checkSpec(bad);
    } catch (e) {
      expect((e as ApiError).status).toBe(400);
      expect((e as ApiError).fields).toHaveLength(4);
    }
    expect(() => checkSpec(spec())).not.toThrow();
  });

  const pod = (status: V1Pod['status'], meta: Partial<NonNullable<V1Pod['metadata']>> = {}): V1Pod => ({
    ...buildPod(spec(), 'ns'),
    metadata: {
      ...buildPod(spec(), 'ns').metadata,
      creationTimestamp: new Date('2026-01-01T00:00:00Z'),
      ...meta,
    },
    status,
  });

  it('maps phases to workload states', () => {
    expect(podState(pod({ phase: 'Pending' }))).toBe('created');
    expect(podState(pod({ phase: 'Running', containerStatuses: [] }))).toBe('running');
    expect(
      podState(
        pod({
          phase: 'Running',
          containerStatuses: [
            {
              name: 'main',
              image: 'x',
              imageID: '',
              ready: false,
              restartCount: 3,
              state: { waiting: { reason: 'CrashLoopBackOff' } },
            },
          ],
        }),
      ),
    ).toBe('restarting');
    expect(podState(pod({ phase: 'Succeeded' }))).toBe('exited');
    expect(podState(pod({ phase: 'Failed' }))).toBe('exited');
    expect(podState(pod({ phase: 'Unknown' }))).toBe('unknown');
    expect(podState(pod({ phase: 'Running' }, { deletionTimestamp: new Date() }))).toBe('removing');
  });

  it('reports exit codes and times of finished pods', () => {
    const info = toWorkloadInfo(
      pod({
        phase: 'Failed',
        containerStatuses: [
          {
            name: 'main',
            image: 'x',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: {
              terminated: {
                exitCode: 137,
                reason: 'OOMKilled',
                startedAt: new Date('2026-01-01T00:00:01Z'),
                finishedAt: new Date('2026-01-01T00:00:05Z'),
              },
            },
          },
        ],
      }),
    );
    expect(info).toMatchObject({
      state: 'exited',
      exitCode: 137,
      reason: 'OOMKilled',
      createdAt: '2026-01-01T00:00:00.000Z',
      startedAt: '2026-01-01T00:00:01.000Z',
      finishedAt: '2026-01-01T00:00:05.000Z',
    });
  });

  it('recognises image pull failures and unschedulable pods', () => {
    const pulling = pod({
      phase: 'Pending',
      containerStatuses: [
        {
          name: 'main',
          image: 'nope:1',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "nope:1"' } },
        },
      ],
    });
    expect(podProblem(pulling)).toEqual({
      kind: 'image',
      message: 'ImagePullBackOff: Back-off pulling image "nope:1"',
    });
    expect(toWorkloadInfo(pulling)).toMatchObject({
      state: 'created',
      reason: 'ImagePullBackOff: Back-off pulling image "nope:1"',
    });
    const err = pod({
      phase: 'Pending',
      containerStatuses: [
        {
          name: 'main',
          image: 'x',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: 'ErrImagePull' } },
        },
      ],
    });
    expect(podProblem(err)?.kind).toBe('image');
    const unsched = pod({
      phase: 'Pending',
      conditions: [
        {
          type: 'PodScheduled',
          status: 'False',
          reason: 'Unschedulable',
          message: '0/1 nodes are available: 1 Insufficient cpu.',
        },
      ],
    });
    expect(podProblem(unsched)).toEqual({
      kind: 'unschedulable',
      message: '0/1 nodes are available: 1 Insufficient cpu.',
    });
    expect(podProblem(pod({ phase: 'Pending' }))).toBeUndefined();
    expect(podProblem(pod({ phase: 'Running' }))).toBeUndefined();
  });
});
