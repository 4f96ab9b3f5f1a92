import type { Cluster, Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import type { Logger } from 'pino';
import { decodeEntry } from '../codec.ts';
import type { CacheEntry, CachedKind } from '../entry.ts';
import type { CacheTier, TierWrite } from './tier.ts';
import type { TierGuard } from './tierGuard.ts';

export interface RedisTierOptions {
  redis: Redis | Cluster;
  // Only run() is needed: a test may pass a guard that never degrades.
  guard: Pick<TierGuard, 'run'>;
  logger: Logger;
}

/**
 * L3: Redis, shared by every instance. Reads of a batch are one MGET; writes carry their TTL in the
 * same SET command. On Redis Cluster, where MGET must not span hash slots, the keys are grouped by
 * slot and the per-slot MGETs are auto-pipelined per node. Every call goes through the guard, so a
 * failing Redis reads as misses.
 */
export class RedisTier implements CacheTier {
  readonly name = 'L3';

  constructor(private readonly options: RedisTierOptions) {}

  async getMany<V>(keys: readonly string[], kind: CachedKind<V>): Promise<(CacheEntry<V> | undefined)[]> {
    if (keys.length === 0) return [];
    const misses = keys.map(() => undefined);
    const raw = await this.options.guard.run<(Buffer | null)[] | undefined>(undefined, () => this.mget(keys));
    if (raw === undefined) return misses;
    return raw.map((bytes, i) => {
      if (bytes === null) return undefined;
      const key = keys[i] as string;
      const entry = decodeEntry(key, bytes, kind);
      if (entry instanceof Error) {
        // A miss: the fill that follows overwrites the bad bytes.
        this.options.logger.warn({ err: entry, key }, 'corrupt cache entry read as a miss');
        return undefined;
      }
      return entry;
    });
  }

  async setMany(writes: readonly TierWrite[]): Promise<void> {
    if (writes.length === 0) return;
    const redis = this.options.redis;
    await this.options.guard.run(undefined, async () => {
      // Issued in one tick, these leave as one pipeline (enableAutoPipelining): one round trip.
      await Promise.all(writes.map((w) => redis.set(w.key, w.bytes, 'PX', Math.max(1, Math.ceil(w.ttlMs)))));
    });
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const redis = this.options.redis;
    await this.options.guard.run(undefined, async () => {
      await Promise.all(groupBySlot(keys, redis).map((group) => redis.unlink(...group)));
    });
  }

  private async mget(keys: readonly string[]): Promise<(Buffer | null)[]> {
    const redis = this.options.redis;
    const groups = groupBySlot(keys, redis);
    if (groups.length === 1) return redis.mgetBuffer(...(groups[0] as string[]));
    const replies = await Promise.all(groups.map((group) => redis.mgetBuffer(...group)));
    const byKey = new Map<string, Buffer | null>();
    groups.forEach((group, g) => group.forEach((key, i) => byKey.set(key, replies[g]?.[i] ?? null)));
    return keys.map((key) => byKey.get(key) ?? null);
  }
}

/**
 * Splits keys into groups that one multi-key command may carry: all of them on a single Redis, one
 * group per hash slot on a Cluster. Pure.
 */
export function groupBySlot(keys: readonly string[], redis: { isCluster: boolean }): string[][] {
  if (!redis.isCluster) return [[...keys]];
  const bySlot = new Map<number, string[]>();
  for (const key of keys) {
    const slot = calculateSlot(key);
    const group = bySlot.get(slot);
    if (group) group.push(key);
    else bySlot.set(slot, [key]);
  }
  return [...bySlot.values()];
}
