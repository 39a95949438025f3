/**
 * An admin replaces a home's gateway in the admin page, by keyboard, in a real
 * browser: the new gateway's secret is shown once with a copy button, works
 * over MQTT, and the old gateway is signed out and refused.
 */
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { ADMIN_PASSWORD, connectClient, exampleDocument, secretOf, startTestHub, type TestHub } from '../helpers/hub.js';
import { launchBrowser, shot, signIn } from './browser.js';

let t: TestHub;
let browser: Browser;
let page: Page;
let oldSecret: string;
let oldGateway: MqttClient;

beforeAll(async () => {
  t = await startTestHub();
  oldSecret = secretOf(await t.importDoc(exampleDocument()), 'gw-0001');
  oldGateway = await connectClient(t.mqttUrl, 'gw-0001', oldSecret);
  browser = await launchBrowser();
});

afterAll(async () => {
  oldGateway?.end(true);
  await browser?.close();
  await t?.destroy();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page && !page.isClosed()) await shot(page, 'failed-admin-actions').catch(() => {});
});

it('replaces a gateway: the new secret is shown once, works, and the old gateway is signed out and refused', async () => {
  page = await signIn(browser, `http://127.0.0.1:${t.hub.httpPort}`, 'admin', ADMIN_PASSWORD);
  const oldClosed = new Promise<void>((resolve) => oldGateway.once('close', () => resolve()));

  await page.locator('[data-testid="replace-gw-0001"]').focus();
  await page.keyboard.press('Enter');
  const dialog = page.locator('[data-testid="dialog-replace-gateway"]');
  await dialog.waitFor();
  expect(await dialog.innerText()).toContain('旧网关 gw-0001 的密钥立即作废');
  // The id field has focus; Enter confirms.
  await page.keyboard.type('gw-0101');
  await page.keyboard.press('Enter');

  const secret = page.locator('[data-testid="new-secret"]');
  await secret.waitFor();
  expect(await page.locator('[data-testid="dialog-secret"] h2').innerText()).toContain('gw-0101');
  const value = (await secret.innerText()).trim();
  expect(value.length).toBeGreaterThan(15);
  await page.locator('[data-testid="copy-secret"]').click();
  await expect.poll(() => page.locator('[data-testid="copy-secret"]').innerText()).toBe('已复制');
  await page.locator('[data-testid="device-gw-0101"]').waitFor();
  expect(await page.locator('[data-testid="homes-notice"]').innerText()).toContain('gw-0101');
  await shot(page, 'admin-gateway-replaced');

  // Shown once: closed, it is gone from the page.
  await page.keyboard.press('Escape');
  await expect.poll(() => secret.count()).toBe(0);
  expect(await page.content()).not.toContain(value);

  await oldClosed;
  const fresh = await connectClient(t.mqttUrl, 'gw-0101', value);
  fresh.end(true);
  await expect(connectClient(t.mqttUrl, 'gw-0001', oldSecret)).rejects.toMatchObject({ code: 4 });
});
