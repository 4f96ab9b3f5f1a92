import { getIntrospectionQuery, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { OperationCost, UNDECLARED_LIST_SIZE } from '../../src/limits/operationCost.ts';
import { buildSchema } from '../../src/schema/schema.ts';

describe('operation cost: every field costs 1, a long text its weight, and lists multiply by their size', () => {
  const cost = new OperationCost(buildSchema());
  const of = (query: string, variables: Record<string, unknown> = {}, operationName?: string) => cost.of(parse(query), operationName, variables);

  it('counts every field, object or scalar; __typename is free', () => {
    expect(of('{ product(id: "1") { id name priceCents } }')).toBe(1 + 3);
    expect(of('{ product(id: "1") { id category { id } } }')).toBe(1 + 1 + 2);
    expect(of('{ __typename }')).toBe(0);
  });

  it('multiplies a list by its `first`, given, by variable or by the schema default', () => {
    expect(of('{ products(first: 100) { id } }')).toBe(100 * 2);
    expect(of('query($n: Int) { products(first: $n) { id } }', { n: 7 })).toBe(7 * 2);
    // Default values: products 20, reviews 10.
    expect(of('{ products { id } }')).toBe(20 * 2);
    expect(of('{ product(id: "1") { reviews { id } } }')).toBe(1 + 10 * 2);
    expect(of('{ products(first: 100) { reviews(first: 100) { id } } }')).toBe(100 * (1 + 100 * 2));
    expect(of('{ products(first: 20) { category { id } reviews { author { id } } } }')).toBe(20 * (1 + 2 + 10 * (1 + 2)));
    // The read path's nested query, with review bodies: within the budget.
    expect(of('{ products(first: 20) { id name priceCents category { id name } reviews { id rating body author { id name } } } }')).toBe(20 * (1 + 3 + 3 + 10 * (1 + 2 + 10 + 3)));
  });

  it('charges a long text its declared weight, so text-heavy pages cost what they may weigh', () => {
    expect(of('{ product(id: "1") { description } }')).toBe(1 + 10);
    expect(of('{ products(first: 20) { reviews { body } } }')).toBe(20 * (1 + 10 * (1 + 10)));
    // The reviewer's attack: 4,900 bodies of up to 5,000 characters, once priced at exactly 5,000.
    expect(of('{ products(first: 100) { reviews(first: 49) { body } } }')).toBe(100 * (1 + 49 * 11));
  });

  it('prices introspection at nothing: it is the schema’s own, bounded size', () => {
    expect(of(getIntrospectionQuery())).toBe(0);
  });

  it('uses assumedSize for a list without a slicing argument, and the largest page for an undeclared one', () => {
    expect(of('{ categories { id } }')).toBe(100 * 2);
    expect(UNDECLARED_LIST_SIZE).toBe(100);
  });

  it('makes the issue’s attack, a depth-15 product -> reviews -> product chain, cost far beyond any budget', () => {
    let selection = 'id';
    for (let i = 0; i < 7; i++) selection = `reviews(first: 100) { product { ${selection} } }`;
    expect(of(`{ product(id: "1") { ${selection} } }`)).toBeGreaterThan(1e13);
  });

  it('counts fragments and inline fragments as what they expand to, and only the chosen operation', () => {
    const document = `
      query A { products(first: 10) { ...P } }
      query B { product(id: "1") { id } }
      fragment P on Product { category { id } ... on Product { reviews(first: 2) { id } } }`;
    expect(of(document, {}, 'A')).toBe(10 * (1 + 2 + 2 * 2));
    expect(of(document, {}, 'B')).toBe(2);
  });

  it('leaves variables that do not fit the operation to execution, which names them', () => {
    expect(of('query($n: Int!) { products(first: $n) { id } }', {})).toBeUndefined();
    expect(of('query($n: Int) { products(first: $n) { id } }', { n: 'many' })).toBeUndefined();
  });

  it('refuses, as over any budget, a fragment fan-out too large to walk', () => {
    // Each fragment spreads the next twice: 2^16 paths from a document of a few hundred tokens.
    const levels = 16;
    const fragments = Array.from({ length: levels }, (_, i) =>
      i === levels - 1 ? `fragment F${i} on Product { id }` : `fragment F${i} on Product { a: category { products(first: 1) { ...F${i + 1} } } b: category { products(first: 1) { ...F${i + 1} } } }`,
    );
    expect(of(`{ products(first: 1) { ...F0 } } ${fragments.join(' ')}`)).toBe(Number.POSITIVE_INFINITY);
  });
});
