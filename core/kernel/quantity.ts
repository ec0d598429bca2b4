/**
 * Kubernetes-style quantities ("500m", "8Gi", "1.5", "2e3"), the notation of the design
 * document's `resource_limits`. One parser serves CPU (cores), memory and storage (bytes) and GPUs.
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

// Sign, digits with optional fraction, then either an exponent or a suffix (never both).
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/;

export class QuantityError extends Error {
  override name = 'QuantityError';
}

/** Parse a quantity into a plain number of base units. Throws {@link QuantityError} with the reason. */
export function parseQuantity(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new QuantityError(`${input} is not a finite number`);
    return input;
  }
  const text = input.trim();
  const match = QUANTITY.exec(text);
  if (!match) {
    throw new QuantityError(`"${input}" is not a quantity (expected e.g. "4", "500m", "8Gi", "1.5")`);
  }
  const [, sign, digits, exponent, suffix] = match;
  let value = Number(`${digits}${exponent ?? ''}`);
  if (suffix) value *= BINARY[suffix] ?? DECIMAL[suffix] ?? 1;
  if (!Number.isFinite(value)) throw new QuantityError(`"${input}" is too large`);
  return sign === '-' ? -value : value;
}

const GIB = 2 ** 30;

/** Bytes → GB as the design document's API shapes use them (binary gigabytes, rounded to 1e-6). */
export function bytesToGB(bytes: number): number {
  return Math.round((bytes / GIB) * 1e6) / 1e6;
}

export function gbToBytes(gb: number): number {
  return Math.round(gb * GIB);
}

/** Format bytes the way an operator writes them in config ("8Gi", "512Mi", "123"). */
export function formatBytes(bytes: number): string {
  for (const unit of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const) {
    const size = BINARY[unit]!;
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}
