import DataLoader from 'dataloader';
import type { CacheKeys } from '../cache/keys.ts';
import type { CachedKind } from '../cache/entry.ts';
import type { ReadThrough } from '../cache/readThrough.ts';
import type { CachedKinds } from '../catalog/cachedKinds.ts';
import type { CatalogQueries, ProductPage } from '../catalog/queries.ts';
import type { CategoryRecord, ProductRecord, ReviewRecord } from '../catalog/records.ts';

/** What the loaders of every request share: built once per process. */
export interface LoaderDeps {
  readonly readThrough: ReadThrough;
  readonly keys: CacheKeys;
  readonly kinds: CachedKinds;
  readonly queries: CatalogQueries;
  /** L1: memoise loads within the request. Batching happens either way. */
  readonly requestCache: boolean;
}

/** A relation page: the first `first` children of one parent. */
export interface ChildPage {
  readonly parentId: number;
  readonly first: number;
}

/**
 * L1: the request-scoped DataLoaders, made afresh for every request. Each batch goes through the
 * read-through once, so a query costs one tier lookup and at most one SQL statement per batch.
 * Relation lists are cached as id lists; their members are then loaded through the entity loaders,
 * which the list query has already primed with the rows it read.
 */
export function createLoaders(deps: LoaderDeps) {
  const { readThrough, keys, kinds, queries } = deps;
  const options = { cache: deps.requestCache };

  function entityLoader<V extends { id: number }>(kind: CachedKind<V>, find: (ids: readonly number[]) => Promise<V[]>) {
    return new DataLoader<number, V | null>(async (ids) => {
      const items = [...ids];
      return readThrough.getMany(kind, { items, keys: items.map((id) => keys.entity(kind, id)) }, async (missing) => {
        const rows = new Map((await find(missing)).map((row) => [row.id, row]));
        return missing.map((id) => rows.get(id) ?? null);
      });
    }, options);
  }

  const product = entityLoader(kinds.Product, (ids) => queries.productsByIds(ids));
  const category = entityLoader(kinds.Category, (ids) => queries.categoriesByIds(ids));
  const review = entityLoader(kinds.Review, (ids) => queries.reviewsByIds(ids));
  const user = entityLoader(kinds.User, (ids) => queries.usersByIds(ids));

  /** Caches rows that a list query brought along, in the tiers and in this request's entity loader. */
  async function primeEntities<V extends { id: number }>(loader: DataLoader<number, V | null>, kind: CachedKind<V>, rows: V[]) {
    for (const row of rows) loader.prime(row.id, row);
    await readThrough.fill(kind, rows.map((row) => ({ key: keys.entity(kind, row.id), value: row })));
  }

  /**
   * A list loader: each request names one cached id list (its `key`); lists no tier has come from
   * `load`, and their members are then resolved to rows through `members`.
   */
  function listLoader<R, V extends { id: number }>(
    kind: CachedKind<number[]>,
    members: DataLoader<number, V | null>,
    list: { key: (request: R) => string; load: (missing: R[]) => Promise<number[][]> },
  ) {
    return new DataLoader<R, V[], string>(
      async (requests) => {
        const items = [...requests];
        const idLists = await readThrough.getMany(kind, { items, keys: items.map(list.key) }, list.load);
        // All members of all lists in one entity batch: these loads are issued in the same tick.
        return Promise.all(idLists.map((ids) => loadPresent(members, ids ?? [])));
      },
      { ...options, cacheKeyFn: list.key },
    );
  }

  const reviewsOfProduct = listLoader<ChildPage, ReviewRecord>(kinds['Product.reviews'], review, {
    key: (page) => keys.list(kinds['Product.reviews'], page.parentId, { first: page.first }),
    async load(pages) {
      const rows = await queries.reviewsOfProducts(pages.map((p) => p.parentId), maxFirst(pages));
      await primeEntities(review, kinds.Review, rows);
      return idsPerPage(pages, rows, (r) => r.productId);
    },
  });

  const productsOfCategory = listLoader<ChildPage, ProductRecord>(kinds['Category.products'], product, {
    key: (page) => keys.list(kinds['Category.products'], page.parentId, { first: page.first }),
    async load(pages) {
      const rows = await queries.productsOfCategories(pages.map((p) => p.parentId), maxFirst(pages));
      await primeEntities(product, kinds.Product, rows);
      return idsPerPage(pages, rows, (r) => r.categoryId);
    },
  });

  const productPage = listLoader<ProductPage, ProductRecord>(kinds['Query.products'], product, {
    key: (page) => keys.list(kinds['Query.products'], null, { ...page }),
    // Distinct root pages in one request are rare; each is its own statement.
    load: (pages) =>
      Promise.all(
        pages.map(async (page) => {
          const rows = await queries.productPage(page);
          await primeEntities(product, kinds.Product, rows);
          return rows.map((row) => row.id);
        }),
      ),
  });

  const allCategories = listLoader<'all', CategoryRecord>(kinds['Query.categories'], category, {
    key: () => keys.list(kinds['Query.categories'], null, {}),
    async load() {
      const rows = await queries.allCategories();
      await primeEntities(category, kinds.Category, rows);
      return [rows.map((row) => row.id)];
    },
  });

  return { product, category, review, user, reviewsOfProduct, productsOfCategory, productPage, allCategories };
}

export type Loaders = ReturnType<typeof createLoaders>;

// Private:

async function loadPresent<V>(loader: DataLoader<number, V | null>, ids: readonly number[]): Promise<V[]> {
  const present: V[] = [];
  for (const value of await loader.loadMany(ids)) {
    if (value instanceof Error) throw value;
    // A member deleted since its list was cached is left out rather than failing the list.
    if (value !== null) present.push(value);
  }
  return present;
}

function maxFirst(pages: readonly ChildPage[]): number {
  return Math.max(...pages.map((p) => p.first));
}

/** Splits rows ordered by (parent, id) into each page's first ids. */
function idsPerPage<V extends { id: number }>(pages: readonly ChildPage[], rows: readonly V[], parentOf: (row: V) => number): number[][] {
  const byParent = new Map<number, number[]>();
  for (const row of rows) {
    const ids = byParent.get(parentOf(row));
    if (ids) ids.push(row.id);
    else byParent.set(parentOf(row), [row.id]);
  }
  return pages.map((p) => (byParent.get(p.parentId) ?? []).slice(0, p.first));
}
