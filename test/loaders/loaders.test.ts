import { describe, expect, it } from 'vitest';
import { CacheKeys } from '../../src/cache/keys.ts';
import { ReadThrough } from '../../src/cache/readThrough/readThrough.ts';
import { MemoryTier } from '../../src/cache/tiers/memoryTier.ts';
import { CacheAddresses } from '../../src/catalog/cacheAddresses.ts';
import { cachedKindsFromSchema } from '../../src/catalog/cachedKinds.ts';
import type { CatalogQueries } from '../../src/catalog/queries.ts';
import type { ProductRecord, ReviewRecord } from '../../src/catalog/records.ts';
import { createLoaders } from '../../src/loaders/loaders.ts';
import { buildSchema } from '../../src/schema/schema.ts';
import { product, review } from '../support/testKinds.ts';

/**
 * The request's loaders over a real read-through (a memory tier, or no tier at all) and a catalog
 * in memory in place of the database: what is at stake is which loads reach the source, and how.
 */
const kinds = cachedKindsFromSchema(buildSchema(), { absentTtlSeconds: 5 });
const addresses = new CacheAddresses(new CacheKeys('test:loaders:'), kinds);

/** Products 1 to 5; reviews 11 to 13 of product 1 and 21 of product 2. */
const PRODUCTS = [1, 2, 3, 4, 5].map((id) => product(id));
const REVIEWS = [review(11), review(12), review(13), review(21, { productId: 2 })];

/** The catalog's queries over `catalog`, rows in reverse order (SQL promises none), each call recorded. */
function memoryQueries(catalog: { products: ProductRecord[]; reviews: ReviewRecord[] }, calls: Array<[string, ...unknown[]]>) {
  const byIds =
    <V extends { id: number }>(name: string, rows: () => V[]) =>
    async (ids: readonly number[]) => {
      calls.push([name, [...ids]]);
      return rows()
        .filter((row) => ids.includes(row.id))
        .reverse();
    };
  const queries: Partial<CatalogQueries> = {
    productsByIds: byIds('productsByIds', () => catalog.products),
    reviewsByIds: byIds('reviewsByIds', () => catalog.reviews),
    async reviewsOfProducts(productIds, limit) {
      calls.push(['reviewsOfProducts', [...productIds], limit]);
      return catalog.reviews.filter((r) => productIds.includes(r.productId));
    },
  };
  return queries as CatalogQueries;
}

function setup(options: { tier?: MemoryTier; requestCache?: boolean } = {}) {
  const calls: Array<[string, ...unknown[]]> = [];
  const catalog = { products: [...PRODUCTS], reviews: [...REVIEWS] };
  const tier = options.tier;
  const readThrough = new ReadThrough({ tiers: tier ? { local: tier } : {}, leaseWaitMs: 0, freshness: { beta: 0 } });
  const touched = new Set<string>();
  const deps = { readThrough, addresses, kinds, queries: memoryQueries(catalog, calls), requestCache: options.requestCache ?? true };
  return { catalog, calls, touched, loaders: createLoaders(deps, touched), nextRequest: () => createLoaders(deps) };
}

describe('entity loaders', () => {
  it('batch the loads of one tick into one query', async () => {
    const { calls, loaders } = setup();
    await Promise.all([loaders.product.load(1), loaders.product.load(2), loaders.product.load(3)]);
    expect(calls).toEqual([['productsByIds', [1, 2, 3]]]);
  });

  it('load again in a later tick: one batch a tick', async () => {
    const { calls, loaders } = setup({ requestCache: false });
    await loaders.product.load(1);
    await loaders.product.load(2);
    expect(calls).toEqual([
      ['productsByIds', [1]],
      ['productsByIds', [2]],
    ]);
  });

  it('answer in the order asked, whatever order the rows came in', async () => {
    const { loaders } = setup();
    expect((await loaders.product.loadMany([3, 1, 2])).map((p) => (p as ProductRecord).id)).toEqual([3, 1, 2]);
  });

  it('answer null for an id with no row, and the others as usual', async () => {
    const { loaders } = setup();
    expect(await loaders.product.loadMany([2, 99])).toEqual([product(2), null]);
  });

  it('with the request cache (L1), load an id once per request; without it, once per batch', async () => {
    const memoised = setup({ requestCache: true });
    await memoised.loaders.product.load(1);
    await memoised.loaders.product.load(1);
    expect(memoised.calls).toHaveLength(1);

    const unmemoised = setup({ requestCache: false });
    await unmemoised.loaders.product.load(1);
    await unmemoised.loaders.product.load(1);
    expect(unmemoised.calls).toHaveLength(2);
  });

  it('serve the next request from the tier below, absent ids included', async () => {
    const { calls, loaders, nextRequest } = setup({ tier: new MemoryTier({ maxBytes: 1 << 20 }) });
    await loaders.product.loadMany([1, 99]);
    expect(await nextRequest().product.loadMany([1, 99])).toEqual([product(1), null]);
    expect(calls).toHaveLength(1);
  });

  it('record the tags of what the request read, for the response tier', async () => {
    const { loaders, touched } = setup();
    await loaders.product.load(4);
    expect([...touched].sort()).toEqual([...addresses.entity('Product', 4).tags].sort());
  });
});

describe('list loaders', () => {
  it('load the pages of one tick in one query, each page its own first ids, in id order', async () => {
    const { calls, loaders } = setup();
    const [first, second, none] = await Promise.all([
      loaders.reviewsOfProduct.load({ parentId: 1, first: 2 }),
      loaders.reviewsOfProduct.load({ parentId: 2, first: 5 }),
      loaders.reviewsOfProduct.load({ parentId: 3, first: 5 }),
    ]);
    expect(first.map((r) => r.id)).toEqual([11, 12]);
    expect(second.map((r) => r.id)).toEqual([21]);
    expect(none).toEqual([]);
    // The largest page bounds the query; its rows prime the entity loader, which then queries nothing.
    expect(calls).toEqual([['reviewsOfProducts', [1, 2, 3], 5]]);
  });

  it('prime the entity loader with the rows of the list', async () => {
    const { calls, loaders } = setup();
    await loaders.reviewsOfProduct.load({ parentId: 1, first: 5 });
    expect(await loaders.review.load(13)).toEqual(review(13));
    expect(calls.map(([name]) => name)).toEqual(['reviewsOfProducts']);
  });

  it('leave out a member deleted since its list was cached', async () => {
    const { catalog, loaders, nextRequest } = setup({ tier: new MemoryTier({ maxBytes: 1 << 20 }) });
    // The list (11, 12, 13) is cached in the tier; its members only primed this request's L1.
    await loaders.reviewsOfProduct.load({ parentId: 1, first: 5 });
    catalog.reviews = catalog.reviews.filter((r) => r.id !== 12);
    expect((await nextRequest().reviewsOfProduct.load({ parentId: 1, first: 5 })).map((r) => r.id)).toEqual([11, 13]);
  });
});
