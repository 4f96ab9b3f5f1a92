import type { Prisma } from '../database/database.ts';
import { reportingUnavailable, reportingUnavailableWrite, unavailability } from '../database/databaseErrors.ts';
import { DatabaseUnavailableError, ForbiddenError, InvalidArgumentError, NotFoundError } from '../errors.ts';
import { Prisma as PrismaNamespace } from '../generated/prisma/client.ts';
import type { ProductRecord, ReviewRecord } from './records.ts';
import type { NewProduct, NewReview, ProductPatch } from './writeInputs.ts';

type Transaction = PrismaNamespace.TransactionClient;

/**
 * Every write to the catalog, each one database transaction: it commits whole or not at all. The
 * caller (the cache-coherent Mutations) gets back what it needs to keep the tiers coherent: the rows
 * written, the row a write replaced, the ids a cascade removed. Nothing here touches a cache.
 *
 * References and the unique sku are checked inside the transaction, so a violation is reported by
 * field. A concurrent write can still slip between the check and the insert; the constraint then
 * fails the statement, and that violation is reported by the same field (see fieldOfViolation).
 *
 * A database that cannot be used throws DatabaseUnavailableError, saying what was written (see
 * {@link CatalogWrites.transaction}): a client is told "nothing" only when that is known.
 */
export class CatalogWrites {
  constructor(private readonly prisma: Prisma) {}

  /** Throws InvalidArgumentError on `input.categoryId` (no such category) or `input.sku` (taken). */
  createProduct(input: NewProduct): Promise<ProductRecord> {
    return this.reportingViolations(input, (tx) => this.insertProduct(tx, input));
  }

  /**
   * Applies the patch and increments the version. `before` is the committed row the patch replaced:
   * the row is locked first, so no other write can land between the two.
   * Throws NotFoundError on `id`, InvalidArgumentError on `input.categoryId`.
   */
  updateProduct(id: number, patch: ProductPatch): Promise<{ before: ProductRecord; after: ProductRecord }> {
    return this.reportingViolations(patch, async (tx) => {
      if (!(await lockProduct(tx, id))) throw new NotFoundError('id', 'Product', String(id));
      if (patch.categoryId !== undefined) await requireCategory(tx, patch.categoryId);
      const before = await tx.product.findUniqueOrThrow({ where: { id } });
      const after = await tx.product.update({ where: { id }, data: { ...patch, version: { increment: 1 } } });
      return { before, after };
    });
  }

  /** The committed version of a product now; null when it no longer exists. */
  async productVersion(id: number): Promise<number | null> {
    const row = await reportingUnavailable(() => this.prisma.product.findUnique({ where: { id }, select: { version: true } }));
    return row?.version ?? null;
  }

  /**
   * Deletes the product; the database deletes its reviews (ON DELETE CASCADE). Returns the deleted
   * row and its reviews' ids, for invalidation; null when no product has this id.
   */
  deleteProduct(id: number): Promise<{ product: ProductRecord; reviewIds: number[] } | null> {
    return this.transaction(async (tx) => {
      // The lock makes the review list complete: a concurrent createReview waits on it, then fails
      // its foreign key (reported on `input.productId`), so no review escapes the list.
      if (!(await lockProduct(tx, id))) return null;
      const reviews = await tx.review.findMany({ where: { productId: id }, select: { id: true }, orderBy: { id: 'asc' } });
      const product = await tx.product.delete({ where: { id } });
      return { product, reviewIds: reviews.map((review) => review.id) };
    });
  }

  /** Throws InvalidArgumentError on `input.productId` or `input.authorId` when either names no row. */
  createReview(input: NewReview): Promise<ReviewRecord> {
    return this.reportingViolations(input, async (tx) => {
      if ((await tx.product.findUnique({ where: { id: input.productId }, select: { id: true } })) === null) {
        throw new InvalidArgumentError('input.productId', String(input.productId), 'no Product has this id');
      }
      if ((await tx.user.findUnique({ where: { id: input.authorId }, select: { id: true } })) === null) {
        throw new InvalidArgumentError('input.authorId', String(input.authorId), 'no User has this id');
      }
      return tx.review.create({ data: input });
    });
  }

