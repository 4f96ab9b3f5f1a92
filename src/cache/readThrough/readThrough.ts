import { ATTR, inSpan, SPAN, traceAttribute } from '../../observability/tracing.ts';
import type { LateFills, LateFillTicket } from '../coherence/lateFills.ts';
import type { CachedKind } from '../entry.ts';
import type { FreshnessPolicy } from '../freshness/freshness.ts';
import type { Leases } from '../stampede/leases.ts';
import { SingleFlight } from '../stampede/singleFlight.ts';
import type { TierFence } from '../tiers/tier.ts';
import { refreshInBackground } from './backgroundRefresh.ts';
import { loadOnceAcrossFleet } from './fleetLease.ts';
import { LoadAndFill, type LoadEvent } from './loadAndFill.ts';
import { fillTiers, tierWrite, unanswered, type CacheItem, type Fences, type Load, type ReadItem, type Tiers } from './readItem.ts';
import { bothObservers, type ReadObserver } from './readObserver.ts';
import { loadInFlight } from './singleFlightLoad.ts';
import { walkTiers } from './tierWalk.ts';

export type { CacheItem, Load, LoadEvent, ReadObserver, Tiers };

/** What the loaders of one request use: the read path, observed for that request (see {@link ReadThrough.observedBy}). */
export type ReadPath = Pick<ReadThrough, 'getMany' | 'lateTicket' | 'storeLate'>;

export interface ReadThroughOptions {
  /** The tiers below L1, by role; none: every read goes to the database. */
  tiers: Tiers;
  /** Cross-instance stampede control, when there is a shared tier. */
  leases?: Leases;
  /**
   * This process's loads in progress, shared with the invalidator, which abandons the flights of the
   * tags it invalidates (see SingleFlight). @default a flight group of its own
   */
  flights?: SingleFlight<unknown>;
  /** The stack's protocol for fills fenced after their load: the rows a list query brought along. */
  lateFills?: LateFills;
  /** How long a miss waits for another instance's fill before it loads itself, in ms. */
  leaseWaitMs: number;
  /** XFetch's beta. */
  freshness: FreshnessPolicy;
  /** Wall clock for expiry, in ms since the epoch. Injected so TTL tests need no sleeping. @default Date.now */
  now?: () => number;
  /** Monotonic clock for measuring load time, in ms. @default performance.now */
  elapsed?: () => number;
  /** Uniform in (0, 1], for XFetch. @default 1 - Math.random() */
  random?: () => number;
  /** Told of every database load: what metrics and the stampede tests count. */
  onLoad?: (load: LoadEvent) => void;
  /**
   * Told of every read that found no servable entry for `keys` in any tier, and so waits for a load
   * (its own, or one already in flight): what a request experiences as a miss.
   */
  onMiss?: (miss: { readonly kind: string; readonly keys: readonly string[] }) => void;
  /** Told of a background refresh that failed (the entry is served until it expires). */
  onRefreshError?: (error: unknown, kind: string) => void;
  /** Told what every batch found in each tier, joined and waited for, and loaded: the metrics. @default none */
  observer?: ReadObserver;
}

/** A value to store directly, bypassing a load: the write-through of a mutation. */
export interface CacheWrite<V> {
  readonly key: string;
  readonly tags: readonly string[];
  readonly value: V | null;
  /** Overrides the value's own version, e.g. a deletion's tombstone. */
  readonly version?: number;
}

/**
 * Where the tiers stood right after one invalidation (see Invalidator): a write-through fenced here
 * is refused if any other invalidation of its tags follows, even one that lands before the
 * write-through starts. A fence taken later would let a slower writer's older row in after a faster
 * writer's invalidation.
 */
export interface InvalidationFences {
  /** The local tier's fence, taken in the same tick as its drop. */
  readonly local?: TierFence;
  /** The generations this invalidation gave its tags in the shared tier. */
  readonly generations?: ReadonlyMap<string, string>;
}

