import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ANONYMOUS, type Viewer } from '../../src/auth/viewer.ts';
import { HeardGenerations } from '../../src/cache/coherence/heardGenerations.ts';
import { Invalidator } from '../../src/cache/coherence/invalidator.ts';
import { LocalCoherence } from '../../src/cache/coherence/localCoherence.ts';
import type { CachedKind } from '../../src/cache/entry.ts';
import { CacheKeys } from '../../src/cache/keys.ts';
import { ReadThrough } from '../../src/cache/readThrough/readThrough.ts';
import { SingleFlight } from '../../src/cache/stampede/singleFlight.ts';
import { MemoryTier } from '../../src/cache/tiers/memoryTier.ts';
import { CacheAddresses, type EntityTypeName } from '../../src/catalog/cacheAddresses.ts';
import { cachedKindsFromSchema } from '../../src/catalog/cachedKinds.ts';
import type { CatalogQueries } from '../../src/catalog/queries.ts';
import type { NewProduct, NewReview, ProductPatch } from '../../src/catalog/writeInputs.ts';
import type { CatalogWrites } from '../../src/catalog/writes.ts';
import { ForbiddenError, NotFoundError } from '../../src/errors.ts';
import { createLoaders } from '../../src/loaders/loaders.ts';
import { createMutations } from '../../src/mutations/catalogMutations.ts';
import { buildSchema } from '../../src/schema/schema.ts';
import { product, review } from '../support/testKinds.ts';

/**
 * What each mutation invalidates and writes through. The cache side is real (a memory tier, its
 * coherence, the invalidator, the read-through, the loaders); the database is a catalog in memory,
 * as the question is the mutations' own logic, not SQL (test/integration/writePath.test.ts runs the
 * same path on PostgreSQL).
 */
const kinds = cachedKindsFromSchema(buildSchema(), { absentTtlSeconds: 5 });
const addresses = new CacheAddresses(new CacheKeys('test:mutations:'), kinds);
const ADMIN: Viewer = { userId: 1, role: 'ADMIN' };
const at = new Date('2026-01-01T00:00:00Z');

/** Products 1 (category 1, reviews 11 by user 2 and 12 by user 3) and 2 (category 2). */
function memoryCatalog() {
  const products = new Map([product(1), product(2, { categoryId: 2 })].map((p) => [p.id, p]));
  const reviews = new Map([review(11, { authorId: 2 }), review(12, { authorId: 3 })].map((r) => [r.id, r]));
  let nextId = 100;
  const writes: Partial<CatalogWrites> = {
    async createProduct(input: NewProduct) {
      const created = { ...input, id: nextId++, viewCount: 0, version: 1, createdAt: at, updatedAt: at };
      products.set(created.id, created);
      return created;
    },
    async updateProduct(id: number, patch: ProductPatch) {
      const before = products.get(id)!;
      const after = { ...before, ...patch, version: before.version + 1 };
      products.set(id, after);
      return { before, after };
    },
    async productVersion(id: number) {
      return products.get(id)?.version ?? null;
    },
    async deleteProduct(id: number) {
      const deleted = products.get(id);
      if (!deleted) return null;
      products.delete(id);
      const reviewIds = [...reviews.values()].filter((r) => r.productId === id).map((r) => r.id);
      for (const reviewId of reviewIds) reviews.delete(reviewId);
      return { product: deleted, reviewIds };
    },
    async createReview(input: NewReview) {
      const created = { ...input, id: nextId++, createdAt: at };
      reviews.set(created.id, created);
      return created;
    },
    async deleteReview(id: number, only: { authorId?: number } = {}) {
      const deleted = reviews.get(id);
      if (!deleted || (only.authorId !== undefined && deleted.authorId !== only.authorId)) return null;
      reviews.delete(id);
      return deleted;
    },
  };
  let productLoads = 0;
  const queries: Partial<CatalogQueries> = {
    async productsByIds(ids) {
      productLoads += 1;
      return ids.flatMap((id) => products.get(id) ?? []);
    },
  };
  return { products, writes: writes as CatalogWrites, queries: queries as CatalogQueries, productLoads: () => productLoads };
}