  /** The deleted row; null when no review has this id. */
  /**
   * Deletes a review; with `authorId`, only that author's. The author is a condition of the DELETE
   * itself, not a check before it: a check could be made against a row that does not exist yet, or
   * a cached absence, and the DELETE would then remove whatever has that id by the time it runs.
   * Null when no review has this id; throws ForbiddenError when it is another author's.
   */
  async deleteReview(id: number, only: { authorId?: number } = {}): Promise<ReviewRecord | null> {
    try {
      // One statement (DELETE ... WHERE ... RETURNING): its own transaction.
      return await reportingUnavailableWrite(() => this.prisma.review.delete({ where: { id, ...(only.authorId === undefined ? {} : { authorId: only.authorId }) } }));
    } catch (error) {
      if (!(error instanceof PrismaNamespace.PrismaClientKnownRequestError && error.code === 'P2025')) throw error;
      const other = only.authorId === undefined ? null : await reportingUnavailable(() => this.prisma.review.findUnique({ where: { id }, select: { id: true } }), 'nothing');
      if (other !== null) {
        throw new ForbiddenError('Mutation.deleteReview', `review ${id} is not the viewer's own`);
      }
      return null;
    }
  }

  // Private:

  private async insertProduct(tx: Transaction, input: NewProduct): Promise<ProductRecord> {
    await requireCategory(tx, input.categoryId);
    if ((await tx.product.findUnique({ where: { sku: input.sku }, select: { id: true } })) !== null) {
      throw new InvalidArgumentError('input.sku', input.sku, SKU_TAKEN);
    }
    return tx.product.create({ data: input });
  }

  /**
   * Runs `write` in a transaction and turns a constraint violation that beat the checks into the
   * field error the check would have raised. `input` supplies the value the error shows.
   */
  private async reportingViolations<T>(input: object, write: (tx: Transaction) => Promise<T>): Promise<T> {
    try {
      return await this.transaction(write);
    } catch (error) {
      const field = fieldOfViolation(error);
      if (field === undefined) throw error;
      const value = (input as Record<string, unknown>)[field.name];
      throw new InvalidArgumentError(`input.${field.name}`, typeof value === 'number' ? String(value) : value, field.reason);
    }
  }

  /**
   * Runs `write` in one transaction, saying, when the database fails it, what was written. Until
   * COMMIT is sent, nothing: PostgreSQL rolls back a transaction whose connection goes away. A
   * connection lost once COMMIT is on its way leaves the outcome unknown, to any client of any
   * database: then the error says so (`wrote: 'unknown'`) instead of promising nothing.
   */
  private async transaction<T>(write: (tx: Transaction) => Promise<T>): Promise<T> {
    let committing = false;
    try {
      return await this.prisma.$transaction(async (tx) => {
        const result = await write(tx);
        committing = true;
        return result;
      });
    } catch (error) {
      const unavailable = unavailability(error);
      if (!unavailable) throw error;
      throw new DatabaseUnavailableError(unavailable.reason, { cause: error, wrote: committing && !unavailable.unsent ? 'unknown' : 'nothing' });
    }
  }
}

// Private:

const SKU_TAKEN = 'already used by another product';

/** The constraints a write can violate, by name (prisma/migrations), with the field each guards. */
const CONSTRAINT_FIELDS: Record<string, { name: string; reason: string }> = {
  Product_sku_key: { name: 'sku', reason: SKU_TAKEN },
  Product_categoryId_fkey: { name: 'categoryId', reason: 'no Category has this id' },
  Review_productId_fkey: { name: 'productId', reason: 'no Product has this id' },
  Review_authorId_fkey: { name: 'authorId', reason: 'no User has this id' },
};

/** The field behind a unique (P2002) or foreign key (P2003) violation; undefined for anything else. */
function fieldOfViolation(error: unknown): { name: string; reason: string } | undefined {
  if (!(error instanceof PrismaNamespace.PrismaClientKnownRequestError)) return undefined;
  if (error.code !== 'P2002' && error.code !== 'P2003') return undefined;
  // Driver adapters report the violated constraint here; Prisma's own meta.target is not set.
  const cause = (error.meta?.driverAdapterError as { cause?: { constraint?: { index?: string } } } | undefined)?.cause;
  const constraint = cause?.constraint?.index;
  return constraint === undefined ? undefined : CONSTRAINT_FIELDS[constraint];
}

/** Locks the product row until the transaction ends; false when there is none. */
async function lockProduct(tx: Transaction, id: number): Promise<boolean> {
  const rows = await tx.$queryRaw<Array<{ id: number }>>`SELECT "id" FROM "Product" WHERE "id" = ${id} FOR UPDATE`;
  return rows.length > 0;
}

async function requireCategory(tx: Transaction, categoryId: number): Promise<void> {
  if ((await tx.category.findUnique({ where: { id: categoryId }, select: { id: true } })) === null) {
    throw new InvalidArgumentError('input.categoryId', String(categoryId), 'no Category has this id');
  }
}
