/**
 * The doctor's page with two escalated alerts of two patients, in a real
 * browser against a real hub: what is typed for one alert stays with it, the
 * trend charts speak the page's language in 24-hour time, and a chart that
 * failed while the hub was unreachable comes back with the connection.
 */
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, exampleDocument, login, publishAcked, secretOf, startTestHub, type TestHub } from '../helpers/hub.js';
import { launchBrowser, shot, signIn, until, waitForBody } from './browser.js';

let t: TestHub;
let browser: Browser;
let base: string;
const gateways: MqttClient[] = [];
let page: Page;
/** Alerts escalated to dr-li: A of 王秀英 (wh-0001), B of 周建国 (wh-0004). */
let alertA: string;
let alertB: string;

const history = (s: string) => Array.from({ length: 5 }, (_, i) => ({
  type: 'blood_pressure', id: `h${s}-${i}`, ts: Date.now() - (i + 1) * 26 * 3600_000, systolic: 130 + i, diastolic: 80, pulse: 70, unit: 'mmHg',
}));

beforeAll(async () => {
  t = await startTestHub({ config: { loginPerMinute: 100, tickMs: 250 } });
  base = `http://127.0.0.1:${t.hub.httpPort}`;
  const doc = exampleDocument();
  const second = exampleDocument('wh-0004', '0004').homes[0]!;
  second.residents[0]!.name = '周建国';
  doc.homes.push(second);
  doc.users.push({ username: 'op-1', role: 'operator', name: '坐席一' });
  const answer = await t.importDoc(doc);
  const passwords = Object.fromEntries(answer.users.map((u) => [u.username, u.password]));
  for (const s of ['0001', '0004']) {
    const gw = await connectClient(t.mqttUrl, `gw-${s}`, secretOf(answer, `gw-${s}`));
    gateways.push(gw);
    await publishAcked(gw, `anxin/v1/homes/wh-${s}/devices/bp-${s}/telemetry`, history(s));
    await publishAcked(gw, `anxin/v1/homes/wh-${s}/devices/bp-${s}/telemetry`, { type: 'blood_pressure', id: `c${s}`, ts: Date.now(), systolic: 195, diastolic: 100, pulse: 90, unit: 'mmHg' });
  }
  const crises = await until(() => t.hub.ctx.engine.unresolved().filter((a) => a.rule === 'bp_crisis'), (l) => l.length === 2);
  alertA = crises.find((a) => a.homeId === 'wh-0001')!.id;
  alertB = crises.find((a) => a.homeId === 'wh-0004')!.id;
  const token = await login(t.hub, 'op-1', passwords['op-1']!);
  for (const id of [alertA, alertB]) {
    const res = await t.hub.http.inject({ method: 'POST', url: `/api/v1/alerts/${id}/escalate`, headers: { authorization: `Bearer ${token}` }, payload: { target: 'doctor' } });
    expect(res.statusCode).toBe(200);
  }
  browser = await launchBrowser();
  page = await signIn(browser, base, 'dr-li', passwords['dr-li']!);
});

afterAll(async () => {
  await browser?.close();
  for (const g of gateways) g.end(true);
  await t?.destroy();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page && !page.isClosed()) await shot(page, 'failed-doctor-alerts').catch(() => {});
});

const row = (id: string) => page.locator(`[data-testid="escalations"] [data-alert-id="${id}"]`);
const panel = (id: string) => page.locator(`[data-testid="doctor-alert"][data-alert-id="${id}"]`);

