/**
 * Journal retention keeps the readings an unresolved alert links to
 * (alert_readings): a battery_low alert (info, "within days") on a fall sensor
 * that stays open past ANXIN_HEARTBEAT_RETENTION_DAYS showed no readings for
 * its count of 2 after a pass. Real hub, MQTT, group commit and API.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { login } from '../../helpers/hub.js';
import { api, FakeClock, MINUTE, send, startAlertHub, type AlertHub } from '../alerts/helpers.js';

const DAY = 24 * 60 * MINUTE;
const clock = new FakeClock();
let h: AlertHub;

beforeAll(async () => {
  h = await startAlertHub({ clock, config: { heartbeatRetentionDays: 7 } });
});
afterAll(async () => { await h?.close(); });

it('keeps the readings of an unresolved alert (alert detail after a heartbeat retention pass)', async () => {
  const T0 = clock.now();
  const fall = await h.connect('fall-0001');
  const sos = await h.connect('sos-0001');
  await send(fall, 'wh-0001', 'fall-0001', { type: 'heartbeat', id: 'low-1', battery: 12 }, T0);
  await send(fall, 'wh-0001', 'fall-0001', { type: 'heartbeat', id: 'low-2', battery: 10 }, T0 + MINUTE);
  // r-0001's bound pendant, low too: its first low heartbeat is not the resident's newest.
  await send(sos, 'wh-0001', 'sos-0001', { type: 'heartbeat', id: 'sos-low-1', battery: 9 }, T0);
  await send(sos, 'wh-0001', 'sos-0001', { type: 'heartbeat', id: 'sos-low-2', battery: 8 }, T0 + MINUTE);
  const alerts = (await api(h.t, h.tokens['op-zhang']!, 'GET', '/api/v1/alerts')).body.alerts as Array<{ id: string; rule: string; deviceId: string }>;
  const battery = alerts.filter((a) => a.rule === 'battery_low');
  expect(battery.length).toBe(2);
  const before: Record<string, number> = {};
  for (const a of battery) before[a.id] = (await api(h.t, h.tokens['op-zhang']!, 'GET', `/api/v1/alerts/${a.id}`)).body.readings.length;
  expect(Object.values(before)).toEqual([2, 2]);

  const T1 = clock.set(T0 + 8 * DAY);
  await send(sos, 'wh-0001', 'sos-0001', { type: 'heartbeat', id: 'later', battery: 50 }, T1);
  await send(fall, 'wh-0001', 'fall-0001', { type: 'heartbeat', id: 'later-f', battery: 50 }, T1);
  await h.t.hub.retention.pass();

  const token = await login(h.t.hub, 'op-zhang', h.answer.users.find((u) => u.username === 'op-zhang')!.password);
  const after: Record<string, { state: string; count: number; readings: number }> = {};
  for (const a of battery) {
    const d = (await api(h.t, token, 'GET', `/api/v1/alerts/${a.id}`)).body;
    after[`${a.deviceId}`] = { state: d.alert?.state ?? d.state, count: d.alert?.count ?? d.count, readings: d.readings.length };
  }
  // Both alerts are still unresolved: each must still show the readings it counts.
  expect(after).toEqual({
    'fall-0001': { state: 'open', count: 2, readings: 2 },
    'sos-0001': { state: 'open', count: 2, readings: 2 },
  });
});
