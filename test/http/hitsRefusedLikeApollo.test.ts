import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/testApp.ts';

/**
 * The response tier answers before Apollo parses anything, so it must refuse exactly what Apollo
 * refuses, and a refused request must leave nothing behind that changes the answer to a good one.
 */
describe('response-tier hits are refused where Apollo would refuse the request', () => {
  const app = useTestApp({ RESPONSE_CACHE: 'on' });

  async function post(body: string, contentType: string) {
    const response = await fetch(`${app().url}/graphql`, { method: 'POST', headers: { 'content-type': contentType, 'apollo-require-preflight': 'true' }, body });
    return { status: response.status, cache: response.headers.get('x-response-cache') };
  }

  it('a body sent once as text/plain leaves no memo entry that keeps the JSON request from hitting', async () => {
    const body = JSON.stringify({ query: '{ product(id: "5") { id name } }' });
    expect((await post(body, 'text/plain')).status).toBe(400);
    expect(await post(body, 'application/json')).toEqual({ status: 200, cache: 'MISS' });
    expect(await post(body, 'application/json')).toEqual({ status: 200, cache: 'HIT' });
  });

  it('a stored response is not served to the same body under a type Apollo refuses', async () => {
    const body = JSON.stringify({ query: '{ product(id: "6") { id name } }' });
    await post(body, 'application/json');
    expect((await post(body, 'application/json')).cache).toBe('HIT');
    const xml = await post(body, 'application/xml');
    expect(xml.status).toBeGreaterThanOrEqual(400);
    expect(xml.cache).toBeNull();
  });

  it('a GET that repeats a parameter is refused, never a hit', async () => {
    const url = (search: string) => fetch(`${app().url}/graphql?${search}`, { headers: { 'apollo-require-preflight': 'true' } });
    const query = encodeURIComponent('{ product(id: "7") { id } }');
    await url(`query=${query}`);
    expect((await url(`query=${query}`)).headers.get('x-response-cache')).toBe('HIT');
    const repeated = await url(`query=${query}&query=${encodeURIComponent('{ junk }')}`);
    expect(repeated.status).toBe(400);
    expect(repeated.headers.get('x-response-cache')).toBeNull();
  });
});
