import type { z } from 'zod';

/** What every tier stores under a key. */
export interface CacheEntry<V> {
  /** The value, or `null` for an id known to match no row ("absent"). */
  readonly value: V | null;
  /** Until this instant (ms since the epoch) the entry is fresh. */
  readonly expiresAt: number;
  /**
   * Until this instant the entry may still be served while one refresh runs (the type's grace, or
   * stale-while-revalidate). Equal to `expiresAt` when the type has no grace. Never served after.
   */
  readonly staleUntil: number;
  /** How long loading the value took, in ms: the delta of XFetch early refresh. */
  readonly computeMs: number;
  /**
   * The row's version (Product.version), so that no tier replaces a newer row with an older one;
   * 0 for values that have none (lists, other types). Deletions store an absent value with
   * {@link TOMBSTONE_VERSION}: a deleted id never comes back, so nothing may overwrite that.
   */
  readonly version: number;
}

export const TOMBSTONE_VERSION = Number.MAX_SAFE_INTEGER;

/**
 * One kind of cached thing: an entity type or a relation list. Its TTLs come from the schema
 * (see policy.ts); its shape checks every value read back from a shared tier.
 */
export interface CachedKind<V> {
  readonly name: string;
  /** A hash of `shape` (codec.ts), part of every key: entries of another shape are never read. */
  readonly shapeVersion: string;
  readonly ttlSeconds: number;
  readonly absentTtlSeconds: number;
  /** How long past its TTL an entry may be served while it is refreshed (0: never). */
  readonly graceSeconds: number;
  readonly shape: z.ZodType<V>;
  /** The value's row version (see {@link CacheEntry.version}); absent for kinds without one. */
  readonly versionOf?: (value: V) => number;
}
