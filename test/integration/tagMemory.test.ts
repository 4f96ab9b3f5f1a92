import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { keysUnder, useTestApp } from '../support/testApp.ts';
import { createCatalogFixture } from '../support/fixtures.ts';

/**
 * Tag state in Redis is bounded: invalidating a tag is one key, and that key expires after the
 * longest lifetime of the entries that carry the tag. A long create/delete workload leaves no key
 * without an expiry, and no per-tag index that grows.
 */
describe('tag memory under a create/delete workload', () => {
  const app = useTestApp();

  it('every key it leaves behind expires, tag keys no later than their entries can', async () => {
    const t = app();
    const { category, tag } = await createCatalogFixture(t.app.database.prisma, { products: 0 });
    const cycles = 60;
    for (let i = 0; i < cycles; i++) {
      const created = await t.mutate(`mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }`, {
        input: { sku: `TM-${tag}-${i}`, name: `Temp ${i}`, description: '', priceCents: 1, stock: 1, categoryId: String(category.id) },
      });
      const id = created.body.data?.createProduct.id as string;
      const review = await t.mutate(`mutation($input: CreateReviewInput!) { createReview(input: $input) { id } }`, {
        input: { productId: id, authorId: '1', rating: 5, body: 'ok' },
      });
      await t.query(`query($id: ID!) { product(id: $id) { name reviews { id } } category(id: ${category.id}) { products { id } } }`, { id });
      await t.mutate(`mutation($id: ID!) { deleteReview(id: $id) }`, { id: review.body.data?.createReview.id });
      expect((await t.mutate(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id })).body.data?.deleteProduct).toBe(true);
    }

    // One Redis here (not a cluster): SCAN sees every key.
    const redis = t.app.cache.redis as Redis;
    const keys = await keysUnder(redis, t.prefix);
    const ttls = await Promise.all(keys.map((key) => redis.pttl(key)));
    const bytes = (await Promise.all(keys.map((key) => redis.memory('USAGE', key)))).reduce<number>((sum, n) => sum + (n ?? 0), 0);
    const tagKeys = keys.filter((key) => key.startsWith(`${t.app.keys.keyspace}["t",`));
    console.info(`tag memory after ${cycles} create/delete cycles: ${keys.length} keys (${tagKeys.length} tag generations), ${bytes} bytes`);

    // The views stream and its pending hash are the only keys without an expiry (they hold what is
    // not yet flushed, and are emptied by the flusher), with the flush lock's fencing counter, one
    // key for the process's life whose tokens must keep rising.
    const persistent = keys.filter((key, i) => ttls[i] === -1);
    expect(persistent.filter((key) => !key.includes(':views:'))).toEqual([`${t.prefix}lock:{views-flush}:fence`]);
    // Tag keys live no longer than the entries that carry them may (TTL + grace + margin).
    for (const key of tagKeys) {
      const tagName = JSON.parse(key.slice(t.app.keys.keyspace.length))[1] as string;
      expect(await redis.pttl(key)).toBeLessThanOrEqual(t.app.addresses.tagLifetimeMs(tagName));
    }
    // One generation per distinct tag invalidated or read: per cycle the product, its reviews list
    // and its review, plus a constant few that do not grow with the cycles (the shared lists, and
    // tags only ever read, whose generation a fill created: the type tags, the category).
    expect(tagKeys.length).toBeLessThanOrEqual(cycles * 3 + 8);
    const entityTag = tagKeys.find((key) => /"Product:\d+"/.test(key));
    expect(entityTag && t.app.addresses.tagLifetimeMs(JSON.parse(entityTag.slice(t.app.keys.keyspace.length))[1])).toBe((10 + 30 + 60) * 1000);
  });
});
