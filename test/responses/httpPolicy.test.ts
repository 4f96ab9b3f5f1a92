import { describe, expect, it } from 'vitest';
import { cacheControlAtAge, cacheControlHeader, storedTtlSeconds, typeHttpPolicies, type TypeHttpPolicy } from '../../src/responses/httpPolicy.ts';
import { buildSchema } from '../../src/schema/schema.ts';

const policies = new Map<string, TypeHttpPolicy>([
  ['Product', { maxAge: 300, sMaxAge: undefined, staleWhileRevalidate: 30, staleIfError: 600, browserMaxAge: undefined }],
  ['Category', { maxAge: 3600, sMaxAge: 7200, staleWhileRevalidate: 600, staleIfError: 86400, browserMaxAge: 600 }],
  ['Plain', { maxAge: 60, sMaxAge: undefined, staleWhileRevalidate: 0, staleIfError: 0, browserMaxAge: undefined }],
  ['Browsable', { maxAge: 120, sMaxAge: undefined, staleWhileRevalidate: 0, staleIfError: 0, browserMaxAge: 30 }],
  ['LongInBrowsers', { maxAge: 120, sMaxAge: undefined, staleWhileRevalidate: 0, staleIfError: 0, browserMaxAge: 1000 }],
]);

describe('Cache-Control of a response', () => {
  it('no-store without a cacheable policy, or with maxAge 0, public or private', () => {
    expect(cacheControlHeader(undefined, ['Product'], policies)).toBe('no-store');
    expect(cacheControlHeader({ maxAge: 0, scope: 'PUBLIC' }, ['Product'], policies)).toBe('no-store');
    expect(cacheControlHeader({ maxAge: 0, scope: 'PRIVATE' }, ['Category'], policies)).toBe('no-store');
  });

  it('public: the browser revalidates every reuse, shared caches keep it max-age, with the lowest extension over the touched types', () => {
    expect(cacheControlHeader({ maxAge: 10, scope: 'PUBLIC' }, ['Product', 'Category'], policies)).toBe('public, max-age=0, must-revalidate, s-maxage=10, stale-while-revalidate=30, stale-if-error=600');
  });

  it('s-maxage from @httpCache only when every touched type has one, else the response’s maxAge', () => {
    expect(cacheControlHeader({ maxAge: 3600, scope: 'PUBLIC' }, ['Category'], policies)).toBe('public, max-age=600, must-revalidate, s-maxage=7200, stale-while-revalidate=600, stale-if-error=86400');
    expect(cacheControlHeader({ maxAge: 300, scope: 'PUBLIC' }, ['Category', 'Product'], policies)).toContain('s-maxage=300');
  });

  it('a type that says nothing removes the extension for the whole response', () => {
    expect(cacheControlHeader({ maxAge: 60, scope: 'PUBLIC' }, ['Product', 'Plain'], policies)).toBe('public, max-age=0, must-revalidate, s-maxage=60');
  });

  it('no touched type known: only the response’s own lifetime, for shared caches', () => {
    expect(cacheControlHeader({ maxAge: 60, scope: 'PUBLIC' }, [], policies)).toBe('public, max-age=0, must-revalidate, s-maxage=60');
    expect(cacheControlHeader({ maxAge: 60, scope: 'PUBLIC' }, ['Unknown'], policies)).toBe('public, max-age=0, must-revalidate, s-maxage=60');
  });

  describe('browserMaxAge', () => {
    it('is the browser’s max-age when every touched type has one: the lowest', () => {
      expect(cacheControlHeader({ maxAge: 120, scope: 'PUBLIC' }, ['Browsable', 'Category'], policies)).toMatch(/^public, max-age=30, must-revalidate, s-maxage=120(,|$)/);
    });
    it('is 0 when one touched type has none', () => {
      expect(cacheControlHeader({ maxAge: 120, scope: 'PUBLIC' }, ['Browsable', 'Product'], policies)).toMatch(/^public, max-age=0, must-revalidate,/);
    });
    it('never exceeds the response’s maxAge (a field’s hint may lower it below the type’s)', () => {
      expect(cacheControlHeader({ maxAge: 10, scope: 'PUBLIC' }, ['Category'], policies)).toMatch(/^public, max-age=10, must-revalidate, s-maxage=7200,/);
      expect(cacheControlHeader({ maxAge: 120, scope: 'PUBLIC' }, ['LongInBrowsers'], policies)).toBe('public, max-age=120, must-revalidate, s-maxage=120');
    });
  });

  describe('private (only the browser ever keeps it)', () => {
    it('no-cache: every reuse revalidates; no shared-cache or stale extension', () => {
      expect(cacheControlHeader({ maxAge: 60, scope: 'PRIVATE' }, ['Product'], policies)).toBe('private, no-cache');
      expect(cacheControlHeader({ maxAge: 60, scope: 'PRIVATE' }, [], policies)).toBe('private, no-cache');
    });
    it('the browser’s max-age when every touched type allows one', () => {
      expect(cacheControlHeader({ maxAge: 60, scope: 'PRIVATE' }, ['Category', 'Browsable'], policies)).toBe('private, max-age=30, must-revalidate');
      expect(cacheControlHeader({ maxAge: 60, scope: 'PRIVATE' }, ['Category', 'Plain'], policies)).toBe('private, no-cache');
    });
  });

  it('the response tier keeps a response no longer than any touched type allows', () => {
    expect(storedTtlSeconds({ maxAge: 1000, scope: 'PUBLIC' }, ['Product', 'Category'], policies)).toBe(300);
    expect(storedTtlSeconds({ maxAge: 10, scope: 'PUBLIC' }, ['Product'], policies)).toBe(10);
  });

  it('reads the schema: @cacheControl maxAge, @cacheGrace and @httpCache per type', () => {
    const read = typeHttpPolicies(buildSchema());
    expect(read.get('Category')).toEqual({ maxAge: 3600, sMaxAge: 7200, staleWhileRevalidate: 600, staleIfError: 86400, browserMaxAge: 600 });
    expect(read.get('Product')).toEqual({ maxAge: 300, sMaxAge: undefined, staleWhileRevalidate: 30, staleIfError: 600, browserMaxAge: undefined });
    expect(read.has('Query')).toBe(true);
    expect(read.has('__Schema')).toBe(false);
  });
});

