import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NESTED_QUERY, startTestApp, type TestApp } from '../support/testApp.ts';
import { ThrowawayRedis } from '../support/throwawayRedis.ts';

/**
 * A failing L3 makes responses slower, never wrong and never failed. Each test kills or pauses a
 * redis-server of its own; the shared one is never touched.
 */
describe('Redis outage', () => {
  let expected: Record<string, unknown>;
  const running: Array<{ app: TestApp; redis: ThrowawayRedis }> = [];

  beforeAll(async () => {
    // The truth, from the database alone.
    const reference = await startTestApp({ CACHE_TIERS: '' });
    expected = {};
    for (const q of queries()) expected[q] = (await reference.query(q)).body;
    await reference.stop();
  });

  afterEach(async () => {
    for (const { app, redis } of running.splice(0)) {
      redis.resume();
      await app.stop();
      await redis.kill();
    }
  });

  async function setup() {
    const redis = await ThrowawayRedis.start();
    const app = await startTestApp({ REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '200' });
    running.push({ app, redis });
    return { app, redis };
  }

  /** Different products each time, so L2 cannot answer and every read needs L3 or the database. */
  function queries(): string[] {
    return [NESTED_QUERY, ...[31, 32, 33, 34, 35, 36].map((id) => `{ product(id: ${id}) { id name reviews { id author { name } } } }`)];
  }

  async function expectCorrectAndBounded(app: TestApp) {
    for (const q of queries()) {
      const started = performance.now();
      const result = await app.query(q);
      expect(performance.now() - started).toBeLessThan(3000);
      expect(result.status).toBe(200);
      expect(result.body).toEqual(expected[q]);
    }
  }

  it('Redis killed: every request still gets the right data, and the log says so once', async () => {
    const { app, redis } = await setup();
    await app.query('{ product(id: 1) { id } }');
    await redis.kill();
    await expectCorrectAndBounded(app);
    await expectCorrectAndBounded(app);
    const outages = app.logs.filter((l) => l.msg.includes('cache tier L3 unavailable'));
    expect(outages).toHaveLength(1);
  });

  it('Redis hanging (SIGSTOP): calls give up after the command timeout and fall through', async () => {
    const { app, redis } = await setup();
    redis.pause();
    await expectCorrectAndBounded(app);
    expect(app.logs.filter((l) => l.msg.includes('cache tier L3 unavailable'))).toHaveLength(1);
  });

  it('Redis back: the tier recovers by itself and serves again', async () => {
    const { app, redis } = await setup();
    await redis.kill();
    await app.query('{ product(id: 2) { id } }');
    await redis.restart();
    const deadline = Date.now() + 10_000;
    while (!app.logs.some((l) => l.msg.includes('cache tier L3 recovered'))) {
      if (Date.now() > deadline) throw new Error('L3 did not recover within 10 s');
      await app.query(`{ product(id: ${3 + Math.floor(Math.random() * 100)}) { id } }`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    app.redisCommands.length = 0;
    await expectCorrectAndBounded(app);
    expect(app.redisCommands).toContain('mget');
  });
});
