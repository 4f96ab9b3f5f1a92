import { afterAll, describe, expect, it } from 'vitest';
import { deletePrefix, NESTED_QUERY, startTestApp, uniquePrefix, type TestApp } from '../support/testApp.ts';

/**
 * The read path of one query through every tier, counted: SQL statements from Prisma's query events,
 * Redis commands from the app's own client. Real PostgreSQL, real Redis.
 */
describe('read path: L1 -> L2 -> L3 -> PostgreSQL', () => {
  const prefix = uniquePrefix();
  const apps: TestApp[] = [];
  async function start(env: Record<string, string> = {}) {
    const t = await startTestApp({ CACHE_PREFIX: prefix, ...env });
    apps.push(t);
    return t;
  }
  afterAll(async () => {
    await Promise.all(apps.map((t) => t.stop()));
    await deletePrefix(prefix);
  });

  let reference: unknown;

  it('cold: the nested query costs exactly 4 SQL statements, one per loader batch', async () => {
    const a = await start();
    let result!: Awaited<ReturnType<TestApp['query']>>;
    const sql = await a.sqlDuring(async () => {
      result = await a.query(NESTED_QUERY);
    });
    expect(result.body.errors).toBeUndefined();
    expect(result.body.data?.products).toHaveLength(20);
    expect(result.body.data?.products[0].reviews).toHaveLength(5);
    expect(sql).toBe(4);
    reference = result.body;
  });

  it('second, with the response tier off: 0 SQL, because the rows the lists read filled L2 and L3 too', async () => {
    // A list query cannot fence the rows it reads before it runs (it does not know their tags), so
    // they fill the tiers under a ticket taken before the query (LateFills): the next request finds
    // the page's products and reviews by id instead of loading them again.
    const a = apps[0] as TestApp;
    const sql = await a.sqlDuring(async () => {
      expect((await a.query(NESTED_QUERY)).body).toEqual(reference);
    });
    expect(sql).toBe(0);
  });

  it('warm L2: the same query again costs 0 SQL and 0 Redis commands', async () => {
    const a = apps[0] as TestApp;
    a.redisCommands.length = 0;
    let result!: Awaited<ReturnType<TestApp['query']>>;
    const sql = await a.sqlDuring(async () => {
      result = await a.query(NESTED_QUERY);
    });
    expect(result.body).toEqual(reference);
    expect(sql).toBe(0);
    expect(a.redisCommands).toEqual([]);
  });

  it('warm L3, empty L2 (a second instance): 0 SQL and one round trip per loader batch', async () => {
    const b = await start();
    b.redisCommands.length = 0;
    let result!: Awaited<ReturnType<TestApp['query']>>;
    const sql = await b.sqlDuring(async () => {
      result = await b.query(NESTED_QUERY);
    });
    expect(result.body).toEqual(reference);
    expect(sql).toBe(0);
    // Batches: root list, its products, categories, review lists, reviews, authors. Each reads its
    // entries and their tags' generations with two MGETs sent together: one round trip.
    expect(b.redisCommands).toEqual(Array(12).fill('mget'));
  });

  it('L3 only (L2 off): every batch is still one round trip at most, and no SQL', async () => {
    const c = await start({ CACHE_TIERS: 'l1,l3' });
    c.redisCommands.length = 0;
    const sql = await c.sqlDuring(async () => {
      expect((await c.query(NESTED_QUERY)).body).toEqual(reference);
    });
    expect(sql).toBe(0);
    expect(c.redisCommands.every((name) => name === 'mget')).toBe(true);
    expect(c.redisCommands).toHaveLength(12);
  });

  it('caching off: same answer, from the database every time, still one statement per batch', async () => {
    const d = await start({ CACHE_TIERS: '' });
    for (let i = 0; i < 2; i++) {
      const sql = await d.sqlDuring(async () => {
        expect((await d.query(NESTED_QUERY)).body).toEqual(reference);
      });
      // Without L1 the rows a list query brought are not reused, so the two entity batches
      // (products, reviews) go to the database too: 6 batches, 6 statements, still no N+1.
      expect(sql).toBe(6);
    }
  });

  it('L1 dedupes within a request: the same product asked for twice is loaded once', async () => {
    const e = await start({ CACHE_TIERS: 'l1' });
    const sql = await e.sqlDuring(async () => {
      const result = await e.query('{ a: product(id: 3) { id name } b: product(id: 3) { id sku } }');
      expect(result.body.data).toEqual({ a: { id: '3', name: expect.any(String) }, b: { id: '3', sku: 'SKU-0000003' } });
    });
    expect(sql).toBe(1);
  });

  it('unknown ids are cached as absent: a flood of them reaches the database once', async () => {
    const a = apps[0] as TestApp;
    const sql = await a.sqlDuring(async () => {
      for (let i = 0; i < 5; i++) {
        const result = await a.query('{ product(id: 987654) { id } }');
        expect(result.body.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', argumentName: 'id' });
        expect(result.body.data?.product).toBeNull();
      }
    });
    expect(sql).toBe(1);
  });

  it('relation lists: a category page and a product page after a cursor', async () => {
    const a = apps[0] as TestApp;
    const result = await a.query('{ category(id: 2) { slug products(first: 3) { id } } products(first: 2, after: "5", categoryId: "1") { id category { id } } }');
    expect(result.body.errors).toBeUndefined();
    expect(result.body.data?.category.products.map((p: { id: string }) => p.id)).toEqual(['2', '52', '102']);
    expect(result.body.data?.products).toEqual([
      { id: '51', category: { id: '1' } },
      { id: '101', category: { id: '1' } },
    ]);
  });

  it('L3 keeps each kind as long as the schema says, grace included: Product 10 + 30 s, Category 3600 + 600 s, Review 120 + 60 s', async () => {
    const a = apps[0] as TestApp;
    const redis = a.app.cache.redis!;
    await a.query(NESTED_QUERY);
    const ttl = async (key: string) => redis.pttl(key);
    const product = await ttl(a.app.addresses.entity('Product', 1).key);
    const category = await ttl(a.app.addresses.entity('Category', 1).key);
    const review = await ttl(a.app.addresses.entity('Review', 1).key);
    const reviews = await ttl(a.app.addresses.reviewsOfProduct(1, 10).key);
    expect(product).toBeGreaterThan(0);
    expect(product).toBeLessThanOrEqual(40_000);
    expect(category).toBeGreaterThan(4_100_000);
    expect(category).toBeLessThanOrEqual(4_200_000);
    expect(review).toBeGreaterThan(160_000);
    expect(review).toBeLessThanOrEqual(180_000);
    expect(reviews).toBeGreaterThan(160_000);
    expect(reviews).toBeLessThanOrEqual(180_000);
    // The data itself is fresh for the TTL only; the grace is served stale, while one refresh runs.
    const entry = (await a.app.cache.shared!.getMany([a.app.addresses.entity('Product', 1)], a.app.kinds.Product)).entries[0]!;
    expect(entry.staleUntil - entry.expiresAt).toBe(30_000);
  });

  it('a corrupt value in L3 is a miss: the right data is served and the entry rewritten', async () => {
    const a = apps[0] as TestApp;
    const key = a.app.addresses.entity('User', 42).key;
    await a.app.cache.redis!.set(key, Buffer.from('not an entry at all'), 'PX', 60_000);
    const fresh = await start({ CACHE_TIERS: 'l1,l3' });
    const result = await fresh.query('{ user(id: 42) { id name } }');
    expect(result.body).toEqual({ data: { user: { id: '42', name: expect.any(String) } } });
    expect(fresh.logs.some((l) => l.msg === 'corrupt cache entry read as a miss' && l.key === key)).toBe(true);
    const repaired = await start({ CACHE_TIERS: 'l1,l3' });
    const sql = await repaired.sqlDuring(() => repaired.query('{ user(id: 42) { id name } }'));
    expect(sql).toBe(0);
  });
});
