/**
 * A home whose gateway was offline when its alerts changed still hears where
 * they stand (SPEC §2 `alerts`, extended): on subscribing to its home's
 * `alerts`, a gateway is sent each unresolved alert of its home as it is now,
 * oldest first; resolved alerts and other homes' alerts are not sent. Real
 * hub, real MQTT clients; alerts raised by real readings and moved through
 * the real API.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect } from '../../helpers/hub.js';
import { api, bp, listAlerts, MINUTE, send, startAlertHub, waitFor, type AlertHub } from './helpers.js';

const HOME_ALERTS = 'anxin/v1/homes/wh-0001/alerts';
let h: AlertHub;
let cuff: MqttClient;
const op = () => h.tokens['op-zhang']!;
const post = (id: string, action: string, body?: object) => api(h.t, op(), 'POST', `/api/v1/alerts/${id}/${action}`, body);

async function raise(client: MqttClient, homeId: string, deviceId: string, body: Record<string, unknown>, rule: string): Promise<string> {
  h.clock.advance(MINUTE);
  await send(client, homeId, deviceId, body, h.clock.now());
  const alert = await waitFor(async () => (await listAlerts(h.t, op(), '?state=open')).find((a) => a.rule === rule && a.homeId === homeId), `${rule} alert in ${homeId}`);
  return alert.id as string;
}

async function resent(): Promise<number> {
  const text = (await h.t.hub.http.inject({ url: '/metrics' })).body;
  return Number(/^anxin_home_alerts_resent_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

beforeAll(async () => {
  h = await startAlertHub();
  cuff = await h.connect('bp-0001');
});

afterAll(() => h?.close());

describe('a gateway that subscribes is told where its home\'s unresolved alerts stand', () => {
  let crisis: string;
  let fall: string;

  it('sends each unresolved alert of the home once, as it is now, oldest first; not the resolved one, not another home\'s', async () => {
    // While the gateway is offline: a BP crisis, acknowledged and then escalated to 120;
    crisis = await raise(cuff, 'wh-0001', 'bp-0001', bp(188, 96), 'bp_crisis');
    h.clock.advance(20_000);
    expect((await post(crisis, 'ack')).status).toBe(200);
    h.clock.advance(20_000);
    expect((await post(crisis, 'escalate', { target: 'emergency' })).status).toBe(200);
    // a fall, left open;
    const sensor = await h.connect('fall-0001');
    fall = await raise(sensor, 'wh-0001', 'fall-0001', { type: 'fall', confidence: 0.93 }, 'fall');
    // a low glucose, already resolved;
    const meter = await h.connect('glu-0001');
    const low = await raise(meter, 'wh-0001', 'glu-0001', { type: 'glucose', value: 3.5, unit: 'mmol/L', context: 'fasting' }, 'glucose_low');
    expect((await post(low, 'resolve', { outcome: 'handled', note: '已电话确认，已进食' })).status).toBe(200);
    // and a crisis in the other home.
    const other = await raise(await h.connect('bp-0002'), 'wh-0002', 'bp-0002', bp(190, 100), 'bp_crisis');
    expect(other).not.toBe(crisis);
    const before = await resent();

    const gateway = await h.connect('gw-0001');
    const home = await collect(gateway, HOME_ALERTS);
    const told = await home.next(2);
    expect(told.map((m) => m.topic)).toEqual([HOME_ALERTS, HOME_ALERTS]);
    expect(told.map((m) => m.body)).toEqual([
      {
        alertId: crisis, severity: 'critical', state: 'escalated', title: expect.any(String), titles: expect.any(Object),
        message: { 'zh-CN': '已呼叫120急救，救护车正在赶来', en: 'Emergency rescue (120) is on the way' }, escalationTarget: 'emergency',
        ts: new Date(h.clock.now() - 3 * MINUTE).toISOString(),
      },
      expect.objectContaining({ alertId: fall, severity: 'critical', state: 'open', message: { 'zh-CN': '呼叫中心已收到，请稍候', en: 'The call center has been told' } }),
    ]);
    await new Promise((r) => setTimeout(r, 300));
    expect(home.messages).toEqual([]); // nothing for the resolved alert or the other home
    expect(await resent()).toBe(before + 2);
  });

  it('tells it again after every reconnect, and live changes as they happen', async () => {
    const gateway = await h.connect('gw-0001');
    const home = await collect(gateway, HOME_ALERTS);
    expect((await home.next(2)).map((m) => [m.body.alertId, m.body.state])).toEqual([[crisis, 'escalated'], [fall, 'open']]);
    h.clock.advance(10_000);
    expect((await post(fall, 'ack')).status).toBe(200);
    const [live] = await home.next(1);
    expect(live!.body).toMatchObject({ alertId: fall, state: 'acknowledged', ts: new Date(h.clock.now()).toISOString() });
  });

  it('sends nothing to a gateway whose home has no unresolved alert', async () => {
    const before = await resent();
    const home = await collect(await h.connect('gw-0002'), 'anxin/v1/homes/wh-0002/alerts');
    expect((await home.next(1))[0]!.body).toMatchObject({ state: 'open' }); // home 2's crisis is still open
    const [a] = (await listAlerts(h.t, op(), '?state=open')).filter((x) => x.homeId === 'wh-0002');
    expect((await post(a.id, 'resolve', { outcome: 'false_alarm', note: '袖带未绑好' })).status).toBe(200);
    await home.next(1); // the live "resolved"
    const again = await collect(await h.connect('gw-0002'), 'anxin/v1/homes/wh-0002/alerts');
    await new Promise((r) => setTimeout(r, 300));
    expect(again.messages).toEqual([]);
    expect(await resent()).toBe(before + 1);
  });
});
