import { LRUCache } from 'lru-cache';
import type { CacheEntry, CachedKind } from '../entry.ts';
import type { CacheTier, TierWrite } from './tier.ts';

export interface MemoryTierOptions {
  /** The bound on the sum of entry sizes, in bytes; least recently used entries go first. */
  maxBytes: number;
}

/**
 * L2: one per process, bounded by bytes, never by entry count alone. Entries are kept decoded (a hit
 * costs no parsing); their size is the length of their encoded form plus their key.
 */
export class MemoryTier implements CacheTier {
  readonly name = 'L2';
  private readonly lru: LRUCache<string, Stored>;

  constructor(options: MemoryTierOptions) {
    this.lru = new LRUCache<string, Stored>({
      maxSize: options.maxBytes,
      sizeCalculation: (stored, key) => stored.encodedBytes + key.length + ENTRY_OVERHEAD_BYTES,
    });
  }

  async getMany<V>(keys: readonly string[], _kind: CachedKind<V>): Promise<(CacheEntry<V> | undefined)[]> {
    // Only this process writes L2, with values it loaded and froze itself: no shape check needed.
    return keys.map((key) => this.lru.get(key)?.entry as CacheEntry<V> | undefined);
  }

  async setMany(writes: readonly TierWrite[]): Promise<void> {
    for (const write of writes) {
      this.lru.set(write.key, { entry: write.entry, encodedBytes: write.bytes.length }, { ttl: write.ttlMs });
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.lru.delete(key);
  }

  /** Bytes currently held, as counted against maxBytes. */
  get sizeBytes(): number {
    return this.lru.calculatedSize;
  }
}

// Private:

interface Stored {
  readonly entry: CacheEntry<unknown>;
  readonly encodedBytes: number;
}

/** A rough cost of the Map slot, entry object and LRU bookkeeping, so tiny entries still count. */
const ENTRY_OVERHEAD_BYTES = 96;
