/**
 * The call-center console when things go wrong, in a real browser against a
 * real hub: details that failed to load while the hub was unreachable come
 * back on their own with the connection (or by a Retry button), failures are
 * said in Chinese with the next step and never hidden behind a dialog, a
 * resident with no family doctor cannot be "sent to the doctor", and `H`
 * only shows a 120 hand-off that exists.
 */
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, exampleDocument, login, publishAcked, secretOf, startTestHub, type TestHub } from '../helpers/hub.js';
import { launchBrowser, shot, signIn, until, waitForBody } from './browser.js';

let t: TestHub;
let browser: Browser;
let base: string;
let gateways: MqttClient[] = [];
let passwords: Record<string, string>;
let op1: Page;
/** The SOS of 王秀英 (wh-0001, doctor dr-li) and the low glucose of 孙桂芝 (wh-0003, no doctor). */
let sosId: string;
let glucoseId: string;

const HISTORY = Array.from({ length: 5 }, (_, i) => ({
  type: 'blood_pressure', id: `hist-${i}`, ts: Date.now() - (i + 1) * 26 * 3600_000, systolic: 130 + i, diastolic: 80, pulse: 70, unit: 'mmHg',
}));

beforeAll(async () => {
  t = await startTestHub({ config: { loginPerMinute: 100, tickMs: 250 } });
  base = `http://127.0.0.1:${t.hub.httpPort}`;
  const doc = exampleDocument();
  const noDoctor = exampleDocument('wh-0003', '0003').homes[0]!;
  const { doctor: _none, ...resident } = noDoctor.residents[0]!;
  noDoctor.residents = [{ ...resident, name: '孙桂芝' } as typeof noDoctor.residents[0]];
  doc.homes.push(noDoctor);
  doc.users.push({ username: 'op-1', role: 'operator', name: '坐席一' }, { username: 'op-2', role: 'operator', name: '坐席二' });
  const answer = await t.importDoc(doc);
  passwords = Object.fromEntries(answer.users.map((u) => [u.username, u.password]));
  const gw1 = await connectClient(t.mqttUrl, 'gw-0001', secretOf(answer, 'gw-0001'));
  const gw3 = await connectClient(t.mqttUrl, 'gw-0003', secretOf(answer, 'gw-0003'));
  gateways = [gw1, gw3];
  await publishAcked(gw1, 'anxin/v1/homes/wh-0001/devices/bp-0001/telemetry', HISTORY);
  await publishAcked(gw1, 'anxin/v1/homes/wh-0001/devices/sos-0001/telemetry', { type: 'sos', id: 'sos-1', ts: Date.now() });
  await publishAcked(gw3, 'anxin/v1/homes/wh-0003/devices/glu-0003/telemetry', { type: 'glucose', id: 'g-1', ts: Date.now(), value: 3.5, unit: 'mmol/L' });
  const unresolved = await until(() => t.hub.ctx.engine.unresolved(), (l) => l.some((a) => a.rule === 'sos') && l.some((a) => a.rule === 'glucose_low'));
  sosId = unresolved.find((a) => a.rule === 'sos')!.id;
  glucoseId = unresolved.find((a) => a.rule === 'glucose_low')!.id;
  browser = await launchBrowser();
  op1 = await signIn(browser, base, 'op-1', passwords['op-1']!);
});

afterAll(async () => {
  await browser?.close();
  for (const g of gateways) g.end(true);
  await t?.destroy();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state !== 'fail' || !op1 || op1.isClosed()) return;
  await shot(op1, 'failed-operator-recovery').catch(() => {});
  // A dialog left open by a failed test would swallow the next test's keys.
  if (await op1.locator('dialog[open]').count()) await op1.keyboard.press('Escape');
});

const API = '**/api/v1/**';
const detailOf = (id: string) => op1.locator(`[data-testid="alert-detail"][data-alert-id="${id}"]`);
const select = async (id: string) => {
  await op1.locator(`[data-testid="queue-item"][data-alert-id="${id}"]`).click();
  await detailOf(id).waitFor();
};
/** Cuts the live stream as a network drop would (see browser.ts WS_CONTROL). */
const dropStream = async (page: Page) => {
  await page.evaluate(() => {
    const ws = (window as unknown as { __ws: { block: boolean; sockets: WebSocket[] } }).__ws;
    ws.block = true;
    for (const s of ws.sockets) s.close();
  });
  await until(() => page.evaluate(() => document.body.dataset.conn), (s) => s === 'reconnecting' || s === 'offline');
};
const restoreStream = async (page: Page) => {
  await page.evaluate(() => { (window as unknown as { __ws: { block: boolean } }).__ws.block = false; });
  await waitForBody(page, 'conn', 'connected', 15_000);
};
const toasts = () => op1.locator('.toast').allInnerTexts();

