/**
 * An alarm flood at the console (a district's network outage: thousands of
 * homes' gateways silent at once, each an urgent `gateway_offline`), in a
 * real browser against a real hub: a new critical alert still comes first;
 * the queue draws its head and says what it does not draw; the console says
 * when it could not even load every unresolved alert, with the true total,
 * and keeps those numbers honest as alerts it did not load change; the keys
 * walk the drawn queue; a supervisor's overdue panel is bounded the same way.
 *
 * The flood is raised the quick way: homes whose gateway never connected, and
 * the hub's clock moved 11 minutes on (past gateway_offline's 10), with the
 * claim windows cut to 1 s (critical) and 2 s (urgent), so they are all overdue before anyone signs in.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fleet, fleetDocument } from '../../bench/ingestTargets.js';
import { connectClient, login, publishAcked, secretOf, startTestHub, tempDataDir, type ImportAnswer, type TestHub } from '../helpers/hub.js';
import { launchBrowser, shot, signIn, until } from './browser.js';

/** More than the console's snapshot of 2,000. */
const FLOOD = 2300;
const SNAPSHOT = 2000;
/** Incidents the queue draws (AlertQueue QUEUE_DRAWN), rows the supervisor's panel draws (SUPERVISOR_DRAWN). */
const DRAWN = 100;
const ROWS = 50;
const MINUTE = 60_000;

let offset = 0;
let t: TestHub;
let browser: Browser;
let base: string;
let answer: ImportAnswer;
let cuff: MqttClient;
let meter: MqttClient;
let op: Page | undefined;
let sup: Page | undefined;
let crisisId: string;
let notLoaded: string[];

/** The home of the resident whose crisis arrives in the middle of the flood; no gateway, so nothing of it goes offline. */
const CRISIS_HOME = {
  id: 'wh-0001', address: '威海市环翠区文化西路 1 号 2 单元 301',
  residents: [{ id: 'r-0001', name: '王秀英', birthYear: 1941, doctor: 'dr-li' }],
  devices: [{ id: 'bp-0001', type: 'bp_cuff', resident: 'r-0001' }, { id: 'glu-0001', type: 'glucose_meter', resident: 'r-0001' }],
};

const password = (u: string) => answer.users.find((x) => x.username === u)!.password;
const db = () => t.hub.ctx.db;
const count = (sql: string) => (db().prepare(sql).get() as { n: number }).n;
const text = (page: Page, testId: string) => page.locator(`[data-testid="${testId}"]`).innerText();
const items = (page: Page) => page.locator('[data-testid="queue-item"]');
const api = async (user: string, method: 'GET' | 'POST', url: string, payload?: object) => {
  const res = await t.hub.http.inject({ method, url, headers: { authorization: `Bearer ${await login(t.hub, user, password(user))}` }, ...(payload && { payload }) });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
};

beforeAll(async () => {
  const dataDir = tempDataDir();
  const rulesFile = join(dataDir, 'rules.json');
  writeFileSync(rulesFile, JSON.stringify({ claimDeadlineSeconds: { critical: 1, urgent: 2 } }));
  t = await startTestHub({ dataDir, now: () => Date.now() + offset, config: { loginPerMinute: 1000, rulesFile, tickMs: 250 } });
  base = `http://127.0.0.1:${t.hub.httpPort}`;
  const flood = fleetDocument(fleet(FLOOD, 1)) as { homes: object[] };
  answer = await t.importDoc({
    homes: [CRISIS_HOME, ...flood.homes],
    users: [
      { username: 'op-1', role: 'operator', name: '坐席一' },
      { username: 'sup-1', role: 'supervisor', name: '组长一' },
      { username: 'dr-li', role: 'doctor', name: '李医生' },
    ],
  });
  cuff = await connectClient(t.mqttUrl, 'bp-0001', secretOf(answer, 'bp-0001'));
  meter = await connectClient(t.mqttUrl, 'glu-0001', secretOf(answer, 'glu-0001'));
  offset = 11 * MINUTE;
  // Every gateway offline, and every one of those overdue, before the consoles load.
  await until(() => count("SELECT count(*) AS n FROM alerts WHERE rule = 'gateway_offline' AND overdue_at IS NOT NULL"), (n) => n === FLOOD, 20_000);
  expect(count("SELECT count(*) AS n FROM alerts WHERE state != 'resolved'")).toBe(FLOOD);
  browser = await launchBrowser();
});

