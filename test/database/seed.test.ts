import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { openDatabase, type Database } from '../../src/database/database.ts';
import { CATEGORIES, REVIEWS_PER_PRODUCT, seedCatalog, USERS } from '../../src/database/seedCatalog.ts';
import { SEEDED_PRODUCTS } from '../support/services.ts';

/** The run's database was seeded through `prisma db seed` (test/support/globalSetup.ts). */
describe('seed', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openDatabase({ databaseUrl: inject('databaseUrl'), pgliteDataDir: '' });
  });
  afterAll(() => db.close());

  async function fingerprint() {
    return db.prisma.$queryRaw<Array<{ table: string; n: number; digest: string }>>`
      SELECT 'Product' AS table, count(*)::int AS n, md5(string_agg(concat_ws('|', id, sku, name, "priceCents", stock, "categoryId"), ',' ORDER BY id)) AS digest FROM "Product" WHERE id <= ${SEEDED_PRODUCTS}
      UNION ALL SELECT 'Review', count(*)::int, md5(string_agg(concat_ws('|', id, "productId", "authorId", rating, body), ',' ORDER BY id)) FROM "Review" WHERE id <= ${SEEDED_PRODUCTS * REVIEWS_PER_PRODUCT}
      UNION ALL SELECT 'User', count(*)::int, md5(string_agg(concat_ws('|', id, name, email), ',' ORDER BY id)) FROM "User" WHERE id <= ${USERS}
      UNION ALL SELECT 'Category', count(*)::int, md5(string_agg(concat_ws('|', id, name, slug), ',' ORDER BY id)) FROM "Category" WHERE id <= ${CATEGORIES}`;
  }

  it('makes the documented catalog: ids 1..N, 50 categories, 500 users, 5 reviews a product', async () => {
    const rows = Object.fromEntries((await fingerprint()).map((r) => [r.table, r.n]));
    expect(rows).toEqual({ Product: SEEDED_PRODUCTS, Review: SEEDED_PRODUCTS * 5, User: 500, Category: 50 });
    expect(await db.prisma.product.findUnique({ where: { id: 1 }, select: { sku: true } })).toEqual({ sku: 'SKU-0000001' });
  });

  it('is idempotent and deterministic: seeding again changes nothing', async () => {
    const before = await fingerprint();
    await seedCatalog(db.prisma, { products: SEEDED_PRODUCTS });
    expect(await fingerprint()).toEqual(before);
  });

  it('leaves the id sequences past the seeded rows, so new rows do not collide', async () => {
    const [row] = await db.prisma.$queryRaw<Array<{ last: bigint }>>`SELECT last_value AS last FROM "Product_id_seq"`;
    expect(Number(row!.last)).toBeGreaterThanOrEqual(SEEDED_PRODUCTS);
  });
});
