import type { Viewer } from '../auth/viewer.ts';
import { TOMBSTONE_VERSION } from '../cache/entry.ts';
import type { Invalidator } from '../cache/coherence/invalidator.ts';
import type { CacheWrite, InvalidationFences, ReadThrough } from '../cache/readThrough/readThrough.ts';
import { tags } from '../cache/tags/tags.ts';
import type { CacheAddresses } from '../catalog/cacheAddresses.ts';
import type { CachedKinds } from '../catalog/cachedKinds.ts';
import type { ProductRecord, ReviewRecord } from '../catalog/records.ts';
import type { CatalogWrites } from '../catalog/writes.ts';
import { DatabaseUnavailableError, ForbiddenError, NotFoundError } from '../errors.ts';
import type { Loaders } from '../loaders/loaders.ts';
import type { Mutations } from '../schema/context.ts';
import type { ViewCounter } from '../views/viewCounter.ts';

/** What the mutations of every request share: built once per process. */
export interface MutationDeps {
  readonly writes: CatalogWrites;
  readonly readThrough: ReadThrough;
  readonly invalidator: Invalidator;
  readonly addresses: CacheAddresses;
  readonly kinds: CachedKinds;
  /** The write-behind view counter; without Redis, views go straight to the database. */
  readonly views: Pick<ViewCounter, 'record'>;
}

/**
 * The write path. Every mutation runs the same three steps, in this order:
 *
 * 1. commit to the database (CatalogWrites: validated, one transaction; a failure writes nothing,
 *    to the database or to any tier);
 * 2. invalidate, by tag, everything the write made stale: in L3, in this process's L2, and, over
 *    pub/sub, in every other instance's L2;
 * 3. write the new rows through to L3 and L2, fenced by step 2 itself, and prime this request's L1,
 *    so the writer reads its own write at once and the next reader anywhere hits.
 *
 * A database that cannot be used fails a mutation only before or during step 1, so its
 * DatabaseUnavailableError always says what was written (see {@link sayingWhatWasWritten}).
 */
