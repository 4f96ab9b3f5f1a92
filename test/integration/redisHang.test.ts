import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalogFixture } from '../support/fixtures.ts';
import { useTwoInstances, type TestApp } from '../support/testApp.ts';
import { ThrowawayRedis } from '../support/throwawayRedis.ts';

const PRODUCT = `query($id: ID!) { product(id: $id) { name } }`;
const RENAME = `mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { name } }`;
const COMMAND_TIMEOUT_MS = 250;

/**
 * Redis hangs (SIGSTOP: the sockets stay open and nothing answers, as in a partition or a stuck
 * proxy): mutations stay bounded by REDIS_COMMAND_TIMEOUT_MS, the writer reads its own write, and
 * the other instance stops trusting its L2 within the bus deadline, then serves the write.
 */
describe('mutations and reads while Redis hangs', () => {
  let redis: ThrowawayRedis;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    redis = await ThrowawayRedis.start();
  });
  // After-hooks run last first: Redis resumes, then the instances stop, then Redis is killed.
  afterAll(async () => {
    await redis?.kill();
  });
  useTwoInstances(
    () => ({ REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS) }),
    (pair) => ([a, b] = pair),
  );
  afterAll(() => redis?.resume());

  it('each mutation answers within the command timeout plus its own database time, and both instances serve the write', async () => {
    const { products } = await createCatalogFixture(a.app.database.prisma, { products: 1 });
    const id = String(products[0]!.id);
    // The same mutation with Redis answering: what the database part of it costs on this machine now.
    let started = performance.now();
    expect((await a.mutate(RENAME, { id, input: { name: 'baseline' } })).body.errors).toBeUndefined();
    const baselineMs = performance.now() - started;
    for (const t of [a, b]) {
      await t.query(PRODUCT, { id });
      expect((await t.query(PRODUCT, { id })).body.data?.product.name).toBe('baseline');
    }

    redis.pause();
    const elapsed: number[] = [];
    for (let i = 0; i < 3; i++) {
      const name = `written while Redis hung ${i}`;
      started = performance.now();
      expect((await a.mutate(RENAME, { id, input: { name } })).body.errors).toBeUndefined();
      elapsed.push(performance.now() - started);
      // Read-your-writes on the writer, at once.
      expect((await a.query(PRODUCT, { id })).body.data?.product.name).toBe(name);
    }
    console.info(`mutations while Redis hung: ${elapsed.map((ms) => ms.toFixed(0)).join(', ')} ms (baseline ${baselineMs.toFixed(0)} ms)`);
    // The bound the issue sets: the command timeout, for each of the sequential Redis steps of a
    // mutation that can wait on it (invalidate, publish, write-through), plus the database time.
    for (const ms of elapsed) expect(ms).toBeLessThan(baselineMs + 4 * COMMAND_TIMEOUT_MS + 500);

    // B cannot hear the bus: it stops trusting its L2 within the bus deadline (2 s), then serves the write.
    const deadline = performance.now() + 10_000;
    while (b.app.cache.trusted() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(b.app.cache.trusted()).toBe(false);
    expect((await b.query(PRODUCT, { id })).body.data?.product.name).toBe('written while Redis hung 2');

    redis.resume();
    // The L3 guard comes back up with the first call that succeeds: traffic, as in production.
    const back = performance.now() + 15_000;
    while (!(a.app.cache.trusted() && b.app.cache.trusted()) && performance.now() < back) {
      await Promise.all([a.query(PRODUCT, { id }), b.query(PRODUCT, { id })]);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(a.app.cache.trusted() && b.app.cache.trusted()).toBe(true);
    for (const t of [a, b]) expect((await t.query(PRODUCT, { id })).body.data?.product.name).toBe('written while Redis hung 2');
  });
});
