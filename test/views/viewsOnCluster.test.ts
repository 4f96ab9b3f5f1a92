import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/database/database.ts';
import { ViewCounter } from '../../src/views/viewCounter.ts';
import { ViewFlusher } from '../../src/views/viewFlusher.ts';
import { uniquePrefix } from '../support/testApp.ts';
import { transparentGuard, useThrowawayCluster } from '../support/throwawayCluster.ts';
import { capturingLogger, createProducts, openRunDatabase, viewCountsOf } from './viewFixtures.ts';

/**
 * On a Redis Cluster a script may only touch keys of one slot (CROSSSLOT otherwise): the stream and
 * the pending counts share the `{views}` hash tag, so recording and acking work there unchanged.
 */
describe('views on a Redis Cluster', () => {
  let db: Database;
  let client: Cluster;
  beforeAll(async () => {
    db = await openRunDatabase();
  });
  afterAll(async () => {
    await db.close();
  });
  useThrowawayCluster((started) => (client = started));

  it('buffers, reads pending and flushes exactly', async () => {
    const { logger } = capturingLogger();
    const prefix = uniquePrefix();
    // A guard that never skips: a swallowed CROSSSLOT error would pass as a direct write.
    const counter = new ViewCounter({ redis: client, prefix, prisma: db.prisma, logger, guard: transparentGuard });
    const [a, b] = (await createProducts(db.prisma, 2)) as [number, number];

    const via = await Promise.all([a, b, a, a, b].map((id) => counter.record(id)));
    expect(via).toEqual(Array(5).fill('buffered'));
    expect(await counter.pendingMany([a, b])).toEqual([3, 2]);

    const flusher = new ViewFlusher({ redis: client, prisma: db.prisma, prefix, consumer: 'cluster-test', logger });
    expect(await flusher.flushOnce()).toBe(5);
    expect(await viewCountsOf(db.prisma, [a, b])).toEqual([3, 2]);
    expect(await counter.pendingMany([a, b])).toEqual([0, 0]);
  });
});
