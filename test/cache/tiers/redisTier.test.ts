import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createRedisClient, waitUntilReady } from '../../../src/cache/tiers/redisClient.ts';
import { groupBySlot, RedisTier } from '../../../src/cache/tiers/redisTier.ts';
import { TierGuard } from '../../../src/cache/tiers/tierGuard.ts';
import { redisUrl } from '../../support/services.ts';
import { deletePrefix, uniquePrefix } from '../../support/testApp.ts';
import { categoryKind, tierContract, write } from './tierContract.ts';

const prefix = uniquePrefix();
const redis = createRedisClient({ url: redisUrl, commandTimeoutMs: 1000 });
const logger = pino({ level: 'silent' });
// Without an offline queue, commands sent before the connection is up would fail (by design).
await waitUntilReady(redis, 5000);
const tier = new RedisTier({ redis, guard: new TierGuard({ tier: 'L3', logger }), logger });
afterAll(async () => {
  await deletePrefix(prefix);
  redis.disconnect();
});

tierContract('RedisTier (L3)', async () => {
  const ns = `${prefix}${randomUUID().slice(0, 6)}:`;
  return { tier, key: (k) => ns + k };
});

describe('RedisTier', () => {
  it('reads bytes that are not an entry as a miss', async () => {
    await redis.set(`${prefix}corrupt`, Buffer.from([0xc1, 0x00, 0x13]), 'PX', 60_000);
    await redis.set(`${prefix}foreign`, JSON.stringify({ id: 1, name: 'A', slug: 'a' }), 'PX', 60_000);
    expect(await tier.getMany([`${prefix}corrupt`, `${prefix}foreign`], categoryKind)).toEqual([undefined, undefined]);
  });

  it('sets the TTL in the same command as the value', async () => {
    await tier.setMany([write(`${prefix}ttl`, { id: 1, name: 'A', slug: 'a' }, 30_000)]);
    const ttl = await redis.pttl(`${prefix}ttl`);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });

  it('groups keys by hash slot on a cluster, and keeps one group on a single Redis', () => {
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    expect(groupBySlot(keys, { isCluster: false })).toEqual([keys]);
    const groups = groupBySlot(keys, { isCluster: true });
    expect(groups.flat().sort()).toEqual(keys);
    // Keys that share a hash tag share a slot, so they stay together.
    expect(groupBySlot(['{u1}a', '{u1}b'], { isCluster: true })).toEqual([['{u1}a', '{u1}b']]);
  });
});
