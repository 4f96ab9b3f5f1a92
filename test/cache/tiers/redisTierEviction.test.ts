import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { CacheKeys } from '../../../src/cache/keys.ts';
import { RedisTier } from '../../../src/cache/tiers/redisTier.ts';
import { TierGuard } from '../../../src/cache/tiers/tierGuard.ts';
import { RedisClients } from '../../support/redisClients.ts';
import { ThrowawayRedis } from '../../support/throwawayRedis.ts';
import { category, categoryKind } from '../../support/testKinds.ts';
import { entries, read, store, write } from './tierContract.ts';

/**
 * L3 on a Redis that is full and evicts with allkeys-lru, as production runs it: tag keys, read
 * only when an entry carrying them is, go cold before the entries, and are evicted first. A redis-
 * server of the test's own, so that its memory limit and flood touch nothing shared.
 */
const logger = pino({ level: 'silent' });
const clients = new RedisClients();
const ENTRIES = 200;
const ROUNDS = 3;
let server: ThrowawayRedis;
let client: Redis;

beforeAll(async () => {
  server = await ThrowawayRedis.start();
  client = await clients.connect(server.url);
  const used = Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1]);
  await client.config('SET', 'maxmemory', String(used + 4 * 1024 * 1024));
  await client.config('SET', 'maxmemory-policy', 'allkeys-lru');
});

afterAll(async () => {
  clients.disconnectAll();
  await server?.kill();
});

describe('RedisTier on a Redis that evicts (allkeys-lru)', () => {
  it('never serves an entry whose tag was invalidated, whichever keys Redis evicts', async () => {
    const keys = new CacheKeys('evict:');
    const tier = new RedisTier({ redis: client, guard: new TierGuard({ tier: 'L3', logger, retryAfterMs: 0 }), keys, tagLifetimeMs: () => 600_000, logger });
    let tagsEvictedUnderLiveEntries = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const writes = Array.from({ length: ENTRIES }, (_, i) => write(`${keys.keyspace}r${round}:e${i}`, category(i + 1, `old ${round}`), { tags: [`Category:${round}:${i + 1}`] }));
      // Filled while the tags have never been invalidated, then invalidated.
      await store(tier, writes);
      expect((await entries(tier, writes.map(read))).every((entry) => entry?.value?.name === `old ${round}`)).toBe(true);
      expect(await tier.invalidateTags(writes.flatMap((w) => w.tags))).toBe(true);
      // Redis's LRU clock counts seconds: the tag keys must be a second older than the entries
      // kept hot below for allkeys-lru to prefer them. (No clock to inject: it is the server's.)
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const tagKeys = writes.map((w) => keys.tag(w.tags[0] as string));
      const foreign: string[] = [];
      for (let chunk = 0; chunk < 40; chunk++) {
        // EXISTS does not touch a key's LRU clock; TOUCH does: the entries stay hot, the tags cold.
        if ((await client.exists(...tagKeys)) === 0) break;
        await client.touch(...writes.map((w) => w.key));
        const flood = Array.from({ length: 500 }, (_, i) => `foreign:${round}:${chunk}:${i}`);
        await Promise.all(flood.map((key) => client.set(key, 'x'.repeat(1024))));
        foreign.push(...flood);
      }
      const alive = await Promise.all(writes.map(async (w, i) => (await client.exists(w.key)) === 1 && (await client.exists(tagKeys[i] as string)) === 0));
      tagsEvictedUnderLiveEntries += alive.filter(Boolean).length;

      const served = await entries(tier, writes.map(read));
      expect(served.filter((entry) => entry !== undefined)).toEqual([]);
      const carried = await tier.getCarryingTags(
        writes.map((w) => w.key),
        categoryKind,
        (value) => [`Category:${round}:${value.id}`],
      );
      expect(carried.entries.filter((entry) => entry !== undefined)).toEqual([]);
      // Room for the next round's fills, which must not be evicted before they are read.
      for (let i = 0; i < foreign.length; i += 1000) await client.unlink(...foreign.slice(i, i + 1000));
    }
    // Otherwise the test proved nothing: the case is an entry outliving its evicted tag key.
    expect(tagsEvictedUnderLiveEntries).toBeGreaterThan(0);
  });
});
