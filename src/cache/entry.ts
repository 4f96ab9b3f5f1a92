import type { z } from 'zod';

/** What every tier stores under a key. */
export interface CacheEntry<V> {
  /** The value, or `null` for an id known to match no row ("absent"). */
  readonly value: V | null;
  /** After this instant (ms since the epoch) the entry is never served. */
  readonly expiresAt: number;
  /** How long loading the value took, in ms: the delta of XFetch early refresh. */
  readonly computeMs: number;
}

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
  readonly shape: z.ZodType<V>;
}

export function isFresh(entry: CacheEntry<unknown>, now: number): boolean {
  return now < entry.expiresAt;
}
