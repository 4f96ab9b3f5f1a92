import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleCatalogPage } from '../support/browser/bundle.ts';
import { CatalogTab } from '../support/browser/catalogTab.ts';
import { FrontServer } from '../support/browser/frontServer.ts';
import { useChromium } from '../support/chromium.ts';
import { createCatalogFixture } from '../support/fixtures.ts';
import { sendRaw } from '../support/rawHttp.ts';
import { deletePrefix, startTestApp, type TestApp } from '../support/testApp.ts';
import { adminToken } from '../support/tokens.ts';

/**
 * CORS with CORS_ORIGINS set to one site: what the server answers, byte for byte (preflights, and
 * the headers of misses, response-tier hits and 304s to different origins), and what real Chromium
 * makes of it, from a page on that site and from a page on another. Each site is a front server
 * on its own port serving the catalog page, whose requests go to the API's own origin.
 */
describe('CORS', () => {
  const chromium = useChromium();
  let api: TestApp;
  let shop: FrontServer;
  let elsewhere: FrontServer;
  let products: Array<{ id: number; name: string }>;
  const tabs: CatalogTab[] = [];

  beforeAll(async () => {
    const script = await bundleCatalogPage();
    [shop, elsewhere] = await Promise.all([FrontServer.start({ script }), FrontServer.start({ script })]);
    api = await startTestApp({ RESPONSE_CACHE: 'on', CORS_ORIGINS: shop.url });
    ({ products } = await createCatalogFixture(api.app.database.prisma, { products: 3 }));
  }, 120_000);
  afterAll(async () => {
    for (const tab of tabs) await tab.close();
    await Promise.all([shop?.stop(), elsewhere?.stop()]);
    await api?.stop();
    if (api) await deletePrefix(api.prefix);
  });

  describe('over raw HTTP', () => {
    it('a preflight from the allowed origin: 204 with that origin, the methods, the headers and a max-age', async () => {
      const answer = await raw('OPTIONS', '/graphql', {
        origin: shop.url,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      });
      expect(answer.status).toBe(204);
      expect(answer.headers).toMatchObject({
        'access-control-allow-origin': shop.url,
        'access-control-allow-methods': 'GET, POST',
        'access-control-allow-headers': 'content-type, authorization, apollo-require-preflight, x-apollo-operation-name, if-none-match',
        'access-control-max-age': '600',
        vary: 'Origin',
      });
      expect(answer.headers['access-control-allow-credentials']).toBeUndefined();
      expect(answer.text).toBe('');
    });

    it('a preflight from any other origin: 403, without a single Access-Control-* header', async () => {
      for (const origin of [elsewhere.url, 'null', `${shop.url}.evil.example`]) {
        const answer = await raw('OPTIONS', '/graphql', { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'apollo-require-preflight' });
        expect(answer.status, origin).toBe(403);
        expect(
          Object.keys(answer.headers).filter((name) => name.startsWith('access-control-')),
          origin,
        ).toEqual([]);
      }
    });

    it('a miss, a hit and a 304 each carry the CORS headers of their own request, never those of the request that stored it', async () => {
      const path = `/graphql?query=${encodeURIComponent(`{ product(id: ${products[0]!.id}) { id name } }`)}`;
      const get = (headers: Record<string, string>) => raw('GET', path, { 'apollo-require-preflight': 'true', ...headers });

      const miss = await get({ origin: shop.url });
      expect(miss.headers['x-response-cache']).toBe('MISS');
      expect(miss.headers).toMatchObject({ 'access-control-allow-origin': shop.url, 'access-control-expose-headers': 'ETag, Age, Retry-After, RateLimit, RateLimit-Policy, X-Request-Id', vary: 'Accept, Origin' });

      // Stored with the allowed origin's request: another origin's hit must not name it.
      const otherHit = await get({ origin: elsewhere.url });
      expect(otherHit.headers['x-response-cache']).toBe('HIT');
      expect(otherHit.headers['access-control-allow-origin']).toBeUndefined();
      expect(otherHit.headers.vary).toBe('Accept, Origin');

      const sameOriginHit = await get({});
      expect(sameOriginHit.headers['x-response-cache']).toBe('HIT');
      expect(sameOriginHit.headers['access-control-allow-origin']).toBeUndefined();
      expect(sameOriginHit.headers.vary).toBe('Accept, Origin');

      const hit = await get({ origin: shop.url });
      expect(hit.headers).toMatchObject({ 'x-response-cache': 'HIT', 'access-control-allow-origin': shop.url, vary: 'Accept, Origin' });

      for (const origin of [shop.url, elsewhere.url]) {
        const notModified = await get({ origin, 'if-none-match': miss.headers.etag! });
        expect(notModified.status, origin).toBe(304);
        expect(notModified.headers.vary, origin).toBe('Accept, Origin');
        expect(notModified.headers['access-control-allow-origin'], origin).toBe(origin === shop.url ? shop.url : undefined);
      }
    });

    it('a private response, an error and a 401 to the allowed origin carry them too', async () => {
      const post = (body: string, headers: Record<string, string> = {}) => raw('POST', '/graphql', { origin: shop.url, 'content-type': 'application/json', ...headers }, body);
      const viewer = await post(JSON.stringify({ query: '{ me { id } }' }), { authorization: `Bearer ${await adminToken()}` });
      expect(viewer.status).toBe(200);
      expect(viewer.headers).toMatchObject({ 'access-control-allow-origin': shop.url, vary: 'Accept, Authorization, Origin' });

      for (const answer of [await post('{"query": "{ nope }"}'), await post('{"query": "{ __typename }"}', { authorization: 'Bearer forged' })]) {
        expect(answer.status).toBeGreaterThanOrEqual(400);
        expect(answer.headers).toMatchObject({ 'access-control-allow-origin': shop.url, vary: 'Origin' });
      }
    });
  });

  describe('in Chromium', () => {
    async function openTab(site: FrontServer): Promise<CatalogTab> {
      const tab = await CatalogTab.open(chromium(), `${site.url}/?api=${encodeURIComponent(`${api.url}/graphql`)}`);
      tabs.push(tab);
      return tab;
    }

    it('the allowed site’s page reads, signs in, writes and reads its write back, cross-origin', { timeout: 60_000 }, async () => {
      const page = await openTab(shop);
      const product = products[1]!;
      await page.showProduct(product.id, 'network-only');
      expect(await page.text('error')).toBe('');
      expect(await page.text('product')).toBe(`${product.id} ${product.name}`);

      await page.logIn(await adminToken());
      await page.renameProduct(product.id, `${product.name} (from the shop)`);
      expect(await page.text('error')).toBe('');
      for (let i = 0; i < 2; i++) {
        await page.showProduct(product.id, 'network-only');
        expect(await page.text('product')).toBe(`${product.id} ${product.name} (from the shop)`);
      }
      expect(page.pageErrors).toEqual([]);
    });

    it('another site’s page cannot read the API: its request fails', { timeout: 60_000 }, async () => {
      const page = await openTab(elsewhere);
      const product = products[2]!;
      const refused = page.page.waitForEvent('requestfailed', (request) => request.url().startsWith(api.url));
      await page.showProduct(product.id, 'network-only');
      expect(await page.text('error')).toMatch(/^error: /);
      expect(await page.text('product')).toBe('');
      expect((await refused).failure()?.errorText).toMatch(/ERR_FAILED|CORS/i);
    });
  });

  /** One request over its own connection, answered in full. */
  async function raw(method: string, path: string, headers: Record<string, string>, body = ''): Promise<{ status: number; headers: Readonly<Record<string, string>>; text: string }> {
    const head = [`${method} ${path} HTTP/1.1`, `host: ${new URL(api.url).host}`, 'connection: close', `content-length: ${Buffer.byteLength(body)}`];
    for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
    const outcome = await sendRaw(api.url, Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`), { then: 'wait', boundMs: 20_000 });
    if (outcome.kind !== 'answered') throw new Error(`${method} ${path}: ${outcome.kind}`);
    return outcome;
  }
});
