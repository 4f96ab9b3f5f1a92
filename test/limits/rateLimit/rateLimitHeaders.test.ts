import { describe, expect, it } from 'vitest';
import { policyHeader, rateLimitHeaders, type NamedPolicy } from '../../../src/limits/rateLimit/rateLimitHeaders.ts';

const POLICY: NamedPolicy = { name: 'user', limit: 100, windowMs: 60_000 };
const VALUE = policyHeader(POLICY);

describe('rate limit headers (draft-ietf-httpapi-ratelimit-headers-11)', () => {
  it('writes the policy as an sf-string item with q and w', () => {
    expect(VALUE).toBe('"user";q=100;w=60');
    expect(policyHeader({ name: 'ip', limit: 5, windowMs: 2500 })).toBe('"ip";q=5;w=3');
  });

  it('refuses a policy name that is not a plain sf-string', () => {
    expect(() => policyHeader({ ...POLICY, name: 'a"b' })).toThrow(TypeError);
    expect(() => policyHeader({ ...POLICY, name: 'é' })).toThrow(TypeError);
  });

  it('an admitted request: r and t (seconds rounded up), no Retry-After', () => {
    expect(rateLimitHeaders(POLICY, VALUE, { allowed: true, remaining: 42, resetMs: 11_001 })).toEqual({
      'ratelimit-policy': '"user";q=100;w=60',
      ratelimit: '"user";r=42;t=12',
    });
  });

  it('a refused request: r=0 and a Retry-After equal to t, at least 1 s', () => {
    expect(rateLimitHeaders(POLICY, VALUE, { allowed: false, remaining: 0, resetMs: 11_001 })).toEqual({
      'ratelimit-policy': '"user";q=100;w=60',
      ratelimit: '"user";r=0;t=12',
      'retry-after': '12',
    });
    expect(rateLimitHeaders(POLICY, VALUE, { allowed: false, remaining: 0, resetMs: 0 })['retry-after']).toBe('1');
  });
});
