import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../src/coordination/lock.ts';

describe('retryDelayMs', () => {
  it('doubles its ceiling from 10 ms up to 200 ms, and stays in the upper half of it', () => {
    const ceilings = [10, 20, 40, 80, 160, 200, 200, 200];
    for (const [attempt, ceiling] of ceilings.entries()) {
      expect(retryDelayMs(attempt, () => 0)).toBe(ceiling / 2);
      expect(retryDelayMs(attempt, () => 0.999_999)).toBeCloseTo(ceiling, 3);
      expect(retryDelayMs(attempt, () => 0.5)).toBe((ceiling * 3) / 4);
    }
  });

  it('is bounded for any attempt', () => {
    expect(retryDelayMs(10_000, () => 0.999_999)).toBeLessThanOrEqual(200);
  });
});
