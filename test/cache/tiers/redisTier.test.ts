import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { CacheKeys } from '../../../src/cache/keys.ts';
import { waitUntilReady } from '../../../src/cache/tiers/redisClient.ts';
import { RedisTier } from '../../../src/cache/tiers/redisTier.ts';
import { TierGuard } from '../../../src/cache/tiers/tierGuard.ts';
import { RedisClients } from '../../support/redisClients.ts';
import { deletePrefix, uniquePrefix } from '../../support/testApp.ts';
import { ThrowawayRedis } from '../../support/throwawayRedis.ts';
import { category, categoryKind } from '../../support/testKinds.ts';
import { entries, read, store, tierContract, write } from './tierContract.ts';

const prefix = uniquePrefix();
const logger = pino({ level: 'silent' });
const TAG_LIFETIME_MS = 10 * 60_000;
const clients = new RedisClients();
const connect = clients.connect.bind(clients);
const connectToNothing = clients.connectToNothing.bind(clients);

/** A tier, as one instance of the app has it, over its own keyspace. */
function tierOver(redis: Redis, keys: CacheKeys): RedisTier {
  return new RedisTier({ redis, guard: new TierGuard({ tier: 'L3', logger }), keys, tagLifetimeMs: () => TAG_LIFETIME_MS, logger });
}

const redis = await connect();

afterAll(async () => {
  await deletePrefix(prefix);
  clients.disconnectAll();
});

tierContract('RedisTier (L3)', async () => {
  // Tag keys live in the tier's keyspace, so each test gets a keyspace of its own.
  const keys = new CacheKeys(`${prefix}${randomUUID().slice(0, 8)}:`);
  return { tier: tierOver(redis, keys), key: (k) => keys.keyspace + k, tag: (t) => t };
});

describe('RedisTier', () => {
  const keys = new CacheKeys(prefix);
  const tier = tierOver(redis, keys);

  it('reads bytes that are not an entry as a miss', async () => {
    const tags = ['Category:1'];
    await redis.set(`${prefix}corrupt`, Buffer.from([0xc1, 0x00, 0x13]), 'PX', 60_000);
    await redis.set(`${prefix}foreign`, JSON.stringify({ id: 1, name: 'A', slug: 'a' }), 'PX', 60_000);
    await redis.set(`${prefix}truncated`, write(`${prefix}truncated`, category(1)).bytes.subarray(0, 5), 'PX', 60_000);
    const reads = ['corrupt', 'foreign', 'truncated'].map((k) => ({ key: prefix + k, tags }));
    expect(await entries(tier, reads)).toEqual([undefined, undefined, undefined]);
  });

  it('overwrites bytes that are not an entry with the next fill', async () => {
    const w = write(`${prefix}overwritten`, category(1), { tags: ['Category:1'] });
    await redis.set(w.key, 'not an entry', 'PX', 60_000);
    await store(tier, [w]);
    expect(await entries(tier, [read(w)])).toEqual([w.entry]);
  });

  it('sets the TTL in the same command as the value', async () => {
    await store(tier, [write(`${prefix}ttl`, category(1), { ttlMs: 30_000 })]);
    const ttl = await redis.pttl(`${prefix}ttl`);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });

  it('keeps a tag’s generation for tagLifetimeMs, and nothing else per tag', async () => {
    const tag = `Category:${randomUUID()}`;
    await store(tier, [write(`${prefix}tagged`, category(1), { tags: [tag] })]);
    // The fill's fence created the tag's generation (see redisTierLostGenerations.test.ts).
    expect(await redis.exists(keys.tag(tag))).toBe(1);
    await tier.invalidateTags([tag]);
    const ttl = await redis.pttl(keys.tag(tag));
    expect(ttl).toBeGreaterThan(TAG_LIFETIME_MS - 5_000);
    expect(ttl).toBeLessThanOrEqual(TAG_LIFETIME_MS);
  });

  it('an invalidation made by one instance is seen by every other instance’s reads and fences', async () => {
    const other = tierOver(await connect(), keys);
    const tags = [`Category:${randomUUID()}`];
    const cached = write(`${prefix}shared`, category(1, 'old'), { tags });
    await store(tier, [cached]);
    const { fence } = await other.getMany([read(cached)], categoryKind);
    await tier.invalidateTags(tags);
    expect(await entries(other, [read(cached)])).toEqual([undefined]);
    // The other instance's load began before the invalidation: its fill is never served.
    await other.setMany([write(cached.key, category(1, 'loaded by the other'), { tags })], fence);
    expect(await entries(tier, [read(cached)])).toEqual([undefined]);
  });
});

describe('RedisTier with a tag lifetime that is not a positive whole number', () => {
  // Redis would refuse such a SET inside the MULTI; the tier refuses it first, as the caller's bug it is.
  it.each([0, -1, Number.NaN, -Infinity])('refuses lifetime %s before sending anything', async (ms) => {
    const keys = new CacheKeys(`${prefix}refused:`);
    const tier = new RedisTier({ redis, guard: new TierGuard({ tier: 'L3', logger }), keys, tagLifetimeMs: () => ms, logger });
    await expect(tier.invalidateTags(['Category:1'])).rejects.toThrow(RangeError);
  });
});

describe('RedisTier when Redis does not answer', () => {
  it('reads miss, writes are dropped and invalidations report failure, without throwing', async () => {
    const down = await connectToNothing();
    const tier = tierOver(down, new CacheKeys(prefix));
    const w = write(`${prefix}down`, category(1), { tags: ['Category:1'] });
    const lookup = await tier.getMany([read(w)], categoryKind);
    expect(lookup.entries).toEqual([undefined]);
    await tier.setMany([w], lookup.fence);
    await tier.setMany([w], await tier.fence(w.tags));
    expect(await tier.invalidateTags(['Category:1'])).toBe(false);
  });

  it('writes nothing under a fence taken while Redis was down, even once it is back', async () => {
    const server = await ThrowawayRedis.start();
    try {
      const client = await connect(server.url);
      const keys = new CacheKeys('down:');
      const tier = new RedisTier({ redis: client, guard: new TierGuard({ tier: 'L3', logger, retryAfterMs: 0 }), keys, tagLifetimeMs: () => TAG_LIFETIME_MS, logger });
      const w = write(`${keys.keyspace}k`, category(1), { tags: ['Category:1'] });
      await server.kill();
      // Without the generations the entry cannot be stamped, and an unstamped entry could be stale.
      const blind = await tier.fence(w.tags);
      await server.restart();
      expect(await waitUntilReady(client, 5000)).toBe(true);
      await tier.setMany([w], blind);
      expect(await client.exists(w.key)).toBe(0);
      await tier.setMany([w], await tier.fence(w.tags));
      expect(await entries(tier, [read(w)])).toEqual([w.entry]);
    } finally {
      await server.kill();
    }
  });
});
