/**
 * A claimed alert whose severity rises into a claim window (SPEC §4: critical
 * is acknowledged within 60 s, urgent within 10 min) is back in front of the
 * call center: `open`, with that window's deadline, the overdue that follows
 * it, and the home told. Escalated to 120, it stays escalated. Real hub, real
 * MQTT readings, the real API.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect } from '../../helpers/hub.js';
import { api, bp, listAlerts, MINUTE, send, startAlertHub, type AlertHub } from './helpers.js';

let h: AlertHub;
let cuff: MqttClient;
let sensor: MqttClient;
let home: Awaited<ReturnType<typeof collect>>;
const op = () => h.tokens['op-zhang']!;
const post = (id: string, action: string, body?: object) => api(h.t, op(), 'POST', `/api/v1/alerts/${id}/${action}`, body);
const alertOf = async (rule: string) => (await listAlerts(h.t, op(), '?state=open,acknowledged,escalated')).find((a) => a.rule === rule && a.homeId === 'wh-0001');
const history = async (id: string) => (await api(h.t, op(), 'GET', `/api/v1/alerts/${id}`)).body.history as Array<{ action: string; fromState: string; toState: string; detail: unknown }>;

beforeAll(async () => {
  h = await startAlertHub();
  cuff = await h.connect('bp-0001');
  sensor = await h.connect('fall-0001');
  home = await collect(await h.connect('gw-0001'), 'anxin/v1/homes/wh-0001/alerts');
});

afterAll(() => h?.close());

describe('a claimed alert that turns critical', () => {
  it('acknowledged at urgent (she got up), then a real fall: open again, 60 s to claim, overdue after, the home told', async () => {
    h.clock.advance(MINUTE);
    await send(sensor, 'wh-0001', 'fall-0001', { type: 'fall', recovered: true }, h.clock.now());
    const first = (await alertOf('fall'))!;
    expect(first).toMatchObject({ severity: 'urgent', state: 'open' });
    expect((await post(first.id, 'ack')).status).toBe(200);
    expect((await home.next(2)).map((m) => m.body.state)).toEqual(['open', 'acknowledged']);

    const fellAt = h.clock.advance(5 * MINUTE);
    await send(sensor, 'wh-0001', 'fall-0001', { type: 'fall' }, fellAt);
    const raised = (await alertOf('fall'))!;
    expect(raised).toMatchObject({ id: first.id, severity: 'critical', state: 'open', count: 2, overdue: false });
    expect(Date.parse(raised.claimDeadline)).toBe(fellAt + 60_000);
    expect((await history(first.id)).at(-1)).toMatchObject({ action: 'severity.raised', fromState: 'acknowledged', toState: 'open', detail: { from: 'urgent', to: 'critical' } });
    const [told] = await home.next();
    expect(told!.body).toMatchObject({ alertId: first.id, severity: 'critical', state: 'open' });

    h.clock.advance(61_000);
    await h.t.hub.ctx.watchdog.tick(h.clock.now());
    expect(await alertOf('fall')).toMatchObject({ id: first.id, state: 'open', overdue: true });
    // Claimed again, it is the operator's as before.
    expect((await post(first.id, 'ack')).body.alert).toMatchObject({ state: 'acknowledged', assignee: 'op-zhang' });
    expect((await post(first.id, 'resolve', { outcome: 'handled' })).status).toBe(200);
  });

  it('escalated to the doctor at urgent (pulse 45), then pulse 36: open again for the call center', async () => {
    h.clock.advance(MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', bp(118, 76, { pulse: 45 }), h.clock.now());
    const slow = (await alertOf('pulse_abnormal'))!;
    expect(slow).toMatchObject({ severity: 'urgent', state: 'open' });
    expect((await post(slow.id, 'escalate', { target: 'doctor' })).status).toBe(200);

    const at = h.clock.advance(MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', bp(110, 70, { pulse: 36 }), at);
    const raised = (await alertOf('pulse_abnormal'))!;
    expect(raised).toMatchObject({ id: slow.id, severity: 'critical', state: 'open' });
    expect(Date.parse(raised.claimDeadline)).toBe(at + 60_000);
    // The doctor's notification settles on its own clock (here: undeliverable, the log channel), so its
    // `doctor.unreachable` entry may come before or after the rise; the rise is what is judged.
    const entries = (await history(slow.id)) as Array<{ action: string }>;
    expect(entries.filter((e) => e.action === 'severity.raised')).toEqual([expect.objectContaining({ fromState: 'escalated', toState: 'open' })]);
    expect((await post(slow.id, 'escalate', { target: 'emergency' })).body.alert).toMatchObject({ state: 'escalated', escalation: { target: 'emergency' } });
  });

  it('escalated to 120 already: stays escalated (rescue is on the way), the rise still recorded', async () => {
    h.clock.advance(MINUTE);
    await send(sensor, 'wh-0001', 'fall-0001', { type: 'fall', recovered: true }, h.clock.now());
    const fall = (await alertOf('fall'))!;
    expect((await post(fall.id, 'escalate', { target: 'emergency' })).status).toBe(200);
    h.clock.advance(MINUTE);
    await send(sensor, 'wh-0001', 'fall-0001', { type: 'fall' }, h.clock.now());
    expect(await alertOf('fall')).toMatchObject({ id: fall.id, severity: 'critical', state: 'escalated', claimDeadline: null });
    expect((await history(fall.id)).at(-1)).toMatchObject({ action: 'severity.raised', fromState: 'escalated', toState: 'escalated' });
  });
});
