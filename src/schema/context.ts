import type { NewProduct, NewReview, ProductPatch } from '../catalog/writeInputs.ts';
import type { ProductRecord, ReviewRecord } from '../catalog/records.ts';
import { createLoaders, type LoaderDeps, type Loaders } from '../loaders/loaders.ts';

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

/** What every resolver gets: this request's loaders. Resolvers reach data only through them. */
export interface RequestContext {
  readonly loaders: Loaders;
  readonly mutations: Mutations;
}

/** Called once per request: fresh L1 loaders over the process-wide tiers. */
export function createContext(deps: LoaderDeps, mutations: (loaders: Loaders) => Mutations): RequestContext {
  const loaders = createLoaders(deps);
  return { loaders, mutations: mutations(loaders) };
}
