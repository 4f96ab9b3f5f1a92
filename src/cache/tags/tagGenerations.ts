import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { CacheKeys } from '../keys.ts';
import { groupBySlot, mgetBySlot } from '../tiers/redisSlots.ts';
import type { TierWrite } from '../tiers/tier.ts';
import type { TierGuard } from '../tiers/tierGuard.ts';

export interface TagGenerationsOptions {
  redis: Redis | Cluster;
  // Only run() is needed: a test may pass a guard that never degrades.
  guard: Pick<TierGuard, 'run'>;
  keys: CacheKeys;
  /**
   * How long a tag's generation is kept after it was set (by an invalidation, or created by a read)
   * or last stamped on a fill, in ms: at least the longest lifetime (TTL plus grace) of any entry
   * carrying the tag, so that entries stamped with a generation do not outlive it (they would turn
   * into misses early), and no longer, which is what bounds the tag keys' memory.
   */
  tagLifetimeMs: (tag: string) => number;
  /** The clock that decides when a tag's generation needs its expiry pushed again. @default Date.now */
  now?: () => number;
}

/** A tag's generation expiry to push: its lifetime `ms` from now, so kept `until` (the options' clock). */
export interface GenerationExpiry {
  readonly tag: string;
  readonly ms: number;
  readonly until: number;
}

/**
 * The tags' generations in L3: one Redis key per tag ({@link CacheKeys.tag}), whose value an
 * invalidation replaces. L3 stamps each entry with its tags' generations (RedisTier); an entry
 * whose stamps are no longer current is a miss ({@link stampsMatch}).
 *
 * A generation is random, never a counter: a counter would restart at 1 once its key expired, and an
 * old entry stamped 1 would come back to life. For the same reason a missing generation matches
 * nothing: Redis evicts cold keys (allkeys-lru picks a tag key before the hot entries carrying it)
 * and a failover can lose the last SET, so "no generation" may well follow an invalidation. A read
 * that finds a tag without one creates it (see {@link createMissing}) before it hands out its
 * fence, so every stamp is a real generation and losing the key makes every entry stamped with it
 * a miss, never a hit again.
 */
export class TagGenerations {
  private readonly now: () => number;
  /** Per tag: until when (this clock) its generation is known to be kept, see {@link expiriesToPush}. */
  private readonly keptUntil = new LRUCache<string, number>({ max: KEPT_TAGS_REMEMBERED });

