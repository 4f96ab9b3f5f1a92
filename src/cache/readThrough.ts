import { setTimeout as sleep } from 'node:timers/promises';
import { encodeEntry } from './codec.ts';
import type { CacheEntry, CachedKind } from './entry.ts';
import { freshnessOf, type FreshnessPolicy } from './freshness/freshness.ts';
import type { Lease, Leases } from './stampede/leases.ts';
import { SingleFlight } from './stampede/singleFlight.ts';
import type { CacheTier, TierFence, TierWrite } from './tiers/tier.ts';
import type { InvalidationFences } from './coherence/invalidator.ts';

export interface ReadThroughOptions {
  /** Fastest first: [L2, L3], or fewer when tiers are turned off. The last one is shared by every instance. */
  tiers: readonly CacheTier[];
  /** Cross-instance stampede control, when the last tier is shared (L3). */
  leases?: Leases;
  /** How long a miss waits for another instance's fill before it loads itself, in ms. @default 1000 */
  leaseWaitMs?: number;
  /** XFetch's beta. @default { beta: 1 } */
  freshness?: FreshnessPolicy;
  /** Wall clock for expiry, in ms since the epoch. Injected so TTL tests need no sleeping. */
  now?: () => number;
  /** Monotonic clock for measuring load time, in ms. */
  elapsed?: () => number;
  /** Uniform in (0, 1], for XFetch. */
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
}

export interface LoadEvent {
  readonly kind: string;
  readonly keys: readonly string[];
  /**
   * `miss`: a request waited for it; `wait-timeout`: a miss whose lease another instance held, and
   * whose fill did not arrive within `leaseWaitMs`; `refresh`: early (XFetch) or stale (grace), in
   * the background.
   */
  readonly reason: 'miss' | 'wait-timeout' | 'refresh';
}

/** Items to resolve, with the cache key and the tags of each, in the same order. */
export interface CacheRequest<R> {
  readonly items: readonly R[];
  readonly keys: readonly string[];
  readonly tags: readonly (readonly string[])[];
}

/** A value to store directly, bypassing a load: the write-through of a mutation. */
export interface CacheWrite<V> {
  readonly key: string;
  readonly tags: readonly string[];
  readonly value: V | null;
  /** Overrides the value's own version, e.g. a deletion's tombstone. */
  readonly version?: number;
}

type Load<R, V> = (missing: R[]) => Promise<(V | null)[]>;

/**
 * The read path below the request: each tier in turn, then the database for what is still missing,
 * then fill the tiers on the way back. One call per DataLoader batch, so every tier is asked once per
 * batch and the database once.
 *
 * On the way it keeps the three promises of the cache: a value loaded before a write is never cached
 * after it (fences, see tier.ts); concurrent misses of a key load it once, in this process (single
 * flight) and across instances (leases); hot entries are refreshed before they expire (XFetch) or,
 * within their grace, while they are served stale, in the background and in one flight.
 */
export class ReadThrough {
  private readonly tiers: readonly CacheTier[];
  private readonly flights = new SingleFlight<unknown>();
  private readonly leaseWaitMs: number;
  private readonly freshness: FreshnessPolicy;
  private readonly now: () => number;
  private readonly elapsed: () => number;
  private readonly random: () => number;
  /** The last measured load time of each kind: the XFetch delta of values written through. */
  private readonly computeMsByKind = new Map<string, number>();

  constructor(private readonly options: ReadThroughOptions) {
    this.tiers = options.tiers;
    this.leaseWaitMs = options.leaseWaitMs ?? 1000;
    this.freshness = options.freshness ?? { beta: 1 };
    this.now = options.now ?? Date.now;
    this.elapsed = options.elapsed ?? (() => performance.now());
    this.random = options.random ?? (() => 1 - Math.random());
  }

