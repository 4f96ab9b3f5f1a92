import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { entryFrom, packr } from '../codec.ts';
import type { CacheEntry, CachedKind } from '../entry.ts';
import type { CacheKeys } from '../keys.ts';
import type { CacheTier, TierFence, TierLookup, TierRead, TierWrite } from './tier.ts';
import type { TierGuard } from './tierGuard.ts';

export interface RedisTierOptions {
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
  logger: Logger;
  /** The clock that decides when a tag's generation needs its expiry pushed again. @default Date.now */
  now?: () => number;
}

/**
 * L3: Redis, shared by every instance.
 *
 * Tags are invalidated lazily, by per-tag generations, which works the same on one Redis and on a
 * Cluster (where no command spans hash slots): invalidating a tag sets its generation key to a new
 * random value. Every entry is stored with the generations its tags had when its value was loaded
 * (its fence); a read fetches the entries and their tags' current generations in the same round
 * trip, and an entry whose stamps differ is a miss. Invalidating a tag is one SET, atomic, and no
 * index of keys is kept: the only per-tag state is that one key, which expires.
 *
 * A generation is random, never a counter: a counter would restart at 1 once its key expired, and an
 * old entry stamped 1 would come back to life. For the same reason a missing generation matches
 * nothing: Redis evicts cold keys (allkeys-lru picks a tag key before the hot entries carrying it)
 * and a failover can lose the last SET, so "no generation" may well follow an invalidation. A read
 * that finds a tag without one creates it (see {@link createMissingGenerations}) before it hands out
 * its fence, so every stamp is a real generation and losing the key makes every entry stamped with
 * it a miss, never a hit again.
 *
 * Stored value: 16 ASCII digits of the row version (read by the write-guard script), then the
 * MessagePack stamps array, then the MessagePack entry (codec.ts).
 */
export class RedisTier implements CacheTier {
  readonly name = 'L3';
  private readonly redis: Redis | Cluster;
  private readonly now: () => number;
  /** Per tag: until when (this clock) its generation is known to be kept, see {@link generationsToKeep}. */
  private readonly generationKeptUntil = new LRUCache<string, number>({ max: KEPT_TAGS_REMEMBERED });

  constructor(private readonly options: RedisTierOptions) {
    this.redis = options.redis;
    this.now = options.now ?? Date.now;
    if (!('setUnlessNewer' in this.redis)) this.redis.defineCommand('setUnlessNewer', { numberOfKeys: 1, lua: SET_UNLESS_NEWER });
  }

  async getMany<V>(reads: readonly TierRead[], kind: CachedKind<V>): Promise<TierLookup<V>> {
    if (reads.length === 0) return { entries: [], fence: this.noFence() };
    const tagList = uniqueTags(reads.map((read) => read.tags));
    // Entries and generations together: issued in one tick, they leave in one round trip.
    const replies = await this.options.guard.run(undefined, () =>
      Promise.all([this.mget(reads.map((read) => read.key)), this.generations(tagList)]),
    );
    if (replies === undefined) return { entries: reads.map(() => undefined), fence: this.noFence() };
    const [raw, generations] = replies;
    const entries = raw.map((bytes, i) => (bytes === null ? undefined : this.decode(reads[i] as TierRead, bytes, kind, generations)));
    // Before the fence is handed out, so before any load: the fill stamps only real generations.
    const fence: RedisFence = { tier: this.name, generations: await this.createMissingGenerations(generations) };
    return { entries, fence };
  }

  /**
   * Reads entries whose tags are known only from their value (whole responses: their tags are what
   * their execution read). Two round trips: the entries, then their tags' generations (and a third
   * when one is missing, to create it). An entry whose stamps differ from the current generations,
   * or one of whose tags has none, is a miss, as in {@link getMany}.
   */
  async getCarryingTags<V>(keys: readonly string[], kind: CachedKind<V>, tagsOf: (value: V) => readonly string[]): Promise<TierLookup<V>> {
    const raw = await this.options.guard.run(undefined, () => this.mget(keys));
    if (raw === undefined) return { entries: keys.map(() => undefined), fence: this.noFence() };
    const decoded = raw.map((bytes, i) => (bytes === null ? undefined : this.unpack(keys[i] as string, bytes, kind)));
    const reads = decoded.map((found, i) => ({ key: keys[i] as string, tags: found?.entry.value === null || !found ? [] : tagsOf(found.entry.value) }));
    const generations = await this.options.guard.run(undefined, () => this.generations(uniqueTags(reads.map((read) => read.tags))));
    if (generations === undefined) return { entries: keys.map(() => undefined), fence: this.noFence() };
    const entries = decoded.map((found, i) => (found && stampsMatch(found.stamps, (reads[i] as TierRead).tags, generations) ? found.entry : undefined));
    const fence: RedisFence = { tier: this.name, generations: await this.createMissingGenerations(generations) };
    return { entries, fence };
  }

