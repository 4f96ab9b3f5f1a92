import { LRUCache } from 'lru-cache';
import type { CacheEntry, CachedKind } from '../entry.ts';
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- InvalidationLogOptions: for the {@link} in a doc comment
import { InvalidationLog, type InvalidationLogOptions, type LogFence } from '../coherence/invalidationLog.ts';
import { heldBytes, keptEntry } from './memoryFootprint.ts';
import type { CacheTier, TierFence, TierLookup, TierRead, TierWrite } from './tier.ts';

interface MemoryTierBaseOptions {
  /**
   * The bound on the memory L2 holds, in bytes: its entries (decoded), their buffers, keys and tag
   * index, as estimated by {@link heldBytes}. Least recently used entries go first; an entry larger
   * than the whole bound is refused.
   */
  maxBytes: number;
  /** Told of each entry dropped to make room (not expired, replaced or invalidated): the metrics. */
  onEvict?: () => void;
}

interface WithSharedLog {
  /**
   * The invalidation log that fences fills (see {@link InvalidationLog}), shared with whatever else
   * caches in this process (the response tier, list fills). Absent: the tier makes a log of its own.
   */
  log: InvalidationLog;
  rememberedTags?: never;
}

interface WithOwnLog {
  log?: undefined;
  /** How many invalidated tags the tier's own log remembers: {@link InvalidationLogOptions.rememberedTags}. */
  rememberedTags?: number;
}

/** A shared log is configured where it is made: with `log`, `rememberedTags` does not type-check. */
export type MemoryTierOptions = MemoryTierBaseOptions & (WithSharedLog | WithOwnLog);

/**
 * L2: one per process, bounded by the bytes it holds, never by entry count alone. Entries are kept
 * decoded (a hit costs no parsing). What is counted is what is kept: the decoded value, estimated
 * from its encoded length, its buffers exactly (each copied to a buffer of its own, so that none
 * keeps a larger one alive), its key, and its tags in the index (see {@link heldBytes}).
 *
 * Coherence: a tag index (tag -> keys) lets `invalidateTags` drop every entry carrying a tag at once,
 * whether the invalidation was made here or arrived from another instance over pub/sub. Fences are
 * positions in the process's {@link InvalidationLog}: a fill whose tags were invalidated after its
 * fence is refused, so a load that raced a write never caches the old row.
 */
export class MemoryTier implements CacheTier {
  readonly name = 'L2';
  private readonly lru: LRUCache<string, Stored>;
  /** The bound on what it holds, in bytes (see {@link MemoryTierOptions}). */
  readonly maxBytes: number;
  private readonly keysByTag = new Map<string, Set<string>>();
  /** The log this tier's fences are positions in: its own, or the one it was given. */
  readonly log: InvalidationLog;
  private paused = false;

  constructor(options: MemoryTierOptions) {
    this.maxBytes = getValidMaxBytes(options);
    this.lru = new LRUCache<string, Stored>({
      maxSize: this.maxBytes,
      sizeCalculation: (stored) => stored.bytes,
      // Evicted, expired, replaced or deleted: the entry leaves the tag index with it.
      dispose: (stored, key, reason) => {
        this.unindex(key, stored.tags);
        if (reason === 'evict') options.onEvict?.();
      },
    });
    this.log = getValidLog(options);
  }

  async getMany<V>(reads: readonly TierRead[], _kind: CachedKind<V>): Promise<TierLookup<V>> {
    const fence = this.currentFence();
    if (this.paused) return { entries: reads.map(() => undefined), fence };
    // Only this process writes L2, with values it loaded and froze itself: no shape check needed.
    return { entries: reads.map((read) => this.lru.get(read.key)?.entry as TierLookup<V>['entries'][number]), fence };
  }

  async fence(_tags: readonly string[]): Promise<TierFence> {
    return this.currentFence();
  }

  /** A fence for any tags, now: a position in the log, whatever the tags. */
  currentFence(): TierFence {
    const fence: MemoryFence = { tier: this.name, ...this.log.fence() };
    return fence;
  }

