import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_KEY_DEPTH } from '../../src/cache/keys.ts';
import { paramsFromSearch, requestIdentity } from '../../src/responses/requestIdentity.ts';

const QUERY = '{ product(id: "1") { id } }';
const HASH = createHash('sha256').update(QUERY).digest('hex');
const apq = (sha256Hash: string) => ({ persistedQuery: { version: 1, sha256Hash } });
const id = (params: Record<string, unknown>, accept?: string) => requestIdentity({ query: undefined, variables: undefined, operationName: undefined, extensions: undefined, ...params }, accept)?.hash;

describe('request identity', () => {
  it('variables in any key order, at any depth, are the same request', () => {
    expect(id({ query: QUERY, variables: { a: 1, b: { x: 1, y: 2 } } })).toBe(id({ query: QUERY, variables: { b: { y: 2, x: 1 }, a: 1 } }));
    expect(id({ query: QUERY, variables: { a: 1 } })).not.toBe(id({ query: QUERY, variables: { a: 2 } }));
    expect(id({ query: QUERY, variables: {} })).toBe(id({ query: QUERY }));
  });

  it('operation name, query text and Accept each change it', () => {
    const base = id({ query: QUERY });
    expect(id({ query: QUERY, operationName: 'A' })).not.toBe(base);
    expect(id({ query: `${QUERY} ` })).not.toBe(base);
    expect(id({ query: QUERY }, 'application/graphql-response+json')).not.toBe(base);
  });

  it('a hash-only APQ request is the request that registered it', () => {
    expect(id({ extensions: apq(HASH) })).toBe(id({ query: QUERY }));
    expect(id({ query: QUERY, extensions: apq(HASH) })).toBe(id({ query: QUERY }));
  });

  it('has none for what Apollo must answer: mismatched hash, malformed parts, possible mutations', () => {
    expect(id({ query: QUERY, extensions: apq('0'.repeat(64)) })).toBeUndefined();
    expect(id({ extensions: { persistedQuery: { version: 2, sha256Hash: HASH } } })).toBeUndefined();
    expect(id({ extensions: apq('nothex') })).toBeUndefined();
    // Apollo compares hashes exactly: an upper-case one does not match the query it names.
    expect(id({ query: QUERY, extensions: apq(HASH.toUpperCase()) })).toBeUndefined();
    expect(id({ extensions: apq(HASH.toUpperCase()) })).toBeUndefined();
    expect(id({})).toBeUndefined();
    expect(id({ query: 42 })).toBeUndefined();
    expect(id({ query: QUERY, variables: [1] })).toBeUndefined();
    expect(id({ query: QUERY, operationName: 7 })).toBeUndefined();
    expect(id({ query: 'mutation { deleteProduct(id: "1") }' })).toBeUndefined();
    expect(id({ query: 'query A { a } mutation B { b }', operationName: 'A' })).toBeUndefined();
  });

  it('every variable name is data: __proto__, constructor and toString never collide', () => {
    const query = 'query P($__proto__: ID!) { product(id: $__proto__) { id name } }';
    const vars = (json: string) => id({ query, variables: JSON.parse(json) });
    const samples = [
      vars('{"__proto__":"1"}'),
      vars('{"__proto__":"2"}'),
      vars('{"input":{"__proto__":{"id":"1"}}}'),
      vars('{"input":{"__proto__":{"id":"2"}}}'),
      vars('{"constructor":"1"}'),
      vars('{"toString":"1"}'),
      vars('{}'),
    ];
    expect(samples.every((hash) => typeof hash === 'string')).toBe(true);
    expect(new Set(samples).size).toBe(samples.length);
    const params = paramsFromSearch(new URLSearchParams({ query, variables: '{"__proto__":"2"}' }));
    expect(params && requestIdentity(params, undefined)?.hash).toBe(vars('{"__proto__":"2"}'));
  });

  it('has none, and never throws, for variables no key can hold: non-finite numbers, too deep a nesting', () => {
    // JSON.parse reads 1e999 as Infinity; a body can nest as deep as its size allows.
    expect(id({ query: QUERY, variables: JSON.parse('{"x":1e999}') })).toBeUndefined();
    expect(id({ query: QUERY, variables: JSON.parse('{"x":[-1e999]}') })).toBeUndefined();
    const deep = `{"unused":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expect(id({ query: QUERY, variables: JSON.parse(deep) })).toBeUndefined();
    expect(id({ query: QUERY, variables: JSON.parse(`{"x":${'{"a":'.repeat(MAX_KEY_DEPTH)}1${'}'.repeat(MAX_KEY_DEPTH)}}`) })).toBeUndefined();
    const params = paramsFromSearch(new URLSearchParams({ query: QUERY, variables: '{"x":1e999}' }));
    expect(params && requestIdentity(params, undefined)).toBeUndefined();
  });

  it('variables nested as deep as real inputs go are still one request', () => {
    const input = (leaf: number) => JSON.parse(`${'{"a":'.repeat(16)}${leaf}${'}'.repeat(16)}`);
    expect(id({ query: QUERY, variables: { input: input(1) } })).toBeTypeOf('string');
    expect(id({ query: QUERY, variables: { input: input(1) } })).not.toBe(id({ query: QUERY, variables: { input: input(2) } }));
  });

  it('strings that differ only in a lone surrogate are different requests, or have none', () => {
    expect(id({ query: QUERY, variables: { s: '\uD800' } })).not.toBe(id({ query: QUERY, variables: { s: '\uD801' } }));
    expect(id({ query: QUERY, operationName: '\uD800' })).not.toBe(id({ query: QUERY, operationName: '\uD801' }));
    // The document is hashed as UTF-8, which turns every lone surrogate into U+FFFD: such a query
    // (a syntax error for Apollo anyway) has no identity.
    expect(id({ query: `${QUERY} # \uD800` })).toBeUndefined();
    expect(id({ query: `${QUERY} # \uD83D\uDE00` })).toBeTypeOf('string');
  });

  it('reads a GET query string; malformed JSON in it has no identity', () => {
    const params = paramsFromSearch(new URLSearchParams({ query: QUERY, variables: '{"b":2,"a":1}' }));
    expect(params && requestIdentity(params, undefined)?.hash).toBe(id({ query: QUERY, variables: { a: 1, b: 2 } }));
    expect(paramsFromSearch(new URLSearchParams({ query: QUERY, variables: '{oops' }))).toBeUndefined();
    expect(paramsFromSearch(new URLSearchParams({ extensions: 'nope' }))).toBeUndefined();
  });
});
