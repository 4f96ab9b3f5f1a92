import type { CachedKind } from '../cache/entry.ts';
import type { CacheKeys } from '../cache/keys.ts';
import { tags } from '../cache/tags/tags.ts';
import type { CachedKinds } from './cachedKinds.ts';
import type { ProductPage } from './queries.ts';

/** Where a cached item lives (its key) and what invalidates it (its tags). */
export interface CacheAddress {
  readonly key: string;
  readonly tags: readonly string[];
}

export type EntityTypeName = 'Product' | 'Category' | 'Review' | 'User';

/**
 * The one place that says which key and which tags each catalog item has. The loaders read with
 * them and the mutations write and invalidate with them, so the two can never disagree.
 */
export class CacheAddresses {
  constructor(
    private readonly keys: CacheKeys,
    private readonly kinds: CachedKinds,
  ) {}

  entity(typeName: EntityTypeName, id: number): CacheAddress {
    return { key: this.keys.entity(this.kinds[typeName], id), tags: [tags.entity(typeName, id), tags.type(typeName)] };
  }

  /** A page of `Category.products`; every page of one category shares its list tag. */
  productsOfCategory(categoryId: number, first: number): CacheAddress {
    return {
      key: this.keys.list(this.kinds['Category.products'], categoryId, { first }),
      tags: [tags.list('Category', categoryId, 'products'), tags.type('Product')],
    };
  }

  reviewsOfProduct(productId: number, first: number): CacheAddress {
    return {
      key: this.keys.list(this.kinds['Product.reviews'], productId, { first }),
      tags: [tags.list('Product', productId, 'reviews'), tags.type('Review')],
    };
  }

  productPage(page: ProductPage): CacheAddress {
    return { key: this.keys.list(this.kinds['Query.products'], null, { ...page }), tags: [tags.rootList('products'), tags.type('Product')] };
  }

  /**
   * How long an invalidated tag's generation must be kept, in ms: the longest lifetime (TTL, or
   * absent TTL, plus grace) of any entry that carries it, plus a margin for clock drift between
   * instances. No longer, so that tag keys of deleted rows go away soon (see RedisTier).
   */
  tagLifetimeMs(tag: string): number {
    return (Math.max(...this.kindsCarrying(tag).map(lifetimeSeconds)) + TAG_MARGIN_SECONDS) * 1000;
  }

  allCategories(): CacheAddress {
    return { key: this.keys.list(this.kinds['Query.categories'], null, {}), tags: [tags.rootList('categories'), tags.type('Category')] };
  }

  /** The kinds whose entries may carry `tag`, read back from the tag's form (see tags.ts). */
  private kindsCarrying(tag: string): CachedKind<unknown>[] {
    const all = Object.values(this.kinds) as CachedKind<unknown>[];
    const root = /^Query\.(\w+)$/.exec(tag);
    if (root) return all.filter((kind) => kind.name === tag);
    const [typeName, id, field] = tag.split(':');
    if (field !== undefined) return all.filter((kind) => kind.name === `${typeName}.${field}`);
    if (id !== undefined) return all.filter((kind) => kind.name === typeName);
    // A type tag is on every entity and list of the type: keep it as long as the longest of all.
    return all;
  }
}

// Private:

const TAG_MARGIN_SECONDS = 60;

function lifetimeSeconds(kind: CachedKind<unknown>): number {
  return Math.max(kind.ttlSeconds, kind.absentTtlSeconds) + kind.graceSeconds;
}
