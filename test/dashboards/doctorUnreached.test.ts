/**
 * An escalation that reached no doctor is the call center's to phone (SPEC §5):
 * the operator console says so in Chinese (with English), and sounds its alarm
 * until an operator acknowledges it. Real hub (dr-li has no phone or webhook,
 * so the escalation is undeliverable), a real reading over MQTT, real Chromium.
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
  station = await startOperatorConsole();
  ({ gateway, op } = station);
});

afterAll(() => station?.close());

it('escalated to a doctor nobody could tell: the console says so in Chinese and English and sounds the alarm until acknowledged', async () => {
  // A warning (above her target, below a crisis): silent in the queue until escalated.
  await publishAcked(gateway, 'anxin/v1/homes/wh-0001/devices/bp-0001/telemetry', { type: 'blood_pressure', id: 'bp-hi-1', ts: Date.now(), systolic: 175, diastolic: 95, unit: 'mmHg' });
  const item = op.locator('[data-testid="queue-item"]').first();
  await item.waitFor({ timeout: 3000 });
  await item.click();
  await op.keyboard.press('a');
  await expect.poll(() => item.getAttribute('data-state'), { timeout: 3000 }).toBe('acknowledged');
  expect(await op.evaluate(() => document.body.dataset.alarm)).toBe('silent');

  await op.keyboard.press('d');
  await op.locator('[data-testid="dialog-doctor"] button[type="submit"]').click();
  await expect.poll(() => item.getAttribute('data-state'), { timeout: 3000 }).toBe('escalated');

  const notice = op.locator('[data-testid="doctor-unreached"]');
  await notice.waitFor({ timeout: 5000 });
  const text = await notice.innerText();
  expect(text).toContain('未能通知李医生：未登记电话或回调地址，请电话联系医生');
  expect(text).toContain('was not reached: no phone or webhook registered. Phone the doctor.');
  expect(await notice.getAttribute('data-acknowledged')).toBe('false');
  expect(await item.getAttribute('data-doctor-unreached')).toBe('true');
  await waitForBody(op, 'alarm', 'sounding', 3000);
  expect(await op.locator('[data-testid="alarm-banner"]').innerText()).toContain('未能通知医生');

  await op.locator('[data-testid="ack-unreached"]').click();
  await waitForBody(op, 'alarm', 'silent', 3000);
  await expect.poll(() => notice.getAttribute('data-acknowledged'), { timeout: 3000 }).toBe('true');
  expect(await notice.innerText()).toContain('op-1 已知悉');
  expect(await item.getAttribute('data-state')).toBe('escalated'); // still in the doctor's queue
});
