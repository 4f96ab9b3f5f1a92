import { ATTR, traceAttribute } from '../../observability/tracing.ts';
import type { CachedKind } from '../entry.ts';
import { freshnessOf, type Freshness, type FreshnessPolicy } from '../freshness/freshness.ts';
import { fillTiers, tierRead, tierWrite, unanswered, type Fences, type ReadItem, type Tiers } from './readItem.ts';
import { emptyCounts, type ReadObserver, type TierReadCounts } from './readObserver.ts';

export interface TierWalkClock {
  /** Wall clock, ms since the epoch. */
  readonly now: () => number;
  /** Uniform in (0, 1], for XFetch. */
  readonly random: () => number;
}

/**
 * Asks the local tier, then the shared tier for what the local one missed: one round trip each at
 * most. Answers every item a tier could serve, marks the ones served early or stale for a refresh,
 * and copies shared hits into the local tier under its fence. Returns each tier's fence, taken as it
 * was read: the fills of whatever is still missing are made under them.
 */
export async function walkTiers<R, V>(
  tiers: Tiers,
  kind: CachedKind<V>,
  items: readonly ReadItem<R, V>[],
  options: { clock: TierWalkClock; freshness: FreshnessPolicy; observer?: ReadObserver | undefined },
): Promise<Fences> {
  const fences: Fences = {};
  for (const role of ['local', 'shared'] as const) {
    const tier = tiers[role];
    const pending = unanswered(items);
    if (!tier || pending.length === 0) continue;
    const lookup = await tier.getMany(pending.map(tierRead), kind);
    fences[role] = lookup.fence;
    const now = options.clock.now();
    const copies = [];
    let hits = 0;
    const counts = emptyCounts();
    for (const [j, item] of pending.entries()) {
      const entry = lookup.entries[j];
      const freshness = entry === undefined ? 'expired' : freshnessOf(entry, now, options.clock.random(), options.freshness);
      countRead(counts, freshness, entry?.value === null);
      if (entry === undefined || freshness === 'expired') continue;
      item.answer = { value: entry.value };
      hits += 1;
      if (freshness !== 'fresh') item.refresh = { servedExpiry: entry.expiresAt };
      if (role === 'shared') copies.push(tierWrite(item, entry, now));
    }
    traceAttribute(role === 'local' ? ATTR.hitsLocal : ATTR.hitsShared, hits);
    options.observer?.tierRead(role === 'local' ? 'L2' : 'L3', kind.name, counts);
    // Hits in the shared tier are copied into the local one, under the fence the local read took.
    if (copies.length > 0) await fillTiers({ ...(tiers.local ? { local: tiers.local } : {}) }, copies, fences);
  }
  return fences;
}

// Private:

function countRead(counts: TierReadCounts, freshness: Freshness, absent: boolean): void {
  if (freshness === 'expired') counts.miss += 1;
  else if (freshness === 'stale') counts.stale += 1;
  else if (absent) counts.absent += 1;
  else {
    counts.hit += 1;
    if (freshness === 'refresh') counts.early += 1;
  }
}
