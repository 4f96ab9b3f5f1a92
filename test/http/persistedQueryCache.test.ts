import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import calculateSlot from 'cluster-key-slot';
import type { Cluster } from 'ioredis';
import { pino } from 'pino';
import { TierGuard } from '../../src/cache/tiers/tierGuard.ts';
import { PersistedQueryCache, type PersistedQueryCacheOptions } from '../../src/http/persistedQueryCache.ts';
import { RedisClients } from '../support/redisClients.ts';
import { deletePrefix, keysUnder, uniquePrefix } from '../support/testApp.ts';
import { transparentGuard, useThrowawayCluster } from '../support/throwawayCluster.ts';
import { ThrowawayRedis } from '../support/throwawayRedis.ts';

const prefix = uniquePrefix();
const logger = pino({ level: 'silent' });
const clients = new RedisClients();
const redis = await clients.connect();
/** The bounds of a store when a test is not about them. */
const bounds = { ttlSeconds: 3600, maxEntries: 100 };

afterAll(async () => {
  await deletePrefix(prefix);
  clients.disconnectAll();
});

/** A store of one instance over a keyspace of the test's own; `keys` are where it writes. */
function store(options: Partial<PersistedQueryCacheOptions> = {}) {
  const keyspace = `${prefix}${randomUUID().slice(0, 8)}:`;
  const cache = new PersistedQueryCache({ redis, guard: new TierGuard({ tier: 'apq', logger }), prefix: keyspace, ...bounds, ...options });
  return { cache, keyspace, text: (key: string) => `${keyspace}{apq}:q:${key}`, index: `${keyspace}{apq}:index` };
}

/** Apollo's key for a query: it prefixes the hash with `apq:`. */
const apq = (n: number) => `apq:${String(n).padStart(64, '0')}`;
const query = (n: number) => `{ product(id: ${n}) { id name } }`;

describe('PersistedQueryCache', () => {
  it('gives back a registered text, and undefined for one never registered', async () => {
    const { cache } = store();
    await cache.set(apq(1), query(1), { ttl: 60 });
    expect(await cache.get(apq(1))).toBe(query(1));
    expect(await cache.get(apq(2))).toBeUndefined();
  });

  it('keeps a text for Apollo’s TTL, capped at ttlSeconds, and for ttlSeconds when Apollo gives none', async () => {
    const { cache, text, index } = store({ ttlSeconds: 120 });
    await cache.set(apq(1), query(1), { ttl: 30 });
    await cache.set(apq(2), query(2), { ttl: 24 * 3600 });
    await cache.set(apq(3), query(3));
    await cache.set(apq(4), query(4), { ttl: null });
    const [short, capped, none, nullTtl] = await Promise.all([1, 2, 3, 4].map((n) => redis.pttl(text(apq(n)))));
    expect(short).toBeGreaterThan(25_000);
    expect(short).toBeLessThanOrEqual(30_000);
    for (const ttl of [capped, none, nullTtl]) {
      expect(ttl).toBeGreaterThan(115_000);
      expect(ttl).toBeLessThanOrEqual(120_000);
    }
    // The index outlives every text it lists, and not by more than the cap.
    const indexTtl = await redis.pttl(index);
    // The margin is for the round trips between the reads on a busy machine, not for any slack in the store.
    expect(indexTtl).toBeGreaterThanOrEqual(Math.max(short!, capped!, none!, nullTtl!) - 2000);
    expect(indexTtl).toBeLessThanOrEqual(120_000);
  });

  it('a read refreshes nothing', async () => {
    const { cache, text } = store();
    await cache.set(apq(1), query(1), { ttl: 30 });
    await redis.pexpire(text(apq(1)), 10_000);
    await cache.get(apq(1));
    expect(await redis.pttl(text(apq(1)))).toBeLessThanOrEqual(10_000);
  });

  it('keeps exactly maxEntries: registering more drops the oldest, text and listing alike', async () => {
    const { cache, keyspace, text, index } = store({ maxEntries: 5 });
    for (let n = 1; n <= 8; n++) await cache.set(apq(n), query(n), { ttl: 3600 });
    const found = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((n) => cache.get(apq(n))));
    expect(found).toEqual([undefined, undefined, undefined, query(4), query(5), query(6), query(7), query(8)]);
    expect(await redis.zrange(index, 0, '-1')).toEqual([4, 5, 6, 7, 8].map(apq));
    // No orphan: every key of the store is the index or a listed text.
    expect((await keysUnder(redis, keyspace)).sort()).toEqual([index, ...[4, 5, 6, 7, 8].map((n) => text(apq(n)))].sort());
  });

  it('registering a text again counts it once and keeps it from being the oldest', async () => {
    const { cache, index } = store({ maxEntries: 3 });
    for (const n of [1, 2, 3, 1, 4]) await cache.set(apq(n), query(n), { ttl: 3600 });
    expect(await redis.zrange(index, 0, '-1')).toEqual([3, 1, 4].map(apq));
    expect(await cache.get(apq(2))).toBeUndefined();
    expect(await cache.get(apq(1))).toBe(query(1));
  });

  it('holds the bound under concurrent registrations from several instances', async () => {
    const { keyspace, index } = store();
    const instances = await Promise.all(
      Array.from({ length: 4 }, async () => new PersistedQueryCache({ redis: await clients.connect(), guard: new TierGuard({ tier: 'apq', logger }), prefix: keyspace, ...bounds, maxEntries: 20 })),
    );
    // 4 instances × 50 distinct texts, all in flight at once.
    await Promise.all(instances.flatMap((cache, i) => Array.from({ length: 50 }, (_, j) => cache.set(apq(i * 1000 + j), query(j), { ttl: 3600 }))));
    const listed = await redis.zrange(index, 0, '-1');
    expect(listed).toHaveLength(20);
    const keys = await keysUnder(redis, keyspace);
    expect(keys).toHaveLength(21);
    expect(
      keys
        .filter((key) => key !== index)
        .map((key) => key.slice(`${keyspace}{apq}:q:`.length))
        .sort(),
    ).toEqual([...listed].sort());
  });

  it('drops from the index what has expired, under the bound as well', async () => {
    const { cache, index } = store({ maxEntries: 10 });
    // Listings whose texts Redis has expired: their scores, the expiry times, are in the past.
    await redis.zadd(index, Date.now() - 60_000, apq(98), Date.now() - 1, apq(99));
    await cache.set(apq(1), query(1), { ttl: 3600 });
    expect(await redis.zrange(index, 0, '-1')).toEqual([apq(1)]);
  });

  it('delete removes the text and its listing', async () => {
    const { cache, keyspace, text, index } = store();
    await cache.set(apq(1), query(1), { ttl: 60 });
    await cache.set(apq(2), query(2), { ttl: 60 });
    expect(await cache.delete(apq(1))).toBe(true);
    expect(await cache.delete(apq(1))).toBe(false);
    expect(await cache.get(apq(1))).toBeUndefined();
    expect(await redis.zrange(index, 0, '-1')).toEqual([apq(2)]);
    expect((await keysUnder(redis, keyspace)).sort()).toEqual([index, text(apq(2))].sort());
  });

  it('puts every key in one hash slot, whatever Apollo’s key contains', async () => {
    const { cache, keyspace } = store();
    for (const key of [apq(1), 'apq:{other}', 'apq:}{', 'index']) await cache.set(key, query(1), { ttl: 60 });
    const keys = await keysUnder(redis, keyspace);
    expect(keys).toHaveLength(5);
    expect(new Set(keys.map((key) => calculateSlot(key))).size).toBe(1);
    expect(await cache.get('index')).toBe(query(1));
  });

  it('refuses options it cannot honour, naming them', () => {
    const guard = new TierGuard({ tier: 'apq', logger });
    expect(() => new PersistedQueryCache({ redis, guard, prefix: 'a{b}:', ...bounds })).toThrow(/prefix/);
    expect(() => new PersistedQueryCache({ redis, guard, prefix, ...bounds, maxEntries: 0 })).toThrow(/maxEntries/);
    expect(() => new PersistedQueryCache({ redis, guard, prefix, ...bounds, ttlSeconds: 1.5 })).toThrow(/ttlSeconds/);
  });
});

