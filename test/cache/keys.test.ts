import { describe, expect, it } from 'vitest';
import { CacheKeys, canonicalEncode, KEY_FORMAT_VERSION } from '../../src/cache/keys.ts';

const Product = { name: 'Product', shapeVersion: 'aaaa1111' };
const Review = { name: 'Review', shapeVersion: 'aaaa1111' };
const ProductPages = { name: 'Query.products', shapeVersion: 'bbbb2222' };
const ReviewPages = { name: 'Product.reviews', shapeVersion: 'bbbb2222' };

describe('cache keys', () => {
  const keys = new CacheKeys('app:');

  it('are deterministic and carry the prefix and the format version', () => {
    expect(keys.entity(Product, 7)).toBe(keys.entity(Product, 7));
    expect(keys.entity(Product, 7).startsWith(`app:${KEY_FORMAT_VERSION}:`)).toBe(true);
    expect(keys.keyspace).toBe(`app:${KEY_FORMAT_VERSION}:`);
  });

  it('encode arguments canonically: order of names does not matter, undefined is absent', () => {
    expect(keys.list(ProductPages, null, { first: 20, after: 3, categoryId: null })).toBe(
      keys.list(ProductPages, null, { categoryId: null, after: 3, first: 20 }),
    );
    expect(canonicalEncode({ a: 1, b: undefined })).toBe(canonicalEncode({ a: 1 }));
    expect(canonicalEncode({ a: null })).not.toBe(canonicalEncode({}));
  });

  it('are unambiguous: values containing separators or quotes never collide', () => {
    const samples = [
      canonicalEncode(['a:b', 'c']),
      canonicalEncode(['a', 'b:c']),
      canonicalEncode(['a"', 'b']),
      canonicalEncode(['a', '"b']),
      canonicalEncode([1, '1']),
      canonicalEncode(['1', 1]),
      canonicalEncode([[1], 1]),
      canonicalEncode([1, [1]]),
      canonicalEncode({ a: [1] }),
      canonicalEncode([['a', 1]]),
    ];
    expect(new Set(samples).size).toBe(samples.length);
    expect(keys.entity(Product, 1)).not.toBe(keys.entity(Review, 1));
    expect(keys.list(ReviewPages, 1, { first: 10 })).not.toBe(keys.list(ReviewPages, 1, { first: 1 }));
  });

  it('never contain a brace, so no key forms a Redis Cluster hash tag', () => {
    const key = keys.list(ProductPages, null, { first: 20, note: 'a{b}c' });
    expect(key).not.toMatch(/[{}]/);
    // The escape keeps the encoding one-to-one with the JSON it stands for.
    const json = key.slice(keys.keyspace.length).replaceAll('\\u007b', '{').replaceAll('\\u007d', '}');
    expect(JSON.parse(json)).toEqual(['l', 'Query.products', 'bbbb2222', null, { first: 20, note: 'a{b}c' }]);
  });

  it('change with the shape version of their kind, so entries of an old shape are never read', () => {
    expect(keys.entity(Product, 7)).not.toBe(keys.entity({ ...Product, shapeVersion: 'cccc3333' }, 7));
    expect(keys.list(ReviewPages, 7, { first: 1 })).not.toBe(keys.list({ ...ReviewPages, shapeVersion: 'x' }, 7, { first: 1 }));
  });

  it('refuse non-finite numbers rather than encoding them as null', () => {
    expect(() => canonicalEncode([Number.NaN])).toThrow(TypeError);
    expect(() => canonicalEncode({ first: Number.POSITIVE_INFINITY })).toThrow(/finite/);
  });

  it('give each tag its own generation key, distinct from every entity and list key', () => {
    expect(keys.tag('Product:7')).toBe(keys.tag('Product:7'));
    expect(keys.tag('Product:7').startsWith(keys.keyspace)).toBe(true);
    const samples = [
      keys.tag('Product'),
      keys.tag('Product:7'),
      keys.tag('Product:70'),
      keys.tag('Category:5:products'),
      keys.tag('Query.products'),
      keys.entity(Product, 7),
      keys.list(ProductPages, null, {}),
      keys.lease(keys.entity(Product, 7)),
    ];
    expect(new Set(samples).size).toBe(samples.length);
    expect(keys.tag('a{b}')).not.toMatch(/[{}]/);
  });

  it('give each cache key its own lease key, brace-free even when the key had escaped braces', () => {
    const listKey = keys.list(ProductPages, null, { note: 'a{b}c' });
    expect(keys.lease(listKey)).toBe(keys.lease(listKey));
    expect(keys.lease(listKey)).not.toBe(listKey);
    expect(keys.lease(listKey).startsWith(keys.keyspace)).toBe(true);
    expect(keys.lease(listKey)).not.toMatch(/[{}]/);
    expect(keys.lease(keys.entity(Product, 1))).not.toBe(keys.lease(keys.entity(Product, 2)));
  });

  it('name an invalidation channel inside the keyspace, one per prefix', () => {
    expect(keys.invalidationChannel.startsWith(keys.keyspace)).toBe(true);
    expect(keys.invalidationChannel).toBe(new CacheKeys('app:').invalidationChannel);
    expect(keys.invalidationChannel).not.toBe(new CacheKeys('other:').invalidationChannel);
    expect(keys.invalidationChannel).not.toMatch(/[{}]/);
  });
});
