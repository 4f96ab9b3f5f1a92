import { describe, expect, it } from 'vitest';
import { createCatalogFixture } from '../support/fixtures.ts';
import { scrape, scrapeUntil, sumOf } from '../support/metricsText.ts';
import { uniquePrefix, useAppBehindRedisProxy, useTestApp, useTwoInstances, type TestApp } from '../support/testApp.ts';

const PRODUCT = `query($id: ID!) { product(id: $id) { id name } }`;
const PRODUCT_PRICE = `query($id: ID!) { product(id: $id) { id priceCents } }`;
const RENAME = `mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { id name } }`;

/** The metrics' values after a scripted sequence against the real app: cold, warm, a write. */
describe('metrics after cold, warm and a write', () => {
  const started = useTestApp({ RESPONSE_CACHE: 'on' });

  it('a cold query counts misses in L2 and L3, one load and its duration, a response-tier miss and store', async () => {
    const t = started();
    const { products } = await createCatalogFixture(t.app.database.prisma, { products: 1 });
    const id = String(products[0]!.id);
    const before = await scrape(t.url);
    expect((await t.query(PRODUCT, { id })).body.errors).toBeUndefined();
    const after = await scrapeUntil(t.url, (s) => delta(s, before, 'gqlcache_response_tier_total', { result: 'store' }) >= 1);

    expect(delta(after, before, 'gqlcache_requests_total', { tier: 'L2', kind: 'Product', result: 'miss' })).toBe(1);
    expect(delta(after, before, 'gqlcache_requests_total', { tier: 'L3', kind: 'Product', result: 'miss' })).toBe(1);
    expect(delta(after, before, 'gqlcache_requests_total', { tier: 'L1', kind: 'Product', result: 'miss' })).toBe(1);
    expect(delta(after, before, 'gqlcache_loads_total', { kind: 'Product' })).toBe(1);
    expect(delta(after, before, 'gqlcache_load_duration_seconds_count', { kind: 'Product' })).toBe(1);
    expect(delta(after, before, 'gqlcache_response_tier_total', { result: 'miss' })).toBe(1);
    expect(delta(after, before, 'gqlcache_response_tier_total', { result: 'store' })).toBe(1);
    expect(sumOf(after, 'gqlcache_l2_entries')).toBeGreaterThan(0);
    expect(sumOf(after, 'gqlcache_l2_bytes')).toBeGreaterThan(0);
    expect(sumOf(after, 'gqlcache_l2_max_bytes')).toBe(t.app.cache.local!.maxBytes);
  });

  it('warm: the same query is a response-tier hit; another query of the same product an L2 hit, no load', async () => {
    const t = started();
    const { products } = await createCatalogFixture(t.app.database.prisma, { products: 1 });
    const id = String(products[0]!.id);
    await t.query(PRODUCT, { id });
    await scrapeUntil(t.url, () => t.app.cache.local!.entryCount > 0);
    const before = await scrape(t.url);

    expect((await t.query(PRODUCT, { id })).headers.get('x-response-cache')).toBe('HIT');
    expect((await t.query(PRODUCT_PRICE, { id })).body.errors).toBeUndefined();
    const after = await scrape(t.url);

    expect(delta(after, before, 'gqlcache_response_tier_total', { result: 'hit' })).toBe(1);
    expect(delta(after, before, 'gqlcache_requests_total', { tier: 'L2', kind: 'Product', result: 'hit' })).toBe(1);
    expect(delta(after, before, 'gqlcache_loads_total', { kind: 'Product' })).toBe(0);
  });

  it('a mutation counts its invalidations by tag kind, and the refused mutation response is not a refusal', async () => {
    const t = started();
    const { products } = await createCatalogFixture(t.app.database.prisma, { products: 1 });
    const before = await scrape(t.url);
    expect((await t.mutate(RENAME, { id: String(products[0]!.id), input: { name: 'Renamed' } })).body.errors).toBeUndefined();
    const after = await scrape(t.url);

    expect(delta(after, before, 'gqlcache_invalidations_total', { tag_kind: 'entity' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(after, 'gqlcache_invalidations_total', { tag_kind: 'entity' })).toBeGreaterThanOrEqual(1);
    expect(delta(after, before, 'gqlcache_response_tier_refusals_total')).toBe(0);
  });

  it('a query with errors is a refusal for "errors"', async () => {
    const t = started();
    const before = await scrape(t.url);
    await t.query(`{ product(id: "not-a-number") { id } }`);
    const after = await scrape(t.url);
    expect(delta(after, before, 'gqlcache_response_tier_refusals_total', { reason: 'errors' })).toBe(1);
  });

  it('serves no-store Prometheus text, with the bus, tier and process metrics, and no id in any label', async () => {
    const t = started();
    const response = await fetch(`${t.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-response-cache')).toBeNull();
    const text = await response.text();
    for (const name of ['gqlcache_bus_hearing 1', 'gqlcache_tier_up{tier="L3"} 1', 'gqlcache_tier_up{tier="L2"} 1', 'gqlcache_bus_heartbeat_age_seconds', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds']) {
      expect(text).toContain(name);
    }
    // Labels carry kinds and outcomes only: never a key (the prefix) or an entity tag.
    expect(text).not.toContain(t.prefix);
    expect(text).not.toMatch(/Product:\d/);
  });
});

describe('a response over RESPONSE_CACHE_MAX_BYTES', () => {
  const started = useTestApp({ RESPONSE_CACHE: 'on', RESPONSE_CACHE_MAX_BYTES: '0' });

  it('is sent, not stored, and counted as a refusal for "too_large"', async () => {
    const t = started();
    const { products } = await createCatalogFixture(t.app.database.prisma, { products: 1 });
    const before = await scrape(t.url);
    expect((await t.query(PRODUCT, { id: String(products[0]!.id) })).headers.get('x-response-cache')).toBe('MISS');
    const after = await scrape(t.url);
    expect(delta(after, before, 'gqlcache_response_tier_refusals_total', { reason: 'too_large' })).toBe(1);
    expect(delta(after, before, 'gqlcache_response_tier_total', { result: 'store' })).toBe(0);
  });
});

describe('invalidation propagation', () => {
  let a: TestApp;
  let b: TestApp;
  useTwoInstances({}, (pair) => ([a, b] = pair));

  it("B observes the delay of A's invalidation in its propagation histogram", async () => {
    const { products } = await createCatalogFixture(a.app.database.prisma, { products: 1 });
    const before = await scrape(b.url);
    expect((await a.mutate(RENAME, { id: String(products[0]!.id), input: { name: 'Propagated' } })).body.errors).toBeUndefined();
    const after = await scrapeUntil(b.url, (s) => delta(s, before, 'gqlcache_invalidation_propagation_seconds_count') >= 1);
    expect(delta(after, before, 'gqlcache_invalidation_propagation_seconds_count')).toBeGreaterThanOrEqual(1);
    // Less than the bus's deadline: it was heard, not cleared.
    expect(delta(after, before, 'gqlcache_invalidation_propagation_seconds_sum')).toBeLessThan(2);
  });
});

describe('Redis down', () => {
  const behind = useAppBehindRedisProxy((proxyUrl) => ({ CACHE_PREFIX: uniquePrefix(), REDIS_URL: proxyUrl, REDIS_COMMAND_TIMEOUT_MS: '100' }));

  it('counts the timed-out L3 commands and shows L3 down, while the queries are still answered', async () => {
    const t = behind.app;
    const { products } = await createCatalogFixture(t.app.database.prisma, { products: 1 });
    const before = await scrape(t.url);
    behind.proxy.set({ kind: 'hang' });
    try {
      expect((await t.query(PRODUCT, { id: String(products[0]!.id) })).body.data?.product.name).toBe(products[0]!.name);
      const after = await scrapeUntil(t.url, (s) => sumOf(s, 'gqlcache_tier_up', { tier: 'L3' }) === 0);
      expect(delta(after, before, 'gqlcache_redis_errors_total', { tier: 'L3', reason: 'timeout' })).toBeGreaterThanOrEqual(1);
      expect(sumOf(after, 'gqlcache_tier_up', { tier: 'L3' })).toBe(0);
    } finally {
      behind.proxy.set({ kind: 'pass' });
    }
  });
});

describe('write-behind views', () => {
  // The flusher's first batch runs at start; the next one an hour later: views recorded now stay buffered.
  const held = useTestApp({ VIEW_FLUSH_INTERVAL_MS: '3600000' });
  const flushing = useTestApp({ VIEW_FLUSH_INTERVAL_MS: '20' });
  const VIEW = `mutation($id: ID!) { recordProductView(id: $id) }`;

  it('views recorded and not flushed show as pending, with the age of the oldest', async () => {
    const t = held();
    const { products } = await createCatalogFixture(t.app.database.prisma, { products: 1 });
    for (let i = 0; i < 3; i++) expect((await t.query(VIEW, { id: String(products[0]!.id) })).body.data?.recordProductView).toBe(true);
    const samples = await scrape(t.url);
    expect(sumOf(samples, 'gqlcache_views_pending')).toBe(3);
    expect(sumOf(samples, 'gqlcache_views_flush_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(sumOf(samples, 'gqlcache_views_flush_lag_seconds')).toBeLessThan(60);
    expect(sumOf(samples, 'gqlcache_views_flushed_total')).toBe(0);
  });

  it('flushed views are counted, and nothing is left pending', async () => {
    const t = flushing();
    const { products } = await createCatalogFixture(t.app.database.prisma, { products: 1 });
    for (let i = 0; i < 2; i++) await t.query(VIEW, { id: String(products[0]!.id) });
    const samples = await scrapeUntil(t.url, (s) => sumOf(s, 'gqlcache_views_flushed_total') >= 2 && sumOf(s, 'gqlcache_views_pending') === 0);
    expect(sumOf(samples, 'gqlcache_views_flushed_total')).toBe(2);
    expect(sumOf(samples, 'gqlcache_views_pending')).toBe(0);
    expect(sumOf(samples, 'gqlcache_views_flush_lag_seconds')).toBe(0);
  });
});

describe('METRICS=off and METRICS_PATH', () => {
  const off = useTestApp({ METRICS: 'off' });
  const moved = useTestApp({ METRICS_PATH: '/internal/prometheus' });

  it('off: no route, nothing counted', async () => {
    const t = off();
    expect((await fetch(`${t.url}/metrics`)).status).toBe(404);
    expect(t.app.metrics.enabled).toBe(false);
    expect(t.app.metrics.reads).toBeUndefined();
  });

  it('served on the configured path only', async () => {
    const t = moved();
    expect((await fetch(`${t.url}/metrics`)).status).toBe(404);
    expect(sumOf(await scrape(t.url, '/internal/prometheus'), 'gqlcache_tier_up', { tier: 'L3' })).toBe(1);
  });
});

// Private:

function delta(after: Parameters<typeof sumOf>[0], before: Parameters<typeof sumOf>[0], name: string, labels: Record<string, string> = {}): number {
  return sumOf(after, name, labels) - sumOf(before, name, labels);
}
