import { describe, expect, it } from 'vitest';
import { earlyRefreshProbability, shouldRefreshEarly } from '../../../src/cache/freshness/xfetch.ts';
import { seededRandom } from '../../support/seededRandom.ts';

const expiresAt = 1_000_000;

describe('shouldRefreshEarly', () => {
  // Before expiry, at it and past it; fast and slow values; beta off, low, the optimum, high; any sample.
  const grid = [-5_000, -1_000, -300, -100, -10, -1, 0, 1, 50].flatMap((offset) =>
    [0, 1, 10, 100, 1_000].flatMap((deltaMs) =>
      [0, 0.5, 1, 2, 4].flatMap((beta) => [1e-12, 1e-6, 0.001, 0.05, 0.2, 0.5, 0.9, 0.999999, 1].map((random) => ({ now: expiresAt + offset, expiresAt, deltaMs, beta, random }))),
    ),
  );

  it(`is the formula now - delta*beta*ln(random) >= expiry, over ${grid.length} inputs`, () => {
    for (const input of grid) {
      const { now, deltaMs, beta, random } = input;
      const formula = beta > 0 ? now - deltaMs * beta * Math.log(random) >= expiresAt : now >= expiresAt;
      expect(shouldRefreshEarly(input), JSON.stringify(input)).toBe(formula);
    }
  });

  it('refreshes every read once the entry has expired, whatever the sample', () => {
    for (const input of grid.filter((i) => i.now >= expiresAt)) expect(shouldRefreshEarly(input)).toBe(true);
  });

  it('with beta 0 never refreshes before expiry, even on the smallest sample', () => {
    for (const random of [0, Number.MIN_VALUE, 1e-300, 0.5, 1]) {
      expect(shouldRefreshEarly({ now: expiresAt - 1, expiresAt, deltaMs: 10_000, beta: 0, random })).toBe(false);
    }
  });

  it('with a sample of 1 (ln 1 = 0) never refreshes before expiry', () => {
    expect(shouldRefreshEarly({ now: expiresAt - 1, expiresAt, deltaMs: 10_000, beta: 4, random: 1 })).toBe(false);
  });

  it('is safe for random = 0: a finite gap, no NaN, the same decision as the smallest positive sample', () => {
    for (const offset of [-1_000_000, -10_000, -100, -1, 0]) {
      for (const deltaMs of [0, 1, 100]) {
        const input = { now: expiresAt + offset, expiresAt, deltaMs, beta: 1 };
        const decision = shouldRefreshEarly({ ...input, random: 0 });
        expect(typeof decision).toBe('boolean');
        expect(decision).toBe(shouldRefreshEarly({ ...input, random: Number.MIN_VALUE }));
      }
    }
    // ln(MIN_VALUE) is about -744.4: far enough from expiry, even that sample does not refresh.
    expect(shouldRefreshEarly({ now: expiresAt - 100 * 745, expiresAt, deltaMs: 100, beta: 1, random: 0 })).toBe(false);
    expect(shouldRefreshEarly({ now: expiresAt - 100 * 744, expiresAt, deltaMs: 100, beta: 1, random: 0 })).toBe(true);
  });
});

describe('earlyRefreshProbability', () => {
  const deltaMs = 100;
  const beta = 1;

  it('rises monotonically to 1 as expiry nears', () => {
    const remaining = [5_000, 2_000, 1_000, 500, 300, 200, 100, 50, 10, 1, 0];
    const p = remaining.map((r) => earlyRefreshProbability({ now: expiresAt - r, expiresAt, deltaMs, beta }));
    for (let i = 1; i < p.length; i++) expect(p[i]!).toBeGreaterThan(p[i - 1]!);
    expect(p[0]!).toBeLessThan(1e-20);
    expect(p.at(-1)).toBe(1);
    expect(earlyRefreshProbability({ now: expiresAt + 10, expiresAt, deltaMs, beta })).toBe(1);
  });

  it('starts earlier for slow values and for a higher beta', () => {
    const at = (d: number, b: number) => earlyRefreshProbability({ now: expiresAt - 300, expiresAt, deltaMs: d, beta: b });
    expect(at(200, 1)).toBeGreaterThan(at(100, 1));
    expect(at(100, 2)).toBeGreaterThan(at(100, 1));
  });

  it('is 0 before expiry when early refresh is off', () => {
    expect(earlyRefreshProbability({ now: expiresAt - 1, expiresAt, deltaMs, beta: 0 })).toBe(0);
    expect(earlyRefreshProbability({ now: expiresAt - 1, expiresAt, deltaMs: 0, beta })).toBe(0);
  });

  it.each([0, 10, 50, 100, 200, 400])('matches the rate at which shouldRefreshEarly refreshes, %i ms before expiry', (remaining) => {
    const samples = 20_000;
    const random = seededRandom(remaining + 1);
    const input = { now: expiresAt - remaining, expiresAt, deltaMs, beta };
    let refreshed = 0;
    // 1 - next(): a sample in (0, 1], as the formula's logarithm takes it.
    for (let i = 0; i < samples; i++) if (shouldRefreshEarly({ ...input, random: 1 - random.next() })) refreshed += 1;
    const expected = earlyRefreshProbability(input);
    // Five standard deviations of a binomial rate over 20,000 samples, at most 0.018.
    const tolerance = 5 * Math.sqrt((expected * (1 - expected)) / samples) + 1e-9;
    expect(Math.abs(refreshed / samples - expected)).toBeLessThanOrEqual(tolerance);
  });
});
