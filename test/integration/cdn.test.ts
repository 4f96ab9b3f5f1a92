import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { openDatabase } from '../../src/database/database.ts';
import { createCatalogFixture } from '../support/fixtures.ts';
import { startServerProcess, type ServerProcess } from '../support/serverProcess.ts';
import { deletePrefix, uniquePrefix } from '../support/testApp.ts';
import { ThrowawayNginx } from '../support/throwawayNginx.ts';
import { adminToken, tokensFor } from '../support/tokens.ts';

/**
 * A real CDN, nginx's proxy_cache running deploy/nginx/nginx.conf, in front of two real server
 * processes: what it stores, for how long, how it revalidates, and what it must never store, all
 * from the origin's headers. The X-Cache-Status header nginx adds says what the cache did; its
 * access log says which instance answered, and with what.
 *
 * The two entries whose expiry is tested are stored first thing, so one wait (the stock query's
 * s-maxage, 10 s) serves both expiry tests, which run last.
 */
const STOCK_QUERY = 'query Stock($id: ID!) { product(id: $id) { id name stock } }';
const ME_QUERY = '{ me { id name email } }';
// The rate limiter on, as in production, with a quota no test reaches: its headers must not be stored.
const ORIGIN_ENV = (prefix: string) => ({
  CACHE_PREFIX: prefix,
  RESPONSE_CACHE: 'on',
  RATE_LIMIT: 'on',
  RATE_LIMIT_REQUESTS: '100000',
  RATE_LIMIT_ANONYMOUS_REQUESTS: '100000',
  RATE_LIMIT_TRUSTED_PROXY_HOPS: '1',
});

