/**
 * The doctor's page in a real browser: their patients with trends (both
 * charts draw the stored readings), and editing a patient's targets with the
 * hub's validation errors shown by field.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, exampleDocument, login, publishAcked, secretOf, startTestHub, type TestHub } from '../helpers/hub.js';
import { launchBrowser, shot, signIn } from './browser.js';

let t: TestHub;
let browser: Browser;
let page: Page;
let base: string;
let doctorPassword: string;

const hoursAgo = (h: number) => Date.now() - h * 3600_000;

beforeAll(async () => {
  t = await startTestHub({ config: { loginPerMinute: 100 } });
  base = `http://127.0.0.1:${t.hub.httpPort}`;
  const doc = exampleDocument();
  // A second patient of another doctor, who must not appear.
  const other = exampleDocument('wh-0009', '0009');
  other.homes[0]!.residents[0]!.doctor = 'dr-wang';
  other.homes[0]!.residents[0]!.name = '赵建国';
  const answer = await t.importDoc({ homes: [...doc.homes, ...other.homes], users: [...doc.users, { username: 'dr-wang', role: 'doctor', name: '王医生' }] });
  doctorPassword = answer.users.find((u) => u.username === 'dr-li')!.password;
  const gw = await connectClient(t.mqttUrl, 'gw-0001', secretOf(answer, 'gw-0001'));
  await publishAcked(gw, 'anxin/v1/homes/wh-0001/devices/bp-0001/telemetry',
    Array.from({ length: 6 }, (_, i) => ({ type: 'blood_pressure', id: `bp-${i}`, ts: hoursAgo(24 * (6 - i) + 2), systolic: 132 + i, diastolic: 82, pulse: 72, unit: 'mmHg' })));
  await publishAcked(gw, 'anxin/v1/homes/wh-0001/devices/glu-0001/telemetry',
    Array.from({ length: 4 }, (_, i) => ({ type: 'glucose', id: `g-${i}`, ts: hoursAgo(24 * (4 - i) + 3), value: 6.2 + i * 0.4, unit: 'mmol/L', context: 'fasting' })));
  gw.end(true);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await t?.destroy();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page && !page.isClosed()) await shot(page, 'failed-doctor').catch(() => {});
});

describe('doctor page', () => {
  it('lists only the doctor’s own patients, with both trend charts', async () => {
    page = await signIn(browser, base, 'dr-li', doctorPassword);
    const rows = page.locator('[data-testid="patient-row"]');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(1);
    expect(await rows.first().innerText()).toContain('王秀英');
    await rows.first().click();
    await page.locator('[data-testid="chart-blood_pressure"][data-points="6"]').waitFor();
    await page.locator('[data-testid="chart-glucose"][data-points="4"]').waitFor();
    await page.locator('[data-testid="range-30"]').click();
    await page.locator('[data-testid="chart-blood_pressure"][data-points="6"] canvas').waitFor();
    await shot(page, 'doctor-patient');
  });

  it('shows the hub’s validation errors by field, then saves valid targets', async () => {
    const form = page.locator('[data-testid="targets-form"]');
    const systolic = form.locator('input[data-path="/bp_high/systolic"]');
    expect(await systolic.inputValue()).toBe('170');
    await systolic.fill('-5');
    await form.locator('input[data-path="/glucose_low/value"]').fill('abc');
    await form.locator('[data-testid="targets-save"]').click();
    // Checked in the page first: a word is not a number.
    await form.locator('[data-testid="error-glucose_low-value"]').waitFor();
    await form.locator('input[data-path="/glucose_low/value"]').fill('4.4');
    await form.locator('[data-testid="targets-save"]').click();
    // Then by the hub: -5 is a number but not a threshold.
    const err = form.locator('[data-testid="error-bp_high-systolic"]');
    await err.waitFor();
    expect(await err.innerText()).toBe('必须大于 0');
    expect(await systolic.getAttribute('aria-invalid')).toBe('true');
    await form.scrollIntoViewIfNeeded();
    await shot(page, 'doctor-targets-error');

    await systolic.fill('150');
    await form.locator('[data-testid="targets-save"]').click();
    await expect.poll(() => form.locator('[data-testid="targets-summary"]').innerText()).toBe('已保存');
    const token = await login(t.hub, 'dr-li', doctorPassword);
    const res = await t.hub.http.inject({ url: '/api/v1/residents/r-0001', headers: { authorization: `Bearer ${token}` } });
    expect(res.json().targets).toEqual({ bp_high: { systolic: 150 }, glucose_low: { value: 4.4 } });
  });

  it('returns to the sign-in page when the session is ended elsewhere, without reconnecting the stream', async () => {
    const own = await signIn(browser, base, 'dr-li', doctorPassword);
    const cookie = (await own.context().cookies()).find((c) => c.name === 'anxin_session')!;
    // Signed out from another tab (same cookie): the hub closes this page's stream with 4401.
    const out = await t.hub.http.inject({ method: 'POST', url: '/api/v1/auth/logout', cookies: { anxin_session: cookie.value } });
    expect(out.statusCode).toBe(200);
    // Sooner than the stream's reconnect back-off would find out (0.5 + 1 + 2 + 4 s).
    await own.locator('#username').waitFor({ timeout: 3000 });
    expect(await own.evaluate(() => (window as unknown as { __ws: { sockets: unknown[] } }).__ws.sockets.length)).toBe(1);
    expect(new URL(own.url()).pathname).toBe('/login');
    await own.context().close();
  });
});
