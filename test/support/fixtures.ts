import { randomUUID } from 'node:crypto';
import type { Prisma } from '../../src/database/database.ts';

/**
 * Rows of a test's own: every test file shares the run's seeded database with files running in
 * parallel, so a test that writes makes its own category and products and never touches seeded rows.
 */
export async function createCatalogFixture(prisma: Prisma, options: { products: number; reviewsEach?: number }) {
  const tag = randomUUID().slice(0, 8);
  const category = await prisma.category.create({ data: { name: `Fixture ${tag}`, slug: `fixture-${tag}` } });
  const other = await prisma.category.create({ data: { name: `Fixture ${tag} B`, slug: `fixture-${tag}-b` } });
  const products = [];
  for (let i = 0; i < options.products; i++) {
    products.push(
      await prisma.product.create({
        data: {
          sku: `FX-${tag}-${i}`,
          name: `Fixture product ${i}`,
          description: 'A fixture.',
          priceCents: 1000 + i,
          stock: 10,
          categoryId: category.id,
          reviews: { create: Array.from({ length: options.reviewsEach ?? 0 }, (_, k) => ({ authorId: 1 + k, rating: 1 + (k % 5), body: `Review ${k}` })) },
        },
      }),
    );
  }
  return { tag, category, other, products };
}
