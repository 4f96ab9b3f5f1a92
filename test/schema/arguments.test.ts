import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/testApp.ts';

/** Bad arguments get a GraphQL error naming the argument, the value and the reason; nothing crashes. */
describe('argument validation', () => {
  const app = useTestApp();

  it.each([
    ['{ products(first: 0) { id } }', 'first', 'BAD_USER_INPUT', 0],
    ['{ products(first: 101) { id } }', 'first', 'BAD_USER_INPUT', 101],
    ['{ products(first: null) { id } }', 'first', 'BAD_USER_INPUT', null],
    ['{ products(after: "x1") { id } }', 'after', 'BAD_USER_INPUT', 'x1'],
    ['{ products(categoryId: "-3") { id } }', 'categoryId', 'BAD_USER_INPUT', '-3'],
    ['{ products(categoryId: "4000") { id } }', 'categoryId', 'NOT_FOUND', '4000'],
    ['{ product(id: "abc") { id } }', 'id', 'BAD_USER_INPUT', 'abc'],
    ['{ product(id: "1.5") { id } }', 'id', 'BAD_USER_INPUT', '1.5'],
    ['{ product(id: "0") { id } }', 'id', 'BAD_USER_INPUT', '0'],
    ['{ product(id: "99999999999") { id } }', 'id', 'BAD_USER_INPUT', '99999999999'],
    ['{ product(id: "424242") { id } }', 'id', 'NOT_FOUND', '424242'],
    ['{ category(id: "777") { id } }', 'id', 'NOT_FOUND', '777'],
    ['{ user(id: "x") { id } }', 'id', 'BAD_USER_INPUT', 'x'],
    ['{ product(id: 1) { reviews(first: 500) { id } } }', 'first', 'BAD_USER_INPUT', 500],
    ['{ category(id: 1) { products(first: -1) { id } } }', 'first', 'BAD_USER_INPUT', -1],
  ])('%s names %s', async (query, argument, code, value) => {
    const result = await app().query(query);
    expect(result.status).toBe(200);
    expect(result.body.errors).toHaveLength(1);
    const error = result.body.errors![0]!;
    expect(error.extensions).toMatchObject({ code, argumentName: argument, value });
    expect(error.message).toContain(`"${argument}"`);
    expect(error.message).toContain(JSON.stringify(value));
  });

  it('a bad nested argument fails only its field, not its siblings', async () => {
    const result = await app().query('{ a: product(id: 1) { id } b: product(id: "nope") { id } }');
    expect(result.body.data).toEqual({ a: { id: '1' }, b: null });
    expect(result.body.errors?.[0]?.path).toEqual(['b']);
  });

  it('an invalid id is never cached: a valid query afterwards still works', async () => {
    await app().query('{ product(id: "abc") { id } }');
    expect((await app().query('{ product(id: 5) { id sku } }')).body.data).toEqual({ product: { id: '5', sku: 'SKU-0000005' } });
  });

  it('malformed HTTP bodies get a clear 400', async () => {
    const response = await fetch(`${app().url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { errors: { message: string }[] }).errors[0]!.message).toMatch(/not valid JSON/);
  });

  it('an oversized body is refused with 413 before it is parsed', async () => {
    const query = `{ product(id: 1) { id } } # ${'x'.repeat(1024 * 1024)}`;
    const response = await fetch(`${app().url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });
    expect(response.status).toBe(413);
  });
});
