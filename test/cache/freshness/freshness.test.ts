import { describe, expect, it } from 'vitest';
import type { CacheEntry } from '../../../src/cache/entry.ts';
import { freshnessOf } from '../../../src/cache/freshness/freshness.ts';
import { shouldRefreshEarly } from '../../../src/cache/freshness/xfetch.ts';

const entry = (overrides: Partial<CacheEntry<unknown>> = {}): CacheEntry<unknown> => ({
  value: 'v',
  expiresAt: 10_000,
  staleUntil: 15_000,
  computeMs: 100,
  version: 0,
  ...overrides,
});

const noEarlyRefresh = { beta: 0 };
const xfetch = { beta: 1 };

describe('freshnessOf', () => {
  it.each([
    [0, 'fresh'],
    [9_999, 'fresh'],
    [10_000, 'stale'],
    [14_999, 'stale'],
    [15_000, 'expired'],
    [99_999, 'expired'],
  ] as const)('with grace, at %i ms is %s', (now, expected) => {
    expect(freshnessOf(entry(), now, 0.5, noEarlyRefresh)).toBe(expected);
  });

  it.each([
    [9_999, 'fresh'],
    [10_000, 'expired'],
    [10_001, 'expired'],
  ] as const)('without grace (staleUntil = expiresAt), at %i ms is %s: never served stale', (now, expected) => {
    expect(freshnessOf(entry({ staleUntil: 10_000 }), now, 0.5, noEarlyRefresh)).toBe(expected);
  });

  it('before expiry, is refresh exactly when XFetch says so', () => {
    for (const now of [0, 5_000, 9_000, 9_500, 9_900, 9_999]) {
      for (const random of [1e-9, 0.001, 0.1, 0.5, 1]) {
        const early = shouldRefreshEarly({ now, expiresAt: 10_000, deltaMs: 100, beta: 1, random });
        expect(freshnessOf(entry(), now, random, xfetch)).toBe(early ? 'refresh' : 'fresh');
      }
    }
  });

  it('a small sample close to expiry is a refresh; far from it, or with beta 0, it is fresh', () => {
    expect(freshnessOf(entry(), 9_900, 1e-6, xfetch)).toBe('refresh');
    expect(freshnessOf(entry(), 0, 1e-6, xfetch)).toBe('fresh');
    expect(freshnessOf(entry(), 9_900, 1e-6, noEarlyRefresh)).toBe('fresh');
  });

  it('past expiry, XFetch does not matter: stale within the grace, expired after it', () => {
    for (const random of [0, 1e-9, 0.5, 1]) {
      expect(freshnessOf(entry(), 10_000, random, xfetch)).toBe('stale');
      expect(freshnessOf(entry(), 15_000, random, xfetch)).toBe('expired');
    }
  });

  it('an entry that took no time to compute is never refreshed early', () => {
    expect(freshnessOf(entry({ computeMs: 0 }), 9_999, 1e-12, xfetch)).toBe('fresh');
  });
});
