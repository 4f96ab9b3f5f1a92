import type { Cluster, Redis } from 'ioredis';
import { entryFrom, packr } from '../codec.ts';
import type { CacheEntry, CachedKind } from '../entry.ts';
import type { TierWrite } from './tier.ts';

/**
 * An L3 entry as Redis stores it, encoded once before the round trip: 16 ASCII digits of the row
 * version (read by the write-guard script, {@link SET_UNLESS_NEWER}), then the MessagePack stamps
 * array (its tags' generations, see tags/tagGenerations.ts), then the MessagePack entry (codec.ts).
 */
export interface StoredWrite {
  readonly key: string;
  /** The row version, zero-padded to {@link VERSION_DIGITS}. */
  readonly version: string;
  readonly value: Buffer;
  /** Whole ms, at least 1: what PX accepts. */
  readonly ttlMs: number;
}

/** The stored form of `write`, stamped with `stamps` (one generation per tag, in the order of its tags). */
export function encodeStoredEntry(write: TierWrite, stamps: readonly string[]): StoredWrite {
  const version = String(write.entry.version).padStart(VERSION_DIGITS, '0');
  const value = Buffer.concat([Buffer.from(version), packr.pack(stamps), write.bytes]);
  return { key: write.key, version, value, ttlMs: Math.max(1, Math.ceil(write.ttlMs)) };
}

/** The stamps and the entry; an Error for bytes that are not an entry of `kind`. Pure. */
export function decodeStoredEntry<V>(key: string, bytes: Buffer, kind: CachedKind<V>): { stamps: unknown; entry: CacheEntry<V> } | Error {
  try {
    const [stamps, entry] = packr.unpackMultiple(bytes.subarray(VERSION_DIGITS)) as [unknown, unknown];
    const decoded = entryFrom(key, entry, kind);
    return decoded instanceof Error ? decoded : { stamps, entry: decoded };
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** Teaches `redis` the write-guard script, once per client. */
export function defineSetUnlessNewer(redis: Redis | Cluster): void {
  if (!('setUnlessNewer' in redis)) redis.defineCommand('setUnlessNewer', { numberOfKeys: 1, lua: SET_UNLESS_NEWER });
}

/**
 * Stores `stored` unless Redis holds a higher row version under its key (1: stored, 0: refused).
 * Unguarded: the caller sends it in its own round trip. Needs {@link defineSetUnlessNewer} first.
 */
export function setUnlessNewer(redis: Redis | Cluster, stored: StoredWrite): Promise<number> {
  return (redis as WithScripts).setUnlessNewer(stored.key, stored.value, stored.version, stored.ttlMs);
}

// Private:

type WithScripts = (Redis | Cluster) & {
  setUnlessNewer(key: string, value: Buffer, version: string, ttlMs: number): Promise<number>;
};

const VERSION_DIGITS = 16;

/**
 * SET with PX, unless the stored entry holds a higher row version: a fill or write-through that
 * arrives late never replaces a newer row. Versions are fixed-width digits at the start of the value.
 */
const SET_UNLESS_NEWER = `
local stored = redis.call('GETRANGE', KEYS[1], 0, ${VERSION_DIGITS - 1})
if stored ~= '' then
  local storedVersion = tonumber(stored)
  if storedVersion ~= nil and storedVersion > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
`;