  /**
   * Resolves `request.items` to values, `null` meaning "no such row". `load` receives only the items
   * no tier could serve and returns their values in the same order.
   */
  async getMany<R, V>(kind: CachedKind<V>, request: CacheRequest<R>, load: Load<R, V>): Promise<(V | null)[]> {
    // A type the schema does not let us cache goes straight to the database.
    if (kind.ttlSeconds <= 0 || this.tiers.length === 0) return this.loadFromDatabase(kind, request, load, 'miss');

    const results = new Array<V | null>(request.items.length);
    let pending = request.items.map((_, i) => i);
    const toRefresh: number[] = [];
    /** The expiry of each entry served for refresh: a newer copy in a lower tier replaces it without a load. */
    const servedExpiry = new Map<string, number>();
    // Taken by each tier as it is read, before anything is loaded: fills are made under them.
    const fences: TierFence[] = [];

    // Each tier in turn, asked only for what the tiers above it missed.
    for (let t = 0; t < this.tiers.length && pending.length > 0; t++) {
      const tier = this.tiers[t] as CacheTier;
      const lookup = await tier.getMany(pending.map((i) => read(request, i)), kind);
      fences[t] = lookup.fence;
      const now = this.now();
      const stillMissing: number[] = [];
      const hits: TierWrite[] = [];
      pending.forEach((index, j) => {
        const entry = lookup.entries[j];
        const freshness = entry === undefined ? 'expired' : freshnessOf(entry, now, this.random(), this.freshness);
        if (entry === undefined || freshness === 'expired') {
          stillMissing.push(index);
          return;
        }
        results[index] = entry.value;
        if (freshness !== 'fresh') {
          toRefresh.push(index);
          servedExpiry.set(request.keys[index] as string, entry.expiresAt);
        }
        // Hits in a slower tier are copied into the faster tiers above it.
        if (t > 0) hits.push(tierWrite(read(request, index), entry, now));
      });
      if (hits.length > 0) await this.backfill(t, hits, fences);
      pending = stillMissing;
    }

    // The database, once per key however many requests miss it at the same time.
    if (pending.length > 0) {
      const missing = subset(request, pending);
      this.options.onMiss?.({ kind: kind.name, keys: missing.keys });
      const values = (await this.flights.run(missing.keys, (keys) =>
        this.loadLed(kind, subsetByKeys(missing, keys), load, fences),
      )) as (V | null)[];
      pending.forEach((index, j) => (results[index] = values[j] ?? null));
    }

    // Served now, refreshed behind the response.
    if (toRefresh.length > 0) this.refreshInBackground(kind, subset(request, toRefresh), { load, fences, servedExpiry });
    return results;
  }

  /**
   * Stores values that a mutation has just committed, in every tier, fenced by that mutation's own
   * invalidation (`after`, from Invalidator.invalidate): a concurrent writer's invalidation that
   * lands after it refuses this write, so a slower writer's older row never outlives a faster
   * writer's invalidation; the version guard orders what both write.
   */
  async writeThrough<V>(kind: CachedKind<V>, writes: readonly CacheWrite<V>[], after: InvalidationFences = {}): Promise<void> {
    if (kind.ttlSeconds <= 0 || this.tiers.length === 0 || writes.length === 0) return;
    const allTags = writes.flatMap((w) => w.tags);
    // L2 is the first tier when enabled (see createApp); the invalidation's own fences where given.
    const fences = await Promise.all(
      this.tiers.map((tier) => (tier.name === 'L2' && after.memory ? after.memory : tier.fence(allTags, after.generations))),
    );
    const now = this.now();
    const computeMs = this.computeMsByKind.get(kind.name) ?? 0;
    const tierWrites = writes.map((w) => tierWrite(w, this.entryFor(kind, w.value, computeMs, now, w.version), now));
    await Promise.all(this.tiers.map((tier, t) => tier.setMany(tierWrites, fences[t] as TierFence)));
  }

  // Private: the steps of a miss.

