import { describe, expect, it } from 'vitest';
import { cacheControlAtAge, cacheControlHeader, storedTtlSeconds, typeHttpPolicies, type TypeHttpPolicy } from '../../src/responses/httpPolicy.ts';
import { buildSchema } from '../../src/schema/schema.ts';

const policies = new Map<string, TypeHttpPolicy>([
  ['Product', { maxAge: 300, sMaxAge: undefined, staleWhileRevalidate: 30, staleIfError: 600 }],
  ['Category', { maxAge: 3600, sMaxAge: 7200, staleWhileRevalidate: 600, staleIfError: 86400 }],
  ['Plain', { maxAge: 60, sMaxAge: undefined, staleWhileRevalidate: 0, staleIfError: 0 }],
]);

describe('Cache-Control of a response', () => {
  it('no-store without a cacheable policy, or with maxAge 0', () => {
    expect(cacheControlHeader(undefined, ['Product'], policies)).toBe('no-store');
    expect(cacheControlHeader({ maxAge: 0, scope: 'PUBLIC' }, ['Product'], policies)).toBe('no-store');
  });

  it('public with max-age, and the lowest extension over the touched types', () => {
    expect(cacheControlHeader({ maxAge: 10, scope: 'PUBLIC' }, ['Product', 'Category'], policies)).toBe(
      'public, max-age=10, stale-while-revalidate=30, stale-if-error=600',
    );
  });

  it('s-maxage only when every touched type has one', () => {
    expect(cacheControlHeader({ maxAge: 3600, scope: 'PUBLIC' }, ['Category'], policies)).toBe(
      'public, max-age=3600, s-maxage=7200, stale-while-revalidate=600, stale-if-error=86400',
    );
    expect(cacheControlHeader({ maxAge: 300, scope: 'PUBLIC' }, ['Category', 'Product'], policies)).not.toContain('s-maxage');
  });

  it('a type that says nothing removes the extension for the whole response', () => {
    expect(cacheControlHeader({ maxAge: 60, scope: 'PUBLIC' }, ['Product', 'Plain'], policies)).toBe('public, max-age=60');
  });

  it('private: no s-maxage (shared caches never store it), other extensions kept', () => {
    expect(cacheControlHeader({ maxAge: 60, scope: 'PRIVATE' }, ['Category'], policies)).toBe(
      'private, max-age=60, stale-while-revalidate=600, stale-if-error=86400',
    );
  });

  it('the response tier keeps a response no longer than any touched type allows', () => {
    expect(storedTtlSeconds({ maxAge: 1000, scope: 'PUBLIC' }, ['Product', 'Category'], policies)).toBe(300);
    expect(storedTtlSeconds({ maxAge: 10, scope: 'PUBLIC' }, ['Product'], policies)).toBe(10);
  });

  it('reads the schema: @cacheControl maxAge, @cacheGrace and @httpCache per type', () => {
    const read = typeHttpPolicies(buildSchema());
    expect(read.get('Category')).toEqual({ maxAge: 3600, sMaxAge: 7200, staleWhileRevalidate: 600, staleIfError: 86400 });
    expect(read.get('Product')).toEqual({ maxAge: 300, sMaxAge: undefined, staleWhileRevalidate: 30, staleIfError: 600 });
    expect(read.has('Query')).toBe(true);
    expect(read.has('__Schema')).toBe(false);
  });
});

describe('Cache-Control of a hit, by age', () => {
  it('lowers s-maxage (or adds one from max-age) by the age, for shared caches that ignore Age', () => {
    expect(cacheControlAtAge('public, max-age=10, stale-while-revalidate=30', 4)).toBe('public, max-age=10, s-maxage=6, stale-while-revalidate=30');
    expect(cacheControlAtAge('public, max-age=3600, s-maxage=7200, stale-if-error=86400', 100)).toBe('public, max-age=3600, s-maxage=7100, stale-if-error=86400');
    expect(cacheControlAtAge('public, max-age=10', 12)).toBe('public, max-age=10, s-maxage=0');
  });
  it('leaves a fresh, private or no-store header alone', () => {
    expect(cacheControlAtAge('public, max-age=10', 0)).toBe('public, max-age=10');
    expect(cacheControlAtAge('private, max-age=60', 5)).toBe('private, max-age=60');
    expect(cacheControlAtAge('no-store', 5)).toBe('no-store');
  });
});