describe('a CDN (nginx proxy_cache) in front of two server processes', () => {
  const prefix = uniquePrefix();
  let servers: ServerProcess[] = [];
  let cdn: ThrowawayNginx | undefined;
  let database: Awaited<ReturnType<typeof openDatabase>>;
  let fixture: Awaited<ReturnType<typeof createCatalogFixture>>;
  /** Stored at the start; revalidated, unchanged, once expired. */
  let unchanged: GetResult;
  /** Stored at the start; its product is renamed while the CDN holds it. */
  let renamed: GetResult;
  const newName = () => `Renamed ${fixture.tag}`;

  let setupFailure: Error | undefined;

  beforeAll(async () => {
    try {
      database = await openDatabase(loadConfig({ DATABASE_URL: inject('databaseUrl') }));
      fixture = await createCatalogFixture(database.prisma, { products: 2 });
      servers = await Promise.all([1, 2].map(() => startServerProcess(ORIGIN_ENV(prefix))));
      cdn = await ThrowawayNginx.start({ upstreams: servers.map((server) => server.url) });
      unchanged = await graphqlGet(cdn.url, stockOf(fixture.products[0]!.id));
      renamed = await graphqlGet(cdn.url, stockOf(fixture.products[1]!.id));
    } catch (error) {
      setupFailure = error instanceof Error ? error : new Error(String(error));
    }
  }, 60_000);
  // A failed beforeAll reports every test "skipped", and the CI's count says "0 failed"; without
  // nginx (or anything else this needs), every test fails with the reason instead.
  beforeEach(() => {
    if (setupFailure) throw setupFailure;
  });
  afterAll(async () => {
    await cdn?.stop();
    await Promise.all(servers.map((server) => server.stop()));
    await database?.close();
    await deletePrefix(prefix);
  });

  it('sends what it does not answer to both instances in turn', async () => {
    // Four operations it has not stored: four misses, round robin over the two instances.
    const results = [];
    for (const id of [11, 12, 13, 14]) results.push(await graphqlGet(cdn!.url, stockOf(id)));
    expect(results.map((r) => r.cacheStatus)).toEqual(['MISS', 'MISS', 'MISS', 'MISS']);
    const answeredBy = await Promise.all(results.map(async (r) => (await cdn!.waitForLogLine((line) => line.request === `GET ${r.uri}`)).upstream));
    expect(new Set(answeredBy)).toEqual(new Set(servers.map((server) => new URL(server.url).host)));
    // In turn: the rotation is shared by nginx's workers (the upstream's zone).
    expect(answeredBy[1]).not.toBe(answeredBy[0]);
    expect(answeredBy.slice(2)).toEqual(answeredBy.slice(0, 2));
  });

  it('stores a public GET: a MISS, then HITs with the same body and ETag, and a 304 for If-None-Match', async () => {
    const operation = stockOf(7);
    const miss = await graphqlGet(cdn!.url, operation);
    expect(miss.status).toBe(200);
    expect(miss.body.data?.product).toMatchObject({ id: '7' });
    expect(miss.cacheStatus).toBe('MISS');
    const hit = await graphqlGet(cdn!.url, operation);
    expect(hit.cacheStatus).toBe('HIT');
    expect(hit.body).toEqual(miss.body);

    // The origin's contract, which the CDN passes on: stock lowers the shared lifetime to 10, and
    // Product's grace allows 30 s stale; the browser behind revalidates every reuse.
    expect(directives(miss.headers)).toMatchObject({ public: true, 's-maxage': 10, 'max-age': 0, 'must-revalidate': true, 'stale-while-revalidate': 30 });
    expect(miss.headers.get('vary')).toMatch(/\bAccept\b/i);
    const etag = miss.headers.get('etag');
    expect(etag, 'a strong, quoted ETag').toMatch(/^"[^"]+"$/);
    expect(hit.headers.get('etag')).toBe(etag);
    const notModified = await graphqlGet(cdn!.url, operation, { 'if-none-match': etag! });
    expect(notModified.status).toBe(304);
    expect(notModified.body).toBeUndefined();
    expect(notModified.cacheStatus).toBe('HIT');
  });

  it("answers each request with its own request id and no other request's quota, from the origin or from its copy", async () => {
    const operation = stockOf(8);
    const miss = await graphqlGet(cdn!.url, operation);
    const hits = [await graphqlGet(cdn!.url, operation), await graphqlGet(cdn!.url, operation)];
    expect([miss, ...hits].map((r) => r.cacheStatus)).toEqual(['MISS', 'HIT', 'HIT']);
    const ids = [miss, ...hits].map((r) => r.headers.get('x-request-id'));
    expect(ids.every((id) => /^[0-9a-f]{32}$/.test(id ?? ''))).toBe(true);
    expect(new Set(ids).size).toBe(3);
    for (const r of [miss, ...hits]) expect([r.headers.get('ratelimit'), r.headers.get('ratelimit-policy')]).toEqual([null, null]);
  });

  it('a write reaches the origins at once, and the copy the CDN holds only when that expires', async () => {
    const product = fixture.products[1]!;
    expect(renamed.cacheStatus).toBe('MISS');
    expect(renamed.body.data?.product?.name).toBe(product.name);

    // POST: proxied, never looked up nor stored (no cache status at all).
    const write = await graphqlPost(cdn!.url, 'mutation($id: ID!, $name: String) { updateProduct(id: $id, input: { name: $name }) { id name } }', {
      id: String(product.id),
      name: newName(),
    });
    expect(write.body.errors).toBeUndefined();
    expect(write.body.data.updateProduct.name).toBe(newName());
    expect(write.cacheStatus).toBeNull();

    // Every instance's own tiers are coherent at once...
    for (const server of servers) {
      const direct = await graphqlGet(server.url, stockOf(product.id));
      expect(direct.body.data?.product?.name, server.url).toBe(newName());
    }
    // ...but nginx cannot purge by Surrogate-Key: until the origin's s-maxage has passed it serves what it holds.
    const cached = await graphqlGet(cdn!.url, stockOf(product.id));
    expect(cached.cacheStatus).toBe('HIT');
    expect(cached.body.data?.product?.name).toBe(product.name);
  });

  it('never stores a private response: each viewer gets their own, from the origin, every time', async () => {
    const [first, second] = await tokensFor(1, 2);
    const tokens = new Map([
      [1, first],
      [2, second],
    ]);
    const users = new Map((await database.prisma.user.findMany({ where: { id: { in: [1, 2] } } })).map((user) => [user.id, { id: String(user.id), name: user.name, email: user.email }]));
    // Same URL for both viewers: were one response stored, the other viewer would get it.
    for (const userId of [1, 2, 1, 2, 1, 2]) {
      const result = await graphqlGet(cdn!.url, { query: ME_QUERY }, { authorization: `Bearer ${tokens.get(userId)}` });
      expect(result.body.data?.me, `viewer ${userId}`).toEqual(users.get(userId));
      expect(result.cacheStatus, `viewer ${userId}`).toBe('MISS');
      expect(directives(result.headers)).toEqual({ private: true, 'no-cache': true });
      expect(result.headers.get('vary')).toMatch(/\bAuthorization\b/i);
    }
  });

  it('serves automatic persisted queries by GET: unknown hash, registration, then stored by hash', async () => {
    const query = `query CdnPersisted { product(id: "5") { id name } }`;
    const extensions = { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') } };

    // Asked twice: the "not found" answer is never stored, or the hash would stay unknown at the CDN.
    for (let i = 0; i < 2; i++) {
      const unknown = await graphqlGet(cdn!.url, { extensions });
      expect(unknown.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
      expect(unknown.headers.get('cache-control')).toBe('no-store');
      expect(unknown.cacheStatus).toBe('MISS');
    }
    const registered = await graphqlGet(cdn!.url, { query, extensions });
    expect(registered.body.data?.product).toMatchObject({ id: '5' });
    // Registered through one instance, known to both.
    for (const server of servers) {
      const byHash = await graphqlGet(server.url, { extensions });
      expect(byHash.body.data?.product, server.url).toEqual(registered.body.data.product);
    }
    const first = await graphqlGet(cdn!.url, { extensions });
    expect(first.body.data?.product).toEqual(registered.body.data.product);
    expect(first.cacheStatus).toBe('MISS');
    const second = await graphqlGet(cdn!.url, { extensions });
    expect(second.cacheStatus).toBe('HIT');
    expect(second.body).toEqual(first.body);
  });

  it('once s-maxage has passed, revalidates with the ETag: the origin answers 304 and the copy is fresh again', async () => {
    expect(unchanged.cacheStatus).toBe('MISS');
    await sleepUntil(expiresAt(unchanged));
    const uri = unchanged.uri;

    // Within the origin's stale-while-revalidate (30 s), nginx answers the request that finds the
    // entry expired from that entry (STALE) and revalidates it in a background subrequest, with
    // If-None-Match. The origin, either instance, knows the ETag and answers 304, no body: the
    // subrequest is logged REVALIDATED, and the entry is fresh for another s-maxage. Without
    // stale-while-revalidate, or after its window, the request itself would wait for the 304 and
    // be the one reported REVALIDATED.
    const stale = await graphqlGet(cdn!.url, { uri });
    expect(stale.cacheStatus).toBe('STALE');
    expect(stale.body).toEqual(unchanged.body);
    const revalidation = await cdn!.waitForLogLine((line) => line.request === `GET ${uri}` && line.cache === 'REVALIDATED');
    expect(revalidation.upstream_status).toBe('304');
    const fresh = await graphqlGet(cdn!.url, { uri });
    expect(fresh.cacheStatus).toBe('HIT');
    expect(fresh.headers.get('etag')).toBe(unchanged.headers.get('etag'));
    expect(fresh.body).toEqual(unchanged.body);
  });

  it('once s-maxage has passed, serves the written data, and never the old again', async () => {
    const staleUntil = expiresAt(renamed) + 1000 * (seconds(renamed.headers, 'stale-while-revalidate') ?? 0);
    await sleepUntil(expiresAt(renamed));

    // The first request after expiry may still get the old copy (STALE, within the origin's
    // stale-while-revalidate) while nginx refreshes it in the background; none after the refresh,
    // and none once s-maxage + stale-while-revalidate has passed.
    const seen: Array<{ name: unknown; cache: string | null }> = [];
    for (;;) {
      const result = await graphqlGet(cdn!.url, { uri: renamed.uri });
      seen.push({ name: result.body.data?.product?.name, cache: result.cacheStatus });
      if (result.body.data?.product?.name === newName() || Date.now() > staleUntil) break;
      await sleep(100);
    }
    expect(seen.at(-1)?.name, JSON.stringify(seen)).toBe(newName());
    for (let i = 0; i < 3; i++) {
      const after = await graphqlGet(cdn!.url, { uri: renamed.uri });
      expect(after.body.data?.product?.name).toBe(newName());
      expect(after.cacheStatus).toBe('HIT');
    }
  }, 60_000);
});

// Private:

interface GetResult {
  status: number;
  headers: Headers;
  /** The parsed JSON; undefined for an empty body (a 304). */
  body: any;
  /** X-Cache-Status, as nginx set it; null when nginx did not look in its cache, or the origin answered directly. */
  cacheStatus: string | null;
  /** Path and query as sent, the CDN's cache key and its access log's request. */
  uri: string;
  receivedAt: number;
}

interface GetOperation {
  query?: string;
  variables?: Record<string, unknown>;
  extensions?: Record<string, unknown>;
}

function stockOf(id: number): GetOperation {
  return { query: STOCK_QUERY, variables: { id: String(id) } };
}

/** GraphQL over GET, as a CDN-friendly client sends it; `{ uri }` repeats a request exactly. */
async function graphqlGet(baseUrl: string, operation: GetOperation | { uri: string }, headers: Record<string, string> = {}): Promise<GetResult> {
  const uri = 'uri' in operation ? operation.uri : `/graphql?${queryString(operation)}`;
  // Apollo's CSRF prevention refuses a GET that a browser could send cross-site without a preflight.
  const response = await fetch(`${baseUrl}${uri}`, { headers: { 'apollo-require-preflight': 'true', ...headers } });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? undefined : parseJson(text),
    cacheStatus: response.headers.get('x-cache-status'),
    uri,
    receivedAt: Date.now(),
  };
}

/** POSTs as the seeded admin: the tests' POSTs are catalog writes. */
async function graphqlPost(baseUrl: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await adminToken()}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: parseJson(await response.text()), cacheStatus: response.headers.get('x-cache-status') };
}

