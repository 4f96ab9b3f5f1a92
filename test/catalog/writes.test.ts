import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { productShape, reviewShape, type ProductRecord } from '../../src/catalog/records.ts';
import type { NewProduct } from '../../src/catalog/writeInputs.ts';
import { CatalogWrites } from '../../src/catalog/writes.ts';
import { loadConfig } from '../../src/config/config.ts';
import { openDatabase, type Database } from '../../src/database/database.ts';
import { ForbiddenError, InvalidArgumentError, NotFoundError } from '../../src/errors.ts';

/**
 * CatalogWrites against the run's real database. Other files share it, so every test makes its own
 * categories, users and products (tagged with this file's `tag`) and never touches seeded rows.
 */
describe('CatalogWrites', () => {
  let db: Database;
  let writes: CatalogWrites;
  const tag = `w${randomUUID().slice(0, 8)}`;
  let serial = 0;
  const unique = (what: string) => `${tag}-${what}-${++serial}`;

  beforeAll(async () => {
    db = await openDatabase(loadConfig({ DATABASE_URL: inject('databaseUrl') }));
    writes = new CatalogWrites(db.prisma);
  });

  afterAll(async () => {
    // Only this file's rows; reviews go with their products.
    await db.prisma.product.deleteMany({ where: { sku: { startsWith: tag } } });
    await db.prisma.user.deleteMany({ where: { email: { startsWith: tag } } });
    await db.prisma.category.deleteMany({ where: { slug: { startsWith: tag } } });
    await db.close();
  });

  // Builders: rows of this file's own, made straight through Prisma, not through the code under test.

  async function aCategory() {
    return db.prisma.category.create({ data: { name: 'Writes test', slug: unique('category') } });
  }

  async function aUser() {
    return db.prisma.user.create({ data: { name: 'Writer', email: `${unique('user')}@example.com` } });
  }

  function newProduct(categoryId: number, overrides: Partial<NewProduct> = {}): NewProduct {
    return { sku: unique('sku'), name: 'Test lamp', description: 'Bright.', priceCents: 1250, stock: 7, categoryId, ...overrides };
  }

  async function aProduct(overrides: Partial<NewProduct> = {}): Promise<ProductRecord> {
    const categoryId = overrides.categoryId ?? (await aCategory()).id;
    return db.prisma.product.create({ data: newProduct(categoryId, overrides) });
  }

  async function aReview(productId: number, authorId: number) {
    return db.prisma.review.create({ data: { productId, authorId, rating: 3, body: 'Fine.' } });
  }

  const productsWithSku = (sku: string) => db.prisma.product.count({ where: { sku } });
  const reviewsOf = (productId: number) => db.prisma.review.count({ where: { productId } });

  /** An id no row has: far past every sequence this run can reach. */
  const MISSING_ID = 2_000_000_000;

  /** The error `promise` rejects with, checked to be a field error on `argument`. */
  async function fieldError(promise: Promise<unknown>, argument: string, value: unknown, reason: string) {
    const error = await promise.then(
      () => {
        throw new Error(`expected an error on ${argument}`);
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).extensions).toMatchObject({ code: 'BAD_USER_INPUT', argumentName: argument, value });
    expect((error as InvalidArgumentError).message).toContain(reason);
  }

  /**
   * Runs `write` while another connection, outside Prisma, holds `statement` uncommitted; commits it
   * once `write` waits on its locks, so the race is set up, not hoped for. `write`'s promise comes back
   * wrapped: awaiting it here would throw its error.
   */
  async function racing<T>(statement: { sql: string; params: unknown[] }, write: () => Promise<T>): Promise<{ pending: Promise<T> }> {
    const holder = new pg.Client({ connectionString: inject('databaseUrl') });
    await holder.connect();
    try {
      const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await holder.query('BEGIN');
      await holder.query(statement.sql, statement.params);
      const pending = write();
      // Checked by the caller; handled here so a rejection while we wait is not reported as unhandled.
      pending.catch(() => {});
      await untilBlockedBy(rows[0]!.pid);
      await holder.query('COMMIT');
      return { pending };
    } finally {
      await holder.end();
    }
  }

  async function untilBlockedBy(pid: number) {
    for (let i = 0; i < 500; i++) {
      const [row] = await db.prisma.$queryRaw<Array<{ n: number }>>`
        SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${pid}::int = ANY(pg_blocking_pids(pid))`;
      if (row!.n > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('the write never waited on the open transaction');
  }

  describe('createProduct', () => {
    it('inserts the row and returns it, in the cached shape, at version 1', async () => {
      const category = await aCategory();
      const input = newProduct(category.id);
      const created = await writes.createProduct(input);
      expect(productShape.parse(created)).toEqual(created);
      expect(created).toMatchObject({ ...input, viewCount: 0, version: 1 });
      expect(await db.prisma.product.findUnique({ where: { id: created.id } })).toEqual(created);
    });

    it('refuses an unknown category on input.categoryId, writing nothing', async () => {
      const input = newProduct(MISSING_ID);
      await fieldError(writes.createProduct(input), 'input.categoryId', String(MISSING_ID), 'no Category has this id');
      expect(await productsWithSku(input.sku)).toBe(0);
    });

    it('refuses a used sku on input.sku, leaving the product that has it as it was', async () => {
      const existing = await aProduct();
      await fieldError(writes.createProduct(newProduct(existing.categoryId, { sku: existing.sku, name: 'Impostor' })), 'input.sku', existing.sku, 'already used by another product');
      expect(await productsWithSku(existing.sku)).toBe(1);
      expect(await db.prisma.product.findUnique({ where: { id: existing.id } })).toEqual(existing);
    });

    it('two concurrent creates of one sku: exactly one wins, the other gets the field error', async () => {
      const category = await aCategory();
      for (let round = 0; round < 5; round++) {
        const sku = unique('race');
        const results = await Promise.allSettled([writes.createProduct(newProduct(category.id, { sku, name: 'First' })), writes.createProduct(newProduct(category.id, { sku, name: 'Second' }))]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const [lost] = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(lost!.reason).toBeInstanceOf(InvalidArgumentError);
        expect(lost!.reason.extensions).toMatchObject({ argumentName: 'input.sku', value: sku });
        expect(await productsWithSku(sku)).toBe(1);
      }
    });

    it('a sku taken after the check (the unique violation itself) is reported on input.sku', async () => {
      const category = await aCategory();
      const sku = unique('late');
      // Uncommitted, the row is invisible to the check, but the unique index makes the insert wait.
      const { pending } = await racing(
        {
          sql: `INSERT INTO "Product" (sku, name, description, "priceCents", stock, "categoryId", "updatedAt") VALUES ($1, 'Holder', '', 1, 1, $2, now())`,
          params: [sku, category.id],
        },
        () => writes.createProduct(newProduct(category.id, { sku })),
      );
      await fieldError(pending, 'input.sku', sku, 'already used by another product');
      expect(await productsWithSku(sku)).toBe(1);
    });
  });

  describe('updateProduct', () => {
    it('applies only the patch, bumps the version and returns the row before and after', async () => {
      const product = await aProduct();
      const { before, after } = await writes.updateProduct(product.id, { priceCents: 999, stock: 0 });
      expect(before).toEqual(product);
      expect(productShape.parse(after)).toEqual(after);
      expect(after).toEqual({ ...product, priceCents: 999, stock: 0, version: 2, updatedAt: after.updatedAt });
      expect(after.updatedAt.getTime()).toBeGreaterThanOrEqual(product.updatedAt.getTime());
      expect(await db.prisma.product.findUnique({ where: { id: product.id } })).toEqual(after);
    });

    it('increments the version on every write', async () => {
      const product = await aProduct();
      const versions: number[] = [];
      for (const stock of [1, 2, 3]) versions.push((await writes.updateProduct(product.id, { stock })).after.version);
      expect(versions).toEqual([2, 3, 4]);
    });

    it('moving a product to another category returns both categories', async () => {
      const product = await aProduct();
      const target = await aCategory();
      const { before, after } = await writes.updateProduct(product.id, { categoryId: target.id });
      expect(before.categoryId).toBe(product.categoryId);
      expect(after.categoryId).toBe(target.id);
    });

    it('concurrent updates are serialised: each `before` is the previous committed row', async () => {
      const product = await aProduct();
      const results = await Promise.all([1, 2, 3, 4].map((stock) => writes.updateProduct(product.id, { stock })));
      const byVersion = [...results].sort((a, b) => a.after.version - b.after.version);
      expect(byVersion.map((r) => r.after.version)).toEqual([2, 3, 4, 5]);
      expect(byVersion[0]!.before).toEqual(product);
      for (let i = 1; i < byVersion.length; i++) expect(byVersion[i]!.before).toEqual(byVersion[i - 1]!.after);
    });

    it('an unknown id is NOT_FOUND on id', async () => {
      const error = await writes.updateProduct(MISSING_ID, { stock: 1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as NotFoundError).extensions).toMatchObject({ code: 'NOT_FOUND', argumentName: 'id', value: String(MISSING_ID) });
    });

    it('an unknown category is refused on input.categoryId, changing nothing', async () => {
      const product = await aProduct();
      await fieldError(writes.updateProduct(product.id, { stock: 99, categoryId: MISSING_ID }), 'input.categoryId', String(MISSING_ID), 'no Category has this id');
      expect(await db.prisma.product.findUnique({ where: { id: product.id } })).toEqual(product);
    });
  });

  describe('deleteProduct', () => {
    it("deletes the product and, by cascade, its reviews, returning the row and the reviews' ids", async () => {
      const product = await aProduct();
      const author = await aUser();
      const reviews = [await aReview(product.id, author.id), await aReview(product.id, author.id)];
      const deleted = await writes.deleteProduct(product.id);
      expect(deleted).toEqual({ product, reviewIds: reviews.map((r) => r.id) });
      expect(productShape.parse(deleted!.product)).toEqual(product);
      expect(await db.prisma.product.findUnique({ where: { id: product.id } })).toBeNull();
      expect(await reviewsOf(product.id)).toBe(0);
      expect(await db.prisma.review.count({ where: { id: { in: reviews.map((r) => r.id) } } })).toBe(0);
    });

    it('a product without reviews has an empty id list', async () => {
      const product = await aProduct();
      expect(await writes.deleteProduct(product.id)).toEqual({ product, reviewIds: [] });
    });

    it('returns null when no product has the id, or it is already deleted', async () => {
      expect(await writes.deleteProduct(MISSING_ID)).toBeNull();
      const product = await aProduct();
      await writes.deleteProduct(product.id);
      expect(await writes.deleteProduct(product.id)).toBeNull();
    });
  });

  describe('createReview', () => {
    it('inserts the review and returns it in the cached shape', async () => {
      const product = await aProduct();
      const author = await aUser();
      const input = { productId: product.id, authorId: author.id, rating: 5, body: 'Great lamp.' };
      const review = await writes.createReview(input);
      expect(reviewShape.parse(review)).toEqual(review);
      expect(review).toMatchObject(input);
      expect(await db.prisma.review.findUnique({ where: { id: review.id } })).toEqual(review);
    });

    it('refuses an unknown product on input.productId, writing nothing', async () => {
      const author = await aUser();
      const input = { productId: MISSING_ID, authorId: author.id, rating: 2, body: 'Lost.' };
      await fieldError(writes.createReview(input), 'input.productId', String(MISSING_ID), 'no Product has this id');
      expect(await db.prisma.review.count({ where: { authorId: author.id } })).toBe(0);
    });

    it('refuses an unknown author on input.authorId, writing nothing', async () => {
      const product = await aProduct();
      const input = { productId: product.id, authorId: MISSING_ID, rating: 2, body: 'Ghost.' };
      await fieldError(writes.createReview(input), 'input.authorId', String(MISSING_ID), 'no User has this id');
      expect(await reviewsOf(product.id)).toBe(0);
    });

    it('a product deleted after the check (the foreign key itself) is reported on input.productId', async () => {
      const product = await aProduct();
      const author = await aUser();
      // Uncommitted, the delete leaves the product visible to the check; the insert waits on its lock.
      const { pending } = await racing({ sql: 'DELETE FROM "Product" WHERE id = $1', params: [product.id] }, () => writes.createReview({ productId: product.id, authorId: author.id, rating: 4, body: 'Too late.' }));
      await fieldError(pending, 'input.productId', String(product.id), 'no Product has this id');
      expect(await db.prisma.review.count({ where: { authorId: author.id } })).toBe(0);
    });
  });

  describe('deleteReview', () => {
    it('deletes the review and returns it; null once it is gone', async () => {
      const product = await aProduct();
      const review = await aReview(product.id, (await aUser()).id);
      expect(await writes.deleteReview(review.id)).toEqual(review);
      expect(await reviewsOf(product.id)).toBe(0);
      expect(await writes.deleteReview(review.id)).toBeNull();
    });

    it('returns null when no review has the id', async () => {
      expect(await writes.deleteReview(MISSING_ID)).toBeNull();
      expect(await writes.deleteReview(MISSING_ID, { authorId: 1 })).toBeNull();
    });

    it('with an author, deletes only that author’s review, and refuses another’s without deleting it', async () => {
      const product = await aProduct();
      const [author, other] = [await aUser(), await aUser()];
      const review = await aReview(product.id, author.id);
      await expect(writes.deleteReview(review.id, { authorId: other.id })).rejects.toThrow(ForbiddenError);
      expect(await reviewsOf(product.id)).toBe(1);
      expect(await writes.deleteReview(review.id, { authorId: author.id })).toEqual(review);
      expect(await reviewsOf(product.id)).toBe(0);
    });
  });
});
