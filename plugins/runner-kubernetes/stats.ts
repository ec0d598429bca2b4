/**
 * Pod usage from the metrics API (metrics.k8s.io, served by metrics-server when installed).
 * The API gives CPU as a rate already (cores averaged over its window) and the working set
 * of memory; network and block I/O are not part of it and are reported as 0.
 */
import { ApiError } from '../../core/kernel/errors.ts';
import type { WorkloadStats } from '../../core/slots/runner.ts';
import { quantityOr } from './quantity.ts';

export interface PodMetricsObject {
  timestamp?: string;
  containers?: { name: string; usage?: { cpu?: string; memory?: string } }[];
}

export function toWorkloadStats(m: PodMetricsObject, memoryLimitBytes: number): WorkloadStats {
  const containers = m.containers ?? [];
  const cores = containers.reduce((n, c) => n + quantityOr(c.usage?.cpu, 0), 0);
  const memory = containers.reduce((n, c) => n + quantityOr(c.usage?.memory, 0), 0);
  return {
    // Docker's convention: percent of one core, so 2 full cores = 200.
    cpuPercent: Math.round(cores * 100 * 100) / 100,
    memoryBytes: Math.round(memory),
    memoryLimitBytes: Math.round(memoryLimitBytes),
    networkRxBytes: 0,
    networkTxBytes: 0,
    blockReadBytes: 0,
    blockWriteBytes: 0,
    at: m.timestamp ?? new Date().toISOString(),
  };
}

export function metricsUnavailable(detail: string): ApiError {
  return new ApiError(503, 'METRICS_UNAVAILABLE', 'Statistics unavailable', detail);
}
