import type { Logger } from 'pino';
import type { CacheEntry, CachedKind } from '../entry.ts';
import { stampsMatch, TagGenerations, type TagGenerationsOptions } from '../tags/tagGenerations.ts';
import { mgetBySlot } from './redisSlots.ts';
import { decodeStoredEntry, defineSetUnlessNewer, encodeStoredEntry, setUnlessNewer, type StoredWrite } from './storedEntry.ts';
import type { CacheTier, TierFence, TierLookup, TierRead, TierWrite } from './tier.ts';

/** What the tag generations take (the Redis, its guard, the keys, the tags' lifetimes, the clock), and a logger. */
export interface RedisTierOptions extends TagGenerationsOptions {
  logger: Logger;
  /**
   * The tags that have an invalidation this instance committed a write for but could not apply here
   * yet (see Invalidator: it retries), as they stand now: a predicate, or undefined when there are
   * none. Until the retry lands, an entry carrying one of them may hold the row from before that
   * write with stamps that still match: it is read as a miss, so the writer still reads its own
   * write. Asked when a lookup is sent, never when its reply is read: the retry's reply can arrive
   * with the lookup's and confirm the tag first, while the lookup holds generations from before it.
   * @default none
   */
  unconfirmed?: () => Unconfirmed | undefined;
}

/**
 * L3: Redis, shared by every instance.
 *
 * Tags are invalidated lazily, by per-tag generations, which works the same on one Redis and on a
 * Cluster (where no command spans hash slots): invalidating a tag sets its generation key to a new
 * random value. Every entry is stored with the generations its tags had when its value was loaded
 * (its fence); a read fetches the entries and their tags' current generations in the same round
 * trip, and an entry whose stamps differ is a miss. Invalidating a tag is one SET, atomic, and no
 * index of keys is kept: the only per-tag state is that one key, which expires. What a generation
 * is, and why a missing one matches nothing: tags/tagGenerations.ts. How an entry is stored:
 * storedEntry.ts.
 */
export class RedisTier implements CacheTier {
  readonly name = 'L3';
  private readonly generations: TagGenerations;

  constructor(private readonly options: RedisTierOptions) {
    this.generations = new TagGenerations(options);
    defineSetUnlessNewer(options.redis);
  }

  async getMany<V>(reads: readonly TierRead[], kind: CachedKind<V>): Promise<TierLookup<V>> {
    if (reads.length === 0) return { entries: [], fence: this.noFence() };
    const tagList = uniqueTags(reads.map((read) => read.tags));
    const unconfirmed = this.options.unconfirmed?.();
    // Entries and generations together: issued in one tick, they leave in one round trip.
    const replies = await this.options.guard.run(undefined, () => Promise.all([this.mget(reads.map((read) => read.key)), this.generations.read(tagList)]));
    if (replies === undefined) return { entries: reads.map(() => undefined), fence: this.noFence() };
    const [raw, generations] = replies;
    const entries = raw.map((bytes, i) => (bytes === null ? undefined : this.decode(reads[i] as TierRead, bytes, kind, { generations, unconfirmed })));
    // Before the fence is handed out, so before any load: the fill stamps only real generations.
    const fence: RedisFence = { tier: this.name, generations: await this.generations.createMissing(generations) };
    return { entries, fence };
  }

  /**
   * Reads entries whose tags are known only from their value (whole responses: their tags are what
   * their execution read). Two round trips: the entries, then their tags' generations (and a third
   * when one is missing, to create it). An entry whose stamps differ from the current generations,
   * or one of whose tags has none, is a miss, as in {@link getMany}.
   */
  async getCarryingTags<V>(keys: readonly string[], kind: CachedKind<V>, tagsOf: (value: V) => readonly string[]): Promise<TierLookup<V>> {
    const unconfirmed = this.options.unconfirmed?.();
    const raw = await this.options.guard.run(undefined, () => this.mget(keys));
    if (raw === undefined) return { entries: keys.map(() => undefined), fence: this.noFence() };
    const decoded = raw.map((bytes, i) => (bytes === null ? undefined : this.unpack(keys[i] as string, bytes, kind)));
    const reads = decoded.map((found, i) => ({ key: keys[i] as string, tags: found?.entry.value === null || !found ? [] : tagsOf(found.entry.value) }));
    const generations = await this.options.guard.run(undefined, () => this.generations.read(uniqueTags(reads.map((read) => read.tags))));
    if (generations === undefined) return { entries: keys.map(() => undefined), fence: this.noFence() };
    const entries = decoded.map((found, i) => (found && this.servable(found.stamps, (reads[i] as TierRead).tags, { generations, unconfirmed }) ? found.entry : undefined));
    const fence: RedisFence = { tier: this.name, generations: await this.generations.createMissing(generations) };
    return { entries, fence };
  }

