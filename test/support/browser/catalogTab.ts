import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { CatalogPage, FetchPolicy } from './catalogPage.ts';

/**
 * The catalog page open in a fresh Chromium profile (its own HTTP cache and localStorage), driven
 * from a test. Each action returns once the page shows its outcome; the page's text is read with
 * {@link CatalogTab.text}.
 */
export class CatalogTab {
  /** Uncaught errors of the page's script. */
  readonly pageErrors: string[] = [];

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
  ) {
    page.on('pageerror', (error) => this.pageErrors.push(error.message));
  }

  static async open(browser: Browser, url: string): Promise<CatalogTab> {
    const context = await browser.newContext();
    const tab = new CatalogTab(context, await context.newPage());
    await tab.page.goto(url);
    await tab.page.waitForFunction(() => 'catalog' in globalThis);
    return tab;
  }

  logIn(token: string): Promise<void> {
    return this.page.evaluate((t) => (globalThis as unknown as InPage).catalog.logIn(t), token);
  }

  logOut(): Promise<void> {
    return this.page.evaluate(() => (globalThis as unknown as InPage).catalog.logOut());
  }

  showProduct(id: number | string, fetchPolicy: FetchPolicy): Promise<void> {
    return this.page.evaluate(([i, p]) => (globalThis as unknown as InPage).catalog.showProduct(i, p), [String(id), fetchPolicy] as const);
  }

  renameProduct(id: number | string, name: string): Promise<void> {
    return this.page.evaluate(([i, n]) => (globalThis as unknown as InPage).catalog.renameProduct(i, n), [String(id), name] as const);
  }

  showViewer(fetchPolicy: FetchPolicy): Promise<void> {
    return this.page.evaluate((p) => (globalThis as unknown as InPage).catalog.showViewer(p), fetchPolicy);
  }

  /** The text of `#product`, `#viewer` or `#error`. */
  async text(id: 'product' | 'viewer' | 'error'): Promise<string> {
    return (await this.page.textContent(`#${id}`)) ?? '';
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

// Private:

/** The page's globals, as the functions serialised into it see them (so they cannot call helpers). */
interface InPage {
  readonly catalog: CatalogPage;
}
