/** Small statistics for benchmarks: nearest-rank quantiles over unsorted samples. */
import { availableParallelism, loadavg } from 'node:os';

export function quantile(xs: readonly number[], q: number): number {
  if (!xs.length) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export const median = (xs: readonly number[]) => quantile(xs, 0.5);

export const fmt = (x: number, digits = 1) => x.toFixed(digits);

export interface BenchResult {
  name: string;
  figure: string;
  target: string;
  pass: boolean;
}

/** The machine's 1-minute load average and CPU count, quoted beside figures from a shared host. */
export function machineLoad(): string {
  return `load avg ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs`;
}
