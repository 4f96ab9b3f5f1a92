import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeRedisClient, createRedisClient } from '../../src/cache/tiers/redisClient.ts';
import { TierGuard } from '../../src/cache/tiers/tierGuard.ts';
import type { Database } from '../../src/database/database.ts';
import { ViewCounter } from '../../src/views/viewCounter.ts';
import { ViewFlusher } from '../../src/views/viewFlusher.ts';
import { viewKeys } from '../../src/views/viewKeys.ts';
import { uniquePrefix } from '../support/testApp.ts';
import { ThrowawayRedis } from '../support/throwawayRedis.ts';
import { capturingLogger, createProducts, openRunDatabase, viewCountsOf } from './viewFixtures.ts';

/**
 * A timeout hides whether the write happened. The counter then applies the view directly, and when
 * the Redis write did land after all, the flusher must find that view already counted.
 */
describe('a view whose Redis write timed out yet landed', () => {
  let db: Database;
  let server: ThrowawayRedis;

  beforeAll(async () => {
    db = await openRunDatabase();
    server = await ThrowawayRedis.start();
  });
  afterAll(async () => {
    server.resume();
    await server.kill();
    await db.close();
  });

  it('is counted once', async () => {
    const { logger } = capturingLogger();
    const prefix = uniquePrefix();
    const redis = createRedisClient({ url: server.url, commandTimeoutMs: 200 });
    redis.on('error', () => {});
    try {
      // As the app wires it: the guard gives a silent Redis up after 200 ms.
      const guard = new TierGuard({ tier: 'views', logger, timeoutMs: 200 });
      const counter = new ViewCounter({ redis, prefix, prisma: db.prisma, logger, guard });
      const [a] = (await createProducts(db.prisma, 1)) as [number];
      // Loads the script, so the write sent during the pause is one EVALSHA that Redis runs later.
      expect(await counter.record(a)).toBe('buffered');

      server.pause();
      expect(await counter.record(a)).toBe('direct');
      expect(await viewCountsOf(db.prisma, [a])).toEqual([1]);
      server.resume();
      // The stalled write runs as soon as Redis wakes up: the view is now in the stream as well.
      await expect.poll(() => redis.xlen(viewKeys(prefix).stream)).toBe(2);

      const flusher = new ViewFlusher({ redis, prisma: db.prisma, prefix, consumer: 'test-timeout', logger });
      while ((await flusher.flushOnce()) > 0);
      expect(await viewCountsOf(db.prisma, [a])).toEqual([2]);
      expect(await redis.hgetall(viewKeys(prefix).pending)).toEqual({});
    } finally {
      await closeRedisClient(redis);
    }
  });
});
