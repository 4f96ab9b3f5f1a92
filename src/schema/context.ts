import type { Viewer } from '../auth/viewer.ts';
import type { NewProduct, NewReview, ProductPatch } from '../catalog/writeInputs.ts';
import type { ProductRecord, ReviewRecord } from '../catalog/records.ts';
import { createLoaders, type LoaderDeps, type Loaders } from '../loaders/loaders.ts';
import type { RequestCacheReport } from '../observability/requestCacheReport.ts';
import type { ResponsePolicy } from '../responses/httpPolicy.ts';

/**
 * The writes a request may make. Each commits to the database first, then keeps every cache tier
 * coherent (write-through, tag invalidation) before it resolves.
 */
export interface Mutations {
  createProduct(input: NewProduct): Promise<ProductRecord>;
  updateProduct(id: number, patch: ProductPatch): Promise<ProductRecord>;
  /** false when no product has this id. */
  deleteProduct(id: number): Promise<boolean>;
  createReview(input: NewReview): Promise<ReviewRecord>;
  /** false when no review has this id. */
  deleteReview(id: number): Promise<boolean>;
  recordProductView(id: number): Promise<boolean>;
}

/** What the execution tells the HTTP layer about its response (see responses/responsePolicyPlugin.ts). */
export interface ExecutionOutcome {
  /** Set when the operation reaches an `@auth` field: its answer is never stored. */
  restricted?: boolean;
  /** The operation's type, once Apollo has resolved it. */
  operation?: 'query' | 'mutation' | 'subscription';
  /** Set when the response may be cached: a query, with no errors, and its cache policy. */
  cacheable?: ResponsePolicy;
  /** Why a query's response may not be stored (the metrics' refusal reasons). */
  refused?: 'errors' | 'private' | 'max_age_zero';
}

/** What every resolver gets. Resolvers reach data only through the loaders. */
export interface RequestContext {
  readonly loaders: Loaders;
  readonly mutations: Mutations;
  readonly viewer: Viewer;
  /** The tags of every entity and list this request read: a stored response carries them. */
  readonly touched: Set<string>;
  readonly outcome: ExecutionOutcome;
  /** A debug request's cache report (CACHE_DEBUG): its response gets `extensions.cache`. */
  readonly cacheReport?: RequestCacheReport;
}

/** Called once per request: fresh L1 loaders over the process-wide tiers, observed for `cacheReport` when given. */
export function createContext(deps: LoaderDeps, mutations: (loaders: Loaders, viewer: Viewer) => Mutations, request: { viewer: Viewer; cacheReport?: RequestCacheReport | undefined }): RequestContext {
  const { viewer, cacheReport } = request;
  const touched = new Set<string>();
  const loaders = createLoaders(deps, touched, cacheReport);
  return { loaders, mutations: mutations(loaders, viewer), viewer, touched, outcome: {}, ...(cacheReport ? { cacheReport } : {}) };
}