describe('doctor page, two escalated alerts', () => {
  it('keeps a note, an outcome and an error with the alert they were made for', async () => {
    await row(alertA).click();
    await panel(alertA).locator('[data-testid="doctor-ack"]').click();
    await panel(alertA).locator('[data-testid="doctor-ack"]').waitFor({ state: 'detached' });
    // A comment that cannot be sent: its error belongs to A.
    await page.route(`**/api/v1/alerts/${alertA}/comment`, (r) => r.abort());
    await panel(alertA).locator('textarea').fill('王秀英：加服氨氯地平 5mg');
    await panel(alertA).locator('[data-testid="doctor-comment"]').click();
    const error = panel(alertA).locator('[data-testid="doctor-error"]');
    await error.waitFor();
    expect(await error.innerText()).toContain('无法连接到中心服务器');
    await page.unroute(`**/api/v1/alerts/${alertA}/comment`);
    await panel(alertA).locator('select').selectOption('hospitalised');

    await row(alertB).click();
    await panel(alertB).waitFor();
    expect(await panel(alertB).locator('textarea').inputValue()).toBe('');
    expect(await panel(alertB).locator('select').inputValue()).toBe('handled');
    expect(await page.locator('[data-testid="doctor-error"]').count()).toBe(0);
    await shot(page, 'doctor-switch-alert');

    await panel(alertB).locator('[data-testid="doctor-resolve"]').click();
    await until(() => t.hub.ctx.alertService.get(alertB)?.state, (s) => s === 'resolved');
    const b = t.hub.ctx.alertService.get(alertB)!;
    expect(b.outcome).toBe('handled');
    const notes = t.hub.ctx.alerts.history(alertB).map((h) => h.note);
    expect(notes.join(' ')).not.toContain('氨氯地平');
    // A is untouched: still with the doctor.
    expect(t.hub.ctx.alertService.get(alertA)!.state).toBe('escalated');
  });

  it('labels the trend charts in Chinese 24-hour time', async () => {
    await page.locator('[data-testid="patient-row"][data-resident-id="r-0001"]').click();
    const chart = page.locator('[data-testid="patient-panel"] [data-testid="chart-blood_pressure"]');
    await chart.locator('canvas').waitFor();
    // The legend's time under the cursor: 24-hour, no am/pm.
    const over = chart.locator('.u-over');
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width - 3, box.y + box.height / 2);
    const legendTime = chart.locator('.u-legend .u-series').first().locator('.u-value');
    const text = await until(() => legendTime.innerText(), (v) => v !== '--' && v !== '');
    expect(text).toMatch(/^\d{1,2}月\d{1,2}日 \d{2}:\d{2}$/);
    // The axis (drawn on the canvas; its labels are left on the figure): days in Chinese.
    const ticks = await until(() => chart.getAttribute('data-x-ticks'), (v) => !!v);
    expect(ticks).toMatch(/\d{1,2}月\d{1,2}日/);
    expect(ticks).not.toMatch(/am|pm/i);
    expect(await chart.locator('figcaption').innerText()).toContain('收缩压目标');
  });

  it('shows a chart that failed while the hub was unreachable in Chinese, and reloads it when the connection is back', async () => {
    const chart = page.locator('[data-testid="patient-panel"] [data-testid="chart-glucose"]');
    await chart.locator('canvas').waitFor();
    await page.route('**/api/v1/residents/*/readings*', (r) => r.abort());
    await page.evaluate(() => {
      const ws = (window as unknown as { __ws: { block: boolean; sockets: WebSocket[] } }).__ws;
      ws.block = true;
      for (const s of ws.sockets) s.close();
    });
    await until(() => page.evaluate(() => document.body.dataset.conn), (s) => s === 'reconnecting' || s === 'offline');
    await page.locator('[data-testid="patient-panel"] [data-testid="range-30"]').click();
    const error = chart.locator('[data-testid="chart-error-glucose"]');
    await error.waitFor({ timeout: 5000 });
    expect(await error.innerText()).toContain('无法连接到中心服务器');
    expect(await page.locator('[data-testid="patient-panel"]').innerText()).not.toMatch(/Failed to fetch/i);
    await shot(page, 'doctor-chart-failed');

    await page.unroute('**/api/v1/residents/*/readings*');
    await page.evaluate(() => { (window as unknown as { __ws: { block: boolean } }).__ws.block = false; });
    await waitForBody(page, 'conn', 'connected', 15_000);
    await error.waitFor({ state: 'detached', timeout: 5000 });
    await chart.locator('canvas').waitFor();
  });
});
