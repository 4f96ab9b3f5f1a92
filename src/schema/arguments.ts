import { InvalidArgumentError } from '../errors.ts';

/**
 * Parses GraphQL arguments into what the loaders take, or throws an error that names the argument,
 * the value and the reason. Pure.
 */

const MAX_ID = 2_147_483_647; // PostgreSQL INTEGER

/** An `ID` argument: the decimal form of a positive 32-bit integer. */
export function parseId(argument: string, value: string | number): number {
  const text = String(value);
  if (!/^[1-9][0-9]{0,9}$/.test(text) || Number(text) > MAX_ID) {
    throw new InvalidArgumentError(argument, value, `must be a positive integer id from 1 to ${MAX_ID}`);
  }
  return Number(text);
}

export function parseOptionalId(argument: string, value: string | number | null | undefined): number | null {
  return value === null || value === undefined ? null : parseId(argument, value);
}

export const MAX_PAGE_SIZE = 100;

/** A `first` argument: a page size from 1 to {@link MAX_PAGE_SIZE}. */
export function parseFirst(value: number | null | undefined, fallback: number, argument = 'first'): number {
  const first = value === undefined ? fallback : value;
  if (first === null || !Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new InvalidArgumentError(argument, first, `must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
  return first;
}