  async fence(tags: readonly string[], known?: ReadonlyMap<string, string>): Promise<TierFence> {
    const unknown = uniqueTags([tags]).filter((tag) => !known?.has(tag));
    const read = unknown.length === 0 ? new Map<string, string | null>() : await this.options.guard.run(undefined, () => this.generations.read(unknown));
    // Before the fence is handed out, so before any load: the fill stamps only real generations.
    const generations = read && (await this.generations.createMissing(read));
    if (generations && known) for (const [tag, generation] of known) generations.set(tag, generation);
    const fence: RedisFence = { tier: this.name, generations };
    return fence;
  }

  async setMany(writes: readonly TierWrite[], fence: TierFence): Promise<void> {
    const generations = (fence as RedisFence).generations;
    // Without the generations we cannot stamp the entries, and an unstamped entry could be stale.
    if (writes.length === 0 || generations === undefined) return;
    const records: { write: TierWrite; stored: StoredWrite }[] = [];
    for (const write of writes) {
      const stamps = write.tags.map((tag) => generations.get(tag));
      // A caller's bug, not an outage: thrown before the guard, which would mark Redis down.
      if (stamps.includes(undefined)) throw new TypeError(`write of ${write.key} has a tag outside its fence`);
      // A tag whose generation Redis failed to create (an outage): there is nothing to stamp it with.
      if (stamps.includes(null)) continue;
      records.push({ write, stored: encodeStoredEntry(write, stamps as string[]) });
    }
    if (records.length === 0) return;
    // Keeps the generations as long as the entries stamped with them (see TagGenerations.expiriesToPush).
    const expiries = this.generations.expiriesToPush(records.map(({ write }) => write));
    const done = await this.options.guard.run(false, async () => {
      // Issued in one tick, these leave as one pipeline (enableAutoPipelining): one round trip.
      await Promise.all([...records.map(({ stored }) => setUnlessNewer(this.options.redis, stored)), ...expiries.map((expiry) => this.generations.pushExpiry(expiry))]);
      return true;
    });
    if (done) this.generations.expiriesPushed(expiries);
  }

  async invalidateTags(tags: readonly string[]): Promise<boolean> {
    return (await this.invalidateTagsWithGenerations(tags)) !== undefined;
  }

  /**
   * {@link invalidateTags}, returning the new generation of each tag (in the order of `tags`), or
   * undefined when the tier failed to. The invalidator passes them on to the other instances, so
   * that each knows which generations its L2 has caught up with (see HeardGenerations).
   */
  async invalidateTagsWithGenerations(tags: readonly string[], options: { probe?: boolean } = {}): Promise<string[] | undefined> {
    return this.generations.invalidate(tags, options);
  }

  private decode<V>(read: TierRead, bytes: Buffer, kind: CachedKind<V>, sent: LookupState): CacheEntry<V> | undefined {
    const found = this.unpack(read.key, bytes, kind);
    return found && this.servable(found.stamps, read.tags, sent) ? found.entry : undefined;
  }

  /** Not invalidated since it was loaded (or stamped for other tags), and not waiting on one of ours when the lookup was sent. */
  private servable(stamps: unknown, tags: readonly string[], sent: LookupState): boolean {
    return stampsMatch(stamps, tags, sent.generations) && !sent.unconfirmed?.(tags);
  }

  /** The stamps and the entry; undefined (a miss, logged) for bytes that are not an entry of `kind`. */
  private unpack<V>(key: string, bytes: Buffer, kind: CachedKind<V>): { stamps: unknown; entry: CacheEntry<V> } | undefined {
    const found = decodeStoredEntry(key, bytes, kind);
    if (found instanceof Error) {
      // A miss: the fill that follows overwrites the bad bytes.
      this.options.logger.warn({ err: found, key }, 'corrupt cache entry read as a miss');
      return undefined;
    }
    return found;
  }

  private noFence(): RedisFence {
    return { tier: this.name, generations: undefined };
  }

  private async mget(keys: readonly string[]): Promise<(Buffer | null)[]> {
    const redis = this.options.redis;
    return mgetBySlot(keys, redis, (group) => redis.mgetBuffer(...group));
  }
}

/**
 * The generations of a fence of this tier (undefined: Redis did not answer; null for a tag: its
 * generation was missing and could not be created).
 */
export function fenceGenerations(fence: TierFence): ReadonlyMap<string, string | null> | undefined {
  return (fence as RedisFence).generations;
}

// Private:

interface RedisFence extends TierFence {
  /**
   * undefined: Redis did not answer, so nothing may be written under this fence. null for a tag:
   * its generation could not be created, so nothing carrying it may be written.
   */
  readonly generations: Map<string, string | null> | undefined;
}

function uniqueTags(lists: readonly (readonly string[])[]): string[] {
  return [...new Set(lists.flat())];
}

/** Whether any of `tags` waits on an invalidation of ours (see {@link RedisTierOptions.unconfirmed}). */
export type Unconfirmed = (tags: readonly string[]) => boolean;

/** What a lookup is judged by: the generations it read, and the unconfirmed tags when it was sent. */
interface LookupState {
  readonly generations: ReadonlyMap<string, string | null>;
  readonly unconfirmed: Unconfirmed | undefined;
}
