import { describe, expect, it } from 'vitest';
import { isPreflight, preflightAnswer, responseCorsHeaders } from '../../src/http/cors.ts';

const ALLOWED = new Set(['https://shop.example.com', 'http://127.0.0.1:5173']);
const NONE = new Set<string>();

describe('CORS decisions', () => {
  it('a preflight is an OPTIONS with an Origin and the method to come', () => {
    expect(isPreflight('OPTIONS', { origin: 'https://shop.example.com', 'access-control-request-method': 'POST' })).toBe(true);
    expect(isPreflight('OPTIONS', { origin: 'https://shop.example.com' })).toBe(false);
    expect(isPreflight('OPTIONS', { 'access-control-request-method': 'POST' })).toBe(false);
    expect(isPreflight('GET', { origin: 'https://shop.example.com', 'access-control-request-method': 'GET' })).toBe(false);
  });

  it('a preflight from an allowed origin: 204, that origin, GET and POST, the headers Apollo Client and a token need, cached 600 s', () => {
    expect(preflightAnswer('http://127.0.0.1:5173', ALLOWED)).toEqual({
      status: 204,
      headers: {
        vary: 'Origin',
        'access-control-allow-origin': 'http://127.0.0.1:5173',
        'access-control-allow-methods': 'GET, POST',
        'access-control-allow-headers': 'content-type, authorization, apollo-require-preflight, x-apollo-operation-name, if-none-match',
        'access-control-max-age': '600',
      },
    });
  });

  it('a preflight from any other origin: 403, no Access-Control-* header', () => {
    for (const origin of ['https://evil.example.com', 'https://shop.example.com.evil.example', 'null', undefined]) {
      expect(preflightAnswer(origin, ALLOWED), String(origin)).toEqual({ status: 403, headers: { vary: 'Origin' } });
    }
  });

  it('same-origin only (nothing configured): every preflight refused, nothing to vary on', () => {
    expect(preflightAnswer('https://shop.example.com', NONE)).toEqual({ status: 403, headers: {} });
  });

  it('never credentials, never a wildcard', () => {
    const headers = { ...preflightAnswer('https://shop.example.com', ALLOWED).headers, ...responseCorsHeaders('https://shop.example.com', ALLOWED) };
    expect(Object.keys(headers)).not.toContain('access-control-allow-credentials');
    expect(Object.values(headers)).not.toContain('*');
  });

  it('a response to an allowed origin names it and exposes ETag and Age; any other gets only Vary', () => {
    expect(responseCorsHeaders('https://shop.example.com', ALLOWED)).toEqual({
      vary: 'Origin',
      'access-control-allow-origin': 'https://shop.example.com',
      'access-control-expose-headers': 'ETag, Age, Retry-After, RateLimit, RateLimit-Policy, X-Request-Id',
    });
    expect(responseCorsHeaders('https://evil.example.com', ALLOWED)).toEqual({ vary: 'Origin' });
    // Same-origin requests send no Origin on GET: the response still varies on it, for caches.
    expect(responseCorsHeaders(undefined, ALLOWED)).toEqual({ vary: 'Origin' });
  });

  it('same-origin only: responses get no CORS header at all', () => {
    expect(responseCorsHeaders('https://shop.example.com', NONE)).toEqual({});
  });
});
