import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createCatalogFixture } from '../support/fixtures.ts';
import { keysUnder, useTestApp, type TestApp } from '../support/testApp.ts';

const PRODUCT = `query($id: ID!) { product(id: $id) { id name priceCents stock category { id } reviews { id rating } } }`;
const CATEGORY = `query($id: ID!) { category(id: $id) { products { id name } } }`;
const BY_CATEGORY = `query($id: ID!) { products(categoryId: $id) { id } }`;

/** Reads the query twice so that every tier holds it, and returns the result. */
async function warm(app: TestApp, query: string, variables: Record<string, unknown>) {
  await app.query(query, variables);
  return (await app.query(query, variables)).body;
}

describe('write path: mutations write through and invalidate by tag', () => {
  const app = useTestApp();

  it('createProduct: the new row is cached at once and every list that should show it does', async () => {
    const { category, tag } = await createCatalogFixture(app().app.database.prisma, { products: 2 });
    await warm(app(), CATEGORY, { id: category.id });
    await warm(app(), BY_CATEGORY, { id: category.id });

    const created = await app().mutate(`mutation($input: CreateProductInput!) { createProduct(input: $input) { id name category { id } } }`, {
      input: { sku: `NEW-${tag}`, name: 'New lamp', description: 'Bright.', priceCents: 4200, stock: 5, categoryId: String(category.id) },
    });
    expect(created.body.errors).toBeUndefined();
    const id = created.body.data?.createProduct.id as string;

    // Written through: the read needs no SQL.
    const sql = await app().sqlDuring(async () => {
      expect((await app().query(`query($id: ID!) { product(id: $id) { name } }`, { id })).body.data?.product.name).toBe('New lamp');
    });
    expect(sql).toBe(0);
    expect((await app().query(CATEGORY, { id: category.id })).body.data?.category.products.map((p: { id: string }) => p.id)).toContain(id);
    expect((await app().query(BY_CATEGORY, { id: category.id })).body.data?.products.map((p: { id: string }) => p.id)).toContain(id);
  });

  it('updateProduct: read-your-writes at once, and a move fixes both categories', async () => {
    const { category, other, products } = await createCatalogFixture(app().app.database.prisma, { products: 3 });
    const product = products[0]!;
    await warm(app(), PRODUCT, { id: product.id });
    await warm(app(), CATEGORY, { id: category.id });
    await warm(app(), CATEGORY, { id: other.id });

    const updated = await app().mutate(`mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { id name priceCents } }`, {
      id: String(product.id),
      input: { name: 'Renamed', priceCents: 1, categoryId: String(other.id) },
    });
    expect(updated.body.errors).toBeUndefined();

    const read = (await app().query(PRODUCT, { id: product.id })).body.data?.product;
    expect(read).toMatchObject({ name: 'Renamed', priceCents: 1, category: { id: String(other.id) } });
    const ids = async (categoryId: number) => (await app().query(CATEGORY, { id: categoryId })).body.data?.category.products.map((p: { id: string }) => Number(p.id));
    expect(await ids(category.id)).not.toContain(product.id);
    expect(await ids(other.id)).toContain(product.id);
  });

  it('deleteProduct: the product, its reviews and its place in lists are gone', async () => {
    const { category, products } = await createCatalogFixture(app().app.database.prisma, { products: 2, reviewsEach: 2 });
    const product = products[0]!;
    const warmed = await warm(app(), PRODUCT, { id: product.id });
    const reviewId = warmed.data?.product.reviews[0].id as string;
    await warm(app(), CATEGORY, { id: category.id });

    const deleted = await app().mutate(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id: String(product.id) });
    expect(deleted.body).toEqual({ data: { deleteProduct: true } });

    const read = await app().query(PRODUCT, { id: product.id });
    expect(read.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await app().query(CATEGORY, { id: category.id })).body.data?.category.products.map((p: { id: string }) => p.id)).not.toContain(String(product.id));
    expect(await app().app.database.prisma.review.count({ where: { id: Number(reviewId) } })).toBe(0);
    // Deleting again is not an error, just nothing to delete.
    expect((await app().mutate(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id: String(product.id) })).body).toEqual({
      data: { deleteProduct: false },
    });
  });

  it('createReview and deleteReview change the product’s cached review list', async () => {
    const { products } = await createCatalogFixture(app().app.database.prisma, { products: 1, reviewsEach: 1 });
    const product = products[0]!;
    await warm(app(), PRODUCT, { id: product.id });

    const created = await app().mutate(`mutation($input: CreateReviewInput!) { createReview(input: $input) { id rating author { id } product { id } } }`, {
      input: { productId: String(product.id), authorId: '3', rating: 4, body: 'Good.' },
    });
    expect(created.body.errors).toBeUndefined();
    const reviewId = created.body.data?.createReview.id as string;
    const reviews = async () => (await app().query(PRODUCT, { id: product.id })).body.data?.product.reviews.map((r: { id: string }) => r.id);
    expect(await reviews()).toContain(reviewId);

    expect((await app().mutate(`mutation($id: ID!) { deleteReview(id: $id) }`, { id: reviewId })).body).toEqual({ data: { deleteReview: true } });
    expect(await reviews()).not.toContain(reviewId);
  });

  it('a rejected mutation names the field and writes nothing, to the database or to any tier', async () => {
    const { category, products, tag } = await createCatalogFixture(app().app.database.prisma, { products: 1 });
    await warm(app(), CATEGORY, { id: category.id });
    const prisma = app().app.database.prisma;
    const before = { products: await prisma.product.count(), cached: await cacheSnapshot(app()) };

    const duplicate = await app().mutate(`mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }`, {
      input: { sku: products[0]!.sku, name: 'Dup', description: '', priceCents: 1, stock: 1, categoryId: String(category.id) },
    });
    expect(duplicate.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argumentName: 'input.sku' });
    const badPrice = await app().mutate(`mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }`, {
      input: { sku: `OK-${tag}`, name: 'Ok', description: '', priceCents: -5, stock: 1, categoryId: String(category.id) },
    });
    expect(badPrice.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argumentName: 'input.priceCents', value: -5 });
    const badRef = await app().mutate(`mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { id } }`, { id: String(products[0]!.id), input: { categoryId: '999999' } });
    expect(badRef.body.errors?.[0]?.extensions?.argumentName).toBe('input.categoryId');

    expect(await prisma.product.count()).toBe(before.products);
    expect(await prisma.product.findUnique({ where: { id: products[0]!.id } })).toMatchObject({ categoryId: category.id, version: 1 });
    expect(await cacheSnapshot(app())).toEqual(before.cached);
  });

  it('recordProductView: viewCount includes the views not yet flushed', async () => {
    const { products } = await createCatalogFixture(app().app.database.prisma, { products: 1 });
    const id = String(products[0]!.id);
    const views = async () => (await app().query(`query($id: ID!) { product(id: $id) { viewCount } }`, { id })).body.data?.product.viewCount;
    expect(await views()).toBe(0);
    for (let i = 0; i < 3; i++) expect((await app().mutate(`mutation($id: ID!) { recordProductView(id: $id) }`, { id })).body.data).toEqual({ recordProductView: true });
    expect(await views()).toBe(3);
    const unknown = await app().mutate(`mutation { recordProductView(id: "999999") }`);
    expect(unknown.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});

/** Every L3 key of the app with its bytes, and the size of its L2. */
async function cacheSnapshot(t: TestApp) {
  // One Redis here (not a cluster): SCAN sees every key.
  const redis = t.app.cache.redis as Redis;
  // The view flusher's lock (`lock:{views-flush}` and its fencing counter) comes and goes every
  // flush tick: coordination, not a cache tier.
  const keys = (await keysUnder(redis, t.prefix)).filter((key) => !key.includes('lock:{')).sort();
  const values = keys.length > 0 ? await redis.mgetBuffer(...keys) : [];
  return { l3: keys.map((key, i) => [key, values[i]?.toString('base64')]), l2Bytes: t.app.cache.local?.sizeBytes };
}
