import DataLoader from 'dataloader';
import type { CachedKind } from '../cache/entry.ts';
import type { LateFillTicket } from '../cache/coherence/lateFills.ts';
import { bothObservers, emptyCounts, type ReadObserver } from '../cache/readThrough/readObserver.ts';
import type { ReadThrough } from '../cache/readThrough/readThrough.ts';
import type { CacheAddress, CacheAddresses, EntityTypeName } from '../catalog/cacheAddresses.ts';
import type { CachedKinds } from '../catalog/cachedKinds.ts';
import type { CatalogQueries, ProductPage } from '../catalog/queries.ts';
import type { CategoryRecord, ProductRecord, ReviewRecord } from '../catalog/records.ts';

/** What the loaders of every request share: built once per process. */
export interface LoaderDeps {
  readonly readThrough: ReadThrough;
  readonly addresses: CacheAddresses;
  readonly kinds: CachedKinds;
  readonly queries: CatalogQueries;
  /** L1: memoise loads within the request. Batching happens either way. */
  readonly requestCache: boolean;
  /** Told what L1 answered (the metrics); the tiers below tell the read-through's own observer. @default none */
  readonly observer?: ReadObserver;
  /** Product views recorded but not yet flushed into `Product.viewCount` (see views/). */
  readonly pendingViews?: (productIds: readonly number[]) => Promise<number[]>;
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
export function createLoaders(deps: LoaderDeps, touched: Set<string> = new Set(), report?: ReadObserver) {
  const { addresses, kinds, queries } = deps;
  // A debug request's report hears every tier of its own reads; the metrics hear every request's.
  const readThrough = report ? deps.readThrough.observedBy(report) : deps.readThrough;
  const l1 = !deps.requestCache ? undefined : report ? bothObservers(deps.observer, report) : deps.observer;
  const options = (kind: string) => ({ cache: deps.requestCache, ...(l1 ? { cacheMap: new ObservedMap<unknown, Promise<never>>(kind, l1) } : {}) });
  /** Records what this request read, for the response tier; every address is built through here. */
  function request<R>(items: R[], address: (item: R) => CacheAddress) {
    const addressed = items.map(address);
    for (const a of addressed) for (const tag of a.tags) touched.add(tag);
    return items.map((item, i) => ({ item, key: (addressed[i] as CacheAddress).key, tags: (addressed[i] as CacheAddress).tags }));
  }

  function entityLoader<V extends { id: number }>(typeName: EntityTypeName, find: (ids: readonly number[]) => Promise<V[]>) {
    const kind = kinds[typeName] as unknown as CachedKind<V>;
    return new DataLoader<number, V | null>(async (ids) => {
      const items = [...ids];
      l1Missed(l1, kind.name, items.length);
      return readThrough.getMany(
        kind,
        request(items, (id) => addresses.entity(typeName, id)),
        async (missing) => {
          const rows = new Map((await find(missing)).map((row) => [row.id, row]));
          return missing.map((id) => rows.get(id) ?? null);
        },
      );
    }, options(kind.name));
  }

  const product = entityLoader('Product', (ids) => queries.productsByIds(ids));
  const category = entityLoader('Category', (ids) => queries.categoriesByIds(ids));
  const review = entityLoader('Review', (ids) => queries.reviewsByIds(ids));
  const user = entityLoader('User', (ids) => queries.usersByIds(ids));

  /**
   * Rows that a list query brought along serve this request (L1), and fill the tiers below it, so the
   * next request that needs them by id finds them. A list query cannot know in advance which rows,
   * hence which tags, it will read, so it cannot be fenced like a load by id: the fill is made under
   * a ticket taken before the query (ReadThrough.storeLate, LateFills).
   */
  function primeEntities<V extends { id: number }>(typeName: EntityTypeName, loader: DataLoader<number, V | null>, rows: V[], ticket: LateFillTicket | undefined) {
    const writes = [];
    for (const row of rows) {
      loader.prime(row.id, row);
      const address = addresses.entity(typeName, row.id);
      // A later load of a primed row never reaches the batch function: its tags are recorded now.
      for (const tag of address.tags) touched.add(tag);
      writes.push({ ...address, value: row });
    }
    readThrough.storeLate(kinds[typeName] as unknown as CachedKind<V>, writes, ticket);
  }

  /**
   * A list loader: each request names one cached id list (its `key`); lists no tier has come from
   * `load`, and their members are then resolved to rows through `members`.
   */
  function listLoader<R, V extends { id: number }>(kind: CachedKind<number[]>, members: DataLoader<number, V | null>, list: { address: (request: R) => CacheAddress; load: (missing: R[]) => Promise<number[][]> }) {
    return new DataLoader<R, V[], string>(
      async (requests) => {
        l1Missed(l1, kind.name, requests.length);
        const idLists = await readThrough.getMany(kind, request([...requests], list.address), list.load);
        // All members of all lists in one entity batch: these loads are issued in the same tick.
        return Promise.all(idLists.map((ids) => loadPresent(members, ids ?? [])));
      },
      { ...options(kind.name), cacheKeyFn: (r) => list.address(r).key },
    );
  }

  const reviewsOfProduct = listLoader<ChildPage, ReviewRecord>(kinds['Product.reviews'], review, {
    address: (page) => addresses.reviewsOfProduct(page.parentId, page.first),
    async load(pages) {
      const ticket = readThrough.lateTicket();
      const rows = await queries.reviewsOfProducts(
        pages.map((p) => p.parentId),
        maxFirst(pages),
      );
      primeEntities('Review', review, rows, ticket);
      return idsPerPage(pages, rows, (r) => r.productId);
    },
  });

  const productsOfCategory = listLoader<ChildPage, ProductRecord>(kinds['Category.products'], product, {
    address: (page) => addresses.productsOfCategory(page.parentId, page.first),
    async load(pages) {
      const ticket = readThrough.lateTicket();
      const rows = await queries.productsOfCategories(
        pages.map((p) => p.parentId),
        maxFirst(pages),
      );
      primeEntities('Product', product, rows, ticket);
      return idsPerPage(pages, rows, (r) => r.categoryId);
    },
  });

  const productPage = listLoader<ProductPage, ProductRecord>(kinds['Query.products'], product, {
    address: (page) => addresses.productPage(page),
    // Distinct root pages in one request are rare; each is its own statement.
    load: (pages) =>
      Promise.all(
        pages.map(async (page) => {
          const ticket = readThrough.lateTicket();
          const rows = await queries.productPage(page);
          primeEntities('Product', product, rows, ticket);
          return rows.map((row) => row.id);
        }),
      ),
  });

  const allCategories = listLoader<'all', CategoryRecord>(kinds['Query.categories'], category, {
    address: () => addresses.allCategories(),
    async load() {
      const ticket = readThrough.lateTicket();
      const rows = await queries.allCategories();
      primeEntities('Category', category, rows, ticket);
      return [rows.map((row) => row.id)];
    },
  });

  // Not cached: the pending count changes with every view; one HMGET per batch.
  const pendingViews = new DataLoader<number, number>(async (ids) => (deps.pendingViews ? deps.pendingViews(ids) : ids.map(() => 0)), {
    cache: false,
  });

  return { product, category, review, user, reviewsOfProduct, productsOfCategory, productPage, allCategories, pendingViews };
}

export type Loaders = ReturnType<typeof createLoaders>;

// Private:

/** L1's answers, told as they happen: a cached promise found is a hit; the keys of a batch were misses. */
class ObservedMap<K, V> extends Map<K, V> {
  constructor(
    private readonly kind: string,
    private readonly observer: ReadObserver,
  ) {
    super();
  }

  override get(key: K): V | undefined {
    const found = super.get(key);
    if (found !== undefined) this.observer.tierRead('L1', this.kind, { ...emptyCounts(), hit: 1 });
    return found;
  }
}

function l1Missed(observer: ReadObserver | undefined, kind: string, keys: number): void {
  if (observer) observer.tierRead('L1', kind, { ...emptyCounts(), miss: keys });
}

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
