import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalogFixture } from '../support/fixtures.ts';
import { startTestApp, uniquePrefix, useTwoInstances, type TestApp } from '../support/testApp.ts';
import { ThrowawayRedis } from '../support/throwawayRedis.ts';

const PRODUCT = `query($id: ID!) { product(id: $id) { name } }`;
const RENAME = `mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { name } }`;

/** Cross-instance L2 coherence: invalidations travel over Redis pub/sub to every instance. */
describe('cross-instance coherence', () => {
  let a: TestApp;
  let b: TestApp;
  useTwoInstances({}, (pair) => ([a, b] = pair));

  it('a write on A: A reads it at once, B within the propagation time (measured over 200 writes)', async () => {
    const { products } = await createCatalogFixture(a.app.database.prisma, { products: 1 });
    const id = String(products[0]!.id);
    const delays: number[] = [];
    for (let i = 0; i < 200; i++) {
      // B holds the old value in its L2: the measurement is about invalidation, not a miss.
      await b.query(PRODUCT, { id });
      await b.query(PRODUCT, { id });
      const name = `Name ${i}`;
      expect((await a.mutate(RENAME, { id, input: { name } })).body.errors).toBeUndefined();
      const answered = performance.now();
      // Read-your-writes on the writing instance, at once.
      expect((await a.query(PRODUCT, { id })).body.data?.product.name).toBe(name);
      while ((await b.query(PRODUCT, { id })).body.data?.product.name !== name) {
        if (performance.now() - answered > 2000) throw new Error(`B still stale 2 s after write ${i}`);
      }
      delays.push(performance.now() - answered);
    }
    delays.sort((x, y) => x - y);
    const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))]!.toFixed(2);
    console.info(`propagation A -> B over ${delays.length} writes: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`);
  });
});

/** Pub/sub delivers at most once: an instance that lost its subscription drops its whole L2. */
describe('L2 after a lost subscription', () => {
  let redis: ThrowawayRedis;
  let admin: Redis;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    redis = await ThrowawayRedis.start();
    admin = new Redis(redis.url);
    const prefix = uniquePrefix();
    [a, b] = await Promise.all([startTestApp({ CACHE_PREFIX: prefix, REDIS_URL: redis.url }), startTestApp({ CACHE_PREFIX: prefix, REDIS_URL: redis.url })]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    admin?.disconnect();
    await redis?.kill();
  });

  it('pauses and clears L2 while disconnected, and serves fresh data once back', async () => {
    const { products } = await createCatalogFixture(a.app.database.prisma, { products: 1 });
    const id = String(products[0]!.id);
    const address = b.app.addresses.entity('Product', products[0]!.id);
    await b.query(PRODUCT, { id });
    await b.query(PRODUCT, { id });
    expect((await b.app.cache.local!.getMany([address], b.app.kinds.Product)).entries[0]).toBeDefined();

    // Cut every subscription; B's client reconnects by itself a moment later.
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    const cutAt = performance.now();
    // The bus notices by the subscription's close, or at the latest by its heartbeat deadline (2 s).
    while (b.app.cache.trusted() && performance.now() - cutAt < 10_000) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(b.app.cache.trusted()).toBe(false);
    expect(await b.query(`{ __typename }`)).toBeDefined();
    const health = (await (await fetch(`${b.url}/health/ready`)).json()) as { tiers: Record<string, string> };
    expect(health.tiers.L2).toBe('paused');
    // A write whose message B may never hear.
    expect((await a.mutate(RENAME, { id, input: { name: 'Written while B was away' } })).body.errors).toBeUndefined();
    expect((await b.app.cache.local!.getMany([address], b.app.kinds.Product)).entries[0]).toBeUndefined();
    // Served right (from L3 or the database) even while L2 is paused.
    expect((await b.query(PRODUCT, { id })).body.data?.product.name).toBe('Written while B was away');

    const deadline = performance.now() + 5000;
    while (!b.app.cache.trusted() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(b.app.cache.trusted()).toBe(true);
    expect(b.logs.some((line) => line.msg.startsWith('invalidation bus deaf'))).toBe(true);
    expect((await b.query(PRODUCT, { id })).body.data?.product.name).toBe('Written while B was away');
  });
});