describe('PersistedQueryCache with Redis down', () => {
  it('reads as not registered and drops registrations when nothing listens', async () => {
    const cache = new PersistedQueryCache({ redis: await clients.connectToNothing(), guard: new TierGuard({ tier: 'apq', logger }), prefix, ...bounds });
    // Bounded by the guard, not by this test: no time threshold here (a busy machine would flake it).
    await expect(cache.set(apq(1), query(1), { ttl: 60 })).resolves.toBeUndefined();
    await expect(cache.get(apq(1))).resolves.toBeUndefined();
    await expect(cache.delete(apq(1))).resolves.toBe(false);
  });

  it('gives up on a Redis that does not answer after the guard’s timeout', async () => {
    const server = await ThrowawayRedis.start();
    try {
      const cache = new PersistedQueryCache({ redis: await clients.connect(server.url), guard: new TierGuard({ tier: 'apq', logger, timeoutMs: 200 }), prefix, ...bounds });
      await cache.set(apq(1), query(1), { ttl: 60 });
      expect(await cache.get(apq(1))).toBe(query(1));
      server.pause();
      const started = performance.now();
      // The first call waits out the timeout; the guard then skips Redis, so the next ones are immediate.
      await expect(cache.get(apq(1))).resolves.toBeUndefined();
      await expect(cache.set(apq(2), query(2), { ttl: 60 })).resolves.toBeUndefined();
      // It did wait for the timeout (no upper bound: a busy machine would flake it).
      expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    } finally {
      server.resume();
      await server.kill();
    }
  });
});

describe('PersistedQueryCache on a Redis Cluster', () => {
  let client: Cluster;
  useThrowawayCluster((started) => (client = started));

  it('registers, evicts and deletes in one slot (a CROSSSLOT error would fail here)', async () => {
    // A guard that never degrades: a swallowed CROSSSLOT error would read as "not registered".
    const cache = new PersistedQueryCache({ redis: client, guard: transparentGuard, prefix: 'cluster:', ...bounds, maxEntries: 3 });
    for (let n = 1; n <= 5; n++) await cache.set(apq(n), query(n), { ttl: 60 });
    expect(await Promise.all([1, 2, 3, 4, 5].map((n) => cache.get(apq(n))))).toEqual([undefined, undefined, query(3), query(4), query(5)]);
    expect(await cache.delete(apq(4))).toBe(true);
    expect(await client.zrange('cluster:{apq}:index', 0, '-1')).toEqual([apq(3), apq(5)]);
  });
});