describe('operator console, when things fail', () => {
  it('loads an alert selected while the hub was unreachable once the connection is back, saying meanwhile what failed', async () => {
    await select(sosId);
    await op1.locator('[data-testid="resident-card"]').waitFor();

    await op1.route(API, (r) => r.abort());
    await dropStream(op1);
    await select(glucoseId);
    const failed = op1.locator('[data-testid="resident-error"]');
    await failed.waitFor({ timeout: 5000 });
    expect(await failed.innerText()).toContain('无法连接到中心服务器');
    expect(await failed.innerText()).not.toMatch(/fetch/i);
    expect(await failed.locator('[data-testid="retry"]').innerText()).toBe('重试');
    // `C` has no number to dial: it says so instead of doing nothing.
    await op1.keyboard.press('c');
    await expect.poll(toasts).toContainEqual(expect.stringContaining('联系人信息尚未加载'));
    await shot(op1, 'operator-detail-failed');

    await op1.unroute(API);
    await restoreStream(op1);
    // No click: the returning connection refetches the card, the chart and the history.
    const card = detailOf(glucoseId).locator('[data-testid="resident-card"]');
    await card.waitFor({ timeout: 5000 });
    expect(await card.innerText()).toContain('孙桂芝');
    await detailOf(glucoseId).locator('[data-testid="chart-glucose"] canvas').waitFor({ timeout: 5000 });
    await detailOf(glucoseId).locator('[data-testid="alert-history"]').waitFor({ timeout: 5000 });
    expect(await failed.count()).toBe(0);
    await op1.locator('.toast').click().catch(() => {});
  });

  it('retries a failed detail and a failed chart with their Retry buttons, in Chinese', async () => {
    await op1.route(API, (r) => r.abort());
    await select(sosId);
    const failed = op1.locator('[data-testid="resident-error"]');
    await failed.waitFor({ timeout: 5000 });
    await op1.unroute(API);
    await failed.locator('[data-testid="retry"]').click();
    await detailOf(sosId).locator('[data-testid="resident-card"]').waitFor({ timeout: 5000 });

    const chart = detailOf(sosId).locator('[data-testid="chart-blood_pressure"]');
    await expect.poll(() => chart.getAttribute('data-points')).toBe(String(HISTORY.length));
    await op1.route('**/api/v1/residents/*/readings*', (r) => r.abort());
    await detailOf(sosId).locator('[data-testid="range-30"]').click();
    const chartError = chart.locator('[data-testid="chart-error-blood_pressure"]');
    await chartError.waitFor({ timeout: 5000 });
    expect(await chart.innerText()).not.toMatch(/Failed to fetch/i);
    expect(await chartError.innerText()).toContain('无法连接到中心服务器');
    await op1.unroute('**/api/v1/residents/*/readings*');
    await chartError.locator('[data-testid="retry"]').click();
    await chartError.waitFor({ state: 'detached', timeout: 5000 });
    await chart.locator('canvas').waitFor();
  });

  it('says why a resident with no family doctor cannot go to a doctor, and what to do instead', async () => {
    await select(glucoseId);
    await detailOf(glucoseId).locator('[data-testid="resident-card"]').waitFor();
    expect(await op1.locator('[data-testid="act-doctor"]').isDisabled()).toBe(true);
    const hint = op1.locator('[data-testid="no-doctor"]');
    expect(await hint.innerText()).toContain('未登记家庭医生');
    expect(await hint.innerText()).toContain('120');
    await op1.keyboard.press('d');
    await expect.poll(toasts).toContainEqual(expect.stringContaining('未登记家庭医生'));
    // A toast in front of nothing: no dialog (whose backdrop would hide it) was opened.
    expect(await op1.locator('dialog[open]').count()).toBe(0);
    await shot(op1, 'operator-no-doctor');
    await op1.locator('.toast').click();
  });

  it('shows an escalation the hub refused in the dialog, in Chinese, with the next step', async () => {
    await select(sosId);
    // As the hub answers when the resident's doctor was removed after this page loaded its directory.
    await op1.route('**/api/v1/alerts/*/escalate*', (r) => r.fulfill({
      status: 409, contentType: 'application/json',
      body: JSON.stringify({ error: 'no_doctor', message: 'no family doctor is registered for this resident or home' }),
    }));
    await op1.keyboard.press('d');
    const dialog = op1.locator('[data-testid="dialog-doctor"]');
    await dialog.waitFor();
    await op1.keyboard.press('Enter');
    const error = dialog.locator('[data-testid="dialog-error"]');
    await error.waitFor({ timeout: 3000 });
    expect(await error.innerText()).toContain('未登记家庭医生');
    expect(await error.innerText()).not.toMatch(/registered|doctor is/);
    await shot(op1, 'operator-escalate-refused');
    await error.locator('[data-testid="dialog-call-120"]').click();
    await op1.locator('[data-testid="dialog-emergency"]').waitFor();
    expect(await op1.locator('[data-testid="dialog-emergency"] [data-testid="dialog-error"]').count()).toBe(0);
    await op1.keyboard.press('Escape');
    await op1.unroute('**/api/v1/alerts/*/escalate*');

    // Another operator calls 120 while this dialog is open: the hub's conflict shows in it.
    await op1.keyboard.press('d');
    await dialog.waitFor();
    const token = await login(t.hub, 'op-2', passwords['op-2']!);
    const res = await t.hub.http.inject({ method: 'POST', url: `/api/v1/alerts/${sosId}/escalate`, headers: { authorization: `Bearer ${token}` }, payload: { target: 'emergency' } });
    expect(res.statusCode).toBe(200);
    await op1.keyboard.press('Enter');
    await error.waitFor({ timeout: 3000 });
    expect(await error.innerText()).toContain('已被他人处理');
    expect(await error.innerText()).not.toMatch(/already/);
    await op1.keyboard.press('Escape');
  });

  it('tells the operator who lost a claim race in Chinese', async () => {
    await select(glucoseId);
    // This console has not heard of the other claim yet (its stream is down), as when both press A at once.
    await dropStream(op1);
    const token = await login(t.hub, 'op-2', passwords['op-2']!);
    const res = await t.hub.http.inject({ method: 'POST', url: `/api/v1/alerts/${glucoseId}/ack`, headers: { authorization: `Bearer ${token}` }, payload: {} });
    expect(res.statusCode).toBe(200);
    await op1.keyboard.press('a');
    await expect.poll(toasts).toContainEqual(expect.stringContaining('已被他人处理'));
    expect((await toasts()).join(' ')).not.toMatch(/already|acknowledged/);
    await restoreStream(op1);
    await op1.locator('.toast').click();
  });

  it('shows zero counts in the header legibly (contrast at least 4.5:1)', async () => {
    const zero = op1.locator('.sev-count.zero').first();
    await zero.waitFor();
    const ratio = await zero.evaluate((el) => {
      const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
      const lum = ([r, g, b]: number[]) => {
        const f = (v: number) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
      };
      let bg = getComputedStyle(el).backgroundColor;
      for (let e: Element | null = el; e && (rgb(bg)[3] === 0 || bg === 'transparent'); e = e.parentElement) bg = getComputedStyle(e).backgroundColor;
      const [fr, fg, fb] = rgb(getComputedStyle(el).color);
      const b = rgb(bg);
      // Opacity blends the text into what is behind it.
      const o = Number(getComputedStyle(el).opacity);
      const fgc = [fr! * o + b[0]! * (1 - o), fg! * o + b[1]! * (1 - o), fb! * o + b[2]! * (1 - o)];
      const [l1, l2] = [lum(fgc), lum(b)];
      return (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    });
    expect(ratio).toBeGreaterThanOrEqual(4.5);
  });

  it('lists H in the help and the footer, and shows a 120 hand-off only for an alert escalated to 120', async () => {
    await op1.keyboard.press('?');
    const help = op1.locator('[data-testid="dialog-help"]');
    await help.waitFor();
    expect(await help.innerText()).toMatch(/H\s+再次显示 120 交接单/);
    await op1.keyboard.press('Escape');
    expect(await op1.locator('.shortcut-bar').innerText()).toContain('再次显示 120 交接单');
    expect(await op1.locator('.shortcut-bar').innerText()).toContain('?');

    await select(glucoseId);
    await op1.keyboard.press('h');
    await expect.poll(toasts).toContainEqual(expect.stringContaining('没有交接单'));
    expect(await op1.locator('dialog[open]').count()).toBe(0);

    await select(sosId); // escalated to 120 by op-2 above
    await expect.poll(() => detailOf(sosId).locator('[data-testid="act-handoff"]').count()).toBe(1);
    await op1.keyboard.press('h');
    await op1.locator('[data-testid="dialog-handoff"]').waitFor({ timeout: 3000 });
    await op1.keyboard.press('Escape');
  });
});
