/**
 * An admin moves a doctor's patients in the admin page, by keyboard, in a real
 * browser against a real hub (dr-li leaves; dr-wang takes over): the Doctors
 * panel shows each doctor's patients and open items; disabling dr-li is
 * refused while they have any, saying how many; moving some patients, then
 * the rest, confirms the counts first and says what moved; dr-wang's page,
 * open meanwhile, shows the moved patient and the escalation now theirs;
 * then dr-li can be disabled.
 */
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { ADMIN_PASSWORD, connectClient, exampleDocument, login, publishAcked, secretOf, startTestHub, type TestHub } from '../helpers/hub.js';
import { district } from '../server/alerts/helpers.js';
import { launchBrowser, shot, signIn, until } from './browser.js';

let t: TestHub;
let browser: Browser;
let admin: Page;
let wang: Page;
let li: Page;
let gateway: MqttClient;
/** r-0001's crisis, escalated to dr-li. */
let crisis: string;

const rowsOf = (page: Page) => page.locator('[data-testid="patients"] [data-testid="patient-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-resident-id')).sort());

beforeAll(async () => {
  t = await startTestHub({ config: { loginPerMinute: 100 } });
  const doc = district();
  // A second patient of dr-li, with no alert.
  const third = exampleDocument('wh-0003', '0003').homes[0]!;
  third.residents[0]!.name = '张玉兰';
  doc.homes.push(third);
  const answer = await t.importDoc(doc);
  const passwords = Object.fromEntries(answer.users.map((u) => [u.username, u.password]));
  // r-0001: a crisis the call center escalates to dr-li, and a warning (bp_high) for dr-li to review.
  gateway = await connectClient(t.mqttUrl, 'gw-0001', secretOf(answer, 'gw-0001'));
  const reading = (id: string, systolic: number, diastolic: number) => ({ type: 'blood_pressure', id, ts: Date.now(), systolic, diastolic, unit: 'mmHg' });
  await publishAcked(gateway, 'anxin/v1/homes/wh-0001/devices/bp-0001/telemetry', reading('c1', 192, 100));
  await publishAcked(gateway, 'anxin/v1/homes/wh-0001/devices/bp-0001/telemetry', reading('w1', 172, 95));
  crisis = (await until(() => t.hub.ctx.engine.unresolved().find((a) => a.rule === 'bp_crisis'), (a) => !!a))!.id;
  const op = await login(t.hub, 'op-zhang', passwords['op-zhang']!);
  const esc = await t.hub.http.inject({ method: 'POST', url: `/api/v1/alerts/${crisis}/escalate`, headers: { authorization: `Bearer ${op}` }, payload: { target: 'doctor' } });
  expect(esc.statusCode).toBe(200);

  browser = await launchBrowser();
  const base = `http://127.0.0.1:${t.hub.httpPort}`;
  wang = await signIn(browser, base, 'dr-wang', passwords['dr-wang']!);
  await until(() => rowsOf(wang), (ids) => ids.length === 1);
  li = await signIn(browser, base, 'dr-li', passwords['dr-li']!);
  await li.locator(`[data-testid="escalations"] [data-alert-id="${crisis}"]`).waitFor({ timeout: 5000 });
  admin = await signIn(browser, base, 'admin', ADMIN_PASSWORD);
});

afterAll(async () => {
  gateway?.end(true);
  await browser?.close();
  await t?.destroy();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && admin && !admin.isClosed()) await shot(admin, 'failed-admin-doctors').catch(() => {});
});

it("shows each doctor's patients and open items, and refuses to disable dr-li, saying how many", async () => {
  expect(await rowsOf(wang)).toEqual(['r-0002']);
  const row = admin.locator('[data-testid="doctor-dr-li"]');
  await row.waitFor();
  expect([await row.getAttribute('data-patients'), await row.getAttribute('data-open-items')]).toEqual(['2', '2']);
  expect(await row.innerText()).toContain('2（1 / 1）');

  await admin.locator('[data-testid="toggle-dr-li"]').focus();
  await admin.keyboard.press('Enter');
  await admin.locator('[data-testid="dialog-user"]').waitFor();
  await admin.keyboard.press('Enter');
  const error = admin.locator('[data-testid="dialog-user"] [data-testid="dialog-error"]');
  await error.waitFor();
  expect(await error.innerText()).toContain('dr-li 仍有 2 位患者、2 项待办（升级 1，预警 1）');
  await admin.keyboard.press('Escape');
  expect(await admin.locator('[data-testid="user-dr-li"]').getAttribute('data-disabled')).toBe('false');
});

