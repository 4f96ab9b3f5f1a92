import { describe, expect, it } from 'vitest';
import { NESTED_QUERY, useTestApp } from '../support/testApp.ts';

/** The Cache-Control header a query gets, by Apollo's rules over the schema's @cacheControl. */
describe('Cache-Control from @cacheControl', () => {
  const app = useTestApp();

  it.each([
    ['a product’s static fields: Product’s 300', '{ product(id: 1) { id name priceCents } }', 'max-age=300, public'],
    ['stock lowers it to 10', '{ product(id: 1) { id stock } }', 'max-age=10, public'],
    ['viewCount lowers it to 30', '{ product(id: 1) { viewCount } }', 'max-age=30, public'],
    ['categories: 3600', '{ categories { id name } }', 'max-age=3600, public'],
    ['a user: 600', '{ user(id: 1) { id name } }', 'max-age=600, public'],
    ['the nested query: the lowest, Review’s 120', NESTED_QUERY, 'max-age=120, public'],
    ['a category’s products with stock: 10', '{ category(id: 1) { products(first: 2) { id stock } } }', 'max-age=10, public'],
    ['a review’s product and author: 120', '{ product(id: 2) { reviews(first: 1) { product { id } author { name } } } }', 'max-age=120, public'],
    ['a root scalar defaults to 0: not cacheable', '{ __typename }', 'no-store'],
    ['an error: not cacheable', '{ product(id: "abc") { id } }', 'no-store'],
    ['an unknown id: not cacheable', '{ product(id: 99999) { id } }', 'no-store'],
  ])('%s', async (_, query, expected) => {
    const result = await app().query(query);
    expect(result.status).toBe(200);
    expect(result.headers.get('cache-control')).toBe(expected);
  });
});