  /**
   * Loads what this process is the first to miss, once across the fleet. Each round takes a lease on
   * every key nobody holds and then reads the shared tier: a holder releases its lease only after its
   * fill, so whatever a key's lease lets us do, the read that follows it sees any fill made before.
   * Keys found are served; keys leased and not found are loaded here; keys another instance holds
   * are looked at again after a short, growing sleep. A key whose holder died is leased here once its
   * lease expires; whatever is still waiting after `leaseWaitMs` is loaded regardless.
   */
  private async loadLed<R, V>(kind: CachedKind<V>, request: CacheRequest<R>, load: Load<R, V>, fences: TierFence[]): Promise<(V | null)[]> {
    const leases = this.options.leases;
    if (!leases) return this.loadAndFill(kind, request, load, fences, 'miss');
    const values = new Array<V | null>(request.items.length);
    const loads: Promise<void>[] = [];
    const shared = this.tiers.length - 1;
    const latest = [...fences];
    const deadline = this.elapsed() + this.leaseWaitMs;
    let waiting = request.items.map((_, i) => i);
    for (let delayMs = 5; ; delayMs = Math.min(delayMs * 2, 50)) {
      const granted = await leases.acquire(waiting.map((i) => request.keys[i] as string));
      const lookup = await (this.tiers[shared] as CacheTier).getMany(waiting.map((i) => read(request, i)), kind);
      latest[shared] = lookup.fence;
      const now = this.now();
      const found: TierWrite[] = [];
      const leased: number[] = [];
      const mine: Lease[] = [];
      // Leases on keys that turned out to be filled are not needed.
      const unneeded: Lease[] = [];
      const stillWaiting: number[] = [];
      waiting.forEach((index, j) => {
        const entry = lookup.entries[j];
        const lease = granted[j];
        if (entry !== undefined && freshnessOf(entry, now, 1, { beta: 0 }) !== 'expired') {
          values[index] = entry.value;
          found.push(tierWrite(read(request, index), entry, now));
          if (lease) unneeded.push(lease);
        } else if (lease) {
          leased.push(index);
          mine.push(lease);
        } else stillWaiting.push(index);
      });
      await Promise.all([leases.release(unneeded), found.length > 0 ? this.backfill(shared, found, latest) : undefined]);
      if (leased.length > 0) {
        const fenced = [...latest];
        loads.push(
          this.loadAndFill(kind, subset(request, leased), load, fenced, 'miss')
            .then((loaded) => leased.forEach((index, j) => (values[index] = loaded[j] ?? null)))
            .finally(() => leases.release(mine)),
        );
      }
      waiting = stillWaiting;
      if (waiting.length === 0) break;
      if (this.elapsed() >= deadline) {
        const late = waiting;
        loads.push(this.loadAndFill(kind, subset(request, late), load, [...latest], 'wait-timeout').then((loaded) => late.forEach((index, j) => (values[index] = loaded[j] ?? null))));
        break;
      }
      await sleep(delayMs);
    }
    await Promise.all(loads);
    return values;
  }

  /**
   * Refreshes entries that are being served early (XFetch) or stale (grace), after the response: one
   * flight per key in this process, and only where this instance gets the lease, so one instance of
   * the fleet refreshes each key. An entry served from L2 is first looked up in the shared tier:
   * another instance may have refreshed it already, and then copying it up costs no load.
   */
  private refreshInBackground<R, V>(
    kind: CachedKind<V>,
    request: CacheRequest<R>,
    served: { load: Load<R, V>; fences: TierFence[]; servedExpiry: Map<string, number> },
  ): void {
    const idle = indicesWhere(request.keys, (key) => !this.flights.has(key));
    if (idle.length === 0) return;
    let candidates = subset(request, idle);
    const refresh = async () => {
      // A tier the read never reached (an earlier tier had it all) has no fence yet: take one now, before any load.
      const fences = await Promise.all(this.tiers.map((tier, t) => served.fences[t] ?? tier.fence(candidates.tags.flat())));
      const shared = this.tiers.length - 1;
      if (shared > 0) {
        const lookup = await (this.tiers[shared] as CacheTier).getMany(candidates.keys.map((_, i) => read(candidates, i)), kind);
        fences[shared] = lookup.fence;
        const now = this.now();
        const newer = indicesWhere(lookup.entries, (entry) => entry !== undefined && now < entry.expiresAt);
        const copied = newer.filter((i) => (lookup.entries[i] as CacheEntry<V>).expiresAt > (served.servedExpiry.get(candidates.keys[i] as string) ?? Infinity));
        if (copied.length > 0) await this.backfill(shared, copied.map((i) => tierWrite(read(candidates, i), lookup.entries[i] as CacheEntry<V>, now)), fences);
        candidates = subset(candidates, indicesWhere(candidates.keys, (_, i) => !copied.includes(i)));
        if (candidates.items.length === 0) return;
      }
      const leases = this.options.leases;
      const granted = leases ? await leases.acquire(candidates.keys) : candidates.keys.map((key) => ({ key, token: '' }));
      const held = subset(candidates, indicesWhere(granted, (lease) => lease !== undefined));
      if (held.items.length === 0) return;
      try {
        await this.flights.run(held.keys, (keys) => this.loadAndFill(kind, subsetByKeys(held, keys), served.load, fences, 'refresh'));
      } finally {
        await leases?.release(granted.filter((lease): lease is Lease => lease !== undefined));
      }
    };
    refresh().catch((error: unknown) => this.options.onRefreshError?.(error, kind.name));
  }

