import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/database/database.ts';
import { viewKeys } from '../../src/views/viewKeys.ts';
import { createCatalogFixture } from '../support/fixtures.ts';
import { deletePrefix, keysUnder, startTestApp, type TestApp } from '../support/testApp.ts';
import { ThrowawayRedis } from '../support/throwawayRedis.ts';
import { bufferState, openRunDatabase, sharedRedis, viewCountsOf } from './viewFixtures.ts';

const RECORD_VIEW = `mutation($id: ID!) { recordProductView(id: $id) }`;
const VIEW_COUNT = `query($id: ID!) { product(id: $id) { viewCount } }`;

/**
 * With VIEWS_REDIS_URL, the views and the cache are two Redis roles: views are buffered in the views
 * Redis, on connections of their own, and the cache Redis (the shared one here) holds none of them.
 */
describe('VIEWS_REDIS_URL', () => {
  let db: Database;
  let store: ThrowawayRedis;
  let storeClient: Redis;
  let cacheClient: Redis;
  const started: TestApp[] = [];

  beforeAll(async () => {
    db = await openRunDatabase();
    store = await ThrowawayRedis.start({ extraArgs: ['--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'] });
    storeClient = new Redis(store.url);
    cacheClient = sharedRedis();
  });
  afterAll(async () => {
    for (const t of started) {
      await t.stop();
      await deletePrefix(t.prefix);
    }
    storeClient?.disconnect();
    cacheClient?.disconnect();
    await store?.stop();
    await db?.close();
  });

  async function start(env: Record<string, string>): Promise<TestApp> {
    const t = await startTestApp(env);
    started.push(t);
    return t;
  }

  it('buffers views in the views Redis, none in the cache Redis, and flushes them from there', async () => {
    // The flusher's first pass finds nothing; the next is an hour away, so the views wait in the buffer.
    const t = await start({ VIEWS_REDIS_URL: store.url, VIEW_FLUSH_INTERVAL_MS: '3600000' });
    const keys = viewKeys(t.prefix);
    const { products } = await createCatalogFixture(db.prisma, { products: 1 });
    const product = products[0]!.id;
    const id = String(product);

    for (let i = 0; i < 3; i++) expect((await t.mutate(RECORD_VIEW, { id })).body.data).toEqual({ recordProductView: true });

    expect(await bufferState(storeClient, keys)).toMatchObject({ stream: 3, pending: { [id]: '3' } });
    expect(await keysUnder(cacheClient, `${t.prefix}views:`)).toEqual([]);
    // Reads add the pending views, read from the views Redis.
    expect((await t.query(VIEW_COUNT, { id })).body.data?.product.viewCount).toBe(3);
    expect(await viewCountsOf(db.prisma, [product])).toEqual([0]);
    // The app's views warnings are about other stores: this one keeps its promise.
    expect(t.logs.filter((line) => line.component === 'redisRoles' && line.role === 'views')).toEqual([]);

    // Stopping flushes what is buffered, from the views Redis into the database.
    await t.stop();
    started.splice(started.indexOf(t), 1);
    await deletePrefix(t.prefix);
    expect(await viewCountsOf(db.prisma, [product])).toEqual([3]);
    expect(await bufferState(storeClient, keys)).toMatchObject({ stream: 0, pending: {} });
  });

  it('warns at startup about a views Redis that evicts and keeps nothing on disk, and serves anyway', async () => {
    const volatileStore = await ThrowawayRedis.start({ extraArgs: ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'] });
    try {
      const t = await start({ VIEWS_REDIS_URL: volatileStore.url });
      const warnings = t.logs.filter((line) => line.component === 'redisRoles' && line.role === 'views');
      expect(warnings.map((line) => [line.level, line.code, line.node])).toEqual([
        [40, 'VIEWS_EVICTION', `127.0.0.1:${volatileStore.port}`],
        [40, 'VIEWS_NOT_PERSISTED', `127.0.0.1:${volatileStore.port}`],
      ]);
      const { products } = await createCatalogFixture(db.prisma, { products: 1 });
      expect((await t.mutate(RECORD_VIEW, { id: String(products[0]!.id) })).body.data).toEqual({ recordProductView: true });
      await t.stop();
      started.splice(started.indexOf(t), 1);
      await deletePrefix(t.prefix);
    } finally {
      await volatileStore.stop();
    }
  });
});