function setup(options: { viewer?: Viewer; views?: 'buffered' | 'direct' } = {}) {
  const catalog = memoryCatalog();
  const local = new MemoryTier({ maxBytes: 1 << 20 });
  const flights = new SingleFlight<unknown>();
  const coherence = new LocalCoherence({ local, log: local.log, flights });
  const invalidated: string[] = [];
  const invalidator = new Invalidator({
    dropLocal: (tags) => coherence.drop(tags),
    heard: new HeardGenerations(),
    onInvalidated: (tags) => invalidated.push(...tags),
    logger: pino({ level: 'silent' }),
  });
  const readThrough = new ReadThrough({ tiers: { local }, flights, leaseWaitMs: 0, freshness: { beta: 0 } });
  const loaders = createLoaders({ readThrough, addresses, kinds, queries: catalog.queries, requestCache: true });
  const viewed: number[] = [];
  const views = {
    async record(id: number) {
      viewed.push(id);
      return options.views ?? 'buffered';
    },
  };
  const mutations = createMutations({ writes: catalog.writes, readThrough, invalidator, addresses, kinds, views }, loaders, options.viewer ?? ADMIN);
  /** What the local tier holds for an entity: its value (null: a tombstone), or undefined (a miss). */
  async function cached(typeName: EntityTypeName, id: number): Promise<unknown> {
    const { entries } = await local.getMany([addresses.entity(typeName, id)], kinds[typeName] as CachedKind<unknown>);
    return entries[0] === undefined ? undefined : entries[0].value;
  }
  return { catalog, local, loaders, mutations, invalidated, viewed, cached };
}

const NEW_PRODUCT: NewProduct = { sku: 'SKU-NEW', name: 'New', description: '', priceCents: 500, stock: 3, categoryId: 1 };

describe('createProduct', () => {
  it('invalidates the new id (an absent marker may be cached), its category’s pages and the root pages', async () => {
    const { mutations, invalidated } = setup();
    const created = await mutations.createProduct(NEW_PRODUCT);
    expect(invalidated).toEqual([`Product:${created.id}`, 'Category:1:products', 'Query.products']);
  });

  it('writes the row through to the tier and primes this request’s loader', async () => {
    const { catalog, mutations, loaders, cached } = setup();
    const created = await mutations.createProduct(NEW_PRODUCT);
    expect(await cached('Product', created.id)).toEqual(created);
    expect(await loaders.product.load(created.id)).toEqual(created);
    expect(catalog.productLoads()).toBe(0);
  });

  it('replaces an absent marker the tier held for the id', async () => {
    const { loaders, mutations, cached } = setup();
    await loaders.product.load(100);
    expect(await cached('Product', 100)).toBeNull();
    loaders.product.clearAll();
    expect((await mutations.createProduct(NEW_PRODUCT)).id).toBe(100);
    expect(await cached('Product', 100)).toMatchObject({ id: 100, name: 'New' });
  });
});

describe('updateProduct', () => {
  it('a change within its category invalidates the product alone, and writes the new row through over the cached one', async () => {
    const { loaders, mutations, invalidated, cached } = setup();
    await loaders.product.load(1);
    expect(await cached('Product', 1)).toMatchObject({ name: 'P1', version: 1 });
    await mutations.updateProduct(1, { name: 'Renamed' });
    expect(invalidated).toEqual(['Product:1']);
    expect(await cached('Product', 1)).toMatchObject({ name: 'Renamed', version: 2 });
    expect(await loaders.product.load(1)).toMatchObject({ name: 'Renamed' });
  });

  it('a move invalidates both categories’ pages and the root pages too', async () => {
    const { mutations, invalidated } = setup();
    await mutations.updateProduct(1, { categoryId: 2 });
    expect(invalidated).toEqual(['Product:1', 'Category:1:products', 'Query.products', 'Category:2:products', 'Query.products']);
  });

  it('does not write through a row a newer commit has overtaken; this request still reads its own', async () => {
    const { catalog, loaders, mutations, cached } = setup();
    await loaders.product.load(1);
    // Another writer commits version 3 between this write's commit and its write-through.
    catalog.writes.productVersion = async () => 3;
    const written = await mutations.updateProduct(1, { name: 'Mine' });
    expect(await cached('Product', 1)).toBeUndefined();
    expect(await loaders.product.load(1)).toEqual(written);
  });
});

