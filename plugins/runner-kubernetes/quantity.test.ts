import { describe, expect, it } from 'vitest';
import { formatCpu, formatMemory, parseQuantity, quantityOr, sumQuantities } from './quantity.ts';

describe('Kubernetes quantities', () => {
  it.each([
    ['32', 32],
    ['7800m', 7.8],
    ['250m', 0.25],
    ['1.5', 1.5],
    ['256Gi', 256 * 2 ** 30],
    ['16Ki', 16 * 1024],
    ['129M', 129e6],
    ['1e3', 1000],
    ['1E3', 1000],
    ['100n', 1e-7],
    ['2k', 2000],
    ['.5', 0.5],
  ])('parses %s', (raw, value) => {
    expect(parseQuantity(raw)).toBeCloseTo(value, 12);
  });

  it.each(['', 'Gi', '1Gb', '1 Gi', 'abc', '1.2.3', '--1'])('refuses %j', (raw) => {
    expect(() => parseQuantity(raw)).toThrow(/not a quantity/);
  });

  it('falls back for missing or malformed values', () => {
    expect(quantityOr(undefined, 7)).toBe(7);
    expect(quantityOr('junk', 0)).toBe(0);
  });

  it('sums allocatable over nodes, skipping nodes that lack the key', () => {
    const nodes: (Record<string, string> | undefined)[] = [
      { cpu: '8', memory: '16Gi', 'nvidia.com/gpu': '2' },
      { cpu: '3500m', memory: '8Gi' },
      undefined,
    ];
    expect(sumQuantities(nodes, 'cpu')).toBe(11.5);
    expect(sumQuantities(nodes, 'memory')).toBe(24 * 2 ** 30);
    expect(sumQuantities(nodes, 'nvidia.com/gpu')).toBe(2);
    expect(sumQuantities(nodes, 'ephemeral-storage')).toBe(0);
  });

  it('formats requests exactly as the ledger books them', () => {
    expect(formatCpu(0.25)).toBe('250m');
    expect(formatCpu(2)).toBe('2');
    expect(formatCpu(0.0001)).toBe('1m');
    expect(formatMemory(0.5 * 2 ** 30)).toBe('536870912');
    for (const cores of [0.01, 0.1, 0.25, 1.5, 3])
      expect(parseQuantity(formatCpu(cores))).toBeCloseTo(cores, 9);
  });
});