afterAll(async () => {
  cuff?.end(true);
  meter?.end(true);
  await browser?.close();
  await t?.destroy();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state !== 'fail') return;
  for (const [name, page] of Object.entries({ op, sup })) if (page && !page.isClosed()) await shot(page, `failed-flood-${name}`).catch(() => {});
});

describe('an operator console in an alarm flood', () => {
  it('says it loaded only the most urgent 2,000 of 2,300, draws 100 and sums up the rest', async () => {
    op = await signIn(browser, base, 'op-1', password('op-1'));
    await until(() => items(op!).count(), (n) => n === DRAWN, 10_000);
    // What the console's snapshot did not bring: the same query answers the same, nothing having changed since.
    const loaded = new Set(((await api('op-1', 'GET', `/api/v1/alerts?state=open,acknowledged,escalated&limit=${SNAPSHOT}`)).body.alerts as Array<{ id: string }>).map((a) => a.id));
    notLoaded = (db().prepare("SELECT id FROM alerts WHERE state != 'resolved'").all() as Array<{ id: string }>).map((r) => r.id).filter((id) => !loaded.has(id));
    expect(notLoaded).toHaveLength(FLOOD - SNAPSHOT);
    expect(await text(op, 'queue-count')).toBe('2,300');
    expect(await text(op, 'queue-truncated')).toBe('未解决告警共 2,300 条，本台仅载入最紧急的 2,000 条，其余 300 条未载入');
    expect(await text(op, 'queue-hidden')).toBe('另有 1,900 条告警未显示：紧急 1,900（其中网关离线 1,900 条）');
    // The alarm and the counts are of every alert held, drawn or not.
    expect(await op.locator('[data-testid="open-urgent"]').innerText()).toBe('紧急 2000');
    expect(await op.locator('[data-testid="alarm-banner"]').isVisible()).toBe(true);
    await shot(op, 'flood-operator');
  });

  it('puts a new critical alert first, and takes the selection', async () => {
    const sent = Date.now();
    await publishAcked(cuff, 'anxin/v1/homes/wh-0001/devices/bp-0001/telemetry', { type: 'blood_pressure', id: 'crisis-1', ts: Date.now() + offset, systolic: 192, diastolic: 104, pulse: 96, unit: 'mmHg' });
    const first = items(op!).first();
    await expect.poll(() => first.getAttribute('data-severity'), { timeout: 3000, interval: 20 }).toBe('critical');
    expect(Date.now() - sent).toBeLessThan(2000);
    crisisId = (await first.getAttribute('data-alert-id'))!;
    expect(await first.getAttribute('aria-selected')).toBe('true');
    expect(await first.innerText()).toContain('王秀英');
    expect(await items(op!).count()).toBe(DRAWN);
    expect(await text(op!, 'queue-count')).toBe('2,301');
    expect(await text(op!, 'queue-hidden')).toBe('另有 1,901 条告警未显示：紧急 1,901（其中网关离线 1,901 条）');
  });

  it('walks the drawn queue by keyboard, and stops at its end', async () => {
    const page = op!;
    const selected = () => page.locator('[data-testid="queue-item"][aria-selected="true"]').getAttribute('data-alert-id');
    const ids = await items(page).evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.alertId!));
    expect(ids[0]).toBe(crisisId);
    await page.keyboard.press('j');
    await page.keyboard.press('ArrowDown');
    await expect.poll(selected).toBe(ids[2]);
    await page.keyboard.press('k');
    await expect.poll(selected).toBe(ids[1]);
    // From the last one drawn, J stays (nothing undrawn is selected blindly), K goes back.
    await items(page).nth(DRAWN - 1).click();
    await page.keyboard.press('j');
    await page.keyboard.press('ArrowDown');
    await expect.poll(selected).toBe(ids[DRAWN - 1]);
    // The detail follows the selection.
    await expect.poll(() => page.locator('[data-testid="alert-detail"]').getAttribute('data-alert-id')).toBe(ids[DRAWN - 1]);
    await page.keyboard.press('ArrowUp');
    await expect.poll(selected).toBe(ids[DRAWN - 2]);
  });

  it('keeps the total and the notice honest when alerts it did not load change', async () => {
    const [gone, claimed] = notLoaded;
    expect(await op!.locator(`[data-alert-id="${gone}"]`).count()).toBe(0);

    expect((await api('op-1', 'POST', `/api/v1/alerts/${gone}/resolve`, { outcome: 'other', note: '网络已恢复' })).status).toBe(200);
    await expect.poll(() => text(op!, 'queue-count')).toBe('2,300');
    expect(await text(op!, 'queue-truncated')).toBe('未解决告警共 2,300 条，本台仅载入最紧急的 2,001 条，其余 299 条未载入');

    // A claim brings it in: held from now on, still unresolved.
    expect((await api('op-1', 'POST', `/api/v1/alerts/${claimed}/ack`, {})).status).toBe(200);
    await expect.poll(() => text(op!, 'queue-truncated')).toBe('未解决告警共 2,300 条，本台仅载入最紧急的 2,002 条，其余 298 条未载入');
    expect(await text(op!, 'queue-count')).toBe('2,300');
  });

  it('the alerts API says how many matched in all, within what the user may see', async () => {
    const page = await api('op-1', 'GET', `/api/v1/alerts?state=open,acknowledged,escalated&limit=${SNAPSHOT}`);
    expect(page.body).toMatchObject({ truncated: true, total: 2300 });
    expect(page.body.alerts).toHaveLength(SNAPSHOT);
    expect((await api('op-1', 'GET', '/api/v1/alerts?state=open&severity=critical')).body).toMatchObject({ truncated: false, total: 1 });

    // A doctor: their patient's two alerts, not the district's.
    await publishAcked(meter, 'anxin/v1/homes/wh-0001/devices/glu-0001/telemetry', { type: 'glucose', id: 'low-1', ts: Date.now() + offset, value: 3.5, unit: 'mmol/L' });
    await until(() => count("SELECT count(*) AS n FROM alerts WHERE resident_id = 'r-0001'"), (n) => n === 2);
    const doctor = await api('dr-li', 'GET', '/api/v1/alerts?state=open,acknowledged,escalated&limit=1');
    expect(doctor.body).toMatchObject({ truncated: true, total: 2 });
    expect(doctor.body.alerts).toHaveLength(1);
  });
});

