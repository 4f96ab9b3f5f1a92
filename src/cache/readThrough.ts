import { encodeEntry } from './codec.ts';
import { isFresh, type CacheEntry, type CachedKind } from './entry.ts';
import type { CacheTier, TierWrite } from './tiers/tier.ts';

export interface ReadThroughOptions {
  /** Fastest first: [L2, L3], or fewer when tiers are turned off. */
  tiers: readonly CacheTier[];
  /** Wall clock for expiry, in ms since the epoch. Injected so TTL tests need no sleeping. */
  now?: () => number;
  /** Monotonic clock for measuring load time, in ms. */
  elapsed?: () => number;
}

/** A value that was loaded from the database outside a read-through, to be cached as well. */
export interface Fill<V> {
  readonly key: string;
  readonly value: V | null;
}

/**
 * The read path below the request: each tier in turn, then the database for what is still missing,
 * then fill the tiers on the way back. One call per DataLoader batch, so every tier is asked once per
 * batch and the database once.
 */
export class ReadThrough {
  private readonly tiers: readonly CacheTier[];
  private readonly now: () => number;
  private readonly elapsed: () => number;

  constructor(options: ReadThroughOptions) {
    this.tiers = options.tiers;
    this.now = options.now ?? Date.now;
    this.elapsed = options.elapsed ?? (() => performance.now());
  }

  /**
   * Resolves `requests` (whose cache keys are `keys`, in the same order) to values, `null` meaning
   * "no such row". `load` receives only the requests no tier could serve and returns their values in
   * the same order.
   */
  async getMany<R, V>(
    kind: CachedKind<V>,
    requests: { readonly items: readonly R[]; readonly keys: readonly string[] },
    load: (missing: R[]) => Promise<(V | null)[]>,
  ): Promise<(V | null)[]> {
    const { items, keys } = requests;
    // A type the schema does not let us cache goes straight to the database.
    if (kind.ttlSeconds <= 0 || this.tiers.length === 0) return load([...items]);

    const results = new Array<V | null>(items.length);
    let pending = items.map((_, i) => i);
    // Hits in a slower tier are copied into the faster tiers above it.
    const backfill: { tier: number; writes: TierWrite[] }[] = [];

    // Each tier in turn, asked only for what the tiers above it missed.
    for (let t = 0; t < this.tiers.length && pending.length > 0; t++) {
      const tier = this.tiers[t] as CacheTier;
      const entries = await tier.getMany(pending.map((i) => keys[i] as string), kind);
      const now = this.now();
      const stillMissing: number[] = [];
      const hits: TierWrite[] = [];
      pending.forEach((index, j) => {
        const entry = entries[j];
        if (entry === undefined || !isFresh(entry, now)) {
          stillMissing.push(index);
          return;
        }
        results[index] = entry.value;
        if (t > 0) hits.push(this.write(keys[index] as string, entry, now));
      });
      if (hits.length > 0) backfill.push({ tier: t, writes: hits });
      pending = stillMissing;
    }

    // The database, once, for what no tier had.
    if (pending.length > 0) {
      const started = this.elapsed();
      const loaded = await load(pending.map((i) => items[i] as R));
      const computeMs = this.elapsed() - started;
      pending.forEach((index, j) => {
        results[index] = loaded[j] ?? null;
      });
      await this.fill(
        kind,
        pending.map((index) => ({ key: keys[index] as string, value: results[index] ?? null })),
        computeMs,
      );
    }

    await Promise.all(
      backfill.map(({ tier, writes }) => Promise.all(this.tiers.slice(0, tier).map((upper) => upper.setMany(writes)))),
    );
    return results;
  }

  /** Stores values loaded by the caller in every tier, e.g. the rows that came with a list query. */
  async fill<V>(kind: CachedKind<V>, fills: readonly Fill<V>[], computeMs = 0): Promise<void> {
    if (kind.ttlSeconds <= 0 || this.tiers.length === 0 || fills.length === 0) return;
    const now = this.now();
    const writes = fills.map(({ key, value }) => {
      const ttlSeconds = value === null ? kind.absentTtlSeconds : kind.ttlSeconds;
      // Cached values are shared by every request of this process: nobody may change them.
      const entry: CacheEntry<V> = { value: freeze(value), expiresAt: now + ttlSeconds * 1000, computeMs };
      return this.write(key, entry, now);
    });
    await Promise.all(this.tiers.map((tier) => tier.setMany(writes)));
  }

  private write(key: string, entry: CacheEntry<unknown>, now: number): TierWrite {
    return { key, entry, bytes: encodeEntry(entry), ttlMs: entry.expiresAt - now };
  }
}

function freeze<V>(value: V): V {
  return value !== null && typeof value === 'object' ? Object.freeze(value) : value;
}
