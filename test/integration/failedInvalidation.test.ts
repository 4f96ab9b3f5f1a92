import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalogFixture } from '../support/fixtures.ts';
import { FaultProxy } from '../support/faultProxy.ts';
import { startTestApp, uniquePrefix, type TestApp } from '../support/testApp.ts';
import { ThrowawayRedis } from '../support/throwawayRedis.ts';

const PRODUCT = `query($id: ID!) { product(id: $id) { name } }`;
const RENAME = `mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { name } }`;

/**
 * A write whose L3 invalidation fails (its connection is cut) leaves the old entries valid in Redis until the
 * invalidation is retried. Once Redis answers again, the writer must not read them: it serves its
 * own write, and the retry lands as soon as Redis is back. Found by the faults bench, where the
 * writer served the pre-write row (whole responses and rows) for up to a second after recovery.
 */
describe('a write whose L3 invalidation failed', () => {
  let redis: ThrowawayRedis;
  let proxy: FaultProxy;
  let a: TestApp;
  beforeAll(async () => {
    redis = await ThrowawayRedis.start();
    proxy = await FaultProxy.start({ targetPort: redis.port });
    // The response tier on: whole responses in L3 carry the product's tag too.
    a = await startTestApp({ CACHE_PREFIX: uniquePrefix(), REDIS_URL: proxy.url, RESPONSE_CACHE: 'on' });
  });
  afterAll(async () => {
    await a?.stop();
    await proxy?.close();
    await redis?.stop();
  });

  it('is never served by the writer from L3 once Redis answers again, and is retried at once', async () => {
    const { products } = await createCatalogFixture(a.app.database.prisma, { products: 1 });
    const id = String(products[0]!.id);
    // The old name in L3: the entity row and the whole response.
    for (let i = 0; i < 2; i++) expect((await a.query(PRODUCT, { id })).body.data?.product.name).toBe(products[0]!.name);

    // Cut: the invalidation never reaches Redis (a hung one would be delivered when the network heals).
    proxy.set({ kind: 'reset' });
    expect((await a.mutate(RENAME, { id, input: { name: 'written while Redis was cut off' } })).body.errors).toBeUndefined();
    expect(a.logs.some((line) => line.msg.startsWith('shared-tier invalidation failed'))).toBe(true);

    // Redis answers again.
    proxy.set({ kind: 'pass' });
    const deadline = performance.now() + 15_000;
    const names: string[] = [];
    while (performance.now() < deadline) {
      names.push((await a.query(PRODUCT, { id })).body.data?.product.name);
      if (a.logs.some((line) => line.msg === 'shared-tier invalidations sent after Redis came back') && a.app.cache.trusted()) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(a.logs.some((line) => line.msg === 'shared-tier invalidations sent after Redis came back')).toBe(true);
    // Every read since the write answered, during and after the recovery: the write.
    expect(names.filter((name) => name !== 'written while Redis was cut off')).toEqual([]);
    for (let i = 0; i < 2; i++) expect((await a.query(PRODUCT, { id })).body.data?.product.name).toBe('written while Redis was cut off');
  });
});