describe('deleteProduct', () => {
  it('invalidates the product, its lists, its reviews, and leaves tombstones for all of them', async () => {
    const { mutations, invalidated, loaders, cached } = setup();
    expect(await mutations.deleteProduct(1)).toBe(true);
    expect(invalidated).toEqual(['Product:1', 'Category:1:products', 'Query.products', 'Product:1:reviews', 'Review:11', 'Review:12']);
    expect(await cached('Product', 1)).toBeNull();
    expect(await cached('Review', 11)).toBeNull();
    expect(await cached('Review', 12)).toBeNull();
    expect(await loaders.product.load(1)).toBeNull();
    expect(await loaders.review.load(11)).toBeNull();
  });

  it('of an id with no product answers false and invalidates nothing', async () => {
    const { mutations, invalidated } = setup();
    expect(await mutations.deleteProduct(404)).toBe(false);
    expect(invalidated).toEqual([]);
  });
});

describe('createReview', () => {
  it('invalidates the new id and its product’s review pages, and writes the review through', async () => {
    const { mutations, invalidated, cached } = setup();
    const created = await mutations.createReview({ productId: 2, authorId: 3, rating: 5, body: 'Good' });
    expect(invalidated).toEqual([`Review:${created.id}`, 'Product:2:reviews']);
    expect(await cached('Review', created.id)).toEqual(created);
  });
});

describe('deleteReview', () => {
  it('by its author: invalidates it and its product’s review pages, and leaves a tombstone', async () => {
    const { mutations, invalidated, cached } = setup({ viewer: { userId: 2, role: 'USER' } });
    expect(await mutations.deleteReview(11)).toBe(true);
    expect(invalidated).toEqual(['Review:11', 'Product:1:reviews']);
    expect(await cached('Review', 11)).toBeNull();
  });

  it('by another user: false, and nothing invalidated; by an admin: any review', async () => {
    const user = setup({ viewer: { userId: 2, role: 'USER' } });
    expect(await user.mutations.deleteReview(12)).toBe(false);
    expect(user.invalidated).toEqual([]);
    const admin = setup();
    expect(await admin.mutations.deleteReview(12)).toBe(true);
  });

  it('refuses an anonymous viewer before anything is written', async () => {
    const { mutations, invalidated } = setup({ viewer: ANONYMOUS });
    await expect(mutations.deleteReview(11)).rejects.toBeInstanceOf(ForbiddenError);
    expect(invalidated).toEqual([]);
  });
});

describe('recordProductView', () => {
  it('buffered: records the view and invalidates nothing (the count is added on read)', async () => {
    const { mutations, viewed, invalidated } = setup({ views: 'buffered' });
    expect(await mutations.recordProductView(1)).toBe(true);
    expect(viewed).toEqual([1]);
    expect(invalidated).toEqual([]);
  });

  it('direct (no Redis): the cached row’s viewCount is behind, so the product is invalidated', async () => {
    const { mutations, invalidated } = setup({ views: 'direct' });
    await mutations.recordProductView(1);
    expect(invalidated).toEqual(['Product:1']);
  });

  it('of an id with no product: NotFoundError, and no view recorded', async () => {
    const { mutations, viewed } = setup();
    await expect(mutations.recordProductView(404)).rejects.toBeInstanceOf(NotFoundError);
    expect(viewed).toEqual([]);
  });
});
