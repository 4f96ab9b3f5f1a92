import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleCatalogPage } from '../support/browser/bundle.ts';
import { CatalogTab } from '../support/browser/catalogTab.ts';
import { FrontServer, type ProxiedExchange } from '../support/browser/frontServer.ts';
import { useChromium } from '../support/chromium.ts';
import { createCatalogFixture } from '../support/fixtures.ts';
import { deletePrefix, startTestApp, type TestApp } from '../support/testApp.ts';
import { adminToken, tokensFor } from '../support/tokens.ts';

/**
 * Real Chromium, its HTTP cache on, running Apollo Client 4 with persisted queries over GET, on a
 * page served from the API's own origin (a front server proxying /graphql): what a browser keeps
 * must never hide a write from the viewer who made it, nor one viewer's data from the next.
 *
 * The first read of each operation registers its persisted query (an unknown hash, then a POST
 * with the text); from then on the page's reads are GETs, which the browser's cache may keep.
 */
describe('the browser’s HTTP cache, in Chromium', () => {
  const chromium = useChromium();
  let api: TestApp;
  let front: FrontServer;
  let tab: CatalogTab | undefined;
  let products: Array<{ id: number; name: string }>;

  beforeAll(async () => {
    api = await startTestApp({ RESPONSE_CACHE: 'on' });
    front = await FrontServer.start({ script: await bundleCatalogPage(), api: api.url });
    ({ products } = await createCatalogFixture(api.app.database.prisma, { products: 2 }));
  }, 120_000);
  afterAll(async () => {
    await tab?.close();
    await front?.stop();
    await api?.stop();
    if (api) await deletePrefix(api.prefix);
  });

  async function openTab(): Promise<CatalogTab> {
    await tab?.close();
    tab = await CatalogTab.open(chromium(), `${front.url}/`);
    return tab;
  }

  /**
   * Reads until the browser got, and may keep, a GET's answer: the first read of an operation the
   * server does not know yet registers its persisted query instead (an earlier test may have).
   */
  async function readUntilStored(read: () => Promise<void>): Promise<ProxiedExchange> {
    for (let i = 0; i < 3; i++) {
      await read();
      const last = front.exchanges.at(-1);
      if (last?.method === 'GET' && last.status === 200 && last.cacheControl !== 'no-store') return last;
    }
    throw new Error(`no GET answer the browser may keep: ${JSON.stringify(front.exchanges.slice(-4))}`);
  }

  it('a network-only re-query after the viewer’s own write shows the write', { timeout: 60_000 }, async () => {
    const page = await openTab();
    const product = products[0]!;
    await page.logIn(await adminToken());
    await readUntilStored(() => page.showProduct(product.id, 'network-only'));
    expect(await page.text('product')).toBe(`${product.id} ${product.name}`);

    await page.renameProduct(product.id, `${product.name} (renamed)`);
    expect(await page.text('error')).toBe('');
    await page.showProduct(product.id, 'network-only');
    expect(await page.text('product')).toBe(`${product.id} ${product.name} (renamed)`);
    expect(page.pageErrors).toEqual([]);
  });

  it('each reuse is revalidated with If-None-Match, and answered 304 while nothing changed', { timeout: 60_000 }, async () => {
    const page = await openTab();
    const product = products[1]!;
    const stored = await readUntilStored(() => page.showProduct(product.id, 'network-only'));
    expect(stored.ifNoneMatch).toBeUndefined();

    for (let i = 0; i < 2; i++) {
      const before = front.exchanges.length;
      await page.showProduct(product.id, 'network-only');
      // The browser asked the server (through the front server, which saw it), with the stored ETag.
      expect(front.exchanges.slice(before)).toMatchObject([{ method: 'GET', url: stored.url, ifNoneMatch: expect.stringMatching(/^"[^"]+"$/), status: 304 }]);
      expect(await page.text('product')).toBe(`${product.id} ${product.name}`);
    }
    expect(page.pageErrors).toEqual([]);
  });

  it('after signing out, the page shows no private data of the viewer before', { timeout: 60_000 }, async () => {
    const page = await openTab();
    const [token] = await tokensFor(1);
    const user = await api.app.database.prisma.user.findUniqueOrThrow({ where: { id: 1 } });
    await page.logIn(token!);
    expect(await readUntilStored(() => page.showViewer('network-only'))).toMatchObject({ authorization: true });
    expect(await page.text('viewer')).toBe(`1 ${user.name} ${user.email}`);

    await page.logOut();
    const before = front.exchanges.length;
    for (const fetchPolicy of ['cache-first', 'network-only'] as const) {
      await page.showViewer(fetchPolicy);
      expect(await page.text('viewer'), fetchPolicy).toBe('anonymous');
    }
    // Both asked the server, anonymously (what the server answered, 200 or a 304 for the anonymous copy, is its own business).
    expect(front.exchanges.slice(before).map((e) => [e.method, e.authorization])).toEqual([
      ['GET', false],
      ['GET', false],
    ]);
    expect(page.pageErrors).toEqual([]);
  });
});
