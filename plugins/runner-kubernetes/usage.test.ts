import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { RunnerUnreachableError } from '../../core/slots/runner.ts';
import { KubernetesApiError, KubernetesTimeoutError } from './errors.ts';
import { measuredUsage, sumPodMetrics } from './usage.ts';

const NOW = new Date('2026-01-02T03:04:05.000Z');

describe('sumPodMetrics', () => {
  it('sums cores and working-set bytes over every container of every pod', () => {
    const m = sumPodMetrics({
      items: [
        {
          metadata: { name: 'iarnet-a' },
          timestamp: '2026-01-02T03:04:00Z',
          containers: [
            { name: 'main', usage: { cpu: '100006360n', memory: '64Mi' } },
            { name: 'side', usage: { cpu: '250m', memory: '1Gi' } },
          ],
        },
        {
          metadata: { name: 'iarnet-b' },
          timestamp: '2026-01-02T03:03:50Z',
          containers: [{ name: 'main', usage: { cpu: '1', memory: '1048576' } }],
        },
      ],
    });
    expect(m).toEqual({
      cpu: 1.35,
      memory: 64 * 2 ** 20 + 2 ** 30 + 2 ** 20,
      // The oldest sample: the figure is at least that fresh.
      at: '2026-01-02T03:03:50.000Z',
      scope: 'workloads',
      count: 2,
    });
  });

  it('an empty list is a real measurement of nothing, dated now', () => {
    expect(sumPodMetrics({ items: [] }, () => NOW)).toEqual({
      cpu: 0,
      memory: 0,
      at: NOW.toISOString(),
      scope: 'workloads',
      count: 0,
    });
  });

  it('malformed quantities, timestamps and shapes count as nothing instead of failing', () => {
    const m = sumPodMetrics(
      {
        items: [
          {
            timestamp: 'yesterday',
            containers: [
              { name: 'a', usage: { cpu: 'lots', memory: '-5Mi' } },
              { name: 'b' },
              { name: 'c', usage: { cpu: '500m' } },
            ],
          },
          { containers: 'nope' as unknown as [] },
        ],
      },
      () => NOW,
    );
    expect(m).toEqual({ cpu: 0.5, memory: 0, at: NOW.toISOString(), scope: 'workloads', count: 2 });
    expect(sumPodMetrics({} as never, () => NOW).count).toBe(0);
    expect(sumPodMetrics(null as never, () => NOW).count).toBe(0);
  });
});

describe('measuredUsage', () => {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const failing =
    (err: unknown) =>
    async <T>(): Promise<T> => {
      throw err;
    };
  const apiError = (statusCode: number) =>
    new KubernetesApiError('read pod metrics', Object.assign(new Error('no'), { statusCode }));

  it("asks the API server for IARNet pods only (iarnet.alloc, and Deployments' iarnet.replica-of) in the namespace, and sums them", async () => {
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          kind: 'PodMetricsList',
          apiVersion: 'metrics.k8s.io/v1beta1',
          items: [
            {
              timestamp: NOW.toISOString(),
              containers: [
                { name: 'main', usage: { cpu: req.url?.includes('replica-of') ? '200m' : '100m' } },
              ],
            },
          ],
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const local = new KubeConfig();
      local.loadFromOptions({
        clusters: [
          // client-node allows plain http only with skipTLSVerify.
          {
            name: 'c',
            server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            skipTLSVerify: true,
          },
        ],
        users: [{ name: 'u', token: 't' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      const whats: string[] = [];
      const call = <T>(what: string, fn: () => Promise<T>) => {
        whats.push(what);
        return fn();
      };
      expect(await measuredUsage(call, local, 'iarnet-test')).toMatchObject({ cpu: 0.3, count: 2 });
      expect(whats).toEqual(['read pod metrics', 'read pod metrics']);
      expect(paths.sort()).toEqual([
        '/apis/metrics.k8s.io/v1beta1/namespaces/iarnet-test/pods?labelSelector=iarnet.alloc',
        '/apis/metrics.k8s.io/v1beta1/namespaces/iarnet-test/pods?labelSelector=iarnet.replica-of',
      ]);
    } finally {
      server.close();
    }
  });

  it.each([
    [404, 'no APIService for metrics.k8s.io'],
    [403, 'the token may not read pod metrics'],
    [503, 'the metrics server is down'],
  ])('%i (%s) → undefined, not an error', async (status) => {
    expect(await measuredUsage(failing(apiError(status)), kc, 'ns')).toBeUndefined();
  });

  it('a slow metrics API → undefined', async () => {
    expect(
      await measuredUsage(failing(new KubernetesTimeoutError('read pod metrics: no answer')), kc, 'ns'),
    ).toBeUndefined();
  });

  it('an unreachable API server is still an error', async () => {
    const down = new RunnerUnreachableError('down');
    await expect(measuredUsage(failing(down), kc, 'ns')).rejects.toBe(down);
  });
});
