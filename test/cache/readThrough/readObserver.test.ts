import { describe, expect, it } from 'vitest';
import { ReadThrough, type CacheItem } from '../../../src/cache/readThrough/readThrough.ts';
import { emptyCounts, type ReadObserver, type TierLabel, type TierReadCounts } from '../../../src/cache/readThrough/readObserver.ts';
import { tags } from '../../../src/cache/tags/tags.ts';
import { MemoryTier } from '../../../src/cache/tiers/memoryTier.ts';
import type { CategoryRecord } from '../../../src/catalog/records.ts';
import { category, categoryKind } from '../../support/testKinds.ts';

/** Collects what a ReadThrough tells its observer, summed per tier. */
function recordingObserver() {
  const tiers: Partial<Record<TierLabel, TierReadCounts>> = {};
  const seen = { coalesced: 0, loads: 0, loadedKeys: 0 };
  const observer: ReadObserver = {
    tierRead(tier, _kind, counts) {
      const sum = (tiers[tier] ??= emptyCounts());
      for (const key of Object.keys(counts) as (keyof TierReadCounts)[]) sum[key] += counts[key];
    },
    coalesced: (_kind, keys) => void (seen.coalesced += keys),
    leaseWaited() {},
    loaded: (_kind, keys) => void ((seen.loads += 1), (seen.loadedKeys += keys)),
  };
  return { observer, tiers, seen };
}

function batch(ids: readonly number[]): CacheItem<number>[] {
  return ids.map((id) => ({ item: id, key: `Category#${id}`, tags: [tags.entity('Category', id), tags.type('Category')] }));
}

describe('ReadThrough tells its observer', () => {
  it('misses, one timed load, then hits and absents; concurrent reads of a key in flight are coalesced', async () => {
    const { observer, tiers, seen } = recordingObserver();
    let clock = 1_000_000;
    const reads = new ReadThrough({ tiers: { local: new MemoryTier({ maxBytes: 1 << 20 }) }, leaseWaitMs: 1000, freshness: { beta: 0 }, now: () => clock, observer });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const load = async (ids: number[]) => (await gate, ids.map((id) => (id === 2 ? null : category(id))));

    const first = reads.getMany(categoryKind, batch([1, 2]), load);
    const joined = reads.getMany(categoryKind, batch([1]), load);
    release();
    await Promise.all([first, joined]);
    expect(tiers.L2).toEqual({ ...emptyCounts(), miss: 3 });
    expect(seen).toEqual({ coalesced: 1, loads: 1, loadedKeys: 2 });

    clock += 1;
    await reads.getMany(categoryKind, batch([1, 2]), load);
    expect(tiers.L2).toEqual({ ...emptyCounts(), miss: 3, hit: 1, absent: 1 });
  });

  it('a stale entry served within its grace', async () => {
    const { observer, tiers } = recordingObserver();
    let clock = 1_000_000;
    const graced = { ...categoryKind, graceSeconds: 30 };
    const reads = new ReadThrough({ tiers: { local: new MemoryTier({ maxBytes: 1 << 20 }) }, leaseWaitMs: 1000, freshness: { beta: 0 }, now: () => clock, observer });
    const load = async (ids: number[]): Promise<(CategoryRecord | null)[]> => ids.map((id) => category(id));
    await reads.getMany(graced, batch([1]), load);
    clock += graced.ttlSeconds * 1000 + 1;
    await reads.getMany(graced, batch([1]), load);
    expect(tiers.L2).toEqual({ ...emptyCounts(), miss: 1, stale: 1 });
  });

  it('an early refresh chosen by XFetch is a hit, counted as early too', async () => {
    const { observer, tiers } = recordingObserver();
    const local = new MemoryTier({ maxBytes: 1 << 20 });
    // Each load seems to take 100 ms: XFetch's delta.
    let elapsed = 0;
    const options = { tiers: { local }, leaseWaitMs: 1000, now: () => 1_000_000, elapsed: () => (elapsed += 100), observer };
    const load = async (ids: number[]): Promise<(CategoryRecord | null)[]> => ids.map((id) => category(id));
    await new ReadThrough({ ...options, freshness: { beta: 0 } }).getMany(categoryKind, batch([1]), load);
    await new ReadThrough({ ...options, freshness: { beta: 1e9 }, random: () => 0.5 }).getMany(categoryKind, batch([1]), load);
    expect(tiers.L2).toEqual({ ...emptyCounts(), miss: 1, hit: 1, early: 1 });
  });
});
