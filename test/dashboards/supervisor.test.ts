/**
 * Supervisors in a real browser (SPEC §5: an alert not claimed in time is
 * overdue and "supervisors see it"): a supervisor's console lists an overdue
 * critical alert as unclaimed, then with the operator who claimed it, until
 * it is resolved; an operator's console has no such panel. And the admin's
 * Users panel changes a role and disables an account, each confirmed, and
 * refuses to demote the last admin. Real hub (claim window shortened to 1 s
 * by its rules file), a real SOS over MQTT, real Chromium.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, connectClient, exampleDocument, login, publishAcked, secretOf, startTestHub, tempDataDir, type ImportAnswer, type TestHub } from '../helpers/hub.js';
import { launchBrowser, shot, signIn } from './browser.js';

let t: TestHub;
let browser: Browser;
let gateway: MqttClient;
let answer: ImportAnswer;
let base: string;
let page: Page | undefined;

const password = (username: string) => answer.users.find((u) => u.username === username)!.password;
const post = async (token: string, url: string, payload: object) =>
  t.hub.http.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` }, payload });

beforeAll(async () => {
  const dataDir = tempDataDir();
  const rulesFile = join(dataDir, 'rules.json');
  writeFileSync(rulesFile, JSON.stringify({ claimDeadlineSeconds: { critical: 1, urgent: 2 } }));
  t = await startTestHub({ dataDir, config: { loginPerMinute: 100, rulesFile, tickMs: 250 } });
  base = `http://127.0.0.1:${t.hub.httpPort}`;
  const doc = exampleDocument();
  doc.users.push(
    { username: 'op-1', role: 'operator', name: '坐席一' },
    { username: 'op-2', role: 'operator', name: '坐席二' },
    { username: 'sup-1', role: 'supervisor', name: '组长一' },
  );
  answer = await t.importDoc(doc);
  gateway = await connectClient(t.mqttUrl, 'gw-0001', secretOf(answer, 'gw-0001'));
  browser = await launchBrowser();
});

afterAll(async () => {
  gateway?.end(true);
  await browser?.close();
  await t?.destroy();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page && !page.isClosed()) await shot(page, 'failed-supervisor').catch(() => {});
});

describe("a supervisor's console", () => {
  it('lists an overdue critical alert as unclaimed, then with who claimed it, until it is resolved; an operator has no such panel', async () => {
    const operator = await signIn(browser, base, 'op-1', password('op-1'));
    expect(await operator.locator('[data-testid="supervisor-panel"]').count()).toBe(0);
    await operator.context().close();

    page = await signIn(browser, base, 'sup-1', password('sup-1'));
    expect(new URL(page.url()).pathname).toBe('/operator');
    expect(await page.locator('.page-name').innerText()).toBe('值班组长台');
    const panel = page.locator('[data-testid="supervisor-panel"]');
    await panel.locator('[data-testid="supervisor-empty"]').waitFor();

    await publishAcked(gateway, 'anxin/v1/homes/wh-0001/devices/sos-0001/telemetry', { type: 'sos', id: 'sos-1', ts: Date.now() });
    const row = panel.locator('[data-testid="overdue-row"]');
    await row.waitFor({ timeout: 5000 });
    expect(await row.getAttribute('data-claimed')).toBe('false');
    expect(await row.locator('[data-testid="overdue-claimer"]').innerText()).toBe('无人认领');
    expect(await row.locator('[data-testid="overdue-for"]').innerText()).toMatch(/^已超时 \d+秒$/);
    const alertId = (await row.getAttribute('data-alert-id'))!;

    const op = await login(t.hub, 'op-1', password('op-1'));
    expect((await post(op, `/api/v1/alerts/${alertId}/ack`, {})).statusCode).toBe(200);
    await expect.poll(() => row.getAttribute('data-claimed'), { timeout: 3000 }).toBe('true');
    expect(await row.locator('[data-testid="overdue-claimer"]').innerText()).toBe('op-1');
    expect(await row.locator('[data-testid="overdue-for"]').innerText()).toMatch(/^超时 \d+秒 后认领$/);
    await shot(page, 'supervisor');

    // By keyboard: O jumps to the panel, Enter opens the alert in the console.
    await page.locator('[data-testid="queue"]').click();
    await page.keyboard.press('o');
    await page.keyboard.press('Enter');
    await page.locator(`[data-testid="queue-item"][data-alert-id="${alertId}"][aria-selected="true"]`).waitFor({ timeout: 2000 });

    expect((await post(op, `/api/v1/alerts/${alertId}/resolve`, { outcome: 'false_alarm' })).statusCode).toBe(200);
    await row.waitFor({ state: 'detached', timeout: 3000 });
    await panel.locator('[data-testid="supervisor-empty"]').waitFor();

    // The help lists the supervisor's extra key.
    await page.keyboard.press('?');
    const help = page.locator('[data-testid="dialog-help"]');
    await help.waitFor();
    expect(await help.locator('kbd', { hasText: /^O$/ }).count()).toBe(1);
    await page.context().close();
  });
});

describe("the admin's Users panel", () => {
  it('changes a role after a confirmation, and the person is signed out', async () => {
    const session = await login(t.hub, 'op-2', password('op-2'));
    page = await signIn(browser, base, 'admin', ADMIN_PASSWORD);
    const row = page.locator('[data-testid="user-op-2"]');
    expect(await row.getAttribute('data-role')).toBe('operator');
    await page.locator('[data-testid="role-select-op-2"]').selectOption('supervisor');
    await page.locator('[data-testid="role-apply-op-2"]').click();
    const dialog = page.locator('[data-testid="dialog-user"]');
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain('将 坐席二（op-2） 的角色从“呼叫中心坐席”改为“值班组长”？');
    await page.keyboard.press('Enter');
    await expect.poll(() => row.getAttribute('data-role'), { timeout: 3000 }).toBe('supervisor');
    expect(await page.locator('[data-testid="users-notice"]').innerText()).toBe('已更新 op-2');
    expect((await t.hub.http.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${session}` } })).statusCode).toBe(401);

    // Disabling, by keyboard.
    await page.locator('[data-testid="toggle-op-2"]').focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.keyboard.press('Enter');
    await expect.poll(() => row.getAttribute('data-disabled'), { timeout: 3000 }).toBe('true');
  });

  it('refuses to demote the last admin, and says why in the dialog', async () => {
    await page!.locator('[data-testid="role-select-admin"]').selectOption('operator');
    await page!.locator('[data-testid="role-apply-admin"]').click();
    await page!.locator('[data-testid="dialog-user"]').waitFor();
    await page!.keyboard.press('Enter');
    expect(await page!.locator('[data-testid="dialog-error"]').innerText()).toContain('最后一个启用的管理员');
    await page!.keyboard.press('Escape');
    expect(await page!.locator('[data-testid="user-admin"]').getAttribute('data-role')).toBe('admin');
  });
});
