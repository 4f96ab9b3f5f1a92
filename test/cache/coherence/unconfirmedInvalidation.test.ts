import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheKeys } from '../../../src/cache/keys.ts';
import { createCacheStack, type CacheStack } from '../../../src/cache/stack.ts';
import { loadConfig } from '../../../src/config/config.ts';
import type { CategoryRecord } from '../../../src/catalog/records.ts';
import { FaultProxy } from '../../support/faultProxy.ts';
import { ThrowawayRedis } from '../../support/throwawayRedis.ts';
import { categoryKind as kind } from '../../support/testKinds.ts';

/**
 * A write whose shared-tier invalidation failed (its connection was cut) leaves the old entry valid in Redis
 * until the invalidation is retried. The writer must read it as a miss from the moment Redis answers
 * again: here the retry never lands (the invalidator is closed), so only that rule stands between
 * the writer and the row from before its write.
 */
const logger = pino({ level: 'silent' });
const v1: CategoryRecord = { id: 7, name: 'before the write', slug: 'c7' };
const v2: CategoryRecord = { id: 7, name: 'after the write', slug: 'c7' };

describe('an invalidation the shared tier has not taken yet', () => {
  let redis: ThrowawayRedis;
  let proxy: FaultProxy;
  let stack: CacheStack;
  beforeAll(async () => {
    redis = await ThrowawayRedis.start();
    proxy = await FaultProxy.start({ targetPort: redis.port });
    // L3 alone: what is read comes from Redis or the database, never from a local copy.
    const config = loadConfig({ REDIS_URL: proxy.url, CACHE_TIERS: 'l1,l3', REDIS_COMMAND_TIMEOUT_MS: '200' });
    stack = await createCacheStack({ config, keys: new CacheKeys('unconfirmed:'), tagLifetimeMs: () => 120_000, instanceId: 'writer', logger });
  });
  afterAll(async () => {
    await stack?.close();
    await proxy?.close();
    await redis?.stop();
  });

  it('makes the writer read the old entry as a miss once Redis answers again, until the invalidation lands', async () => {
    const item = { item: 7, key: new CacheKeys('unconfirmed:').entity(kind, 7), tags: ['Category:7', 'Category'] };
    let database = v1;
    const read = () => stack.readThrough.getMany(kind, [item], async () => [database]);
    expect(await read()).toEqual([v1]);
    expect(await read()).toEqual([v1]);

    // Reset: the connection is cut and the invalidation never reaches Redis (a hung one would be
    // delivered late, when the network heals, and land after all).
    proxy.set({ kind: 'reset' });
    database = v2;
    await stack.invalidator.invalidate(['Category:7']);
    expect(stack.invalidator.unconfirmed(['Category:7'])).toBe(true);
    // No retry will land: what follows rests on the unconfirmed tag alone.
    stack.invalidator.close();
    proxy.set({ kind: 'pass' });

    // Until L3 answers again (the guard skips it for a second after the failure, then probes).
    const deadline = performance.now() + 15_000;
    const seen: (CategoryRecord | null)[] = [];
    while (stack.guard!.state !== 'up' && performance.now() < deadline) {
      seen.push(...(await read()));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(stack.guard!.state).toBe('up');
    // L3 answers, and still holds v1 under stamps that match: read as a miss, every time.
    for (let i = 0; i < 5; i++) seen.push(...(await read()));
    expect(seen.filter((value) => value?.name !== v2.name)).toEqual([]);
  });
});