  async fence(tags: readonly string[], known?: ReadonlyMap<string, string>): Promise<TierFence> {
    const unknown = uniqueTags([tags]).filter((tag) => !known?.has(tag));
    const read = unknown.length === 0 ? new Map<string, string | null>() : await this.options.guard.run(undefined, () => this.generations(unknown));
    // Before the fence is handed out, so before any load: the fill stamps only real generations.
    const generations = read && (await this.createMissingGenerations(read));
    if (generations && known) for (const [tag, generation] of known) generations.set(tag, generation);
    const fence: RedisFence = { tier: this.name, generations };
    return fence;
  }

  async setMany(writes: readonly TierWrite[], fence: TierFence): Promise<void> {
    const generations = (fence as RedisFence).generations;
    // Without the generations we cannot stamp the entries, and an unstamped entry could be stale.
    if (writes.length === 0 || generations === undefined) return;
    const redis = this.redis as WithScripts;
    const records: { write: TierWrite; version: string; value: Buffer }[] = [];
    for (const write of writes) {
      const stamps = write.tags.map((tag) => generations.get(tag));
      // A caller's bug, not an outage: thrown before the guard, which would mark Redis down.
      if (stamps.includes(undefined)) throw new TypeError(`write of ${write.key} has a tag outside its fence`);
      // A tag whose generation Redis failed to create (an outage): there is nothing to stamp it with.
      if (stamps.includes(null)) continue;
      const version = String(write.entry.version).padStart(VERSION_DIGITS, '0');
      records.push({ write, version, value: Buffer.concat([Buffer.from(version), packr.pack(stamps), write.bytes]) });
    }
    if (records.length === 0) return;
    const extensions = this.generationsToKeep(records.map(({ write }) => write));
    const done = await this.options.guard.run(false, async () => {
      // Issued in one tick, these leave as one pipeline (enableAutoPipelining): one round trip.
      await Promise.all([
        ...records.map(({ write, version, value }) => redis.setUnlessNewer(write.key, value, version, Math.max(1, Math.ceil(write.ttlMs)))),
        ...extensions.map(({ tag, ms }) => redis.pexpire(this.options.keys.tag(tag), ms, 'GT')),
      ]);
      return true;
    });
    if (done) for (const { tag, until } of extensions) this.generationKeptUntil.set(tag, until);
  }

  async invalidateTags(tags: readonly string[]): Promise<boolean> {
    return (await this.invalidateTagsWithGenerations(tags)) !== undefined;
  }

