import { LRUCache } from 'lru-cache';
import type { CacheEntry, CachedKind } from '../entry.ts';
import { InvalidationLog, type InvalidationLogOptions, type LogFence } from '../coherence/invalidationLog.ts';
import type { CacheTier, TierFence, TierLookup, TierRead, TierWrite } from './tier.ts';

interface MemoryTierBaseOptions {
  /**
   * The bound on the memory L2 holds, in bytes: its entries (decoded), their buffers, keys and tag
   * index, as estimated by {@link heldBytes}. Least recently used entries go first; an entry larger
   * than the whole bound is refused.
   */
  maxBytes: number;
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
  private readonly maxBytes: number;
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
      dispose: (stored, key) => this.unindex(key, stored.tags),
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

// Private: what an entry costs.

/** The buffers found in a value: how many, and their bytes. */
interface Buffers {
  readonly count: number;
  readonly bytes: number;
}

/**
 * The entry as L2 keeps it, and its buffers. A buffer that is a view into a larger one would keep
 * all of that alive: a body msgpackr decoded from a Redis reply is a view into the socket read
 * (up to 64 KiB, shared with other replies), a small `Buffer.from` one into an 8 KiB pool slab. Each
 * such buffer is copied into one of its own size.
 *
 * Only the value itself and its own fields are looked at (a response's `body`), never deeper: no
 * cached kind holds a buffer deeper, so a row costs one pass over its fields and an id list
 * nothing. A buffer nested deeper would be kept as it is, and counted by its encoded length only.
 */
function keptEntry(entry: CacheEntry<unknown>): { entry: CacheEntry<unknown>; buffers: Buffers } {
  const value = entry.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { entry, buffers: NO_BUFFERS };
  if (value instanceof Uint8Array) {
    const buffers = { count: 1, bytes: value.byteLength };
    return { entry: isView(value) ? { ...entry, value: exactCopy(value) } : entry, buffers };
  }
  const fields = value as Record<string, unknown>;
  let count = 0;
  let bytes = 0;
  let copies: Record<string, Uint8Array> | undefined;
  for (const name in fields) {
    const field = fields[name];
    if (!(field instanceof Uint8Array)) continue;
    count += 1;
    bytes += field.byteLength;
    if (isView(field)) (copies ??= {})[name] = exactCopy(field);
  }
  if (copies === undefined) return { entry, buffers: { count, bytes } };
  const copied = { ...fields, ...copies };
  // A frozen value (shared by every request) stays frozen.
  return { entry: { ...entry, value: Object.isFrozen(value) ? Object.freeze(copied) : copied }, buffers: { count, bytes } };
}

function isView(buffer: Uint8Array): boolean {
  return buffer.buffer.byteLength > buffer.byteLength;
}

/** A copy in memory of its own size: `new Uint8Array`, never `Buffer.from`, which may take a pool slab. */
function exactCopy(buffer: Uint8Array): Uint8Array {
  const copy = new Uint8Array(buffer.byteLength);
  copy.set(buffer);
  // A Buffer stays a Buffer (its methods may be used on the way out), over the copy's memory.
  return Buffer.isBuffer(buffer) ? Buffer.from(copy.buffer, 0, copy.byteLength) : copy;
}

/**
 * What keeping `write` costs, in bytes: an estimate calibrated to be at or above what V8 really
 * uses for it (heap and array buffers, measured after a full GC: see the constants for each part).
 * - the decoded value and its entry: the encoded length, less its buffers, times
 *   {@link DECODED_BYTES_PER_ENCODED_BYTE}; an array's elements count one encoded byte more each;
 * - its buffers: their exact length (each is copied to that size), plus {@link BUFFER_OBJECT_BYTES} each;
 * - its key, and each of its tags: the string ({@link stringBytes}), plus {@link TAG_INDEX_BYTES} per tag;
 * - {@link ENTRY_BYTES}: lru-cache's slots and the record that holds the rest.
 */
function heldBytes(write: TierWrite, buffers: Buffers): number {
  const value = write.entry.value;
  const encoded = Math.max(0, write.bytes.length - buffers.bytes) + (Array.isArray(value) ? value.length : 0);
  let bytes = ENTRY_BYTES + encoded * DECODED_BYTES_PER_ENCODED_BYTE + buffers.bytes + buffers.count * BUFFER_OBJECT_BYTES + stringBytes(write.key);
  for (const tag of write.tags) bytes += stringBytes(tag) + TAG_INDEX_BYTES;
  return bytes;
}

/** A V8 string: a 16-byte header, then one byte per character, or two once any is beyond Latin-1. */
function stringBytes(text: string): number {
  return 16 + (BEYOND_LATIN1.test(text) ? 2 : 1) * text.length;
}

const BEYOND_LATIN1 = /[^\u0000-\u00ff]/;

const NO_BUFFERS: Buffers = { count: 0, bytes: 0 };

// Measured on Node 20 (x64, no pointer compression) by test/cache/tiers/memoryTierCalibration.test.ts,
// which prints the figures and fails if any kind holds more than is counted: N entries of each
// cached kind, encoded, decoded from a larger buffer as L3 hands them over (codec's decodeEntry),
// stored with their key and tags; heapUsed + arrayBuffers growth after a full GC, per entry (the
// same at N = 10,000, 23,000 and 40,000).

/**
 * Heap per encoded byte of a decoded entry (value, entry object and its numbers), measured: Product
 * 3.9, Category 3.9 to 4.3, User 3.7, Review 3.4, a response less its body 3.7 to 3.9, a private
 * marker 4.2. These include the entry's fixed part, which {@link ENTRY_BYTES} covers as well, so 4
 * leaves every kind at or under what is counted (rows at 0.7 to 0.8 of it). The worst case is an id
 * list of ids below 128 (1 encoded byte each, an 8-byte slot decoded: 7.5 for 100 of them), which is
 * why an array's elements count one byte more each.
 */
const DECODED_BYTES_PER_ENCODED_BYTE = 4;
/** A Buffer over its own ArrayBuffer: 180 bytes of heap, plus the backing store's native record. */
const BUFFER_OBJECT_BYTES = 256;
/**
 * A tag carried by no other entry: its Set of keys, its slot in the index and in the entry's tag
 * array, 200 to 216 bytes measured, plus a margin. A tag shared by many entries costs them about 30
 * each: a shared tag is overcounted, so that a tag never is.
 */
const TAG_INDEX_BYTES = 240;
/** An absent marker with no tags held 219 to 261 bytes beyond its decoded entry and its key. */
const ENTRY_BYTES = 280;

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
    throw new TypeError('rememberedTags configures the tier\'s own log: with a shared log, set it where the log is made');
  }
  return options.log;
}
