import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

/**
 * Debian's Chromium (`apt-get install chromium`; `.ci/run` does), headless, driven by
 * playwright-core. `CHROMIUM_BINARY` points elsewhere.
 */
export const CHROMIUM_BINARY = process.env.CHROMIUM_BINARY ?? '/usr/bin/chromium';

/** No sandbox (CI runs as root in a container), and nothing of its own on the network. */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_BINARY, args: FLAGS, headless: true });
}

/** One Chromium for all the tests of a file: launched before them, closed after. */
export function useChromium(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error('Chromium has not started');
    return browser;
  };
}