/**
 * The read path below the request. One call per DataLoader batch, so every tier is asked once per
 * batch and the database once. A miss goes through these steps, each in its own file:
 *
 * 1. tierWalk: the local tier, then the shared tier, each taking its fence as it is read;
 * 2. single flight: keys this process is loading already are joined, the others start one load;
 * 3. fleetLease: with a shared tier, one instance of the fleet loads each key, the others wait for
 *    its fill;
 * 4. loadAndFill: one database load, then a fill of every tier under the fences of step 1, so that a
 *    value loaded before a write is never cached after its invalidation;
 * 5. backgroundRefresh: entries served early (XFetch) or stale (grace) are refreshed after the
 *    response, once in the fleet.
 */
export class ReadThrough {
  readonly tiers: Tiers;
  private readonly flights: SingleFlight<unknown>;
  private readonly fill: LoadAndFill;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly elapsed: () => number;

  constructor(private readonly options: ReadThroughOptions) {
    this.tiers = options.tiers;
    this.flights = options.flights ?? new SingleFlight<unknown>();
    this.now = options.now ?? Date.now;
    this.elapsed = options.elapsed ?? (() => performance.now());
    this.random = options.random ?? (() => 1 - Math.random());
    this.fill = new LoadAndFill({ tiers: this.tiers, now: this.now, elapsed: this.elapsed, ...(options.onLoad ? { onLoad: options.onLoad } : {}) });
  }

  /**
   * Resolves each item to its value, `null` meaning "no such row", in order. `load` receives only the
   * items no tier could serve and returns their values in the same order.
   */
  getMany<R, V>(kind: CachedKind<V>, requested: readonly CacheItem<R>[], load: Load<R, V>): Promise<(V | null)[]> {
    return inSpan(SPAN.batch, () => this.read(kind, { requested, load }, this.options.observer));
  }

  /** The same read path (each batch in its span), also telling `observer` what each of its reads did: one request's cache report. */
  observedBy(observer: ReadObserver): ReadPath {
    const both = bothObservers(this.options.observer, observer);
    return {
      getMany: (kind, requested, load) => inSpan(SPAN.batch, () => this.read(kind, { requested, load }, both)),
      lateTicket: () => this.lateTicket(),
      storeLate: (kind, rows, ticket) => this.storeLate(kind, rows, ticket),
    };
  }

  private async read<R, V>(kind: CachedKind<V>, batch: { requested: readonly CacheItem<R>[]; load: Load<R, V> }, observer: ReadObserver | undefined): Promise<(V | null)[]> {
    const items: ReadItem<R, V>[] = batch.requested.map((item) => ({ item: item.item, key: item.key, tags: item.tags }));
    traceAttribute(ATTR.kind, kind.name);
    traceAttribute(ATTR.keys, items.length);
    const load = observer ? this.timed(kind, batch.load, observer) : batch.load;
    // A type the schema does not let us cache goes straight to the database.
    if (kind.ttlSeconds <= 0 || (!this.tiers.local && !this.tiers.shared)) return this.fill.load(kind, items, load, 'miss');

    const fences = await walkTiers(this.tiers, kind, items, { clock: { now: this.now, random: this.random }, freshness: this.options.freshness, observer });

    const missing = unanswered(items);
    traceAttribute(ATTR.misses, missing.length);
    if (missing.length > 0) {
      this.options.onMiss?.({ kind: kind.name, keys: missing.map((item) => item.key) });
      let started = 0;
      await loadInFlight(this.flights, missing, (starting) => ((started = starting.length), this.loadMissing(kind, { items: starting, load, fences }, observer)));
      // The rest joined a load another request of this process had started.
      if (started < missing.length) observer?.coalesced(kind.name, missing.length - started);
    }

    // Served now, refreshed behind the response.
    const toRefresh = items.filter((item) => item.refresh !== undefined);
    if (toRefresh.length > 0) {
      refreshInBackground(
        {
          tiers: this.tiers,
          flights: this.flights,
          fill: this.fill,
          now: this.now,
          ...(this.options.leases ? { leases: this.options.leases } : {}),
          ...(this.options.onRefreshError ? { onError: this.options.onRefreshError } : {}),
        },
        kind,
        toRefresh,
        { load, fences },
      );
    }
    return items.map((item) => item.answer?.value ?? null);
  }

