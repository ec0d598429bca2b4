export function fmtNumber(n: number, digits = 1): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(digits);
}

/** GB (GiB) → a human string (TB above 1024). */
export function fmtGb(gb: number): string {
  if (gb >= 1024) return `${fmtNumber(gb / 1024)} TB`;
  return `${fmtNumber(gb)} GB`;
}

export function fmtBytes(b: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) {
    b /= 1024;
    i++;
  }
  return `${fmtNumber(b)} ${units[i]}`;
}

export function fmtTime(iso: string, locale: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(locale);
}
