import { describe, expect, it } from 'vitest';
import { ifNoneMatchHits } from '../../src/http/conditionalRequest.ts';
import { mayBeCrossSiteForgery } from '../../src/http/csrf.ts';

describe('If-None-Match', () => {
  const etag = '"abc"';
  it('matches the tag, in a list, weakly, or *', () => {
    expect(ifNoneMatchHits('"abc"', etag)).toBe(true);
    expect(ifNoneMatchHits('"x", "abc"', etag)).toBe(true);
    expect(ifNoneMatchHits('W/"abc"', etag)).toBe(true);
    expect(ifNoneMatchHits('*', etag)).toBe(true);
  });
  it('does not match another tag, an unquoted one, or no header', () => {
    expect(ifNoneMatchHits('"abd"', etag)).toBe(false);
    expect(ifNoneMatchHits('abc', etag)).toBe(false);
    expect(ifNoneMatchHits(undefined, etag)).toBe(false);
  });
});

describe('CSRF prevention (as Apollo)', () => {
  it('refuses what a browser sends cross-site without a preflight', () => {
    expect(mayBeCrossSiteForgery({})).toBe(true);
    expect(mayBeCrossSiteForgery({ 'content-type': 'text/plain; charset=utf-8' })).toBe(true);
    expect(mayBeCrossSiteForgery({ 'content-type': 'application/x-www-form-urlencoded' })).toBe(true);
  });
  it('lets through a JSON body, or a preflight header', () => {
    expect(mayBeCrossSiteForgery({ 'content-type': 'application/json' })).toBe(false);
    expect(mayBeCrossSiteForgery({ 'apollo-require-preflight': 'true' })).toBe(false);
    expect(mayBeCrossSiteForgery({ 'x-apollo-operation-name': 'Q' })).toBe(false);
    expect(mayBeCrossSiteForgery({ 'apollo-require-preflight': '' })).toBe(true);
  });
});