export function createMutations(deps: MutationDeps, loaders: Loaders, viewer: Viewer): Mutations {
  const { writes, readThrough, invalidator, addresses, kinds } = deps;

  async function writeProducts(after: InvalidationFences, entries: CacheWrite<ProductRecord>[], primes: [number, ProductRecord | null][]) {
    await readThrough.writeThrough(kinds.Product, entries, after);
    for (const [id, row] of primes) loaders.product.clear(id).prime(id, row);
  }

  async function writeReviews(after: InvalidationFences, entries: CacheWrite<ReviewRecord>[], primes: [number, ReviewRecord | null][]) {
    await readThrough.writeThrough(kinds.Review, entries, after);
    for (const [id, row] of primes) loaders.review.clear(id).prime(id, row);
  }

  /** A product's lists: its category's pages and every root page (they list products by id). */
  const productListTags = (categoryId: number) => [tags.list('Category', categoryId, 'products'), tags.rootList('products')];

  return sayingWhatWasWritten({
    async createProduct(input) {
      const product = await writes.createProduct(input);
      // The entity tag too: an "absent" marker for this id may be cached.
      const after = await invalidator.invalidate([tags.entity('Product', product.id), ...productListTags(product.categoryId)]);
      await writeProducts(after, [{ ...addresses.entity('Product', product.id), value: product }], [[product.id, product]]);
      return product;
    },

    async updateProduct(id, patch) {
      const { before, after } = await writes.updateProduct(id, patch);
      const moved = before.categoryId !== after.categoryId;
      // A move changes both categories' pages and the root pages filtered by category.
      const fences = await invalidator.invalidate([tags.entity('Product', id), ...(moved ? [...productListTags(before.categoryId), ...productListTags(after.categoryId)] : [])]);
      // Commits and invalidations of concurrent writers may land in different orders. A newer
      // commit whose invalidation came first would leave this older row valid once written through:
      // then the newer writer's row is the one to cache, and this one is only this request's. A
      // database gone since the commit cannot say: the row is not written through (the next read
      // loads it), and the mutation, which has committed, succeeds.
      if ((await committedVersion(writes, id)) === after.version) {
        await writeProducts(fences, [{ ...addresses.entity('Product', id), value: after }], [[id, after]]);
      } else {
        loaders.product.clear(id).prime(id, after);
      }
      return after;
    },

    async deleteProduct(id) {
      const deleted = await writes.deleteProduct(id);
      if (deleted === null) return false;
      const { product, reviewIds } = deleted;
      const after = await invalidator.invalidate([
        tags.entity('Product', id),
        ...productListTags(product.categoryId),
        tags.list('Product', id, 'reviews'),
        ...reviewIds.map((reviewId) => tags.entity('Review', reviewId)),
      ]);
      // Tombstones: a deleted id never comes back, so no late fill may bring the row back.
      await writeProducts(after, [{ ...addresses.entity('Product', id), value: null, version: TOMBSTONE_VERSION }], [[id, null]]);
      await writeReviews(
        after,
        reviewIds.map((reviewId) => ({ ...addresses.entity('Review', reviewId), value: null, version: TOMBSTONE_VERSION })),
        reviewIds.map((reviewId) => [reviewId, null]),
      );
      return true;
    },

    async createReview(input) {
      const review = await writes.createReview(input);
      const after = await invalidator.invalidate([tags.entity('Review', review.id), tags.list('Product', review.productId, 'reviews')]);
      await writeReviews(after, [{ ...addresses.entity('Review', review.id), value: review }], [[review.id, review]]);
      return review;
    },

    async deleteReview(id) {
      // Whose review it is decides, which only the data can say, inside the write itself (the
      // schema's @auth has already required a signed-in viewer). An admin deletes any.
      if (viewer.userId === null) throw new ForbiddenError('Mutation.deleteReview', 'requires a signed-in viewer');
      const only = viewer.role === 'ADMIN' ? {} : { authorId: viewer.userId };
      const review = await writes.deleteReview(id, only);
      if (review === null) return false;
      const after = await invalidator.invalidate([tags.entity('Review', id), tags.list('Product', review.productId, 'reviews')]);
      await writeReviews(after, [{ ...addresses.entity('Review', id), value: null, version: TOMBSTONE_VERSION }], [[id, null]]);
      return true;
    },

    async recordProductView(id) {
      if ((await loaders.product.load(id)) === null) throw new NotFoundError('id', 'Product', String(id));
      const how = await deps.views.record(id);
      // Written to the database directly (no Redis): the cached row's viewCount is now behind.
      if (how === 'direct') await invalidator.invalidate([tags.entity('Product', id)]);
      return true;
    },
  });
}

// Private:

/**
 * The mutations, each saying "nothing was written" when the database fails it before its write:
 * a read it makes first (recordProductView's load) has written nothing. A write's own error
 * already says what it wrote (CatalogWrites), and nothing after the commit reaches the database
 * but {@link committedVersion}, which never fails the mutation.
 */
function sayingWhatWasWritten(mutations: Mutations): Mutations {
  const wrapped = {} as Record<keyof Mutations, (...args: never[]) => Promise<unknown>>;
  for (const [name, mutation] of Object.entries(mutations) as Array<[keyof Mutations, (...args: unknown[]) => Promise<unknown>]>) {
    wrapped[name] = async (...args) => {
      try {
        return await mutation(...args);
      } catch (error) {
        if (error instanceof DatabaseUnavailableError && error.wrote === undefined) throw new DatabaseUnavailableError(error.reason, { cause: error.cause, wrote: 'nothing' });
        throw error;
      }
    };
  }
  return wrapped as unknown as Mutations;
}

/** The committed version of a product, or undefined when the database cannot say now. */
async function committedVersion(writes: CatalogWrites, id: number): Promise<number | null | undefined> {
  try {
    return await writes.productVersion(id);
  } catch (error) {
    if (error instanceof DatabaseUnavailableError) return undefined;
    throw error;
  }
}
