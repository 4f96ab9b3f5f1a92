import type { Viewer } from '../auth/viewer.ts';
import type { NewProduct, NewReview, ProductPatch } from '../catalog/writeInputs.ts';
import { ForbiddenError, InvalidArgumentError } from '../errors.ts';
import type { CreateProductInput, CreateReviewInput, UpdateProductInput } from '../generated/graphql.ts';
import { parseId } from './arguments.ts';

/**
 * Parses the mutations' input objects into the catalog's write inputs, or throws an
 * {@link InvalidArgumentError} naming the field by its argument path (`input.sku`), the value and the
 * reason. Pure: whether a referenced row exists or a sku is free is the database's to say
 * (catalog/writes.ts), inside the write's own transaction.
 *
 * Strings are trimmed and stored trimmed. Lengths count characters (Unicode code points), after
 * trimming. GraphQL has already checked the types; they are checked again so that this function's
 * contract does not depend on its caller.
 */

/** The bounds of every written field; schema.graphql documents the same numbers to clients. */
export const INPUT_BOUNDS = {
  /** 1..64 characters of A-Z, a-z, 0-9, '-' and '_': what fits in a URL, a barcode label or a CSV cell. */
  sku: { min: 1, max: 64 },
  name: { min: 1, max: 200 },
  /** May be empty: the column is required, and "" means "no description". */
  description: { min: 0, max: 5000 },
  /** Up to one million in the currency's units; 0 is a free product. */
  priceCents: { min: 0, max: 100_000_000 },
  stock: { min: 0, max: 1_000_000 },
  /** The Review_rating_check constraint enforces the same range. */
  rating: { min: 1, max: 5 },
  reviewBody: { min: 1, max: 5000 },
} as const;

export function parseNewProduct(input: CreateProductInput): NewProduct {
  return {
    sku: sku('input.sku', input.sku),
    name: text('input.name', input.name, { ...INPUT_BOUNDS.name, lines: 'single' }),
    description: text('input.description', input.description, { ...INPUT_BOUNDS.description, lines: 'multi' }),
    priceCents: integer('input.priceCents', input.priceCents, INPUT_BOUNDS.priceCents),
    stock: integer('input.stock', input.stock, INPUT_BOUNDS.stock),
    categoryId: parseId('input.categoryId', input.categoryId),
  };
}

/** Only the fields present are in the patch; at least one must be, and none may be null. */
export function parseProductPatch(input: UpdateProductInput): ProductPatch {
  const patch: { -readonly [F in keyof ProductPatch]: ProductPatch[F] } = {};
  if (input.name !== undefined) {
    patch.name = text('input.name', present('input.name', input.name), { ...INPUT_BOUNDS.name, lines: 'single' });
  }
  if (input.description !== undefined) {
    patch.description = text('input.description', present('input.description', input.description), {
      ...INPUT_BOUNDS.description,
      lines: 'multi',
    });
  }
  if (input.priceCents !== undefined) {
    patch.priceCents = integer('input.priceCents', present('input.priceCents', input.priceCents), INPUT_BOUNDS.priceCents);
  }
  if (input.stock !== undefined) {
    patch.stock = integer('input.stock', present('input.stock', input.stock), INPUT_BOUNDS.stock);
  }
  if (input.categoryId !== undefined) {
    patch.categoryId = parseId('input.categoryId', present('input.categoryId', input.categoryId));
  }
  // A no-op update would still bump the version and invalidate caches for nothing.
  if (Object.keys(patch).length === 0) {
    throw new InvalidArgumentError('input', input, 'must set at least one of name, description, priceCents, stock, categoryId');
  }
  return patch;
}

/**
 * The author is the viewer: `input.authorId` may be left out, or name the viewer. Only an admin
 * writes a review in another user's name (imports, moderation).
 */
export function parseNewReview(input: CreateReviewInput, viewer: Viewer): NewReview {
  if (viewer.userId === null) throw new ForbiddenError('Mutation.createReview', 'requires a signed-in viewer');
  const authorId = input.authorId === undefined || input.authorId === null ? viewer.userId : parseId('input.authorId', input.authorId);
  if (authorId !== viewer.userId && viewer.role !== 'ADMIN') {
    throw new ForbiddenError('input.authorId', `may only name the viewer (${viewer.userId}), got ${authorId}; leave it out to write as yourself`);
  }
  return {
    productId: parseId('input.productId', input.productId),
    authorId,
    rating: integer('input.rating', input.rating, INPUT_BOUNDS.rating),
    body: text('input.body', input.body, { ...INPUT_BOUNDS.reviewBody, lines: 'multi' }),
  };
}

// Private: one reader per kind of value, each naming the argument in its error.

interface Range {
  readonly min: number;
  readonly max: number;
}

const SKU = /^[A-Za-z0-9_-]+$/;

// Single-line text refuses every control character; multi-line text keeps tab, LF and CR. NUL is
// refused everywhere: PostgreSQL cannot store it in TEXT.
const CONTROL_SINGLE_LINE = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_MULTI_LINE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

function sku(argument: string, value: unknown): string {
  const { min, max } = INPUT_BOUNDS.sku;
  const trimmed = typeof value === 'string' ? value.trim() : undefined;
  if (trimmed === undefined || !SKU.test(trimmed) || trimmed.length < min || trimmed.length > max) {
    throw new InvalidArgumentError(argument, value, `must be ${min} to ${max} characters of A-Z, a-z, 0-9, '-' and '_'`);
  }
  return trimmed;
}

function text(argument: string, value: unknown, rule: Range & { lines: 'single' | 'multi' }): string {
  if (typeof value !== 'string') throw new InvalidArgumentError(argument, value, 'must be a string');
  const trimmed = value.trim();
  const length = [...trimmed].length;
  if (length < rule.min || length > rule.max) {
    const what = rule.min === 0 ? `at most ${rule.max} characters` : `${rule.min} to ${rule.max} characters`;
    throw new InvalidArgumentError(argument, value, `must be ${what} once trimmed (it has ${length})`);
  }
  if (rule.lines === 'single' && CONTROL_SINGLE_LINE.test(trimmed)) {
    throw new InvalidArgumentError(argument, value, 'must be one line, without control characters');
  }
  if (rule.lines === 'multi' && CONTROL_MULTI_LINE.test(trimmed)) {
    throw new InvalidArgumentError(argument, value, 'must not contain control characters other than tab and line breaks');
  }
  return trimmed;
}

function integer(argument: string, value: unknown, range: Range): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max) {
    throw new InvalidArgumentError(argument, value, `must be an integer from ${range.min} to ${range.max}`);
  }
  return value;
}

/** An update field given as null: every product column is required, so null cannot mean "clear it". */
function present<V>(argument: string, value: V | null): V {
  if (value === null) {
    throw new InvalidArgumentError(argument, null, 'must not be null: every product has one (leave the field out to keep its value)');
  }
  return value;
}
