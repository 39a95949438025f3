/**
 * An overdue alert sounds the console's alarm again (SPEC §5: not claimed in
 * time, every signed-in operator is told again), urgent ones included, until
 * someone claims it. Real hub (claim windows shortened to 1 s and 2 s by its
 * rules file), a real reading over MQTT, real Chromium.
 */
import type { MqttClient } from 'mqtt';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { publishAcked } from '../helpers/hub.js';
import { waitForBody } from './browser.js';
import { startOperatorConsole, type OperatorConsole } from './consoleFixture.js';

let gateway: MqttClient;
let op: Page;
let station: OperatorConsole | undefined;

beforeAll(async () => {
  station = await startOperatorConsole({ rules: { claimDeadlineSeconds: { critical: 1, urgent: 2 } }, tickMs: 250 });
  ({ gateway, op } = station);
});

afterAll(() => station?.close());

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
