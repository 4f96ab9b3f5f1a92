import { describe, expect, it } from 'vitest';
import { NESTED_QUERY, useTestApp } from '../support/testApp.ts';

/**
 * The Cache-Control header a query gets: the lifetime (for shared caches, s-maxage) and scope by
 * Apollo's rules over the schema's @cacheControl, and the lowest stale-while-revalidate
 * (@cacheGrace), stale-if-error, s-maxage and browser max-age (@httpCache) of the types it touched,
 * each only when every touched type has one. Without a browserMaxAge, the browser revalidates.
 */
describe('Cache-Control from @cacheControl', () => {
  const app = useTestApp();

  it.each([
    ['a product’s static fields: Product’s 300', '{ product(id: 1) { id name priceCents } }', 'public, max-age=0, must-revalidate, s-maxage=300, stale-while-revalidate=30, stale-if-error=600'],
    ['stock lowers it to 10', '{ product(id: 1) { id stock } }', 'public, max-age=0, must-revalidate, s-maxage=10, stale-while-revalidate=30, stale-if-error=600'],
    ['viewCount lowers it to 30', '{ product(id: 1) { viewCount } }', 'public, max-age=0, must-revalidate, s-maxage=30, stale-while-revalidate=30, stale-if-error=600'],
    ['categories: 3600, but 7200 at a CDN and 600 in a browser', '{ categories { id name } }', 'public, max-age=600, must-revalidate, s-maxage=7200, stale-while-revalidate=600, stale-if-error=86400'],
    ['a user: 600', '{ user(id: 1) { id name } }', 'public, max-age=0, must-revalidate, s-maxage=600, stale-while-revalidate=600, stale-if-error=3600'],
    ['the nested query: the lowest, Review’s 120', NESTED_QUERY, 'public, max-age=0, must-revalidate, s-maxage=120, stale-while-revalidate=30, stale-if-error=600'],
    ['a category’s products with stock: 10', '{ category(id: 1) { products(first: 2) { id stock } } }', 'public, max-age=0, must-revalidate, s-maxage=10, stale-while-revalidate=30, stale-if-error=600'],
    [
      'a review’s product and author: 120',
      '{ product(id: 2) { reviews(first: 1) { product { id } author { name } } } }',
      'public, max-age=0, must-revalidate, s-maxage=120, stale-while-revalidate=30, stale-if-error=600',
    ],
    ['a private field makes it private: only the browser keeps it, and revalidates it', '{ categories { id } user(id: 1) { email } }', 'private, no-cache'],
    ['me: private, revalidated', '{ me { id } }', 'private, no-cache'],
    ['a mutation: no-store', 'mutation { recordProductView(id: "1") }', 'no-store'],
    ['a root scalar defaults to 0: not cacheable', '{ __typename }', 'no-store'],
    ['an error: not cacheable', '{ product(id: "abc") { id } }', 'no-store'],
    ['an unknown id: not cacheable', '{ product(id: 99999) { id } }', 'no-store'],
  ])('%s', async (_, query, expected) => {
    const result = await app().query(query);
    expect(result.status).toBe(200);
    expect(result.headers.get('cache-control')).toBe(expected);
  });
});
