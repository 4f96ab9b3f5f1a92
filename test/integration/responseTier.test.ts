import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCatalogFixture } from '../support/fixtures.ts';
import { requestIdentity } from '../../src/responses/requestIdentity.ts';
import { responseKind } from '../../src/responses/storedResponse.ts';
import { buildSchema } from '../../src/schema/schema.ts';
import { startTestApp, useTwoInstances, type TestApp } from '../support/testApp.ts';
import { adminToken, tokensFor } from '../support/tokens.ts';

/**
 * The response tier, on two in-process instances sharing Redis: hits skip Apollo entirely, what may
 * not be stored is not, tags invalidate responses on every instance, private responses reach their
 * own viewer only, and the HTTP semantics (ETag/304, Age, GET, APQ, CSRF, 401) hold on hits too.
 */
const purged: string[][] = [];
const PRODUCT = `query($id: ID!) { product(id: $id) { id name stock } }`;
const RENAME = `mutation($id: ID!, $name: String!) { updateProduct(id: $id, input: { name: $name }) { id name } }`;
const ME = `{ me { id name email } }`;

describe('response tier', () => {
  let a: TestApp;
  let b: TestApp;
  let executions: Map<TestApp, number>;
  let token1: string;
  let token2: string;
  useTwoInstances({ RESPONSE_CACHE: 'on' }, (pair) => ([a, b] = pair), { purge: (tags) => void purged.push([...tags]) });
  beforeAll(async () => {
    executions = new Map([a, b].map((t) => [t, 0]));
    for (const t of [a, b]) t.app.events.on('execution', () => executions.set(t, (executions.get(t) ?? 0) + 1));
    [token1, token2] = (await tokensFor(1, 2)) as [string, string];
  });

  async function post(t: TestApp, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}) {
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  async function get(t: TestApp, params: Record<string, string>, headers: Record<string, string> = { 'apollo-require-preflight': 'true' }) {
    const response = await fetch(`${t.url}/graphql?${new URLSearchParams(params).toString()}`, { headers });
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  /** Waits until `t` serves a hit (an L3 store is not awaited by the response that made it). */
  async function untilHit(send: () => Promise<{ headers: Headers }>): Promise<void> {
    const deadline = Date.now() + 3000;
    while ((await send()).headers.get('x-response-cache') !== 'HIT') {
      if (Date.now() > deadline) throw new Error('never a hit');
      await sleep(20);
    }
  }

  it('a hit skips parsing, validation and execution, and sends the same bytes and headers', async () => {
    const { products } = await createCatalogFixture(a.app.database.prisma, { products: 1 });
    const id = String(products[0]!.id);
    const miss = await post(a, PRODUCT, { id });
    expect(miss.headers.get('x-response-cache')).toBe('MISS');
    const before = executions.get(a);
    const sql = await a.sqlDuring(async () => {
      const hit = await post(a, PRODUCT, { id });
      expect(hit.headers.get('x-response-cache')).toBe('HIT');
      expect(hit.text).toBe(miss.text);
      for (const name of ['cache-control', 'etag', 'vary', 'surrogate-key', 'cache-tag', 'content-type']) expect(hit.headers.get(name)).toBe(miss.headers.get(name));
    });
    expect(executions.get(a)).toBe(before);
    expect(sql).toBe(0);
    expect(miss.headers.get('cache-control')).toBe('public, max-age=0, must-revalidate, s-maxage=10, stale-while-revalidate=30, stale-if-error=600');
    expect(miss.headers.get('surrogate-key')?.split(' ')).toEqual(expect.arrayContaining([`Product:${id}`, 'Product']));
  });

  it('a response lives in L3 no longer than its tags are kept, whatever its max-age', async () => {
    const { products } = await createCatalogFixture(a.app.database.prisma, { products: 1 });
    const id = String(products[0]!.id);
    const query = `query($id: ID!) { product(id: $id) { id name } }`;
    expect((await post(a, query, { id })).headers.get('cache-control')).toMatch(/^public, max-age=0, must-revalidate, s-maxage=300,/);
    // fetch sends Accept: */*, part of the request's identity.
    const identity = requestIdentity({ query, variables: { id }, operationName: undefined, extensions: undefined }, '*/*');
    const key = a.app.keys.response(responseKind(buildSchema()), identity!.hash);
    let ttl = -2;
    for (const deadline = Date.now() + 2000; ttl < 0 && Date.now() < deadline; await sleep(20)) ttl = await a.app.cache.redis!.pttl(key);
    // Product:N's generation is kept 100 s after an invalidation: the response 100 - 60 s at most, not 300.
    expect(a.app.addresses.tagLifetimeMs(`Product:${id}`)).toBe(100_000);
    expect(ttl).toBeGreaterThan(30_000);
    expect(ttl).toBeLessThanOrEqual(40_000);
  });

  it('variables in any key order are the same request', async () => {
    const query = `query($id: ID!, $first: Int) { product(id: $id) { id reviews(first: $first) { id } } }`;
    expect((await post(a, query, { id: '5', first: 2 })).headers.get('x-response-cache')).toBe('MISS');
    expect((await post(a, query, { first: 2, id: '5' })).headers.get('x-response-cache')).toBe('HIT');
    expect((await post(a, query, { first: 3, id: '5' })).headers.get('x-response-cache')).toBe('MISS');
  });

  it('never stores a response with errors, or one whose maxAge is 0, and marks them no-store', async () => {
    for (let i = 0; i < 2; i++) {
      const error = await post(a, `{ product(id: "999999999") { id } }`);
      expect(error.headers.get('cache-control')).toBe('no-store');
      expect(error.headers.get('x-response-cache')).toBeNull();
      const uncacheable = await post(a, `{ __typename }`);
      expect(uncacheable.headers.get('cache-control')).toBe('no-store');
      expect(uncacheable.headers.get('etag')).toBeNull();
    }
  });

  it('a mutation on one instance makes the next read fresh on both, and tells the purge hook its tags', async () => {
    const { products, category } = await createCatalogFixture(a.app.database.prisma, { products: 2 });
    const id = String(products[0]!.id);
    const list = `query($id: ID!) { category(id: $id) { products { id name } } }`;
    for (const t of [a, b]) {
      await untilHit(() => post(t, PRODUCT, { id }));
      await untilHit(() => post(t, list, { id: String(category.id) }));
    }
    purged.length = 0;
    expect(JSON.parse((await post(b, RENAME, { id, name: 'Renamed once' }, { authorization: `Bearer ${await adminToken()}` })).text).errors).toBeUndefined();
    // The writer reads its write at once; the other instance within the propagation time.
    const own = await post(b, PRODUCT, { id });
    expect(own.headers.get('x-response-cache')).toBe('MISS');
    expect(JSON.parse(own.text).data.product.name).toBe('Renamed once');
    const deadline = Date.now() + 1000;
    for (const query of [PRODUCT, list]) {
      const variables = { id: query === PRODUCT ? id : String(category.id) };
      while (!(await post(a, query, variables)).text.includes('Renamed once')) {
        if (Date.now() > deadline) throw new Error(`A still serves the old response to ${query}`);
      }
    }
    expect(purged.flat()).toContain(`Product:${id}`);
  });

  it('a response stored by one instance is served by the other from L3', async () => {
    const { products } = await createCatalogFixture(a.app.database.prisma, { products: 1 });
    const id = String(products[0]!.id);
    await post(a, PRODUCT, { id });
    const before = executions.get(b);
    await untilHit(() => post(b, PRODUCT, { id }));
    expect(executions.get(b)).toBe(before);
  });

  it('no stale fill: a response read from an L2 that an invalidation has not reached yet is kept out of L3', async () => {
    const { products } = await createCatalogFixture(a.app.database.prisma, { products: 1 });
    const id = String(products[0]!.id);
    // A holds the product in its L2 data tier.
    await post(a, PRODUCT, { id });
    // Another instance's write, as L3 sees it before its message reaches A: a new generation, no message.
    await a.app.database.prisma.product.update({ where: { id: Number(id) }, data: { name: 'Written elsewhere', version: { increment: 1 } } });
    expect(await a.app.cache.shared!.invalidateTags([`Product:${id}`])).toBe(true);
    // A computes a new response from its (now stale) L2 row, and must not share it through L3.
    const other = `query($id: ID!) { product(id: $id) { id name sku } }`;
    const fromStaleL2 = await post(a, other, { id });
    expect(JSON.parse(fromStaleL2.text).data.product.name).not.toBe('Written elsewhere');
    await sleep(100);
    const fresh = await startTestApp({ CACHE_PREFIX: a.prefix, RESPONSE_CACHE: 'on' });
    try {
      const response = await post(fresh, other, { id });
      expect(response.headers.get('x-response-cache')).toBe('MISS');
      expect(JSON.parse(response.text).data.product.name).toBe('Written elsewhere');
    } finally {
      await fresh.stop();
    }
  });

  it('a private response reaches its own viewer only; another viewer or anonymous never gets it', async () => {
    const one = { authorization: `Bearer ${token1}` };
    const two = { authorization: `Bearer ${token2}` };
    const first = await post(a, ME, undefined, one);
    expect(first.headers.get('cache-control')).toBe('private, no-cache');
    expect(first.headers.get('vary')).toBe('Accept, Authorization');
    expect(JSON.parse(first.text).data.me).toMatchObject({ id: '1', email: 'user1@example.com' });
    await untilHit(() => post(a, ME, undefined, one));
    for (const t of [a, b]) {
      expect(JSON.parse((await post(t, ME, undefined, two)).text).data.me).toMatchObject({ id: '2', email: 'user2@example.com' });
      expect(JSON.parse((await post(t, ME)).text).data.me).toBeNull();
    }
    // Another user's email is null, even on a hit.
    const query = `{ user(id: 1) { id email } }`;
    await post(a, query, undefined, one);
    await untilHit(() => post(a, query, undefined, one));
    expect(JSON.parse((await post(a, query, undefined, two)).text).data.user.email).toBeNull();
    expect(JSON.parse((await post(a, query)).text).data.user.email).toBeNull();
  });

  it('a forged or malformed token is a 401, even for a cached request', async () => {
    await untilHit(() => post(a, PRODUCT, { id: '7' }));
    const forged = `${token1.slice(0, -3)}abc`;
    for (const authorization of [`Bearer ${forged}`, `Bearer ${token2.split('.').slice(0, 2).join('.')}.`, 'Basic dXNlcjpwYXNz']) {
      const response = await post(a, PRODUCT, { id: '7' }, { authorization });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(JSON.parse(response.text).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
  });

  it('GET: ETag revalidation gives 304 with no body, Age counts from the store, CSRF prevention holds on hits', async () => {
    const params = { query: `query($id: ID!) { product(id: $id) { id name } }`, variables: JSON.stringify({ id: '9' }) };
    const miss = await get(a, params);
    expect(miss.status).toBe(200);
    const etag = miss.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]{27}"$/);
    await sleep(1100);
    const hit = await get(a, params);
    expect(hit.headers.get('x-response-cache')).toBe('HIT');
    expect(Number(hit.headers.get('age'))).toBeGreaterThanOrEqual(1);
    const notModified = await get(a, params, { 'apollo-require-preflight': 'true', 'if-none-match': `W/${etag}, "other"` });
    expect(notModified.status).toBe(304);
    expect(notModified.text).toBe('');
    expect(notModified.headers.get('etag')).toBe(etag);
    expect((await get(a, params, { 'apollo-require-preflight': 'true', 'if-none-match': '"stale"' })).status).toBe(200);
    // Cached or not, a GET a browser could send cross-site without a preflight is refused.
    const forged = await get(a, params, {});
    expect(forged.status).toBe(400);
    expect(forged.text).toContain('Cross-Site Request Forgery');
  });

  it('Automatic Persisted Queries over GET: registered on one instance, served by hash on both', async () => {
    const query = `{ product(id: "11") { id sku } }`;
    const hash = createHash('sha256').update(query).digest('hex');
    const extensions = JSON.stringify({ persistedQuery: { version: 1, sha256Hash: hash } });
    const unknown = await get(b, { extensions });
    expect(JSON.parse(unknown.text).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(unknown.headers.get('cache-control')).toBe('no-store');
    const registered = await get(a, { query, extensions });
    expect(JSON.parse(registered.text).data.product.id).toBe('11');
    await untilHit(() => get(a, { extensions }));
    // B knows the hash (the APQ store is in Redis), whether or not its response tier has it.
    const other = await get(b, { extensions });
    expect(JSON.parse(other.text).data.product).toEqual({ id: '11', sku: expect.any(String) });
    // A hash that does not match the query text is refused, never served from the tier.
    const mismatched = await get(a, { query: `{ product(id: "12") { id sku } }`, extensions });
    expect(mismatched.status).toBe(400);
  });
});
