import type { GraphQLSchema } from 'graphql';
import { absentTtlSeconds, entityGraceSeconds, entityTtlSeconds, listGraceSeconds, listTtlSeconds } from '../cache/policy.ts';
import { shapeVersion } from '../cache/codec.ts';
import type { CachedKind } from '../cache/entry.ts';
import { categoryShape, idListShape, productShape, reviewShape, userShape, type CategoryRecord, type IdList, type ProductRecord, type ReviewRecord, type UserRecord } from './records.ts';

/** Everything the API caches, with TTLs read from the schema's `@cacheControl` once, at startup. */
export interface CachedKinds {
  readonly Product: CachedKind<ProductRecord>;
  readonly Category: CachedKind<CategoryRecord>;
  readonly Review: CachedKind<ReviewRecord>;
  readonly User: CachedKind<UserRecord>;
  readonly 'Query.products': CachedKind<IdList>;
  readonly 'Query.categories': CachedKind<IdList>;
  readonly 'Category.products': CachedKind<IdList>;
  readonly 'Product.reviews': CachedKind<IdList>;
}

export function cachedKindsFromSchema(schema: GraphQLSchema, options: { absentTtlSeconds: number; graceEnabled?: boolean }): CachedKinds {
  const grace = (seconds: number) => (options.graceEnabled === false ? 0 : seconds);
  function entity<V>(name: string, shape: CachedKind<V>['shape'], versionOf?: (value: V) => number): CachedKind<V> {
    const ttl = entityTtlSeconds(schema, name);
    return {
      name,
      shape,
      shapeVersion: shapeVersion(shape),
      ttlSeconds: ttl,
      absentTtlSeconds: absentTtlSeconds(ttl, options.absentTtlSeconds),
      graceSeconds: grace(entityGraceSeconds(schema, name)),
      ...(versionOf ? { versionOf } : {}),
    };
  }
  function list(parent: string, field: string): CachedKind<IdList> {
    // Lists are never absent: an empty list is a value.
    return {
      name: `${parent}.${field}`,
      shape: idListShape,
      shapeVersion: shapeVersion(idListShape),
      ttlSeconds: listTtlSeconds(schema, parent, field),
      absentTtlSeconds: 0,
      graceSeconds: grace(listGraceSeconds(schema, parent, field)),
    };
  }
  return {
    // Products are the only rows updated in place; their version orders concurrent writes.
    Product: entity('Product', productShape, (product) => product.version),
    Category: entity('Category', categoryShape),
    // Reviews are only ever created or deleted: a deletion's tombstone is their only other version.
    Review: entity('Review', reviewShape),
    User: entity('User', userShape),
    'Query.products': list('Query', 'products'),
    'Query.categories': list('Query', 'categories'),
    'Category.products': list('Category', 'products'),
    'Product.reviews': list('Product', 'reviews'),
  };
}
