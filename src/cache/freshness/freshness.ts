import type { CacheEntry } from '../entry.ts';
import { shouldRefreshEarly } from './xfetch.ts';

/**
 * What a read does with an entry it found:
 * - `fresh`: serve it;
 * - `refresh`: serve it, and refresh it in the background (XFetch chose this read to refresh early);
 * - `stale`: past its TTL but within its grace: serve it, and refresh it in the background;
 * - `expired`: past its grace: never served, a miss.
 */
export type Freshness = 'fresh' | 'refresh' | 'stale' | 'expired';

export interface FreshnessPolicy {
  /** XFetch's beta (see xfetch.ts): 1 is the paper's optimum, 0 turns early refresh off. */
  readonly beta: number;
}

/** Pure: the clock reading and the random sample are arguments. */
export function freshnessOf(entry: CacheEntry<unknown>, now: number, random: number, policy: FreshnessPolicy): Freshness {
  if (now >= entry.staleUntil && now >= entry.expiresAt) return 'expired';
  if (now >= entry.expiresAt) return 'stale';
  return shouldRefreshEarly({ now, expiresAt: entry.expiresAt, deltaMs: entry.computeMs, beta: policy.beta, random }) ? 'refresh' : 'fresh';
}
