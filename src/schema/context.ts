import { createLoaders, type LoaderDeps, type Loaders } from '../loaders/loaders.ts';

/** What every resolver gets: this request's loaders. Resolvers reach data only through them. */
export interface RequestContext {
  readonly loaders: Loaders;
}

/** Called once per request: fresh L1 loaders over the process-wide tiers. */
export function createContext(deps: LoaderDeps): RequestContext {
  return { loaders: createLoaders(deps) };
}
