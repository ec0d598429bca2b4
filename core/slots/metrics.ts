import type { Registry } from 'prom-client';
import { serviceKey } from '../kernel/services.ts';

/**
 * The Metrics slot: a Prometheus registry that every plugin adds its metrics to.
 * Names start with `iarnet_`, use base units and never carry unbounded labels (no container ids).
 */
export interface Metrics {
  readonly registry: Registry;
}

export const MetricsKey = serviceKey<Metrics>('metrics');
