import type { CacheEntry, CachedKind } from '../entry.ts';

/** One entry to store: its encoded bytes are made once and shared by every tier. */
export interface TierWrite {
  readonly key: string;
  readonly entry: CacheEntry<unknown>;
  readonly bytes: Buffer;
  /** How long the tier keeps it, in ms. */
  readonly ttlMs: number;
}

/**
 * The interface every shared tier implements (L2 in memory, L3 in Redis), and that the contract
 * suite in test/cache/tiers/ checks for each. A tier never throws: a tier that fails reads as
 * misses and drops writes, so its failure makes responses slower, never wrong and never failed.
 */
export interface CacheTier {
  /** "L2", "L3": for logs and metrics. */
  readonly name: string;
  /** One result per key, in order: the entry, or `undefined` on a miss. One round trip at most. */
  getMany<V>(keys: readonly string[], kind: CachedKind<V>): Promise<(CacheEntry<V> | undefined)[]>;
  /** Stores every entry with its TTL. One round trip at most. */
  setMany(writes: readonly TierWrite[]): Promise<void>;
  deleteMany(keys: readonly string[]): Promise<void>;
}
