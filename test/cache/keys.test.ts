import { describe, expect, it } from 'vitest';
import { CacheKeys, canonicalEncode, KEY_FORMAT_VERSION, MAX_KEY_DEPTH, type KeyPart } from '../../src/cache/keys.ts';

const Product = { name: 'Product', shapeVersion: 'aaaa1111' };
const Review = { name: 'Review', shapeVersion: 'aaaa1111' };
const ProductPages = { name: 'Query.products', shapeVersion: 'bbbb2222' };
const ReviewPages = { name: 'Product.reviews', shapeVersion: 'bbbb2222' };
/** `levels` arrays, one inside the next, around 0. */
const nested = (levels: number): KeyPart => {
  let value: KeyPart = 0;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
};

describe('cache keys', () => {
  const keys = new CacheKeys('app:');

  it('are deterministic and carry the prefix and the format version', () => {
    expect(keys.entity(Product, 7)).toBe(keys.entity(Product, 7));
    expect(keys.entity(Product, 7).startsWith(`app:${KEY_FORMAT_VERSION}:`)).toBe(true);
    expect(keys.keyspace).toBe(`app:${KEY_FORMAT_VERSION}:`);
  });

  it('encode arguments canonically: order of names does not matter, undefined is absent', () => {
    expect(keys.list(ProductPages, null, { first: 20, after: 3, categoryId: null })).toBe(keys.list(ProductPages, null, { categoryId: null, after: 3, first: 20 }));
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

  it('treat every name as data: __proto__, constructor and toString are arguments like any other', () => {
    // JSON.parse makes `__proto__` an own property: that is how it arrives in variables.
    const samples = [
      canonicalEncode(JSON.parse('{"__proto__":"1"}') as KeyPart),
      canonicalEncode(JSON.parse('{"__proto__":"2"}') as KeyPart),
      canonicalEncode(JSON.parse('{"input":{"__proto__":{"id":"1"}}}') as KeyPart),
      canonicalEncode(JSON.parse('{"input":{"__proto__":{"id":"2"}}}') as KeyPart),
      canonicalEncode({ constructor: '1' }),
      canonicalEncode({ toString: '1' }),
      canonicalEncode({ hasOwnProperty: '1' }),
      canonicalEncode({}),
    ];
    expect(new Set(samples).size).toBe(samples.length);
    expect(canonicalEncode(JSON.parse('{"b":1,"__proto__":"1"}') as KeyPart)).toBe(canonicalEncode(JSON.parse('{"__proto__":"1","b":1}') as KeyPart));
  });

  it('write objects as JSON with names in code-unit order and braces escaped (the v2 layout)', () => {
    expect(KEY_FORMAT_VERSION).toBe('v2');
    expect(canonicalEncode({ b: 1, a: [true, null, 'x'], 10: 'ten', 2: 'two' })).toBe('\\u007b"10":"ten","2":"two","a":[true,null,"x"],"b":1\\u007d');
    expect(canonicalEncode(['e', 'Product', 'aaaa1111', 7])).toBe('["e","Product","aaaa1111",7]');
  });

  it(`encode values nested up to ${MAX_KEY_DEPTH} levels and refuse deeper ones with a TypeError, at any depth without overflowing the stack`, () => {
    expect(canonicalEncode(nested(MAX_KEY_DEPTH))).toBe(`${'['.repeat(MAX_KEY_DEPTH)}0${']'.repeat(MAX_KEY_DEPTH)}`);
    expect(() => canonicalEncode(nested(MAX_KEY_DEPTH + 1))).toThrow(TypeError);
    expect(() => canonicalEncode({ a: nested(MAX_KEY_DEPTH) })).toThrow(/deeper/);
    expect(() => canonicalEncode(nested(100_000))).toThrow(TypeError);
  });

  it('write -0 as 0, as JSON does, and every other finite number exactly', () => {
    expect(canonicalEncode(-0)).toBe(canonicalEncode(0));
    const samples = [0, 5e-324, -5e-324, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, 1e308, 1.7976931348623157e308, 0.1, 0.30000000000000004];
    expect(new Set(samples.map((n) => canonicalEncode(n))).size).toBe(samples.length);
  });

  it('refuse what is not JSON data rather than encoding it as something that is', () => {
    expect(() => canonicalEncode(10n as unknown as KeyPart)).toThrow(TypeError);
    expect(() => canonicalEncode([() => 1] as unknown as KeyPart)).toThrow(TypeError);
    expect(() => canonicalEncode({ at: new Date(0) } as unknown as KeyPart)).toThrow(TypeError);
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