  /**
   * Stores values that a mutation has just committed, in every tier, fenced by that mutation's own
   * invalidation (`after`): a concurrent writer's invalidation that lands after it refuses this
   * write, so a slower writer's older row never outlives a faster writer's invalidation; the version
   * guard orders what both write. Tags the
   * invalidation did not set (the type tag) are read now.
   */
  async writeThrough<V>(kind: CachedKind<V>, writes: readonly CacheWrite<V>[], after: InvalidationFences = {}): Promise<void> {
    const { local, shared } = this.tiers;
    if (kind.ttlSeconds <= 0 || (!local && !shared) || writes.length === 0) return;
    const tags = writes.flatMap((write) => write.tags);
    const fences: Fences = {
      ...(local ? { local: after.local ?? (await local.fence(tags)) } : {}),
      ...(shared ? { shared: await shared.fence(tags, after.generations) } : {}),
    };
    const now = this.now();
    const entries = writes.map((write) => tierWrite(write, this.fill.entryFor(kind, write.value, { now, ...(write.version !== undefined ? { version: write.version } : {}) }), now));
    await fillTiers(this.tiers, entries, fences);
  }

  /** Take before a load whose rows are known only once it is done (a list query): see {@link storeLate}. */
  lateTicket(): LateFillTicket | undefined {
    return this.options.lateFills?.ticket();
  }

  /**
   * Stores rows that a load fenced by `ticket` brought along (a list query's rows), under the late-fill
   * protocol (LateFills): the next request that needs them by id finds them in a tier instead of
   * loading them again. The local tier has them when this returns; the shared tier is filled behind.
   */
  storeLate<V>(kind: CachedKind<V>, rows: readonly CacheWrite<V>[], ticket: LateFillTicket | undefined): void {
    const lateFills = this.options.lateFills;
    if (!lateFills || !ticket || kind.ttlSeconds <= 0 || rows.length === 0) return;
    const now = this.now();
    const writes = rows.map((row) => tierWrite(row, this.fill.entryFor(kind, row.value, { now }), now));
    lateFills.store(writes, ticket).catch((error: unknown) => this.options.onRefreshError?.(error, kind.name));
  }

  /** Steps 3 and 4: what this process is the first to miss, loaded once across the fleet. */
  private async loadMissing<R, V>(kind: CachedKind<V>, missing: { items: ReadItem<R, V>[]; load: Load<R, V>; fences: Fences }, observer: ReadObserver | undefined): Promise<void> {
    const { leases } = this.options;
    const { items, load, fences } = missing;
    const shared = this.tiers.shared;
    if (!leases || !shared) return this.fill.run(kind, items, load, fences, 'miss');
    const fleet = { leases, tiers: { ...this.tiers, shared }, fill: this.fill, leaseWaitMs: this.options.leaseWaitMs, now: this.now, elapsed: this.elapsed, ...(observer ? { observer } : {}) };
    await loadOnceAcrossFleet(fleet, kind, items, load, fences);
  }

  /** `load`, telling `observer` of each database load it makes and how long it took. */
  private timed<R, V>(kind: CachedKind<V>, load: Load<R, V>, observer: ReadObserver): Load<R, V> {
    return async (missing) => {
      const started = this.elapsed();
      const values = await load(missing);
      observer.loaded(kind.name, missing.length, (this.elapsed() - started) / 1000);
      return values;
    };
  }
}
