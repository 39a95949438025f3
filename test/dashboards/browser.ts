/**
 * Real Chromium for the dashboard tests (playwright-core against the Debian
 * `/usr/bin/chromium`), one context per signed-in person, 1366×768 (the
 * smallest call-center screen we support), screenshots kept as artifacts in
 * `test-results/screenshots/`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';

export const SCREENSHOTS = join(process.cwd(), 'test-results', 'screenshots');

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'],
  });
}

/**
 * Lets a test cut the live stream as a network drop would: every WebSocket the
 * page opens is recorded, and while `__ws.block` is set, new stream sockets go
 * to a closed port and fail.
 */
const WS_CONTROL = `(() => {
  const Native = window.WebSocket;
  window.__ws = { sockets: [], block: false };
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      const blocked = window.__ws.block && String(url).includes('/api/v1/stream');
      super(blocked ? 'ws://127.0.0.1:9/blocked' : url, protocols);
      window.__ws.sockets.push(this);
    }
  };
})();`;

/** A new browser context (its own cookies), on the sign-in page. */
export async function openPage(browser: Browser, baseUrl: string, path = '/'): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  await context.addInitScript(WS_CONTROL);
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[browser] ${err.message}`));
  await page.goto(`${baseUrl}${path}`);
  return page;
}

/** Signs in through the form and waits for the role's page. */
export async function signIn(browser: Browser, baseUrl: string, username: string, password: string): Promise<Page> {
  const page = await openPage(browser, baseUrl);
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  await page.locator('button[type=submit]').click();
  await page.waitForSelector('[data-testid$="-page"]');
  await waitForBody(page, 'conn', 'connected');
  return page;
}

/** Waits until `<body data-NAME>` equals `value`. */
export async function waitForBody(page: Page, name: string, value: string, timeout = 5000): Promise<void> {
  await page.waitForFunction(([n, v]) => document.body.dataset[n!] === v, [name, value], { timeout });
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

/** Polls `probe` until `ok`, failing with the last value. */
export async function until<T>(probe: () => Promise<T> | T, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > end) {
      expect.fail(`condition not met in ${ms} ms; last value: ${JSON.stringify(v)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
