import type { CachedKind } from '../../src/cache/entry.ts';
import { categoryShape, productShape, type CategoryRecord, type ProductRecord } from '../../src/catalog/records.ts';

/**
 * Cached kinds built by hand, for tests of the cache below the schema (tiers, read-through,
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