it("moves the patient with alerts, confirming the counts first; it appears on dr-wang's open page with the escalation", async () => {
  await admin.locator('[data-testid="move-patients-dr-li"]').focus();
  await admin.keyboard.press('Enter');
  const dialog = admin.locator('[data-testid="dialog-move-patients"]');
  await dialog.waitFor();
  // The target doctor's select has focus.
  expect(await admin.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('move-target');
  await admin.locator('[data-testid="move-target"]').selectOption('dr-wang');
  await admin.locator('[data-testid="move-scope-some"]').check();
  await admin.locator('[data-testid="move-patient-r-0001"]').check();
  await shot(admin, 'admin-move-patients-choose');
  await admin.keyboard.press('Control+Enter');
  const confirm = admin.locator('[data-testid="move-confirm"]');
  await confirm.waitFor();
  expect(await confirm.innerText()).toBe('将 李医生（dr-li） 的 1 位患者转给 王医生（dr-wang），并转交 1 项已升级告警（通知 王医生（dr-wang））和 1 条预警。');
  await shot(admin, 'admin-move-patients-confirm');
  await admin.keyboard.press('Enter'); // the confirm button has focus
  const notice = admin.locator('[data-testid="doctors-notice"]');
  await notice.waitFor();
  expect(await notice.innerText()).toContain('已将 1 位患者转给 王医生（dr-wang）：1 项升级已转交并通知，1 条预警已转入其待办。李医生（dr-li） 剩余 1 位患者、0 项待办。');
  await until(() => admin.locator('[data-testid="doctor-dr-li"]').getAttribute('data-patients'), (n) => n === '1');

  // dr-wang's page, open all along: the patient and the escalation arrive without a reload.
  await until(() => rowsOf(wang), (ids) => ids.includes('r-0001'), 8000);
  await wang.locator(`[data-testid="escalations"] [data-alert-id="${crisis}"]`).waitFor({ timeout: 5000 });
  await shot(wang, 'doctor-after-move');
  // dr-li's page, open all along too: the patient and the escalation that went with them leave it.
  await until(() => rowsOf(li), (ids) => !ids.includes('r-0001'), 8000);
  await li.locator(`[data-testid="escalations"] [data-alert-id="${crisis}"]`).waitFor({ state: 'detached', timeout: 5000 });
});

it('moves the rest (all), then dr-li can be disabled; dr-wang has all three patients', async () => {
  await admin.locator('[data-testid="move-patients-dr-li"]').focus();
  await admin.keyboard.press('Enter');
  await admin.locator('[data-testid="dialog-move-patients"]').waitFor();
  await admin.locator('[data-testid="move-target"]').selectOption('dr-wang');
  await admin.keyboard.press('Control+Enter');
  const confirm = admin.locator('[data-testid="move-confirm"]');
  await confirm.waitFor();
  expect(await confirm.innerText()).toContain('的 1 位患者转给 王医生（dr-wang），并转交 0 项已升级告警');
  await admin.keyboard.press('Enter');
  await until(() => admin.locator('[data-testid="doctors-notice"]').innerText(), (s) => s.includes('剩余 0 位患者、0 项待办'));
  await shot(admin, 'admin-doctors-moved');

  await admin.locator('[data-testid="toggle-dr-li"]').focus();
  await admin.keyboard.press('Enter');
  await admin.locator('[data-testid="dialog-user"]').waitFor();
  await admin.keyboard.press('Enter');
  await until(() => admin.locator('[data-testid="user-dr-li"]').getAttribute('data-disabled'), (v) => v === 'true');
  await until(() => admin.locator('[data-testid="doctor-dr-li"]').innerText(), (s) => s.includes('已停用'));

  // The patient with no alert arrives on dr-wang's open page too, without a reload (resident.doctor_changed).
  await until(() => rowsOf(wang), (ids) => ids.length === 3);
  expect(await rowsOf(wang)).toEqual(['r-0001', 'r-0002', 'r-0003']);
});