  /**
   * {@link invalidateTags}, returning the new generation of each tag (in the order of `tags`), or
   * undefined when the tier failed to. The invalidator passes them on to the other instances, so
   * that each knows which generations its L2 has caught up with (see HeardGenerations).
   */
  async invalidateTagsWithGenerations(tags: readonly string[]): Promise<string[] | undefined> {
    if (tags.length === 0) return [];
    const redis = this.redis;
    const unique = uniqueTags([tags]);
    const generations = new Map(unique.map((tag) => [this.options.keys.tag(tag), newGeneration('invalidated')]));
    const lifetimes = new Map(unique.map((tag) => [this.options.keys.tag(tag), this.lifetimeMs(tag)]));
    const done = await this.options.guard.run(false, async () => {
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
    });
    return done ? tags.map((tag) => generations.get(this.options.keys.tag(tag)) as string) : undefined;
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
   * are misses, and setMany stores nothing under them.
   */
  private async createMissingGenerations(read: Map<string, string | null>): Promise<Map<string, string | null>> {
    const generations = new Map(read);
    const missing = [...generations].filter(([, generation]) => generation === null).map(([tag]) => tag);
    if (missing.length === 0) return generations;
    // Thrown before the guard, as a caller's bug (see invalidateTagsWithGenerations).
    const lifetimes = missing.map((tag) => this.lifetimeMs(tag));
    const redis = this.redis;
    const created = await this.options.guard.run(undefined, () =>
      Promise.all(
        missing.map(async (tag, i) => {
          const generation = newGeneration('created');
          const existing = await redis.set(this.options.keys.tag(tag), generation, 'PX', lifetimes[i] as number, 'NX', 'GET');
          return existing ?? generation;
        }),
      ),
    );
    if (created) missing.forEach((tag, i) => generations.set(tag, created[i] as string));
    return generations;
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
  private generationsToKeep(writes: readonly TierWrite[]): { tag: string; ms: number; until: number }[] {
    const now = this.now();
    const needed = new Map<string, number>();
    for (const write of writes) {
      for (const tag of write.tags) needed.set(tag, Math.max(needed.get(tag) ?? 0, now + write.ttlMs));
    }
    const extensions: { tag: string; ms: number; until: number }[] = [];
    for (const [tag, until] of needed) {
      if ((this.generationKeptUntil.get(tag) ?? 0) >= until) continue;
      const ms = this.lifetimeMs(tag);
      extensions.push({ tag, ms, until: now + ms });
    }
    return extensions;
  }

  /** The tag's lifetime (see {@link RedisTierOptions.tagLifetimeMs}); RangeError for a bad one. */
  private lifetimeMs(tag: string): number {
    const ms = this.options.tagLifetimeMs(tag);
    if (!Number.isSafeInteger(ms) || ms <= 0) throw new RangeError(`tag ${this.options.keys.tag(tag)} has lifetime ${ms} ms; it must be a positive whole number`);
    return ms;
  }

  private decode<V>(read: TierRead, bytes: Buffer, kind: CachedKind<V>, generations: Map<string, string | null>): CacheEntry<V> | undefined {
    const found = this.unpack(read.key, bytes, kind);
    // Invalidated since it was loaded (or stamped for other tags): a miss.
    return found && stampsMatch(found.stamps, read.tags, generations) ? found.entry : undefined;
  }

  /** The stamps and the entry; undefined (a miss, logged) for bytes that are not an entry of `kind`. */
  private unpack<V>(key: string, bytes: Buffer, kind: CachedKind<V>): { stamps: unknown; entry: CacheEntry<V> } | undefined {
    let stamps: unknown;
    let entry: CacheEntry<V> | Error;
    try {
      const [first, second] = packr.unpackMultiple(bytes.subarray(VERSION_DIGITS)) as [unknown, unknown];
      stamps = first;
      entry = entryFrom(key, second, kind);
    } catch (error) {
      entry = error instanceof Error ? error : new Error(String(error));
    }
    if (entry instanceof Error) {
      // A miss: the fill that follows overwrites the bad bytes.
      this.options.logger.warn({ err: entry, key }, 'corrupt cache entry read as a miss');
      return undefined;
    }
    return { stamps, entry };
  }

  /** Current generation of each tag, as read; null for a tag whose key is missing. */
  private async generations(tagList: readonly string[]): Promise<Map<string, string | null>> {
    const values = await this.mgetText(tagList.map((tag) => this.options.keys.tag(tag)));
    return new Map(tagList.map((tag, i) => [tag, values[i] ?? null]));
  }

  private noFence(): RedisFence {
    return { tier: this.name, generations: undefined };
  }

  private async mget(keys: readonly string[]): Promise<(Buffer | null)[]> {
    const redis = this.redis;
    return mgetBySlot(keys, redis, (group) => redis.mgetBuffer(...group));
  }

  private async mgetText(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    const redis = this.redis;
    return mgetBySlot(keys, redis, (group) => redis.mget(...group));
  }
}

/**
 * The generations of a fence of this tier (undefined: Redis did not answer; null for a tag: its
 * generation was missing and could not be created).
 */
export function fenceGenerations(fence: TierFence): ReadonlyMap<string, string | null> | undefined {
  return (fence as RedisFence).generations;
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

// Private:

interface RedisFence extends TierFence {
  /**
   * undefined: Redis did not answer, so nothing may be written under this fence. null for a tag:
   * its generation could not be created, so nothing carrying it may be written.
   */
  readonly generations: Map<string, string | null> | undefined;
}

type WithScripts = (Redis | Cluster) & {
  setUnlessNewer(key: string, value: Buffer, version: string, ttlMs: number): Promise<number>;
};

const VERSION_DIGITS = 16;

/** Marks a generation created by a read (see {@link isCreatedGeneration}). */
const CREATED_MARK = '~';

/** How many tags' generation expiries a tier remembers having pushed (see generationsToKeep). */
const KEPT_TAGS_REMEMBERED = 100_000;

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

/**
 * Whether an entry's stamps are its tags' current generations. A tag without one matches nothing:
 * its key may have been evicted, or lost in a failover, after an invalidation the entry predates.
 */
function stampsMatch(stamps: unknown, tags: readonly string[], generations: ReadonlyMap<string, string | null>): boolean {
  if (!Array.isArray(stamps) || stamps.length !== tags.length) return false;
  for (let i = 0; i < stamps.length; i++) {
    const generation = generations.get(tags[i] as string);
    if (generation === null || generation === undefined || stamps[i] !== generation) return false;
  }
  return true;
}

function newGeneration(by: 'invalidated' | 'created'): string {
  const random = randomBytes(9).toString('base64url');
  return by === 'created' ? CREATED_MARK + random : random;
}

function uniqueTags(lists: readonly (readonly string[])[]): string[] {
  return [...new Set(lists.flat())];
}

async function mgetBySlot<T>(keys: readonly string[], redis: { isCluster: boolean }, mget: (group: string[]) => Promise<(T | null)[]>): Promise<(T | null)[]> {
  const groups = groupBySlot(keys, redis);
  if (groups.length === 1) return mget(groups[0] as string[]);
  const replies = await Promise.all(groups.map(mget));
  const byKey = new Map<string, T | null>();
  groups.forEach((group, g) => group.forEach((key, i) => byKey.set(key, replies[g]?.[i] ?? null)));
  return keys.map((key) => byKey.get(key) ?? null);
}