function queryString(operation: GetOperation): string {
  const params = new URLSearchParams();
  if (operation.query !== undefined) params.set('query', operation.query);
  if (operation.variables) params.set('variables', JSON.stringify(operation.variables));
  if (operation.extensions) params.set('extensions', JSON.stringify(operation.extensions));
  return params.toString();
}

/** An nginx error page is HTML: kept as text, so that an assertion shows it. */
function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return { text };
  }
}

/** Cache-Control as `{ public: true, 'max-age': 10, ... }`. */
function directives(headers: Headers): Record<string, number | true> {
  const parsed: Record<string, number | true> = {};
  for (const part of (headers.get('cache-control') ?? '').split(',')) {
    const [name, value] = part.trim().toLowerCase().split('=');
    if (name) parsed[name] = value === undefined ? true : Number(value);
  }
  return parsed;
}

function seconds(headers: Headers, directive: string): number | undefined {
  const value = directives(headers)[directive];
  return typeof value === 'number' ? value : undefined;
}

/**
 * When nginx first treats `stored` as expired. It keeps whole seconds: an entry stored during second
 * T with a lifetime of N (s-maxage, else max-age) is fresh until T + N is over. `receivedAt` is no
 * earlier than nginx's own clock at storing, so this is never too early; 250 ms covers clock reads.
 */
function expiresAt(stored: GetResult): number {
  const lifetime = seconds(stored.headers, 's-maxage') ?? seconds(stored.headers, 'max-age');
  if (lifetime === undefined) throw new Error(`not a cacheable response: cache-control ${stored.headers.get('cache-control')}`);
  return (Math.floor(stored.receivedAt / 1000) + lifetime + 1) * 1000 + 250;
}

async function sleepUntil(time: number): Promise<void> {
  const wait = time - Date.now();
  if (wait > 0) await sleep(wait);
}
