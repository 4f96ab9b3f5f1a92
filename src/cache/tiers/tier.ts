import type { CacheEntry, CachedKind } from '../entry.ts';

/** One key to read, with the tags its entry carries (the same tags it was written with). */
export interface TierRead {
  readonly key: string;
  readonly tags: readonly string[];
}

/** One entry to store: its encoded bytes are made once and shared by every tier. */
export interface TierWrite {
  readonly key: string;
  readonly tags: readonly string[];
  readonly entry: CacheEntry<unknown>;
  readonly bytes: Buffer;
  /** How long the tier keeps it, in ms: until the end of its grace. */
  readonly ttlMs: number;
}

/**
 * A tier's record of the tag generations at one instant, taken before a value is loaded. A write
 * made under a fence is refused, or stored unservable, if any of its tags was invalidated after
 * the fence: a reader that loaded a row just before a write committed can never cache that old row
 * once the writer has invalidated it. Opaque: only the tier that made it reads it.
 */
export type TierFence = { readonly tier: string };

/** What a read returns: the entries, and the fence to write the missing ones under. */
export interface TierLookup<V> {
  /** One per key, in order: the entry, or `undefined` on a miss. */
  readonly entries: (CacheEntry<V> | undefined)[];
  readonly fence: TierFence;
}

/**
 * The interface every shared tier implements (L2 in memory, L3 in Redis), and that the contract
 * suite in test/cache/tiers/ checks for each. A tier never throws: a tier that fails reads as
 * misses and drops writes, so its failure makes responses slower, never wrong and never failed.
 */
export interface CacheTier {
  /** "L2", "L3": for logs and metrics. */
  readonly name: string;
  /** Reads a batch, in one round trip at most. An entry whose tags were invalidated is a miss. */
  getMany<V>(reads: readonly TierRead[], kind: CachedKind<V>): Promise<TierLookup<V>>;
  /**
   * A fence for `tags`, now (for writes of values loaded from here on). `known`: generations of some
   * of the tags that the caller set itself (its own invalidation), used as they are, so that any
   * invalidation after them refuses the write (tiers without generations ignore it).
   */
  fence(tags: readonly string[], known?: ReadonlyMap<string, string>): Promise<TierFence>;
  /**
   * Stores entries loaded after `fence` was taken, each with its TTL. A write never replaces an
   * entry holding a higher row version. One round trip at most.
   */
  setMany(writes: readonly TierWrite[], fence: TierFence): Promise<void>;
  /** Makes every entry carrying any of `tags` unservable, in this tier. false: the tier failed to. */
  invalidateTags(tags: readonly string[]): Promise<boolean>;
}
