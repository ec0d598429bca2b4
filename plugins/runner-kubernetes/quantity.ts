/**
 * Kubernetes resource quantities (the `resource.Quantity` string form): node allocatable comes
 * as "32", "7800m", "256Gi", "1e3", "129M"; pod requests go out as millicores and bytes.
 * Parsing is the core's (the same notation as `resource_limits`); this adds what the runner needs.
 */
import { parseQuantity } from '../../core/kernel/quantity.ts';

export { parseQuantity };

/** Like parseQuantity, but undefined (not an exception) for missing or malformed values. */
export function quantityOr(raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  try {
    const n = parseQuantity(raw);
    return Number.isFinite(n) ? n : fallback;
  } catch {
    return fallback;
  }
}

/** Cores as millicores ("250m"); at least 1m so a tiny request is not read as "no request". */
export function formatCpu(cores: number): string {
  const milli = Math.max(1, Math.round(cores * 1000));
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

/** Bytes as a whole number of bytes (what the ledger books, exactly). */
export function formatMemory(bytes: number): string {
  return String(Math.max(1, Math.round(bytes)));
}

/** Sum of one key over a set of resource lists (e.g. every node's allocatable). */
export function sumQuantities(lists: (Record<string, string> | undefined)[], key: string): number {
  return lists.reduce((acc, l) => acc + quantityOr(l?.[key], 0), 0);
}
