import { describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { pino } from 'pino';
import { RedisTier } from '../../../src/cache/tiers/redisTier.ts';
import { CacheKeys } from '../../../src/cache/keys.ts';
import { tags } from '../../../src/cache/tags/tags.ts';
import { transparentGuard, useThrowawayCluster } from '../../support/throwawayCluster.ts';
import { category, categoryKind } from '../../support/testKinds.ts';
import { entries, read, store, tierContract, write } from './tierContract.ts';

/**
 * L3 on a real three-node Redis Cluster: a cluster refuses (CROSSSLOT) any MGET or MULTI whose keys
 * span slots, so these pass only if RedisTier groups every multi-key command, entry keys and tag
 * keys alike, by slot.
 */
let client: Cluster;
let namespace = 0;
const logger = pino({ level: 'silent' });

function tierOver(keys: CacheKeys): RedisTier {
  return new RedisTier({ redis: client, guard: transparentGuard, keys, tagLifetimeMs: () => 60_000, logger });
}

useThrowawayCluster((started) => (client = started), { enableAutoPipelining: true });

tierContract('RedisTier on Redis Cluster (L3)', async () => {
  const keys = new CacheKeys(`c${namespace++}:`);
  return { tier: tierOver(keys), key: (k) => keys.keyspace + k, tag: (t) => t };
});

describe('RedisTier on Redis Cluster', () => {
  const keys = new CacheKeys('cluster:');

  it('reads, fences, writes and invalidates a batch whose keys and tags span every node', async () => {
    const tier = tierOver(keys);
    const writes = Array.from({ length: 60 }, (_, i) => write(keys.entity(categoryKind, i + 1), category(i + 1), { tags: [tags.entity('Category', i + 1), tags.type('Category')] }));
    const { entries: before, fence } = await tier.getMany(writes.map(read), categoryKind);
    expect(before.every((e) => e === undefined)).toBe(true);
    await tier.setMany(writes, fence);
    expect((await entries(tier, writes.map(read))).map((e) => e?.value?.id)).toEqual(writes.map((_, i) => i + 1));

    // Twenty tags over many slots, in one call.
    expect(await tier.invalidateTags(writes.slice(0, 20).map((_, i) => tags.entity('Category', i + 1)))).toBe(true);
    const afterSome = await entries(tier, writes.map(read));
    expect(afterSome.map((e) => e !== undefined)).toEqual(writes.map((_, i) => i >= 20));

    expect(await tier.invalidateTags([tags.type('Category')])).toBe(true);
    expect((await entries(tier, writes.map(read))).every((e) => e === undefined)).toBe(true);
  });

  it('refuses a batch fenced before an invalidation, across slots', async () => {
    const tier = tierOver(new CacheKeys('cluster-fence:'));
    const writes = Array.from({ length: 30 }, (_, i) => write(`cluster-fence:${i}`, category(i + 1), { tags: [`Category:${i + 1}`, 'Category'] }));
    const fence = await tier.fence(writes.flatMap((w) => w.tags));
    await tier.invalidateTags(['Category']);
    await tier.setMany(writes, fence);
    expect((await entries(tier, writes.map(read))).every((e) => e === undefined)).toBe(true);
    await store(tier, writes);
    expect((await entries(tier, writes.map(read))).every((e) => e !== undefined)).toBe(true);
  });

  it('reads entries whose tag keys were lost as misses, and creates their generations across slots', async () => {
    const keys = new CacheKeys('cluster-lost:');
    const tier = tierOver(keys);
    const writes = Array.from({ length: 30 }, (_, i) => write(`cluster-lost:${i}`, category(i + 1), { tags: [`Category:${i + 1}`, 'Category'] }));
    await store(tier, writes);
    await tier.invalidateTags(writes.map((w) => w.tags[0] as string));
    await store(tier, writes);
    // Evicted, or lost in a failover: one DEL per key, as they live in different slots.
    await Promise.all(writes.map((w) => client.del(keys.tag(w.tags[0] as string))));
    const { entries: lost, fence } = await tier.getMany(writes.map(read), categoryKind);
    expect(lost.every((e) => e === undefined)).toBe(true);
    const created = await Promise.all(writes.map((w) => client.get(keys.tag(w.tags[0] as string))));
    expect(created.every((generation) => generation?.startsWith('~'))).toBe(true);
    await tier.setMany(writes, fence);
    expect((await entries(tier, writes.map(read))).every((e) => e !== undefined)).toBe(true);
  });
});
