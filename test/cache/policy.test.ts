import { describe, expect, it } from 'vitest';
import { buildSchema as sdlSchema } from 'graphql';
import { absentTtlSeconds, entityGraceSeconds, entityTtlSeconds, listGraceSeconds, listTtlSeconds, readCacheHint } from '../../src/cache/policy.ts';
import { buildSchema } from '../../src/schema/schema.ts';

const DIRECTIVE = `enum CacheControlScope { PUBLIC PRIVATE }
directive @cacheControl(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
directive @cacheGrace(staleWhileRevalidate: Int!) on OBJECT`;

describe('data TTLs from @cacheControl', () => {
  const schema = buildSchema();

  it('an entity lives as long as its type says, capped by its most volatile scalar field', () => {
    // Product says 300, but stock says 10 and the cached row holds stock.
    expect(entityTtlSeconds(schema, 'Product')).toBe(10);
    expect(entityTtlSeconds(schema, 'Category')).toBe(3600);
    expect(entityTtlSeconds(schema, 'Review')).toBe(120);
    expect(entityTtlSeconds(schema, 'User')).toBe(600);
  });

  it('a list lives as long as the type it returns, ignoring the items’ scalar hints', () => {
    expect(listTtlSeconds(schema, 'Query', 'products')).toBe(300);
    expect(listTtlSeconds(schema, 'Category', 'products')).toBe(300);
    expect(listTtlSeconds(schema, 'Product', 'reviews')).toBe(120);
    expect(listTtlSeconds(schema, 'Query', 'categories')).toBe(3600);
  });

  it('a field hint on the list field wins over its type; no hint anywhere means 0 (not cached)', () => {
    const custom = sdlSchema(`${DIRECTIVE}
      type Query { a: [Item!]! @cacheControl(maxAge: 5) b: [Item!]! c: [Plain!]! }
      type Item @cacheControl(maxAge: 50) { id: ID! }
      type Plain { id: ID! }`);
    expect(listTtlSeconds(custom, 'Query', 'a')).toBe(5);
    expect(listTtlSeconds(custom, 'Query', 'b')).toBe(50);
    expect(listTtlSeconds(custom, 'Query', 'c')).toBe(0);
    expect(entityTtlSeconds(custom, 'Plain')).toBe(0);
  });

  it('object fields do not cap the entity: they are loaded and cached on their own', () => {
    const custom = sdlSchema(`${DIRECTIVE}
      type Query { a: A }
      type A @cacheControl(maxAge: 100) { id: ID! b: B @cacheControl(maxAge: 1) n: Int @cacheControl(maxAge: 40) }
      type B { id: ID! }`);
    expect(entityTtlSeconds(custom, 'A')).toBe(40);
  });

  it('reads scope and inheritMaxAge as Apollo does', () => {
    const custom = sdlSchema(`${DIRECTIVE}
      type Query { me: U @cacheControl(maxAge: 60, scope: PRIVATE) x: U @cacheControl(inheritMaxAge: true) }
      type U { id: ID! }`);
    const fields = custom.getQueryType()!.getFields();
    expect(readCacheHint(fields.me!)).toEqual({ maxAge: 60, scope: 'PRIVATE' });
    expect(readCacheHint(fields.x!)).toEqual({ inheritMaxAge: true });
  });

  it('an absent marker never outlives the entity nor the configured bound', () => {
    expect(absentTtlSeconds(10, 30)).toBe(10);
    expect(absentTtlSeconds(600, 30)).toBe(30);
  });

  it('names a type or field that is not in the schema', () => {
    expect(() => entityTtlSeconds(schema, 'Nope')).toThrow(/Nope is not an object type/);
    expect(() => listTtlSeconds(schema, 'Product', 'nope')).toThrow(/Product.nope is not in the schema/);
  });
});

describe('grace from @cacheGrace', () => {
  const schema = buildSchema();

  it('an entity may be served stale for its type’s staleWhileRevalidate', () => {
    expect(entityGraceSeconds(schema, 'Product')).toBe(30);
    expect(entityGraceSeconds(schema, 'Category')).toBe(600);
    expect(entityGraceSeconds(schema, 'Review')).toBe(60);
    expect(entityGraceSeconds(schema, 'User')).toBe(600);
  });

  it('a list has the grace of the type it returns', () => {
    expect(listGraceSeconds(schema, 'Query', 'products')).toBe(30);
    expect(listGraceSeconds(schema, 'Category', 'products')).toBe(30);
    expect(listGraceSeconds(schema, 'Product', 'reviews')).toBe(60);
    expect(listGraceSeconds(schema, 'Query', 'categories')).toBe(600);
  });

  it('no directive, or a value that is not positive, means no grace', () => {
    const custom = sdlSchema(`${DIRECTIVE}
      type Query { plain: [Plain!]! graced: [Graced!]! zero: [Zero!]! negative: Negative names: [String!]! }
      type Plain @cacheControl(maxAge: 50) { id: ID! }
      type Graced @cacheControl(maxAge: 50) @cacheGrace(staleWhileRevalidate: 7) { id: ID! }
      type Zero @cacheGrace(staleWhileRevalidate: 0) { id: ID! }
      type Negative @cacheGrace(staleWhileRevalidate: -5) { id: ID! }`);
    expect(entityGraceSeconds(custom, 'Plain')).toBe(0);
    expect(entityGraceSeconds(custom, 'Graced')).toBe(7);
    expect(entityGraceSeconds(custom, 'Zero')).toBe(0);
    expect(entityGraceSeconds(custom, 'Negative')).toBe(0);
    expect(listGraceSeconds(custom, 'Query', 'plain')).toBe(0);
    expect(listGraceSeconds(custom, 'Query', 'graced')).toBe(7);
    expect(listGraceSeconds(custom, 'Query', 'names')).toBe(0);
  });

  it('names a type or field that is not in the schema', () => {
    expect(() => entityGraceSeconds(schema, 'Nope')).toThrow(/Nope is not an object type/);
    expect(() => listGraceSeconds(schema, 'Product', 'nope')).toThrow(/Product.nope is not in the schema/);
  });
});