  constructor(private readonly options: TagGenerationsOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Current generation of each tag, as read; null for a tag whose key is missing. Unguarded: the
   * caller sends it with its entries, in one round trip under one guard call.
   */
  async read(tags: readonly string[]): Promise<Map<string, string | null>> {
    if (tags.length === 0) return new Map();
    const { redis, keys } = this.options;
    const values = await mgetBySlot(
      tags.map((tag) => keys.tag(tag)),
      redis,
      (group) => redis.mget(...group),
    );
    return new Map(tags.map((tag, i) => [tag, values[i] ?? null]));
  }

  /**
   * The generations read, with one created for each tag that had none: `SET key ~<random> NX PX
   * <lifetime> GET`, one command per tag (a Cluster may hold the tags in different slots), all in
   * one round trip, and none when no generation is missing. Where the SET finds a value, another
   * instance's creation or an invalidation came first: that one is current, and is kept.
   *
   * Created generations start with `~` (invalidations never make one that does), so that
   * HeardGenerations can tell them apart: no invalidation produced them, so no message carries them.
   * If Redis fails here, the tags stay without a generation (null): the entries carrying them
   * are misses, and RedisTier.setMany stores nothing under them.
   */
  async createMissing(read: Map<string, string | null>): Promise<Map<string, string | null>> {
    const generations = new Map(read);
    const missing = [...generations].filter(([, generation]) => generation === null).map(([tag]) => tag);
    if (missing.length === 0) return generations;
    // Thrown before the guard, as a caller's bug (see invalidate).
    const lifetimes = missing.map((tag) => this.lifetimeMs(tag));
    const { redis, keys } = this.options;
    const created = await this.options.guard.run(undefined, () =>
      Promise.all(
        missing.map(async (tag, i) => {
          const generation = newGeneration('created');
          const existing = await redis.set(keys.tag(tag), generation, 'PX', lifetimes[i] as number, 'NX', 'GET');
          return existing ?? generation;
        }),
      ),
    );
    if (created) missing.forEach((tag, i) => generations.set(tag, created[i] as string));
    return generations;
  }

  /**
   * Gives each tag a new generation, kept for the tag's lifetime: every entry stamped with an older
   * one becomes a miss. Returns the new generations, in the order of `tags`; undefined when Redis
   * failed to take them.
   */
  async invalidate(tags: readonly string[], options: { probe?: boolean } = {}): Promise<string[] | undefined> {
    if (tags.length === 0) return [];
    const { redis, keys } = this.options;
    const unique = [...new Set(tags)];
    const generations = new Map(unique.map((tag) => [keys.tag(tag), newGeneration('invalidated')]));
    const lifetimes = new Map(unique.map((tag) => [keys.tag(tag), this.lifetimeMs(tag)]));
    const done = await this.options.guard.run(
      false,
      async () => {
        // One MULTI per hash slot: all of them at once on a single Redis.
        await Promise.all(
          groupBySlot([...lifetimes.keys()], redis).map((group) => {
            const multi = redis.multi();
            for (const key of group) multi.set(key, generations.get(key) as string, 'PX', lifetimes.get(key) as number);
            // exec() resolves even when a command inside failed: look at each reply.
            return multi.exec().then((replies) => {
              const failed = replies === null ? new Error('MULTI aborted') : replies.find(([error]) => error)?.[0];
              if (failed) throw failed;
            });
          }),
        );
        return true;
      },
      options,
    );
    return done ? tags.map((tag) => generations.get(keys.tag(tag)) as string) : undefined;
  }

  /**
   * The tags of `writes` whose generation's expiry must be pushed for the entries to stay servable
   * to the end of their TTL, each with the lifetime to push it to (PEXPIRE GT: never shortened).
   * A generation is set with the tag's lifetime, which covers any entry filled at once, but one
   * filled later may outlive it and turn into a miss early (never into a stale hit: a missing
   * generation matches nothing). So a fill pushes its tags' expiry, in the same round trip, to its
   * tag's lifetime from now, unless this instance already pushed it past the entry's end. That is
   * at most once per tag per (lifetime - TTL) per instance (CacheAddresses keeps a margin of 60 s),
   * and only on fills, which happen only on misses. Hit rate only: correctness never depends on it,
   * since an expiry never changes a generation's value.
   */
  expiriesToPush(writes: readonly Pick<TierWrite, 'tags' | 'ttlMs'>[]): GenerationExpiry[] {
    const now = this.now();
    const needed = new Map<string, number>();
    for (const { tags, ttlMs } of writes) for (const tag of tags) needed.set(tag, Math.max(needed.get(tag) ?? 0, now + ttlMs));
    const expiries: GenerationExpiry[] = [];
    for (const [tag, until] of needed) {
      if ((this.keptUntil.get(tag) ?? 0) >= until) continue;
      const ms = this.lifetimeMs(tag);
      expiries.push({ tag, ms, until: now + ms });
    }
    return expiries;
  }

  /** Unguarded: the caller sends it with the fills it keeps servable, in their round trip. */
  pushExpiry(expiry: GenerationExpiry): Promise<number> {
    return this.options.redis.pexpire(this.options.keys.tag(expiry.tag), expiry.ms, 'GT');
  }

  /** Once Redis has taken the pushes: later fills ending before `until` need none. */
  expiriesPushed(expiries: readonly GenerationExpiry[]): void {
    for (const { tag, until } of expiries) this.keptUntil.set(tag, until);
  }

  /** The tag's lifetime (see {@link TagGenerationsOptions.tagLifetimeMs}); RangeError for a bad one. */
  private lifetimeMs(tag: string): number {
    const ms = this.options.tagLifetimeMs(tag);
    if (!Number.isSafeInteger(ms) || ms <= 0) throw new RangeError(`tag ${this.options.keys.tag(tag)} has lifetime ${ms} ms; it must be a positive whole number`);
    return ms;
  }
}

/**
 * Whether a generation was created by a read that found none, rather than set by an invalidation.
 * Generations are 12 base64url characters; a created one has `~` in front, which base64url never
 * produces.
 */
export function isCreatedGeneration(generation: string): boolean {
  return generation.startsWith(CREATED_MARK);
}

/**
 * Whether an entry's stamps are its tags' current generations. A tag without one matches nothing:
 * its key may have been evicted, or lost in a failover, after an invalidation the entry predates.
 */
export function stampsMatch(stamps: unknown, tags: readonly string[], generations: ReadonlyMap<string, string | null>): boolean {
  if (!Array.isArray(stamps) || stamps.length !== tags.length) return false;
  for (let i = 0; i < stamps.length; i++) {
    const generation = generations.get(tags[i] as string);
    if (generation === null || generation === undefined || stamps[i] !== generation) return false;
  }
  return true;
}

// Private:

/** Marks a generation created by a read (see {@link isCreatedGeneration}). */
const CREATED_MARK = '~';

/** How many tags' generation expiries a tier remembers having pushed (see expiriesToPush). */
const KEPT_TAGS_REMEMBERED = 100_000;

function newGeneration(by: 'invalidated' | 'created'): string {
  const random = randomBytes(9).toString('base64url');
  return by === 'created' ? CREATED_MARK + random : random;
}
