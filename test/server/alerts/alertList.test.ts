/**
 * The alert list as a work queue under a flood: after a district's network
 * outage, thousands of unresolved info alerts must not push an unclaimed SOS
 * off `GET /api/v1/alerts` (nor off the dashboard's snapshot of 2,000), and a
 * cut list says so. Real hub; the SOS from a real MQTT reading, the flood
 * through the engine's own `raiseOrAttach` (what the watchdog calls for
 * `device_offline`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, MINUTE, send, startAlertHub, type AlertHub } from './helpers.js';

let h: AlertHub;
const op = () => h.tokens['op-zhang']!;
const FLOOD = 2100;

beforeAll(async () => {
  h = await startAlertHub();
  await send(await h.connect('sos-0001'), 'wh-0001', 'sos-0001', { type: 'sos' }, h.clock.now());
  h.clock.advance(MINUTE);
  const { engine, writer } = h.t.hub.ctx;
  await writer.run(() => {
    for (let i = 0; i < FLOOD; i++) {
      engine.raiseOrAttach(
        `device:dev-${i}:device_offline`,
        { rule: 'device_offline', severity: 'info', title: { 'zh-CN': '设备离线', en: 'Device offline' }, explanation: { 'zh-CN': '', en: '' } },
        { homeId: 'wh-0002', residentId: null, deviceId: `dev-${i}` }, null, h.clock.now() + i,
      );
    }
  });
});

afterAll(() => h?.close());

describe('unresolved alerts when more match than the limit', () => {
  it.each([
    ['the default limit (500)', '?state=open', 500],
    ['the dashboard snapshot (2,000)', '?state=open,acknowledged,escalated&limit=2000', 2000],
  ])('%s: the oldest alert, an open SOS, comes first, and the answer says it was cut', async (_, query, limit) => {
    const { status, body } = await api(h.t, op(), 'GET', `/api/v1/alerts${query}`);
    expect(status).toBe(200);
    expect(body.alerts).toHaveLength(limit);
    expect(body.alerts[0]).toMatchObject({ rule: 'sos', severity: 'critical', state: 'open' });
    expect(body.truncated).toBe(true);
    // Then the longest waiting first within a severity, as the console orders them: the cut drops the
    // newest, never the alerts that have waited longest.
    const offline = body.alerts.slice(1).map((a: { deviceId: string }) => a.deviceId);
    expect(offline).toEqual(Array.from({ length: limit - 1 }, (_, i) => `dev-${i}`));
  });

  it('a list that fits is not cut', async () => {
    const { body } = await api(h.t, op(), 'GET', '/api/v1/alerts?state=open&severity=critical');
    expect(body).toMatchObject({ truncated: false, alerts: [{ rule: 'sos' }] });
  });

  it('history (resolved included) stays newest first', async () => {
    const { body } = await api(h.t, op(), 'GET', '/api/v1/alerts?limit=3');
    expect(body.alerts.map((a: { rule: string }) => a.rule)).toEqual(['device_offline', 'device_offline', 'device_offline']);
    expect(body.truncated).toBe(true);
  });
});