  /** The entry under `key` now, without a promise: the response tier's hit path. undefined while paused. */
  peek<V>(key: string): CacheEntry<V> | undefined {
    return this.paused ? undefined : (this.lru.get(key)?.entry as CacheEntry<V> | undefined);
  }

  /** Whether any of `tags` was invalidated here after `fence` was taken (or L2 is paused). */
  invalidatedSince(tags: readonly string[], fence: TierFence): boolean {
    return this.paused || this.log.invalidatedSince(tags, fence as MemoryFence);
  }

  async setMany(writes: readonly TierWrite[], fence: TierFence): Promise<void> {
    if (this.paused) return;
    for (const write of writes) {
      // A tag invalidated after the fence: this value may predate the write that invalidated it.
      if (this.log.invalidatedSince(write.tags, fence as MemoryFence)) continue;
      const current = this.lru.peek(write.key);
      if (current !== undefined && current.entry.version > write.entry.version) continue;
      const kept = keptEntry(write.entry);
      const bytes = heldBytes(write, kept.buffers);
      // Larger than the whole tier: refused before lru-cache sees it (it would drop it without a word,
      // and the tag index would keep the key). The entry it replaces goes too: it is older.
      if (bytes > this.maxBytes) {
        this.lru.delete(write.key);
        continue;
      }
      this.lru.set(write.key, { entry: kept.entry, bytes, tags: write.tags }, { ttl: Math.max(1, write.ttlMs) });
      this.index(write.key, write.tags);
    }
  }

  async invalidateTags(tags: readonly string[]): Promise<boolean> {
    this.log.record(tags);
    for (const tag of tags) {
      const keys = this.keysByTag.get(tag);
      if (!keys) continue;
      // Copied: each delete disposes the entry, which edits this set.
      for (const key of [...keys]) this.lru.delete(key);
    }
    return true;
  }

  /** Drops every entry and refuses every fill fenced before now. */
  clear(): void {
    this.log.forgetAll();
    this.lru.clear();
  }

  /**
   * While paused (this instance cannot hear other instances' invalidations), reads miss and writes
   * are dropped. Resuming clears: whatever was held may have missed an invalidation.
   */
  pause(): void {
    this.paused = true;
    this.clear();
  }

  resume(): void {
    this.clear();
    this.paused = false;
  }

  /** Entries currently held. */
  get entryCount(): number {
    return this.lru.size;
  }

  /** Bytes currently held, as counted against maxBytes. */
  get sizeBytes(): number {
    return this.lru.calculatedSize;
  }

  /** How many tags the index holds keys for: what tests check for leftovers. */
  get indexedTags(): number {
    return this.keysByTag.size;
  }

  private index(key: string, tags: readonly string[]): void {
    for (const tag of tags) {
      const keys = this.keysByTag.get(tag);
      if (keys) keys.add(key);
      else this.keysByTag.set(tag, new Set([key]));
    }
  }

  private unindex(key: string, tags: readonly string[]): void {
    for (const tag of tags) {
      const keys = this.keysByTag.get(tag);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) this.keysByTag.delete(tag);
    }
  }
}

// Private:

interface Stored {
  readonly entry: TierWrite['entry'];
  /** Its size, as counted against maxBytes. */
  readonly bytes: number;
  readonly tags: readonly string[];
}

interface MemoryFence extends TierFence, LogFence {}

function getValidMaxBytes(options: MemoryTierOptions): number {
  const { maxBytes } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new TypeError(`maxBytes must be a positive whole number, got ${String(maxBytes)}`);
  return maxBytes;
}

function getValidLog(options: MemoryTierOptions): InvalidationLog {
  if (options.log === undefined) return new InvalidationLog({ rememberedTags: options.rememberedTags });
  if (options.rememberedTags !== undefined) {
    throw new TypeError("rememberedTags configures the tier's own log: with a shared log, set it where the log is made");
  }
  return options.log;
}
