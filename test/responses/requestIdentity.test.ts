import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { paramsFromSearch, requestIdentity } from '../../src/responses/requestIdentity.ts';

const QUERY = '{ product(id: "1") { id } }';
const HASH = createHash('sha256').update(QUERY).digest('hex');
const apq = (sha256Hash: string) => ({ persistedQuery: { version: 1, sha256Hash } });
const id = (params: Record<string, unknown>, accept?: string) =>
  requestIdentity({ query: undefined, variables: undefined, operationName: undefined, extensions: undefined, ...params }, accept)?.hash;

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
    expect(id({ extensions: apq(HASH.toUpperCase()) })).toBe(id({ query: QUERY }));
  });

  it('has none for what Apollo must answer: mismatched hash, malformed parts, possible mutations', () => {
    expect(id({ query: QUERY, extensions: apq('0'.repeat(64)) })).toBeUndefined();
    expect(id({ extensions: { persistedQuery: { version: 2, sha256Hash: HASH } } })).toBeUndefined();
    expect(id({ extensions: apq('nothex') })).toBeUndefined();
    expect(id({})).toBeUndefined();
    expect(id({ query: 42 })).toBeUndefined();
    expect(id({ query: QUERY, variables: [1] })).toBeUndefined();
    expect(id({ query: QUERY, operationName: 7 })).toBeUndefined();
    expect(id({ query: 'mutation { deleteProduct(id: "1") }' })).toBeUndefined();
    expect(id({ query: 'query A { a } mutation B { b }', operationName: 'A' })).toBeUndefined();
  });

  it('reads a GET query string; malformed JSON in it has no identity', () => {
    const params = paramsFromSearch(new URLSearchParams({ query: QUERY, variables: '{"b":2,"a":1}' }));
    expect(params && requestIdentity(params, undefined)?.hash).toBe(id({ query: QUERY, variables: { a: 1, b: 2 } }));
    expect(paramsFromSearch(new URLSearchParams({ query: QUERY, variables: '{oops' }))).toBeUndefined();
    expect(paramsFromSearch(new URLSearchParams({ extensions: 'nope' }))).toBeUndefined();
  });
});
