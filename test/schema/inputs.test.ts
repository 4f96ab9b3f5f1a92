import { describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.ts';
import { ForbiddenError, InvalidArgumentError } from '../../src/errors.ts';
import type { CreateProductInput, CreateReviewInput, UpdateProductInput } from '../../src/generated/graphql.ts';
import { INPUT_BOUNDS, parseNewProduct, parseNewReview, parseProductPatch } from '../../src/schema/inputs.ts';

/** Runs `parse` and returns the InvalidArgumentError it throws, failing the test if it throws none. */
function rejection(parse: () => unknown): InvalidArgumentError {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return error as InvalidArgumentError;
  }
  throw new Error('expected an InvalidArgumentError, got a parsed value');
}

function expectRejected(parse: () => unknown, argument: string, value: unknown, reason: RegExp) {
  const error = rejection(parse);
  expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argumentName: argument });
  // A long value is echoed as a preview, never whole.
  const json = JSON.stringify(value);
  expect(error.extensions['value']).toEqual(json.length <= 80 ? value : `${json.slice(0, 80)}… (${json.length} characters)`);
  expect(error.message).toContain(`"${argument}"`);
  expect(error.message).toMatch(reason);
}

const chars = (n: number, c = 'a') => c.repeat(n);

function newProduct(overrides: Partial<Record<keyof CreateProductInput, unknown>> = {}): CreateProductInput {
  return { sku: 'SKU-1', name: 'Lamp', description: 'A lamp.', priceCents: 1999, stock: 3, categoryId: '7', ...overrides } as CreateProductInput;
}

const AUTHOR: Viewer = { userId: 2, role: 'USER' };
const ADMIN: Viewer = { userId: 1, role: 'ADMIN' };

function newReview(overrides: Partial<Record<keyof CreateReviewInput, unknown>> = {}): CreateReviewInput {
  return { productId: '1', authorId: '2', rating: 4, body: 'Good.', ...overrides } as CreateReviewInput;
}

describe('parseNewProduct', () => {
  it('returns the write input, ids as numbers, strings trimmed', () => {
    expect(parseNewProduct(newProduct({ sku: ' AB_c-9 ', name: '  Lamp\u00a0', description: '\n A lamp.\nBright. \t' }))).toEqual({
      sku: 'AB_c-9',
      name: 'Lamp',
      description: 'A lamp.\nBright.',
      priceCents: 1999,
      stock: 3,
      categoryId: 7,
    });
  });

  it.each([
    ['shortest sku', { sku: 'x' }],
    ['longest sku', { sku: chars(INPUT_BOUNDS.sku.max, 'Z') }],
    ['longest name', { name: chars(200) }],
    ['name counted in characters, not UTF-16 units', { name: chars(200, '😀') }],
    ['empty description', { description: '' }],
    ['blank description', { description: '   ' }],
    ['longest description', { description: chars(5000) }],
    ['free', { priceCents: 0 }],
    ['dearest', { priceCents: 100_000_000 }],
    ['out of stock', { stock: 0 }],
    ['largest stock', { stock: 1_000_000 }],
    ['numeric categoryId', { categoryId: 12 }],
    ['largest id', { categoryId: '2147483647' }],
  ])('accepts the bound: %s', (_, overrides) => {
    expect(() => parseNewProduct(newProduct(overrides))).not.toThrow();
  });

  it.each([
    ['input.sku', '', /1 to 64 characters of A-Z/],
    ['input.sku', '   ', /1 to 64 characters of A-Z/],
    ['input.sku', chars(65, 'A'), /1 to 64 characters of A-Z/],
    ['input.sku', 'AB C', /1 to 64 characters of A-Z/],
    ['input.sku', 'AB/C', /1 to 64 characters of A-Z/],
    ['input.sku', 'ÄBC', /1 to 64 characters of A-Z/],
    ['input.sku', 'AB\nC', /1 to 64 characters of A-Z/],
    ['input.sku', 42, /1 to 64 characters of A-Z/],
    ['input.name', '', /must be 1 to 200 characters once trimmed \(it has 0\)/],
    ['input.name', ' \t\n ', /must be 1 to 200 characters once trimmed \(it has 0\)/],
    ['input.name', chars(201), /must be 1 to 200 characters once trimmed \(it has 201\)/],
    ['input.name', 'Lamp\nShade', /must be one line/],
    ['input.name', 'Lamp\u0000', /must be one line/],
    ['input.name', 'Lamp\u007f', /must be one line/],
    ['input.name', null, /must be a string/],
    ['input.description', chars(5001), /must be at most 5000 characters once trimmed \(it has 5001\)/],
    ['input.description', 'A\u0000B', /control characters other than tab and line breaks/],
    ['input.description', 'A\u001bB', /control characters other than tab and line breaks/],
    ['input.priceCents', -1, /integer from 0 to 100000000/],
    ['input.priceCents', 100_000_001, /integer from 0 to 100000000/],
    ['input.priceCents', 1.5, /integer from 0 to 100000000/],
    ['input.priceCents', Number.NaN, /integer from 0 to 100000000/],
    ['input.priceCents', '100', /integer from 0 to 100000000/],
    ['input.stock', -1, /integer from 0 to 1000000/],
    ['input.stock', 1_000_001, /integer from 0 to 1000000/],
    ['input.stock', Number.POSITIVE_INFINITY, /integer from 0 to 1000000/],
    ['input.categoryId', '0', /positive integer id/],
    ['input.categoryId', 'abc', /positive integer id/],
    ['input.categoryId', '2147483648', /positive integer id/],
    ['input.categoryId', '-4', /positive integer id/],
  ])('%s = %j is refused', (argument, value, reason) => {
    const field = argument.slice('input.'.length);
    expectRejected(() => parseNewProduct(newProduct({ [field]: value })), argument, value, reason);
  });

  it('reports the first field in contract order when several are bad', () => {
    expectRejected(() => parseNewProduct(newProduct({ sku: '', priceCents: -1 })), 'input.sku', '', /A-Z/);
  });
});

