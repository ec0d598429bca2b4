import { describe, expect, it } from 'vitest';
import { createLimit } from './limit';

describe('createLimit', () => {
  it('runs at most N tasks at once, in order, and passes results and failures through', async () => {
    const limit = createLimit(2);
    let active = 0;
    let peak = 0;
    const started: number[] = [];
    const task = (i: number) => () => {
      started.push(i);
      active++;
      peak = Math.max(peak, active);
      return new Promise<number>((resolve, reject) =>
        setTimeout(() => {
          active--;
          if (i === 3) reject(new Error('boom'));
          else resolve(i * 10);
        }, 5),
      );
    };
    const results = await Promise.allSettled([0, 1, 2, 3, 4].map((i) => limit(task(i))));
    expect(peak).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'x'))).toEqual([0, 10, 20, 'x', 40]);
  });
});