  private async loadAndFill<R, V>(
    kind: CachedKind<V>,
    request: CacheRequest<R>,
    load: Load<R, V>,
    fences: readonly TierFence[],
    reason: LoadEvent['reason'],
  ): Promise<(V | null)[]> {
    if (request.items.length === 0) return [];
    const started = this.elapsed();
    const values = await this.loadFromDatabase(kind, request, load, reason);
    const computeMs = this.elapsed() - started;
    this.computeMsByKind.set(kind.name, computeMs);
    const now = this.now();
    const writes = values.map((value, i) => tierWrite(read(request, i), this.entryFor(kind, value, computeMs, now), now));
    await Promise.all(this.tiers.map((tier, t) => tier.setMany(writes, fences[t] as TierFence)));
    return values;
  }

  private async loadFromDatabase<R, V>(kind: CachedKind<V>, request: CacheRequest<R>, load: Load<R, V>, reason: LoadEvent['reason']): Promise<(V | null)[]> {
    const values = await load([...request.items]);
    this.options.onLoad?.({ kind: kind.name, keys: request.keys, reason });
    return request.items.map((_, i) => values[i] ?? null);
  }

  /** Copies hits found in tier `found` into every tier above it. */
  private async backfill(found: number, writes: TierWrite[], fences: readonly TierFence[]): Promise<void> {
    await Promise.all(this.tiers.slice(0, found).map((upper, u) => upper.setMany(writes, fences[u] as TierFence)));
  }

  private entryFor<V>(kind: CachedKind<V>, value: V | null, computeMs: number, now: number, version?: number): CacheEntry<V> {
    const ttlMs = (value === null ? kind.absentTtlSeconds : kind.ttlSeconds) * 1000;
    // Absent markers get no grace: a row created meanwhile should show up as soon as it may.
    const graceMs = value === null ? 0 : kind.graceSeconds * 1000;
    return {
      // Cached values are shared by every request of this process: nobody may change them.
      value: freeze(value),
      expiresAt: now + ttlMs,
      staleUntil: now + ttlMs + graceMs,
      computeMs,
      version: version ?? (value === null || !kind.versionOf ? 0 : kind.versionOf(value)),
    };
  }
}

// Private:

function read<R>(request: CacheRequest<R>, index: number) {
  return { key: request.keys[index] as string, tags: request.tags[index] as readonly string[] };
}

function tierWrite(target: { key: string; tags: readonly string[] }, entry: CacheEntry<unknown>, now: number): TierWrite {
  return { key: target.key, tags: target.tags, entry, bytes: encodeEntry(entry), ttlMs: entry.staleUntil - now };
}

function subset<R>(request: CacheRequest<R>, indices: readonly number[]): CacheRequest<R> {
  return {
    items: indices.map((i) => request.items[i] as R),
    keys: indices.map((i) => request.keys[i] as string),
    tags: indices.map((i) => request.tags[i] as readonly string[]),
  };
}

function subsetByKeys<R>(request: CacheRequest<R>, keys: readonly string[]): CacheRequest<R> {
  const position = new Map(request.keys.map((key, i) => [key, i]));
  return subset(request, keys.map((key) => position.get(key) as number));
}

function indicesWhere<T>(values: readonly T[], predicate: (value: T, index: number) => boolean): number[] {
  const indices: number[] = [];
  values.forEach((value, i) => {
    if (predicate(value, i)) indices.push(i);
  });
  return indices;
}

function freeze<V>(value: V): V {
  return value !== null && typeof value === 'object' ? Object.freeze(value) : value;
}
