/**
 * The admin page in a real browser: a refused import names its problems by
 * path, an accepted one shows the new secrets once; a device secret is
 * rotated (the new one works over MQTT, the old one no longer does); refused
 * payloads are listed; device status is live.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, connectClient, exampleDocument, publishAcked, startTestHub, type TestHub } from '../helpers/hub.js';
import { launchBrowser, shot, signIn } from './browser.js';

let t: TestHub;
let browser: Browser;
let page: Page;
let base: string;
let firstSecret: string;

beforeAll(async () => {
  t = await startTestHub({ config: { loginPerMinute: 100 } });
  base = `http://127.0.0.1:${t.hub.httpPort}`;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await t?.destroy();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page && !page.isClosed()) await shot(page, 'failed-admin').catch(() => {});
});

const importFile = async (name: string, doc: unknown) => {
  await page.locator('[data-testid="import-file"]').setInputFiles({ name, mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(doc)) });
  await page.locator('[data-testid="import-run"]').click();
};

describe('admin page', () => {
  it('signs the admin in to the admin page', async () => {
    page = await signIn(browser, base, 'admin', ADMIN_PASSWORD);
    expect(new URL(page.url()).pathname).toBe('/admin');
    expect(await page.locator('.page-name').innerText()).toBe('系统管理');
  });

  it('shows every problem of a refused import by its path', async () => {
    const doc = exampleDocument('wh-0002', '0002');
    (doc.homes[0]!.devices[1] as { type: string }).type = 'toaster';
    (doc.homes[0]!.residents[0] as { birthYear: number }).birthYear = 1800;
    await importFile('bad.json', doc);
    const errors = page.locator('[data-testid="import-errors"]');
    await errors.waitFor();
    const text = await errors.innerText();
    expect(text).toContain('/homes/0/devices/1/type');
    expect(text).toContain('/homes/0/residents/0/birthYear');
    // The hub's English problems, said in Chinese on a Chinese screen.
    expect(text).toMatch(/birthYear\s+不能小于 1900/);
    expect(text).toMatch(/type\s+必须是以下之一/);
    expect(await page.locator('[data-testid="home-wh-0002"]').count()).toBe(0);
  });

  it('imports a valid file and shows its secrets once', async () => {
    await importFile('district.json', exampleDocument('wh-0002', '0002'));
    const result = page.locator('[data-testid="import-result"]');
    await result.waitFor();
    expect(await result.innerText()).toContain('bp-0002');
    firstSecret = (await result.locator('tr', { hasText: 'bp-0002' }).locator('code.secret').innerText()).trim();
    expect(firstSecret.length).toBeGreaterThan(15);
    await page.locator('[data-testid="home-wh-0002"]').waitFor();
  });

  it('rotates a device secret: shown once, the new one works, the old one not', async () => {
    await page.locator('[data-testid="rotate-bp-0002"]').click();
    await page.locator('[data-testid="dialog-rotate"]').waitFor();
    await page.keyboard.press('Enter');
    const secret = page.locator('[data-testid="new-secret"]');
    await secret.waitFor();
    const value = (await secret.innerText()).trim();
    expect(value).not.toBe(firstSecret);
    await page.locator('[data-testid="copy-secret"]').click();
    await expect.poll(() => page.locator('[data-testid="copy-secret"]').innerText()).toBe('已复制');

    const device = await connectClient(t.mqttUrl, 'bp-0002', value);
    await expect(connectClient(t.mqttUrl, 'bp-0002', firstSecret)).rejects.toThrow();
    // Status is live on the page (device.status over the stream).
    await publishAcked(device, 'anxin/v1/homes/wh-0002/devices/bp-0002/status', { online: true, battery: 9 });
    await expect.poll(() => page.locator('[data-testid="device-bp-0002"]').getAttribute('data-state'), { timeout: 3000 }).toBe('online');
    // A refused reading lands in the refusals list.
    await publishAcked(device, 'anxin/v1/homes/wh-0002/devices/bp-0002/telemetry', { type: 'blood_pressure', id: 'x-1', ts: Date.now(), systolic: 400, diastolic: 80, unit: 'mmHg' });
    device.end(true);
    await page.keyboard.press('Escape');
  });

  it('lists refused payloads', async () => {
    const panel = page.locator('[data-testid="refusals-panel"]');
    await panel.getByRole('button', { name: '刷新' }).click();
    await panel.locator('tr[data-code="out_of_range"]').waitFor();
    expect(await panel.locator('tr[data-code="out_of_range"]').first().innerText()).toContain('systolic');
    await shot(page, 'admin');
  });
});
