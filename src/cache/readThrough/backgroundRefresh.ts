import type { CacheEntry, CachedKind } from '../entry.ts';
import type { Lease, Leases } from '../stampede/leases.ts';
import type { SingleFlight } from '../stampede/singleFlight.ts';
import type { LoadAndFill } from './loadAndFill.ts';
import { fillTiers, tierRead, tierWrite, type Fences, type Load, type ReadItem, type Tiers } from './readItem.ts';
import { loadInFlight } from './singleFlightLoad.ts';

export interface BackgroundRefreshOptions {
  readonly tiers: Tiers;
  readonly leases?: Leases;
  readonly flights: SingleFlight<unknown>;
  readonly fill: LoadAndFill;
  readonly now: () => number;
  /** Told of a refresh that failed: the entry is served until it expires. */
  readonly onError?: (error: unknown, kind: string) => void;
}

/**
 * Refreshes entries that are being served early (XFetch) or stale (grace), after the response: one
 * flight per key in this process, and only where this instance gets the lease, so one instance of
 * the fleet refreshes each key. An entry served from the local tier is first looked up in the shared
 * tier: another instance may have refreshed it already, and then copying it up costs no load.
 */
export function refreshInBackground<R, V>(options: BackgroundRefreshOptions, kind: CachedKind<V>, served: readonly ReadItem<R, V>[], read: { load: Load<R, V>; fences: Fences }): void {
  const { tiers, leases, flights } = options;
  // Fresh records: the served ones already answered their request.
  let candidates: ReadItem<R, V>[] = served.filter((item) => !flights.has(item.key)).map((item) => ({ item: item.item, key: item.key, tags: item.tags, ...(item.refresh ? { refresh: item.refresh } : {}) }));
  if (candidates.length === 0) return;
  const refresh = async () => {
    const tags = candidates.flatMap((item) => item.tags);
    // A tier the read never reached (a tier above had it all) has no fence yet: take one now, before any load.
    const fences: Fences = {
      ...(tiers.local ? { local: read.fences.local ?? (await tiers.local.fence(tags)) } : {}),
      ...(tiers.shared ? { shared: read.fences.shared ?? (await tiers.shared.fence(tags)) } : {}),
    };
    if (tiers.local && tiers.shared) {
      const lookup = await tiers.shared.getMany(candidates.map(tierRead), kind);
      fences.shared = lookup.fence;
      const now = options.now();
      const newer = (entry: CacheEntry<V> | undefined, item: ReadItem<R, V>) => entry !== undefined && now < entry.expiresAt && entry.expiresAt > (item.refresh?.servedExpiry ?? Infinity);
      const copies = candidates.flatMap((item, i) => (newer(lookup.entries[i], item) ? [tierWrite(item, lookup.entries[i] as CacheEntry<V>, now)] : []));
      await fillTiers({ local: tiers.local }, copies, fences);
      candidates = candidates.filter((item, i) => !newer(lookup.entries[i], item));
      if (candidates.length === 0) return;
    }
    const granted: (Lease | undefined)[] = leases ? await leases.acquire(candidates.map((item) => item.key)) : candidates.map((item) => ({ key: item.key, token: '' }));
    const held = candidates.filter((_, i) => granted[i] !== undefined);
    try {
      if (held.length > 0) await loadInFlight(flights, held, (items) => options.fill.run(kind, items, read.load, fences, 'refresh'));
    } finally {
      await leases?.release(granted.filter((lease): lease is Lease => lease !== undefined));
    }
  };
  refresh().catch((error: unknown) => options.onError?.(error, kind.name));
}
