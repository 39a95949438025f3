/**
 * The call-center console in a real browser against a real hub: sign-in, a
 * crisis reading over MQTT reaching the queue with its alarm, a second
 * operator seeing the claim, escalation to the doctor's page, resolve, the
 * chart's points, the language switch, a dropped stream resuming without
 * loss, and the 120 hand-off.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, exampleDocument, publishAcked, secretOf, startTestHub, tempDataDir, type TestHub } from '../helpers/hub.js';
import { launchBrowser, openPage, shot, signIn, until, waitForBody } from './browser.js';

let t: TestHub;
let browser: Browser;
let base: string;
let gateway: MqttClient;
/** The gateway of a second home, whose readings no console here shows. */
let otherGateway: MqttClient;
let passwords: Record<string, string>;
let op1: Page;
let op2: Page;
let doctor: Page;
let crisisId: string;

const TELEMETRY = 'anxin/v1/homes/wh-0001/devices/bp-0001/telemetry';
const FALL = 'anxin/v1/homes/wh-0001/devices/fall-0001/telemetry';
const OTHER_TELEMETRY = 'anxin/v1/homes/wh-0002/devices/bp-0002/telemetry';
/** Earlier blood-pressure readings over the last week, for the chart. */
const HISTORY = Array.from({ length: 8 }, (_, i) => ({
  type: 'blood_pressure', id: `hist-${i}`, ts: Date.now() - (7 - i) * 20 * 3600_000 - 3600_000,
  systolic: 128 + i * 3, diastolic: 78 + i, pulse: 70 + i, unit: 'mmHg',
}));

/** A short claim deadline, so an unclaimed alert turns overdue within the test. */
const CLAIM_SECONDS = 8;

beforeAll(async () => {
  const dataDir = tempDataDir();
  const rulesFile = join(dataDir, 'rules.json');
  writeFileSync(rulesFile, JSON.stringify({ claimDeadlineSeconds: { critical: CLAIM_SECONDS } }));
  t = await startTestHub({ dataDir, config: { loginPerMinute: 100, rulesFile, tickMs: 250 } });
  base = `http://127.0.0.1:${t.hub.httpPort}`;
  const doc = exampleDocument() as ReturnType<typeof exampleDocument> & { homes: Array<{ access?: string }> };
  doc.homes[0]!.access = '门口密码箱 4321；备用钥匙在 302 邻居张阿姨处';
  doc.users.push({ username: 'op-1', role: 'operator', name: '坐席一' }, { username: 'op-2', role: 'operator', name: '坐席二' });
  const other = exampleDocument('wh-0002', '0002').homes[0]!;
  other.residents[0]!.name = '赵秀兰';
  doc.homes.push(other);
  const answer = await t.importDoc(doc);
  passwords = Object.fromEntries(answer.users.map((u) => [u.username, u.password]));
  gateway = await connectClient(t.mqttUrl, 'gw-0001', secretOf(answer, 'gw-0001'));
  otherGateway = await connectClient(t.mqttUrl, 'gw-0002', secretOf(answer, 'gw-0002'));
  await publishAcked(gateway, TELEMETRY, HISTORY);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  gateway?.end(true);
  otherGateway?.end(true);
  await t?.destroy();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state !== 'fail') return;
  for (const [name, page] of Object.entries({ op1, op2, doctor })) if (page && !page.isClosed()) await shot(page, `failed-${name}`).catch(() => {});
});

const queueItem = (page: Page, id: string) => page.locator(`[data-testid="queue-item"][data-alert-id="${id}"]`);
const firstCritical = (page: Page) => page.locator('[data-testid="queue-item"][data-severity="critical"]').first();

