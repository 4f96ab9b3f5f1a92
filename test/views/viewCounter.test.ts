import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient } from '../../src/cache/tiers/redisClient.ts';
import type { Database } from '../../src/database/database.ts';
import { ViewCounter } from '../../src/views/viewCounter.ts';
import { viewKeys } from '../../src/views/viewKeys.ts';
import { deletePrefix, uniquePrefix } from '../support/testApp.ts';
import { freePort } from '../support/ports.ts';
import { bufferState, capturingLogger, createProducts, openRunDatabase, rowsOf, sharedRedis, viewCountsOf } from './viewFixtures.ts';

describe('ViewCounter', () => {
  let db: Database;
  let redis: Redis;
  const prefix = uniquePrefix();
  const keys = viewKeys(prefix);

  beforeAll(async () => {
    db = await openRunDatabase();
    redis = sharedRedis();
  });
  afterAll(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
    await db.close();
  });

  it('buffers a view in Redis, leaving the row alone, and pendingMany sees it', async () => {
    const { logger } = capturingLogger();
    const counter = new ViewCounter({ redis, prefix, prisma: db.prisma, logger });
    const [a, b, untouched] = (await createProducts(db.prisma, 3)) as [number, number, number];
    const before = await bufferState(redis, keys);

    expect(await counter.record(a)).toBe('buffered');
    expect(await counter.record(b)).toBe('buffered');
    expect(await counter.record(a)).toBe('buffered');

    expect(await counter.pendingMany([b, untouched, a])).toEqual([1, 0, 2]);
    expect((await bufferState(redis, keys)).stream).toBe(before.stream + 3);
    expect(await rowsOf(db.prisma, [a, b])).toEqual([
      { viewCount: 0, version: 1 },
      { viewCount: 0, version: 1 },
    ]);
  });

  it('writes each view as one stream entry carrying its product and a fresh event id', async () => {
    const { logger } = capturingLogger();
    const counter = new ViewCounter({ redis, prefix, prisma: db.prisma, logger });
    const [a] = (await createProducts(db.prisma, 1)) as [number];
    await counter.record(a);
    await counter.record(a);
    const entries = (await redis.xrevrange(keys.stream, '+', '-', 'COUNT', 2)).map(([, fields]) => fields);
    expect(entries.map((fields) => fields.slice(0, 2))).toEqual([
      ['p', String(a)],
      ['p', String(a)],
    ]);
    expect(entries[0]?.[3]).not.toBe(entries[1]?.[3]);
  });

  it('answers pendingMany for no products without a round trip', async () => {
    const { logger } = capturingLogger();
    expect(await new ViewCounter({ redis, prefix, prisma: db.prisma, logger }).pendingMany([])).toEqual([]);
  });

  it('refuses a prefix with braces, which would break the hash tag', () => {
    const { logger } = capturingLogger();
    expect(() => new ViewCounter({ redis, prefix: 'a{b}:', prisma: db.prisma, logger })).toThrow(TypeError);
  });

  it('refuses a product id no row can have, before buffering it', async () => {
    const { logger } = capturingLogger();
    const counter = new ViewCounter({ redis, prefix, prisma: db.prisma, logger });
    for (const id of [0, -1, 1.5, 2 ** 31]) await expect(counter.record(id)).rejects.toThrow(TypeError);
  });

  describe('with Redis down', () => {
    let down: Redis;
    beforeAll(async () => {
      // Nothing listens there: with no offline queue, every command fails at once.
      down = createRedisClient({ url: `redis://127.0.0.1:${await freePort()}`, commandTimeoutMs: 200 });
      down.on('error', () => {});
    });
    afterAll(() => down.disconnect());

    it('counts the view in the database at once, bumping the version, and logs the outage once', async () => {
      const { logger, lines } = capturingLogger();
      const counter = new ViewCounter({ redis: down, prefix, prisma: db.prisma, logger });
      const [a] = (await createProducts(db.prisma, 1)) as [number];

      expect(await counter.record(a)).toBe('direct');
      expect(await counter.record(a)).toBe('direct');

      expect(await rowsOf(db.prisma, [a])).toEqual([{ viewCount: 2, version: 3 }]);
      expect(lines.filter((line) => line.msg.includes('unavailable'))).toHaveLength(1);
    });

    it('reads zero pending views instead of failing', async () => {
      const { logger } = capturingLogger();
      const counter = new ViewCounter({ redis: down, prefix, prisma: db.prisma, logger });
      expect(await counter.pendingMany([1, 2])).toEqual([0, 0]);
    });
  });

  it('stays exact across a Redis outage: buffered before, direct during, buffered after', async () => {
    const { logger } = capturingLogger();
    const [a] = (await createProducts(db.prisma, 1)) as [number];
    const up = new ViewCounter({ redis, prefix, prisma: db.prisma, logger });
    const downClient = createRedisClient({ url: `redis://127.0.0.1:${await freePort()}`, commandTimeoutMs: 200 });
    downClient.on('error', () => {});
    try {
      const down = new ViewCounter({ redis: downClient, prefix, prisma: db.prisma, logger });
      expect([await up.record(a), await down.record(a), await up.record(a)]).toEqual(['buffered', 'direct', 'buffered']);
    } finally {
      downClient.disconnect();
    }
    // Stored plus pending: what a read of viewCount returns.
    const [stored] = await viewCountsOf(db.prisma, [a]);
    const [pending] = await up.pendingMany([a]);
    expect({ stored, pending }).toEqual({ stored: 1, pending: 2 });
  });
});
