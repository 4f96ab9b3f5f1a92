/** A cache tier as operators name it: L1 the request's loaders, L2 this process's memory, L3 Redis. */
export type TierLabel = 'L1' | 'L2' | 'L3';

/**
 * What one tier answered to one batch of reads: `hit` a fresh value (`early` of them chosen by
 * XFetch for a refresh behind the response), `stale` a value past its TTL served within its grace,
 * `absent` a remembered "no such row", `miss` nothing servable.
 */
export interface TierReadCounts {
  hit: number;
  early: number;
  stale: number;
  absent: number;
  miss: number;
}

/** How a wait for another instance's lease on a missing key ended (see fleetLease.ts). */
export type LeaseWaitOutcome = 'filled' | 'timed_out' | 'holder_died';

/**
 * Told what the read path did, batch by batch: the process's metrics, and a request's own cache
 * report (RequestCacheReport). Counts only, never a key or an id.
 */
export interface ReadObserver {
  tierRead(tier: TierLabel, kind: string, counts: TierReadCounts): void;
  /** Keys of a batch that joined a load this process was already running (single flight). */
  coalesced(kind: string, keys: number): void;
  leaseWaited(outcome: LeaseWaitOutcome, keys: number): void;
  /** One database load of `keys` keys, and how long it took. */
  loaded(kind: string, keys: number, seconds: number): void;
}

export function emptyCounts(): TierReadCounts {
  return { hit: 0, early: 0, stale: 0, absent: 0, miss: 0 };
}

/** Both observers, or the one that is there. */
export function bothObservers(first: ReadObserver | undefined, second: ReadObserver): ReadObserver {
  if (!first) return second;
  return {
    tierRead: (tier, kind, counts) => (first.tierRead(tier, kind, counts), second.tierRead(tier, kind, counts)),
    coalesced: (kind, keys) => (first.coalesced(kind, keys), second.coalesced(kind, keys)),
    leaseWaited: (outcome, keys) => (first.leaseWaited(outcome, keys), second.leaseWaited(outcome, keys)),
    loaded: (kind, keys, seconds) => (first.loaded(kind, keys, seconds), second.loaded(kind, keys, seconds)),
  };
}
