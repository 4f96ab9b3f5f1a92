import type { Prisma } from '../database/database.ts';
import { reportingUnavailable } from '../database/databaseErrors.ts';
import type { CategoryRecord, ProductRecord, ReviewRecord, UserRecord } from './records.ts';

/**
 * Every database read of the API, each one SQL statement for a whole DataLoader batch. Only the
 * loaders call these; resolvers never reach Prisma. A database that cannot be used throws
 * DatabaseUnavailableError (see reportingUnavailable), never the driver's error.
 */
export class CatalogQueries {
  constructor(private readonly prisma: Prisma) {}

  productsByIds(ids: readonly number[]): Promise<ProductRecord[]> {
    return reportingUnavailable(() => this.prisma.product.findMany({ where: { id: { in: [...ids] } } }));
  }

  categoriesByIds(ids: readonly number[]): Promise<CategoryRecord[]> {
    return reportingUnavailable(() => this.prisma.category.findMany({ where: { id: { in: [...ids] } } }));
  }

  reviewsByIds(ids: readonly number[]): Promise<ReviewRecord[]> {
    return reportingUnavailable(() => this.prisma.review.findMany({ where: { id: { in: [...ids] } } }));
  }

  usersByIds(ids: readonly number[]): Promise<UserRecord[]> {
    return reportingUnavailable(() => this.prisma.user.findMany({ where: { id: { in: [...ids] } } }));
  }

  /** Every category, by id (the contract lists them unpaged; the catalog has tens). */
  allCategories(): Promise<CategoryRecord[]> {
    return reportingUnavailable(() => this.prisma.category.findMany({ orderBy: { id: 'asc' } }));
  }

  /** One page of the root product list, by id, optionally within one category. */
  productPage(page: ProductPage): Promise<ProductRecord[]> {
    return reportingUnavailable(() =>
      this.prisma.product.findMany({
        where: {
          ...(page.after !== null ? { id: { gt: page.after } } : {}),
          ...(page.categoryId !== null ? { categoryId: page.categoryId } : {}),
        },
        orderBy: { id: 'asc' },
        take: page.first,
      }),
    );
  }

  /**
   * The first `limit` products (by id) of each category, in one statement: a window function keeps
   * each category's page bounded, however many products it has.
   */
  productsOfCategories(categoryIds: readonly number[], limit: number): Promise<ProductRecord[]> {
    return reportingUnavailable(
      () => this.prisma.$queryRaw<ProductRecord[]>`
      SELECT "id", "sku", "name", "description", "priceCents", "stock", "categoryId", "viewCount", "version", "createdAt", "updatedAt"
      FROM (
        SELECT p.*, row_number() OVER (PARTITION BY p."categoryId" ORDER BY p."id") AS "rank"
        FROM "Product" p WHERE p."categoryId" = ANY(${[...categoryIds]}::int[])
      ) ranked
      WHERE "rank" <= ${limit}
      ORDER BY "categoryId", "id"`,
    );
  }

  /** The first `limit` reviews (by id) of each product, in one statement. */
  reviewsOfProducts(productIds: readonly number[], limit: number): Promise<ReviewRecord[]> {
    return reportingUnavailable(
      () => this.prisma.$queryRaw<ReviewRecord[]>`
      SELECT "id", "productId", "authorId", "rating", "body", "createdAt"
      FROM (
        SELECT r.*, row_number() OVER (PARTITION BY r."productId" ORDER BY r."id") AS "rank"
        FROM "Review" r WHERE r."productId" = ANY(${[...productIds]}::int[])
      ) ranked
      WHERE "rank" <= ${limit}
      ORDER BY "productId", "id"`,
    );
  }
}

/** Arguments of `Query.products`, validated. */
export interface ProductPage {
  readonly first: number;
  readonly after: number | null;
  readonly categoryId: number | null;
}
