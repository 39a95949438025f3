/**
 * An overdue alert sounds the console's alarm again (SPEC §5: not claimed in
 * time, every signed-in operator is told again), urgent ones included, until
 * someone claims it. Real hub (claim windows shortened to 1 s and 2 s by its
 * rules file), a real reading over MQTT, real Chromium.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectClient, exampleDocument, publishAcked, secretOf, startTestHub, tempDataDir, type TestHub } from '../helpers/hub.js';
import { launchBrowser, signIn, waitForBody } from './browser.js';

let t: TestHub;
let browser: Browser;
let gateway: MqttClient;
let op: Page;
let password: string;

beforeAll(async () => {
  const dataDir = tempDataDir();
  const rulesFile = join(dataDir, 'rules.json');
  writeFileSync(rulesFile, JSON.stringify({ claimDeadlineSeconds: { critical: 1, urgent: 2 } }));
  t = await startTestHub({ dataDir, config: { loginPerMinute: 100, rulesFile, tickMs: 250 } });
  const doc = exampleDocument();
  doc.users.push({ username: 'op-1', role: 'operator', name: '坐席一' });
  const answer = await t.importDoc(doc);
  password = answer.users.find((u) => u.username === 'op-1')!.password;
  gateway = await connectClient(t.mqttUrl, 'gw-0001', secretOf(answer, 'gw-0001'));
  browser = await launchBrowser();
  op = await signIn(browser, `http://127.0.0.1:${t.hub.httpPort}`, 'op-1', password);
  await waitForBody(op, 'conn', 'connected');
  await op.locator('[data-testid="start-shift"]').click(); // sound is off until the shift starts
  await waitForBody(op, 'audio', 'unlocked');
});

afterAll(async () => {
  gateway?.end(true);
  await browser?.close();
  await t?.destroy();
});

it('an urgent alert is silent while within its claim window, sounds once overdue, and stops when claimed', async () => {
  await publishAcked(gateway, 'anxin/v1/homes/wh-0001/devices/glu-0001/telemetry', { type: 'glucose', id: 'low-1', ts: Date.now(), value: 3.5, unit: 'mmol/L' });
  const item = op.locator('[data-testid="queue-item"]').first();
  await item.waitFor({ timeout: 3000 });
  expect(await op.evaluate(() => document.body.dataset.alarm)).toBe('silent');
  await expect.poll(() => item.getAttribute('data-overdue'), { timeout: 5000 }).toBe('true');
  await waitForBody(op, 'alarm', 'sounding', 2000);
  await item.click();
  await op.keyboard.press('a');
  await waitForBody(op, 'alarm', 'silent', 2000);
});