describe('Cache-Control of a hit, by age', () => {
  it('lowers s-maxage by the age, for shared caches that ignore Age; the browser’s max-age stays (browsers subtract Age)', () => {
    expect(cacheControlAtAge('public, max-age=0, must-revalidate, s-maxage=10, stale-while-revalidate=30', 4)).toBe('public, max-age=0, must-revalidate, s-maxage=6, stale-while-revalidate=30');
    expect(cacheControlAtAge('public, max-age=600, must-revalidate, s-maxage=7200, stale-if-error=86400', 100)).toBe('public, max-age=600, must-revalidate, s-maxage=7100, stale-if-error=86400');
  });
  it('never below 0', () => {
    expect(cacheControlAtAge('public, max-age=0, must-revalidate, s-maxage=10', 12)).toBe('public, max-age=0, must-revalidate, s-maxage=0');
  });
  it('leaves a fresh, private or no-store header alone', () => {
    expect(cacheControlAtAge('public, max-age=0, must-revalidate, s-maxage=10', 0)).toBe('public, max-age=0, must-revalidate, s-maxage=10');
    expect(cacheControlAtAge('private, no-cache', 5)).toBe('private, no-cache');
    expect(cacheControlAtAge('private, max-age=30, must-revalidate', 5)).toBe('private, max-age=30, must-revalidate');
    expect(cacheControlAtAge('no-store', 5)).toBe('no-store');
  });
});
