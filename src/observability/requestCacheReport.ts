import type { ReadObserver, TierLabel, TierReadCounts } from '../cache/readThrough/readObserver.ts';

/** One kind's line in the report: keys each tier answered (stale and absent included), and database loads. */
export interface KindReport {
  hits: Record<TierLabel, number>;
  loads: number;
}

/** `extensions.cache` of a debug response (CACHE_DEBUG, header `x-cache-debug: 1`). */
export interface CacheExtension {
  /** `hit`: the response tier answered, nothing ran (so no kinds); `miss`: it was executed. */
  response: 'hit' | 'miss';
  kinds?: Record<string, KindReport>;
}

/**
 * What one request's reads found, per kind: made for a debug request only, and told by its loaders
 * (L1) and its observed read path (L2, L3, loads). Counts only: no key or id is reported.
 */
export class RequestCacheReport implements ReadObserver {
  private readonly kinds: Record<string, KindReport> = {};

  tierRead(tier: TierLabel, kind: string, counts: TierReadCounts): void {
    this.of(kind).hits[tier] += counts.hit + counts.stale + counts.absent;
  }

  coalesced(): void {}

  leaseWaited(): void {}

  loaded(kind: string): void {
    this.of(kind).loads += 1;
  }

  /** The extension of the executed response. */
  toExtension(): CacheExtension {
    return { response: 'miss', kinds: this.kinds };
  }

  private of(kind: string): KindReport {
    return (this.kinds[kind] ??= { hits: { L1: 0, L2: 0, L3: 0 }, loads: 0 });
  }
}
