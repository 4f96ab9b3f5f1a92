import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient } from '../../src/cache/tiers/redisClient.ts';
import { lockKeys } from '../../src/coordination/lock.ts';
import type { Database } from '../../src/database/database.ts';
import { LockLostError } from '../../src/errors.ts';
import { ViewCounter } from '../../src/views/viewCounter.ts';
import { ViewFlusher, type ViewFlusherOptions } from '../../src/views/viewFlusher.ts';
import { viewKeys } from '../../src/views/viewKeys.ts';
import { deletePrefix, uniquePrefix } from '../support/testApp.ts';
import { freePort } from '../support/ports.ts';
import { bufferState, capturingLogger, createProducts, openRunDatabase, rowsOf, sharedRedis, viewCountsOf } from './viewFixtures.ts';

describe('ViewFlusher', () => {
  let db: Database;
  let redis: Redis;
  const prefixes: string[] = [];
  const flushers: ViewFlusher[] = [];

  beforeAll(async () => {
    db = await openRunDatabase();
    redis = sharedRedis();
  });
  afterEach(async () => {
    await Promise.all(flushers.splice(0).map((flusher) => flusher.stop(0)));
    await Promise.all(prefixes.splice(0).map(deletePrefix));
  });
  afterAll(async () => {
    redis.disconnect();
    await db.close();
  });

  /** A buffer of the test's own (its prefix), a counter writing into it and a factory of flushers reading it. */
  function setup() {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const { logger, lines } = capturingLogger();
    const counter = new ViewCounter({ redis, prefix, prisma: db.prisma, logger });
    let consumers = 0;
    const flusher = (options: Partial<ViewFlusherOptions> = {}) => {
      const created = new ViewFlusher({ redis, prisma: db.prisma, prefix, consumer: `test-${(consumers += 1)}`, logger, ...options });
      flushers.push(created);
      return created;
    };
    return { prefix, keys: viewKeys(prefix), counter, flusher, lines };
  }

  async function recordAll(counter: ViewCounter, productIds: readonly number[]): Promise<void> {
    const via = await Promise.all(productIds.map((id) => counter.record(id)));
    expect(new Set(via)).toEqual(new Set(['buffered']));
  }

  /** flushOnce until nothing is left; the entries handled. */
  async function drain(flusher: ViewFlusher): Promise<number> {
    let total = 0;
    for (let n = await flusher.flushOnce(); n > 0; n = await flusher.flushOnce()) total += n;
    return total;
  }

  it('moves N buffered views into viewCount exactly, in batches, and empties the buffer', async () => {
    const { keys, counter, flusher } = setup();
    const ids = await createProducts(db.prisma, 3);
    const views = Array.from({ length: 250 }, (_, i) => ids[i % 3] as number);
    await recordAll(counter, views);
    const flushed: number[][] = [];

    const handled = await drain(flusher({ batchSize: 100, onFlushed: async (productIds) => void flushed.push(productIds) }));

    expect(handled).toBe(250);
    expect(flushed).toHaveLength(3);
    expect(new Set(flushed.flat())).toEqual(new Set(ids));
    expect(await viewCountsOf(db.prisma, ids)).toEqual([84, 83, 83]);
    expect(await counter.pendingMany(ids)).toEqual([0, 0, 0]);
    expect(await bufferState(redis, keys)).toEqual({ stream: 0, unacked: 0, pending: {} });
  });

  it('reads stored plus pending as the true count at every step', async () => {
    const { counter, flusher } = setup();
    const [a] = (await createProducts(db.prisma, 1)) as [number];
    const f = flusher({ batchSize: 7 });
    const total = async () => (await viewCountsOf(db.prisma, [a]))[0]! + (await counter.pendingMany([a]))[0]!;

    await recordAll(counter, Array(20).fill(a));
    for (let step = 0; step < 4; step++) {
      expect(await total()).toBe(20);
      await f.flushOnce();
    }
    expect(await viewCountsOf(db.prisma, [a])).toEqual([20]);
  });

  it('applies a batch redelivered after a crash between commit and ack once', async () => {
    const { keys, counter, flusher } = setup();
    const ids = await createProducts(db.prisma, 2);
    await recordAll(counter, [...ids, ...ids, ids[0] as number]);

    // Commits, then fails before the ack: the batch stays pending on this consumer, as after a crash.
    const crashing = flusher({ onFlushed: () => Promise.reject(new Error('crashed after commit')) });
    await expect(crashing.flushOnce()).rejects.toThrow('crashed after commit');
    expect(await viewCountsOf(db.prisma, ids)).toEqual([3, 2]);
    expect((await bufferState(redis, keys)).unacked).toBe(5);

    const invalidated: number[][] = [];
    const taker = flusher({ claimIdleMs: 0, onFlushed: async (productIds) => void invalidated.push(productIds) });
    expect(await drain(taker)).toBe(5);

    expect(await viewCountsOf(db.prisma, ids)).toEqual([3, 2]);
    // The cache is invalidated on the redelivery too: the first onFlushed may never have run.
    expect(invalidated.flat().sort()).toEqual([...ids].sort());
    expect(await bufferState(redis, keys)).toEqual({ stream: 0, unacked: 0, pending: {} });
  });

  it('subtracts a batch acked by two flushers once', async () => {
    const { prefix, counter, flusher } = setup();
    const [a] = (await createProducts(db.prisma, 1)) as [number];
    await recordAll(counter, Array(4).fill(a));

    // The first flusher stalls between its commit and its ack, and its flush lock is lost meanwhile
    // (as after a failover to a replica that had not seen it): a second flusher takes the batch over.
    let resume!: () => void;
    let stalled!: () => void;
    const isStalled = new Promise<void>((resolve) => (stalled = resolve));
    const slow = flusher({ onFlushed: () => (stalled(), new Promise<void>((resolve) => (resume = resolve))) });
    const slowFlush = slow.flushOnce();
    await isStalled;
    await redis.del(lockKeys(prefix, 'views-flush').lock);
    expect(await drain(flusher({ claimIdleMs: 0 }))).toBe(4);
    await recordAll(counter, Array(3).fill(a));
    resume();
    // It acks what the other acked already, and learns that it no longer held the lock.
    await expect(slowFlush).rejects.toBeInstanceOf(LockLostError);

    expect(await viewCountsOf(db.prisma, [a])).toEqual([4]);
    expect(await counter.pendingMany([a])).toEqual([3]);
  });

  it('lets two flushers of one group take turns, one batch at a time, and the total is exact', async () => {
    const { keys, counter, flusher } = setup();
    const ids = await createProducts(db.prisma, 4);
    const views = Array.from({ length: 600 }, (_, i) => ids[(i * 7) % 4] as number);
    await recordAll(counter, views);

    // onFlushed runs under the flush lock, between a batch's commit and its ack.
    let flushing = 0;
    let mostAtOnce = 0;
    const onFlushed = async () => {
      mostAtOnce = Math.max(mostAtOnce, (flushing += 1));
      await redis.ping();
      flushing -= 1;
    };
    const [one, two] = [flusher({ batchSize: 25, onFlushed }), flusher({ batchSize: 25, onFlushed })];
    // A flusher that finds the other flushing stops its drain; both go again until the buffer is empty.
    let handled = 0;
    while ((await bufferState(redis, keys)).stream > 0) handled += (await Promise.all([drain(one), drain(two)])).reduce((x, y) => x + y);

    expect(handled).toBe(600);
    expect(mostAtOnce).toBe(1);
    expect(await viewCountsOf(db.prisma, ids)).toEqual([150, 150, 150, 150]);
    expect(await bufferState(redis, keys)).toEqual({ stream: 0, unacked: 0, pending: {} });
  });

  it('flushes what is buffered when stopped, without waiting for its interval', async () => {
    const { keys, counter, flusher } = setup();
    const [a] = (await createProducts(db.prisma, 1)) as [number];
    await recordAll(counter, Array(5).fill(a));
    const f = flusher({ intervalMs: 60_000, batchSize: 10 }).start();
    await expect.poll(() => viewCountsOf(db.prisma, [a])).toEqual([5]);

    // Recorded after the loop went to sleep for a minute.
    await recordAll(counter, Array(35).fill(a));
    await f.stop();

    expect(await viewCountsOf(db.prisma, [a])).toEqual([40]);
    expect(await bufferState(redis, keys)).toEqual({ stream: 0, unacked: 0, pending: {} });
  });

  it('drops the views of a deleted product and still clears them from the buffer', async () => {
    const { keys, counter, flusher } = setup();
    const [gone, kept] = (await createProducts(db.prisma, 2)) as [number, number];
    await recordAll(counter, [gone, gone, kept]);
    await db.prisma.product.delete({ where: { id: gone } });

    expect(await drain(flusher())).toBe(3);
    expect(await rowsOf(db.prisma, [kept])).toEqual([{ viewCount: 1, version: 2 }]);
    expect(await bufferState(redis, keys)).toEqual({ stream: 0, unacked: 0, pending: {} });
  });

  it('keeps running through a Redis outage, logging it once', async () => {
    const { logger, lines } = capturingLogger();
    const down = createRedisClient({ url: `redis://127.0.0.1:${await freePort()}`, commandTimeoutMs: 200 });
    down.on('error', () => {});
    try {
      const f = new ViewFlusher({ redis: down, prisma: db.prisma, prefix: uniquePrefix(), consumer: 'test-down', intervalMs: 10, logger }).start();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await f.stop();
      expect(lines.filter((line) => line.msg.startsWith('view flush failed'))).toHaveLength(1);
    } finally {
      down.disconnect();
    }
  });

  it('refuses invalid options, naming them', () => {
    const { flusher } = setup();
    expect(() => flusher({ batchSize: 0 })).toThrow(/batchSize/);
    expect(() => flusher({ intervalMs: 1.5 })).toThrow(/intervalMs/);
    expect(() => flusher({ consumer: '' })).toThrow(/consumer/);
  });
});