describe('parseProductPatch', () => {
  it('keeps only the fields given', () => {
    expect(parseProductPatch({ priceCents: 0 })).toEqual({ priceCents: 0 });
    expect(parseProductPatch({ stock: 5, categoryId: '3' })).toEqual({ stock: 5, categoryId: 3 });
    expect(parseProductPatch({ name: ' New ', description: '' })).toEqual({ name: 'New', description: '' });
    expect(Object.keys(parseProductPatch({ name: 'x' }))).toEqual(['name']);
  });

  it('parses every field as the create does', () => {
    expect(parseProductPatch({ name: 'N', description: 'D', priceCents: 1, stock: 2, categoryId: '4' })).toEqual({
      name: 'N',
      description: 'D',
      priceCents: 1,
      stock: 2,
      categoryId: 4,
    });
  });

  it('refuses an empty patch, naming the whole input', () => {
    expectRejected(() => parseProductPatch({}), 'input', {}, /at least one of name, description, priceCents, stock, categoryId/);
  });

  it.each(['name', 'description', 'priceCents', 'stock', 'categoryId'])('refuses null for %s: the column is required', (field) => {
    expectRejected(() => parseProductPatch({ [field]: null }), `input.${field}`, null, /must not be null.*leave the field out/);
  });

  it.each([
    ['input.name', ''],
    ['input.name', chars(201)],
    ['input.description', chars(5001)],
    ['input.priceCents', 100_000_001],
    ['input.stock', -3],
    ['input.categoryId', 'x'],
  ])('%s = %j is refused with the same bounds as the create', (argument, value) => {
    const field = argument.slice('input.'.length);
    expectRejected(() => parseProductPatch({ [field]: value }), argument, value, /must/);
  });

  it('has no sku: it never changes', () => {
    expect(parseProductPatch({ sku: 'NEW', stock: 1 } as UpdateProductInput)).toEqual({ stock: 1 });
  });
});

describe('parseNewReview', () => {
  it('returns the write input, ids as numbers, body trimmed', () => {
    expect(parseNewReview(newReview({ body: '  Good.\n\tReally. ' }), AUTHOR)).toEqual({ productId: 1, authorId: 2, rating: 4, body: 'Good.\n\tReally.' });
  });

  it.each([
    ['lowest rating', { rating: 1 }],
    ['highest rating', { rating: 5 }],
    ['shortest body', { body: 'k' }],
    ['longest body', { body: chars(5000) }],
  ])('accepts the bound: %s', (_, overrides) => {
    expect(() => parseNewReview(newReview(overrides), AUTHOR)).not.toThrow();
  });

  it.each([
    ['input.productId', '0', /positive integer id/],
    ['input.productId', '1e3', /positive integer id/],
    ['input.authorId', '', /positive integer id/],
    ['input.authorId', '01', /positive integer id/],
    ['input.rating', 0, /integer from 1 to 5/],
    ['input.rating', 6, /integer from 1 to 5/],
    ['input.rating', 4.5, /integer from 1 to 5/],
    ['input.body', '', /must be 1 to 5000 characters once trimmed \(it has 0\)/],
    ['input.body', ' \n ', /must be 1 to 5000 characters once trimmed \(it has 0\)/],
    ['input.body', chars(5001), /must be 1 to 5000 characters once trimmed \(it has 5001\)/],
    ['input.body', 'bad\u0000byte', /control characters/],
  ])('%s = %j is refused', (argument, value, reason) => {
    const field = argument.slice('input.'.length);
    expectRejected(() => parseNewReview(newReview({ [field]: value }), ADMIN), argument, value, reason);
  });

  it('writes as the viewer when authorId is left out', () => {
    expect(parseNewReview(newReview({ authorId: undefined }), AUTHOR).authorId).toBe(2);
    expect(parseNewReview(newReview({ authorId: null }), AUTHOR).authorId).toBe(2);
  });

  it("refuses a viewer's review in another user's name, unless the viewer is an admin", () => {
    expect(() => parseNewReview(newReview({ authorId: '3' }), AUTHOR)).toThrow(ForbiddenError);
    expect(() => parseNewReview(newReview({ authorId: '3' }), AUTHOR)).toThrow(/"input.authorId": may only name the viewer \(2\), got 3/);
    expect(parseNewReview(newReview({ authorId: '3' }), ADMIN).authorId).toBe(3);
  });

  it('refuses an anonymous viewer', () => {
    expect(() => parseNewReview(newReview(), { userId: null, role: null })).toThrow(ForbiddenError);
  });
});
