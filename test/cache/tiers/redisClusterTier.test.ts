import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { pino } from 'pino';
import { connectionOptions } from '../../../src/cache/tiers/redisClient.ts';
import { RedisTier } from '../../../src/cache/tiers/redisTier.ts';
import { CacheKeys } from '../../../src/cache/keys.ts';
import { ThrowawayCluster } from '../../support/throwawayCluster.ts';
import { categoryKind, tierContract, write } from './tierContract.ts';

/**
 * L3 on a real three-node Redis Cluster: a cluster refuses (CROSSSLOT) any MGET or UNLINK whose keys
 * span slots, so these pass only if RedisTier groups every multi-key command by slot.
 */
let cluster: ThrowawayCluster;
let client: Cluster;
let tier: RedisTier;
let namespace = 0;

beforeAll(async () => {
  cluster = await ThrowawayCluster.start();
  client = new Cluster(cluster.startupNodes, {
    redisOptions: connectionOptions(2000),
    enableOfflineQueue: true,
    enableAutoPipelining: true,
  });
  await client.set('warmup', '1');
  const logger = pino({ level: 'silent' });
  // A guard that never skips: a swallowed CROSSSLOT error would read as a miss and hide the bug.
  tier = new RedisTier({ redis: client, guard: { run: (_fallback, call) => call() }, logger });
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

tierContract('RedisTier on Redis Cluster (L3)', async () => {
  const prefix = `c${namespace++}:`;
  return { tier, key: (k) => prefix + k };
});

describe('RedisTier on Redis Cluster', () => {
  it('reads a batch of keys spread over many slots and nodes in one call', async () => {
    const keys = new CacheKeys('cluster:');
    const writes = Array.from({ length: 60 }, (_, i) => write(keys.entity(categoryKind, i + 1), { id: i + 1, name: `C${i}`, slug: `c${i}` }));
    await tier.setMany(writes);
    const read = await tier.getMany(writes.map((w) => w.key), categoryKind);
    expect(read.map((entry) => entry?.value?.id)).toEqual(writes.map((_, i) => i + 1));
    await tier.deleteMany(writes.map((w) => w.key));
    expect((await tier.getMany(writes.map((w) => w.key), categoryKind)).every((e) => e === undefined)).toBe(true);
  });
});
