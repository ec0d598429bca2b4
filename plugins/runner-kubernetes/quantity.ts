/**
 * Kubernetes resource quantities (the `resource.Quantity` string form): node allocatable comes
 * as "32", "7800m", "256Gi", "1e3", "129M"; pod requests go out as millicores and bytes.
 * Only the serialised forms the API server produces and accepts are handled.
 */

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$/;

/** The quantity as a plain number (cores, bytes, cards); throws on anything that is not one. */
export function parseQuantity(raw: string): number {
  const m = QUANTITY.exec(raw.trim());
  if (!m) throw new Error(`not a Kubernetes quantity: ${JSON.stringify(raw.slice(0, 40))}`);
  const n = Number(m[1]);
  if (m[3] !== undefined) return n * 10 ** Number(m[3]);
  const suffix = m[2] ?? '';
  const factor = BINARY[suffix] ?? DECIMAL[suffix];
  return n * (factor ?? 1);
}

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
