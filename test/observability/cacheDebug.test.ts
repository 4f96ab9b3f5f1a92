import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { createCatalogFixture } from '../support/fixtures.ts';
import { useTestApp, type TestApp } from '../support/testApp.ts';

const PRODUCT = `query($id: ID!) { product(id: $id) { id name } }`;
const PRODUCT_PRICE = `query($id: ID!) { product(id: $id) { id priceCents } }`;

/** POSTs `query`, with `x-cache-debug: 1` when `debug`. */
async function post(t: TestApp, query: string, variables: Record<string, unknown>, debug: boolean) {
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(debug ? { 'x-cache-debug': '1' } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: unknown; extensions?: { cache?: any } };
  return { headers: response.headers, body };
}

/** Polls (no sleep) until the request hits the response tier: the store finishes behind the response. */
async function untilHit(t: TestApp, query: string, variables: Record<string, unknown>) {
  const deadline = performance.now() + 3000;
  for (;;) {
    const answer = await post(t, query, variables, false);
    if (answer.headers.get('x-response-cache') === 'HIT' || performance.now() > deadline) return answer;
  }
}

describe('extensions.cache with x-cache-debug: 1 (CACHE_DEBUG=on)', () => {
  const started = useTestApp({ RESPONSE_CACHE: 'on', CACHE_DEBUG: 'on' });

  it('a miss reports the loads and the tiers per kind, is sent no-store, and is never stored', async () => {
    const t = started();
    const { products } = await createCatalogFixture(t.app.database.prisma, { products: 1 });
    const variables = { id: String(products[0]!.id) };

    const debug = await post(t, PRODUCT, variables, true);
    expect(debug.headers.get('cache-control')).toBe('no-store');
    expect(debug.body.extensions?.cache).toEqual({ response: 'miss', kinds: { Product: { hits: { L1: 0, L2: 0, L3: 0 }, loads: 1 } } });

    // The debug answer was not stored: the next normal request executes, and carries no report.
    const normal = await post(t, PRODUCT, variables, false);
    expect(normal.headers.get('x-response-cache')).toBe('MISS');
    expect(normal.body.extensions?.cache).toBeUndefined();
    expect(normal.body.data).toEqual(debug.body.data);
  });

  it('a response-tier hit reports { response: "hit" } to the debug request only; the stored bytes stay clean', async () => {
    const t = started();
    const { products } = await createCatalogFixture(t.app.database.prisma, { products: 1 });
    const variables = { id: String(products[0]!.id) };
    await post(t, PRODUCT, variables, false);
    const hit = await untilHit(t, PRODUCT, variables);
    expect(hit.headers.get('x-response-cache')).toBe('HIT');

    const debug = await post(t, PRODUCT, variables, true);
    expect(debug.headers.get('x-response-cache')).toBe('HIT');
    expect(debug.headers.get('cache-control')).toBe('no-store');
    expect(debug.body.extensions?.cache).toEqual({ response: 'hit' });
    expect(debug.body.data).toEqual(hit.body.data);

    const after = await post(t, PRODUCT, variables, false);
    expect(after.headers.get('x-response-cache')).toBe('HIT');
    expect(after.body.extensions?.cache).toBeUndefined();
  });

  it('a warm data tier: another query of the same product reports an L2 hit and no load', async () => {
    const t = started();
    const { products } = await createCatalogFixture(t.app.database.prisma, { products: 1 });
    const variables = { id: String(products[0]!.id) };
    await post(t, PRODUCT, variables, false);

    const debug = await post(t, PRODUCT_PRICE, variables, true);
    expect(debug.body.extensions?.cache).toEqual({ response: 'miss', kinds: { Product: { hits: { L1: 0, L2: 1, L3: 0 }, loads: 0 } } });
  });

  it('L1: the same product asked twice in one request is one L1 hit', async () => {
    const t = started();
    const { products } = await createCatalogFixture(t.app.database.prisma, { products: 1 });
    const id = String(products[0]!.id);
    const debug = await post(t, `query($id: ID!) { a: product(id: $id) { id } b: product(id: $id) { name } }`, { id }, true);
    expect(debug.body.extensions?.cache.kinds.Product.loads).toBe(1);
    // DataLoader dedupes within a batch; the second load of the key finds the first's promise.
    expect(debug.body.extensions?.cache.kinds.Product.hits.L1).toBe(1);
  });
});

describe('CACHE_DEBUG=off', () => {
  const started = useTestApp({ RESPONSE_CACHE: 'on', CACHE_DEBUG: 'off' });

  it('the header is ignored', async () => {
    const t = started();
    const { products } = await createCatalogFixture(t.app.database.prisma, { products: 1 });
    const answer = await post(t, PRODUCT, { id: String(products[0]!.id) }, true);
    expect(answer.body.extensions?.cache).toBeUndefined();
    expect(answer.headers.get('cache-control')).not.toBe('no-store');
  });

  it('is the default in production only', () => {
    expect(loadConfig({}).observability.cacheDebug).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', AUTH_TOKEN_SECRET: 'x'.repeat(32) }).observability.cacheDebug).toBe(false);
    expect(() => loadConfig({ METRICS_PATH: '/graphql' })).toThrow(/METRICS_PATH/);
  });
});