describe("a supervisor's overdue panel in the flood", () => {
  it('draws 50 rows and sums up the rest, and says the console holds only part of them', async () => {
    // The crisis and the low glucose resolved: what is left is the flood.
    for (const a of db().prepare("SELECT id FROM alerts WHERE resident_id = 'r-0001' AND state != 'resolved'").all() as Array<{ id: string }>) {
      expect((await api('op-1', 'POST', `/api/v1/alerts/${a.id}/resolve`, { outcome: 'handled', note: '已电话确认' })).status).toBe(200);
    }
    sup = await signIn(browser, base, 'sup-1', password('sup-1'));
    const panel = sup.locator('[data-testid="supervisor-panel"]');
    // It holds 2,000 of the 2,299 unresolved, every one overdue; the one claimed late among them (if the
    // snapshot brought it: the flood was raised in one tick, so which of equal age it cuts is the store's choice) last.
    await expect.poll(() => text(sup!, 'overdue-count'), { timeout: 10_000 }).toBe('2,000');
    const snapshot = (await api('sup-1', 'GET', `/api/v1/alerts?state=open,acknowledged,escalated&limit=${SNAPSHOT}`)).body.alerts as Array<{ state: string }>;
    const claimedHeld = snapshot.filter((a) => a.state === 'acknowledged').length;
    expect(await panel.locator('[data-testid="overdue-row"]').count()).toBe(ROWS);
    expect(await panel.locator('[data-testid="overdue-row"][data-claimed="true"]').count()).toBe(0);
    expect(await text(sup, 'supervisor-hidden')).toBe(`另有 1,950 条超时告警未显示：紧急 1,950（其中网关离线 1,950 条），其中无人认领 ${(1950 - claimedHeld).toLocaleString('en')} 条`);
    expect(await panel.locator('[data-testid="supervisor-partial"]').isVisible()).toBe(true);
    expect(await text(sup, 'queue-truncated')).toBe('未解决告警共 2,299 条，本台仅载入最紧急的 2,000 条，其余 299 条未载入');
    // A row still opens its alert in the console.
    const row = panel.locator('[data-testid="overdue-row"]').nth(3);
    const id = await row.getAttribute('data-alert-id');
    await row.locator('button').click();
    await sup.locator(`[data-testid="queue-item"][data-alert-id="${id}"][aria-selected="true"]`).waitFor({ timeout: 2000 });
    await shot(sup, 'flood-supervisor');
  });
});
