import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CachedKind } from '../../src/cache/entry.ts';
import { CacheKeys } from '../../src/cache/keys.ts';
import { ReadThrough, type LoadEvent } from '../../src/cache/readThrough/readThrough.ts';
import { Leases } from '../../src/cache/stampede/leases.ts';
import { MemoryTier } from '../../src/cache/tiers/memoryTier.ts';
import { RedisTier } from '../../src/cache/tiers/redisTier.ts';
import { TierGuard } from '../../src/cache/tiers/tierGuard.ts';
import type { CategoryRecord } from '../../src/catalog/records.ts';
import { useSharedRedis } from '../support/redisClients.ts';
import { categoryKind } from '../support/testKinds.ts';

/**
 * XFetch and grace on the real tiers (L2 in memory, L3 in Redis, leases in Redis) and the real clock,
 * under steady load. The kind has short TTLs so that an expiry falls inside a few seconds, and a
 * source that takes 40 ms, so that XFetch's delta is large enough to act on.
 */
const logger = pino({ level: 'silent' });
const { redis, prefix } = await useSharedRedis();

function setup(name: string, kind: Partial<CachedKind<CategoryRecord>>, beta: number) {
  const keys = new CacheKeys(`${prefix}${name}:`);
  const guard = new TierGuard({ tier: 'L3', logger, timeoutMs: 1000 });
  const loads: (LoadEvent & { at: number })[] = [];
  let misses = 0;
  const readThrough = new ReadThrough({
    tiers: { local: new MemoryTier({ maxBytes: 1 << 20 }), shared: new RedisTier({ redis, guard, keys, tagLifetimeMs: () => 60_000, logger }) },
    leaseWaitMs: 1000,
    leases: new Leases({ redis, guard, keys, leaseMs: 2000 }),
    freshness: { beta },
    onLoad: (load) => loads.push({ ...load, at: Date.now() }),
    onMiss: () => (misses += 1),
  });
  const full: CachedKind<CategoryRecord> = { ...categoryKind, ttlSeconds: 2, absentTtlSeconds: 1, ...kind };
  let version = 0;
  const request = [{ item: 1, key: keys.entity(full, 1), tags: ['Category:1', 'Category'] }];
  /** One read; `waited` tells whether this read itself waited for the source. */
  async function get() {
    let waited = false;
    const [value] = await readThrough.getMany(full, request, async () => {
      waited = true;
      await sleep(40);
      version += 1;
      return [{ id: 1, name: `v${version}`, slug: 'c' }];
    });
    return { value, waited };
  }
  return { get, loads, misses: () => misses };
}

describe('XFetch under steady load', () => {
  it('refreshes the entry before it expires, and no read after the first waits for the source', async () => {
    // beta 3: the refresh must also finish before expiry, and it takes one delta (40 ms). With beta 1
    // a refresh starts within the last delta before expiry about 5% of the time at this read rate,
    // and the reads during its last milliseconds would join it as misses.
    const { get, loads, misses } = setup('xfetch', {}, 3);
    const first = await get();
    expect(first.waited).toBe(true);
    const expiresAt = loads[0]!.at + 2000;
    let waitedReads = 0;
    let reads = 0;
    // 3.5 s of reads every 5 ms: the first entry would have expired at 2 s.
    const until = Date.now() + 3500;
    while (Date.now() < until) {
      const read = await get();
      reads += 1;
      if (read.waited) waitedReads += 1;
      expect(read.value).not.toBeNull();
      await sleep(5);
    }
    const refreshes = loads.filter((l) => l.reason === 'refresh');
    console.info(`xfetch: ${reads} reads, ${waitedReads} waited, ${refreshes.length} early refreshes, first ${expiresAt - (refreshes[0]?.at ?? 0)} ms before expiry`);
    expect(waitedReads).toBe(0);
    // Not even a read that joined a load already in flight: every read after the first was a hit.
    expect(misses()).toBe(1);
    expect(loads.filter((l) => l.reason !== 'refresh')).toHaveLength(1);
    expect(refreshes.length).toBeGreaterThanOrEqual(1);
    expect(refreshes[0]!.at).toBeLessThan(expiresAt);
  });

  it('with beta 0 (off), the read that finds the entry expired waits for the source', async () => {
    const { get, loads } = setup('off', {}, 0);
    await get();
    await sleep(2100);
    expect((await get()).waited).toBe(true);
    expect(loads.map((l) => l.reason)).toEqual(['miss', 'miss']);
  });
});

describe('grace (stale-while-revalidate for data)', () => {
  it('serves the stale value within grace while exactly one refresh runs, and never past it', async () => {
    const { get, loads, misses } = setup('grace', { ttlSeconds: 1, graceSeconds: 1 }, 0);
    expect((await get()).value?.name).toBe('v1');
    await sleep(1100);
    // Past the TTL, within grace: ten concurrent reads get v1 at once and start one refresh.
    const stale = await Promise.all(Array.from({ length: 10 }, () => get()));
    expect(stale.every((r) => r.value?.name === 'v1' && !r.waited)).toBe(true);
    await sleep(100);
    expect(loads.map((l) => l.reason)).toEqual(['miss', 'refresh']);
    expect(misses()).toBe(1);
    expect((await get()).value?.name).toBe('v2');
    // Past TTL and grace of v2 (fetched ~1.2 s ago): never served, the read waits.
    await sleep(2100);
    const late = await get();
    expect(late.waited).toBe(true);
    expect(late.value?.name).toBe('v3');
  });
});
