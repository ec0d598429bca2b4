import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToGB, formatBytes, gbToBytes, parseQuantity } from '../../../core/kernel/quantity.ts';

describe('parseQuantity', () => {
  it.each([
    ['4', 4],
    ['0.5', 0.5],
    ['500m', 0.5],
    ['100m', 0.1],
    ['8Gi', 8 * 2 ** 30],
    ['512Mi', 512 * 2 ** 20],
    ['1Ki', 1024],
    ['1k', 1000],
    ['2G', 2e9],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['1e3', 1000],
    ['2E', 2e18],
    ['.5', 0.5],
    [' 4 ', 4],
    [3, 3],
  ])('%s → %s', (input, expected) => {
    expect(parseQuantity(input)).toBeCloseTo(expected as number, 9);
  });

  it.each(['', 'abc', '4 cores', '8GB', '1e3Gi', 'Gi', '--1', '1.2.3', '0x10'])('rejects %j', (input) => {
    expect(() => parseQuantity(input)).toThrow(/not a quantity/);
  });

  it('rejects non-finite numbers and overflowing strings', () => {
    expect(() => parseQuantity(Number.NaN)).toThrow(/finite/);
    expect(() => parseQuantity(Number.POSITIVE_INFINITY)).toThrow(/finite/);
    expect(() => parseQuantity('1e309')).toThrow(/too large/);
  });

  it('parses every formatted byte count back to itself', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (n) => {
        expect(parseQuantity(formatBytes(n))).toBe(n);
      }),
    );
  });

  it('converts between bytes and the API’s GB', () => {
    expect(bytesToGB(8 * 2 ** 30)).toBe(8);
    expect(gbToBytes(0.5)).toBe(2 ** 29);
    expect(formatBytes(8 * 2 ** 30)).toBe('8Gi');
  });
});