describe('operator console', () => {
  it('signs an operator in to the console', async () => {
    const page = await openPage(browser, base);
    await page.waitForSelector('#username');
    expect(await page.locator('button[type=submit]').innerText()).toBe('登录');
    await shot(page, 'login');
    await page.context().close();

    op1 = await signIn(browser, base, 'op-1', passwords['op-1']!);
    expect(new URL(op1.url()).pathname).toBe('/operator');
    await expect.poll(() => op1.locator('[data-testid="connection"]').getAttribute('data-state')).toBe('connected');
    // Sound is off until the shift starts (browsers block audio until a click).
    expect(await op1.evaluate(() => document.body.dataset.audio)).toBe('locked');
    await expect.poll(() => op1.locator('[data-testid="audio-locked"]').isVisible()).toBe(true);
    await op1.locator('[data-testid="start-shift"]').click();
    await waitForBody(op1, 'audio', 'unlocked');
  });

  it('shows a crisis reading from MQTT within 2 s, sounding the alarm', async () => {
    op2 = await signIn(browser, base, 'op-2', passwords['op-2']!);
    const sent = Date.now();
    await publishAcked(gateway, TELEMETRY, { type: 'blood_pressure', id: 'crisis-1', ts: Date.now(), systolic: 192, diastolic: 104, pulse: 96, unit: 'mmHg' });
    await firstCritical(op1).waitFor({ timeout: 2000 });
    expect(Date.now() - sent).toBeLessThan(2000);
    crisisId = (await firstCritical(op1).getAttribute('data-alert-id'))!;
    // Critical first, though the trend warning of the same home came earlier; both one incident.
    expect(await op1.locator('[data-testid="queue-item"]').first().getAttribute('data-alert-id')).toBe(crisisId);
    expect(await op1.locator('[data-incident]').count()).toBe(1);
    expect(await op1.locator('[data-incident] [data-testid="queue-item"]').count()).toBe(2);
    expect(await firstCritical(op1).getAttribute('data-state')).toBe('open');
    expect(await firstCritical(op1).innerText()).toContain('王秀英');
    await waitForBody(op1, 'alarm', 'sounding', 2000);
    await expect.poll(() => op1.locator('[data-testid="alarm-banner"]').isVisible()).toBe(true);
    // Selected at once, with the resident card beside the queue.
    await op1.locator(`[data-testid="alert-detail"][data-alert-id="${crisisId}"]`).waitFor();
    await op1.locator('[data-testid="resident-card"]').waitFor();
    expect(await op1.locator('[data-testid="first-contact"]').getAttribute('href')).toBe('tel:+8613800000001');
    await queueItem(op2, crisisId).waitFor({ timeout: 2000 });
  });

  it('draws the stored readings in the chart, with the target band', async () => {
    const chart = op1.locator('[data-testid="chart-blood_pressure"]');
    await expect.poll(() => chart.getAttribute('data-points')).toBe(String(HISTORY.length + 1));
    expect(await chart.getAttribute('data-series')).toBe('3');
    // The plot is drawn in an effect after the figure renders its data attributes: wait for it.
    await expect.poll(() => chart.locator('canvas').count()).toBe(1);
    await shot(op1, 'operator');
  });

  it('refreshes the chart with a live reading of the selected resident; readings of other homes never reach the console', async () => {
    const chart = op1.locator('[data-testid="chart-blood_pressure"]');
    const lastSeq = () => op1.evaluate(() => Number(document.body.dataset.lastSeq));
    const before = await lastSeq();
    // Stored, but not for this screen: it watches the selected resident only.
    await publishAcked(otherGateway, OTHER_TELEMETRY, { type: 'blood_pressure', id: 'other-1', ts: Date.now(), systolic: 126, diastolic: 80, pulse: 70, unit: 'mmHg' });
    await new Promise((r) => setTimeout(r, 500));
    expect(await lastSeq()).toBe(before);
    await publishAcked(gateway, TELEMETRY, { type: 'blood_pressure', id: 'live-1', ts: Date.now(), systolic: 136, diastolic: 84, pulse: 72, unit: 'mmHg' });
    await expect.poll(() => chart.getAttribute('data-points'), { timeout: 3000 }).toBe(String(HISTORY.length + 2));
    expect(await lastSeq()).toBeGreaterThan(before);
  });

  it('a claim by one operator shows on the other console and stops the alarm', async () => {
    await op1.keyboard.press('a');
    await expect.poll(() => queueItem(op2, crisisId).getAttribute('data-state'), { timeout: 2000 }).toBe('acknowledged');
    expect(await queueItem(op2, crisisId).locator('[data-testid="assignee"]').innerText()).toBe('op-1');
    await waitForBody(op1, 'alarm', 'silent', 2000);
  });

  it('escalates to the doctor, who sees it on their page and resolves it', async () => {
    await op1.keyboard.press('d');
    await op1.locator('[data-testid="dialog-doctor"]').waitFor();
    await op1.keyboard.press('Enter');
    await expect.poll(() => queueItem(op1, crisisId).getAttribute('data-state')).toBe('escalated');

    doctor = await signIn(browser, base, 'dr-li', passwords['dr-li']!);
    expect(new URL(doctor.url()).pathname).toBe('/doctor');
    const row = doctor.locator(`[data-testid="escalations"] [data-alert-id="${crisisId}"]`);
    await row.waitFor({ timeout: 2000 });
    await row.click();
    const panel = doctor.locator(`[data-testid="doctor-alert"][data-alert-id="${crisisId}"]`);
    await panel.locator('[data-testid="doctor-ack"]').click();
    await panel.locator('[data-testid="doctor-ack"]').waitFor({ state: 'detached' });
    await panel.locator('textarea').fill('已电话随访，嘱复测');
    await panel.locator('[data-testid="doctor-comment"]').click();
    await panel.locator('[data-testid="alert-history"] [data-action="commented"]').waitFor();
    await doctor.locator(`[data-testid="chart-blood_pressure"][data-points="${HISTORY.length + 2}"]`).waitFor(); // with the crisis and the live reading
    await shot(doctor, 'doctor');

    await panel.locator('select').selectOption('handled');
    await panel.locator('[data-testid="doctor-resolve"]').click();
    await expect.poll(() => panel.locator('[data-testid="alert-state"]').innerText()).toBe('已处理');
    // Gone from both operators' queues.
    await queueItem(op2, crisisId).waitFor({ state: 'detached', timeout: 2000 });
    await queueItem(op1, crisisId).waitFor({ state: 'detached', timeout: 2000 });
  });

  it('switches the language', async () => {
    const title = op2.locator('.page-name');
    expect(await title.innerText()).toBe('坐席台');
    await op2.locator('[data-testid="lang-switch"]').click();
    await expect.poll(() => title.innerText()).toBe('Operator console');
    await expect.poll(() => op2.evaluate(() => document.documentElement.lang)).toBe('en');
    expect(await op2.locator('[data-testid="act-ack"]').innerText()).toContain('Claim');
    await shot(op2, 'operator-en');
    await op2.keyboard.press('l');
    await expect.poll(() => title.innerText()).toBe('坐席台');
    await expect.poll(() => op2.evaluate(() => document.documentElement.lang)).toBe('zh-CN');
  });

  it('resumes a dropped stream and shows what was raised meanwhile', async () => {
    await op2.evaluate(() => {
      const ws = (window as unknown as { __ws: { block: boolean; sockets: WebSocket[] } }).__ws;
      ws.block = true;
      for (const s of ws.sockets) s.close();
    });
    await until(() => op2.evaluate(() => document.body.dataset.conn), (s) => s === 'reconnecting' || s === 'offline');
    expect(await op2.locator('[data-testid="connection"]').innerText()).toMatch(/正在重连|已断开/);

    await publishAcked(gateway, FALL, { type: 'fall', id: 'fall-while-down', ts: Date.now(), location: '卫生间' });
    const fallAlert = await until(() => t.hub.ctx.engine.unresolved().find((a) => a.rule === 'fall'), (a) => a !== undefined);
    await new Promise((r) => setTimeout(r, 300));
    expect(await queueItem(op2, fallAlert!.id).count()).toBe(0);

    await op2.evaluate(() => { (window as unknown as { __ws: { block: boolean } }).__ws.block = false; });
    await waitForBody(op2, 'conn', 'connected', 10_000);
    await queueItem(op2, fallAlert!.id).waitFor({ timeout: 2000 });
    expect(Number(await op2.evaluate(() => document.body.dataset.replayed))).toBeGreaterThanOrEqual(1);
    await op2.locator(`[data-testid="alert-detail"][data-alert-id="${fallAlert!.id}"] [data-testid="chart-blood_pressure"] canvas`).waitFor();
    // Left unclaimed past its deadline, it stands out as overdue (the hub marks it; the page shows it).
    await until(() => t.hub.ctx.alertService.get(fallAlert!.id)?.overdueAt ?? null, (v) => v !== null, (CLAIM_SECONDS + 3) * 1000);
    await expect.poll(() => queueItem(op2, fallAlert!.id).getAttribute('data-overdue')).toBe('true');
    expect(await queueItem(op2, fallAlert!.id).locator('.overdue-badge').innerText()).toBe('超时未认领');
    await shot(op2, 'operator-resumed');
  });

  it('escalates to 120 in two keys and shows the hand-off to read out', async () => {
    const fall = firstCritical(op1);
    await fall.click();
    const id = (await fall.getAttribute('data-alert-id'))!;
    await op1.locator(`[data-testid="alert-detail"][data-alert-id="${id}"]`).waitFor();
    await op1.keyboard.press('e');
    await op1.locator('[data-testid="dialog-emergency"]').waitFor();
    await op1.keyboard.press('Enter');
    const handoff = op1.locator('[data-testid="handoff-text"]');
    await handoff.waitFor({ timeout: 3000 });
    const text = await handoff.innerText();
    expect(text).toContain('王秀英');
    expect(text).toContain('威海市环翠区文化西路');
    expect(text).toContain('门口密码箱 4321');
    expect(parseFloat(await handoff.evaluate((el) => getComputedStyle(el).fontSize))).toBeGreaterThanOrEqual(22);
    await shot(op1, 'operator-handoff');
    await op1.keyboard.press('Escape');
    await expect.poll(() => queueItem(op1, id).getAttribute('data-state')).toBe('escalated');
    await op1.keyboard.press('?');
    await op1.locator('[data-testid="dialog-help"]').waitFor();
    await op1.keyboard.press('Escape');
  });

  it('resolves with an outcome and the note an unclaimed alert needs', async () => {
    const warning = op1.locator('[data-testid="queue-item"][data-severity="warning"]');
    const id = (await warning.getAttribute('data-alert-id'))!;
    await warning.click();
    await op1.locator(`[data-testid="alert-detail"][data-alert-id="${id}"]`).waitFor();
    await op1.keyboard.press('r');
    const dialog = op1.locator('[data-testid="dialog-resolve"]');
    await dialog.waitFor();
    expect(await dialog.locator('button[type=submit]').isDisabled()).toBe(true);
    await dialog.locator('select').selectOption('referred_to_doctor');
    await dialog.locator('textarea').fill('已电话联系，转家庭医生门诊复查');
    await shot(op1, 'operator-resolve');
    await op1.keyboard.press('Control+Enter');
    await queueItem(op1, id).waitFor({ state: 'detached', timeout: 2000 });
    const stored = t.hub.ctx.alertService.get(id)!;
    expect(stored).toMatchObject({ state: 'resolved', outcome: 'referred_to_doctor' });
  });
});
