import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CacheKeys } from '../../../src/cache/keys.ts';
import { ReadThrough } from '../../../src/cache/readThrough/readThrough.ts';
import { Leases } from '../../../src/cache/stampede/leases.ts';
import { MemoryTier } from '../../../src/cache/tiers/memoryTier.ts';
import { RedisTier } from '../../../src/cache/tiers/redisTier.ts';
import { TierGuard } from '../../../src/cache/tiers/tierGuard.ts';
import { useSharedRedis } from '../../support/redisClients.ts';
import { categoryKind as kind } from '../../support/testKinds.ts';

/**
 * The fleet lease step against real Redis: another instance's lease is a real key, taken by a second
 * Leases over the same keys.
 */
const logger = pino({ level: 'silent' });
const { redis, prefix } = await useSharedRedis();

function setup(name: string) {
  const keys = new CacheKeys(`${prefix}${name}:`);
  const guard = new TierGuard({ tier: 'L3', logger, timeoutMs: 1000 });
  const leases = new Leases({ redis, guard, keys, leaseMs: 5000 });
  const reasons: string[] = [];
  const readThrough = new ReadThrough({
    onLoad: (load) => reasons.push(load.reason),
    tiers: { local: new MemoryTier({ maxBytes: 1 << 20 }), shared: new RedisTier({ redis, guard, keys, tagLifetimeMs: () => 60_000, logger }) },
    leases,
    leaseWaitMs: 500,
    freshness: { beta: 0 },
  });
  const item = (id: number) => ({ item: id, key: keys.entity(kind, id), tags: [`Category:${id}`, 'Category'] });
  /** Another instance: it holds the lease on a key and never fills it (it is slow, or it died). */
  const otherInstance = new Leases({ redis, guard, keys, leaseMs: 5000 });
  return { readThrough, item, otherInstance, reasons };
}

describe('fleet lease', () => {
  it('a leased load that fails while the lease loop waits on another key rejects getMany; it is never an unhandled rejection', async () => {
    const { readThrough, item, otherInstance } = setup('failing');
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      // Key 2 is another instance's to load: the loop keeps waiting on it while key 1 loads here.
      expect(await otherInstance.acquire([item(2).key])).toEqual([expect.objectContaining({ key: item(2).key })]);
      let loads = 0;
      const read = readThrough.getMany(kind, [item(1), item(2)], async () => {
        loads += 1;
        // A database blip: the load fails after the loop has gone back to sleep on key 2.
        await new Promise((resolve) => setImmediate(resolve));
        throw new Error('database blip');
      });
      await expect(read).rejects.toThrow('database blip');
      // Two turns of the event loop: an unhandled rejection is reported within them.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(unhandled).toEqual([]);
      // And the loop stopped waiting on key 2 once key 1 had failed.
      expect(loads).toBe(1);
    } finally {
      process.off('unhandledRejection', record);
    }
  });

  it('after a failed load, its lease is released: the next read loads the key at once', async () => {
    const { readThrough, item, reasons } = setup('released');
    await expect(readThrough.getMany(kind, [item(1)], async () => Promise.reject(new Error('database blip')))).rejects.toThrow('database blip');
    expect(await readThrough.getMany(kind, [item(1)], async () => [{ id: 1, name: 'C1', slug: 'c1' }])).toEqual([{ id: 1, name: 'C1', slug: 'c1' }]);
    // A lease left behind would have made this read wait it out and load as 'wait-timeout'.
    expect(reasons).toEqual(['miss']);
  });
});
