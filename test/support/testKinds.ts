import type { CachedKind } from '../../src/cache/entry.ts';
import { categoryShape, productShape, type CategoryRecord, type ProductRecord, type ReviewRecord } from '../../src/catalog/records.ts';

/**
 * Cached kinds built by hand, and records of them, for tests of the cache below the schema (tiers, read-through,
 * coherence), where the schema's kinds (src/catalog/cachedKinds.ts) would tie a test to its directives.
 * A test that needs other TTLs spreads one of these: `{ ...categoryKind, graceSeconds: 30 }`.
 */
export const categoryKind: CachedKind<CategoryRecord> = {
  name: 'Category',
  shapeVersion: 'test',
  ttlSeconds: 60,
  absentTtlSeconds: 5,
  graceSeconds: 0,
  shape: categoryShape,
};

export const productKind: CachedKind<ProductRecord> = {
  name: 'Product',
  shapeVersion: 'test',
  ttlSeconds: 10,
  absentTtlSeconds: 5,
  graceSeconds: 0,
  shape: productShape,
  versionOf: (product) => product.version,
};

/** A category record of `categoryKind`. */
export const category = (id: number, name = `C${id}`): CategoryRecord => ({ id, name, slug: `c${id}` });

const createdAt = new Date('2026-01-01T00:00:00Z');

/** A product record, in category 1 at version 1 unless `fields` say otherwise. */
export const product = (id: number, fields: Partial<ProductRecord> = {}): ProductRecord => ({
  id,
  sku: `SKU-${id}`,
  name: `P${id}`,
  description: '',
  priceCents: 100,
  stock: 1,
  categoryId: 1,
  viewCount: 0,
  version: 1,
  createdAt,
  updatedAt: createdAt,
  ...fields,
});

/** A review record of product 1 by user 1, unless `fields` say otherwise. */
export const review = (id: number, fields: Partial<ReviewRecord> = {}): ReviewRecord => ({
  id,
  productId: 1,
  authorId: 1,
  rating: 5,
  body: `R${id}`,
  createdAt,
  ...fields,
});
