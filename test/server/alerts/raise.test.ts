/**
 * Readings in over real MQTT → alerts out (SPEC §4–6): what an alert shows,
 * what the home hears, and how further readings attach to an unresolved alert.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect } from '../../helpers/hub.js';
import { api, bp, listAlerts, MINUTE, send, startAlertHub, type AlertHub } from './helpers.js';

let h: AlertHub;
let cuff: MqttClient;
let homeAlerts: Awaited<ReturnType<typeof collect>>;
const op = () => h.tokens['op-zhang']!;

beforeAll(async () => {
  h = await startAlertHub();
  cuff = await h.connect('bp-0001');
  const gw = await h.connect('gw-0001');
  homeAlerts = await collect(gw, 'anxin/v1/homes/wh-0001/alerts');
});

afterAll(() => h?.close());

const ofRule = async (rule: string, state = 'open,acknowledged,escalated') => (await listAlerts(h.t, op(), `?state=${state}`)).filter((a) => a.rule === rule && a.residentId === 'r-0001');

describe('a crisis reading', () => {
  let alertId: string;

  it('opens one critical bp_crisis alert with its reading, count, incident and a 60 s claim deadline', async () => {
    const at = h.clock.now();
    const readingId = await send(cuff, 'wh-0001', 'bp-0001', bp(185, 95, { pulse: 80 }), at - MINUTE);
    const alerts = await ofRule('bp_crisis');
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    alertId = a.id;
    expect(a).toMatchObject({
      homeId: 'wh-0001', residentId: 'r-0001', deviceId: 'bp-0001', rule: 'bp_crisis', severity: 'critical', state: 'open',
      count: 1, late: false, overdue: false, createdAt: new Date(at).toISOString(), updatedAt: new Date(at).toISOString(),
    });
    expect(a.title).toContain('185/95');
    expect(a.lastReading).toEqual({ deviceId: 'bp-0001', id: readingId, type: 'blood_pressure', ts: new Date(at - MINUTE).toISOString(), values: { systolic: 185, diastolic: 95, pulse: 80 } });
    expect(a.incidentId).toMatch(/^in-/);
    expect(Date.parse(a.claimDeadline) - Date.parse(a.createdAt)).toBe(60_000);
  });

  it('tells the home, on its alerts topic, that the call center has it', async () => {
    const [msg] = await homeAlerts.next();
    expect(msg!.body).toMatchObject({ alertId, severity: 'critical', state: 'open', ts: new Date(h.clock.now()).toISOString() });
    expect(msg!.body.title).toEqual(expect.stringContaining('高血压危象'));
    expect(msg!.body.message).toMatchObject({ 'zh-CN': expect.any(String), en: expect.any(String) });
  });

  it('shows the rule explanation, the reading and the history on the detail route', async () => {
    const { status, body } = await api(h.t, op(), 'GET', `/api/v1/alerts/${alertId}`);
    expect(status).toBe(200);
    expect(body.explanation['zh-CN']).toContain('ACC/AHA 2017');
    expect(body.readings).toHaveLength(1);
    expect(body.history).toEqual([expect.objectContaining({ actor: 'system', action: 'created', fromState: null, toState: 'open' })]);
  });

  it('attaches further matching readings (count, latest value) instead of opening another, and ignores a resent duplicate', async () => {
    h.clock.advance(MINUTE);
    const id = await send(cuff, 'wh-0001', 'bp-0001', bp(192, 101), h.clock.now());
    await send(cuff, 'wh-0001', 'bp-0001', { ...bp(192, 101), id }, h.clock.now());
    const alerts = await ofRule('bp_crisis');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ id: alertId, count: 2, severity: 'critical', lastReading: { id, values: { systolic: 192, diastolic: 101 } } });
    expect(alerts[0].title).toContain('185/95'); // the title names what opened it; lastReading is the latest
    expect((await api(h.t, op(), 'GET', `/api/v1/alerts/${alertId}`)).body.readings).toHaveLength(2);
  });

  it('opens a NEW alert for the next crisis once the first is resolved', async () => {
    expect((await api(h.t, op(), 'POST', `/api/v1/alerts/${alertId}/ack`)).status).toBe(200);
    expect((await api(h.t, op(), 'POST', `/api/v1/alerts/${alertId}/resolve`, { outcome: 'handled' })).status).toBe(200);
    h.clock.advance(MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', bp(181, 90), h.clock.now());
    const open = await ofRule('bp_crisis');
    expect(open).toHaveLength(1);
    expect(open[0].id).not.toBe(alertId);
    expect(open[0].count).toBe(1);
    const all = await ofRule('bp_crisis', 'open,acknowledged,escalated,resolved');
    expect(all.map((a) => [a.id, a.state])).toEqual(expect.arrayContaining([[alertId, 'resolved'], [open[0].id, 'open']]));
  });
});

describe('severity', () => {
  it('rises (urgent → critical) on a worse reading of the same rule, never falls, and the deadline tightens', async () => {
    const pulse = (p: number) => bp(120, 80, { pulse: p });
    h.clock.advance(MINUTE);
    const openedAt = h.clock.now();
    await send(cuff, 'wh-0001', 'bp-0001', pulse(125), openedAt);
    let [a] = await ofRule('pulse_abnormal');
    expect(a).toMatchObject({ severity: 'urgent', count: 1 });
    expect(Date.parse(a.claimDeadline)).toBe(openedAt + 600_000);

    const raisedAt = h.clock.advance(MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', pulse(35), raisedAt);
    [a] = await ofRule('pulse_abnormal');
    expect(a).toMatchObject({ severity: 'critical', count: 2, title: expect.stringContaining('35') });
    expect(Date.parse(a.claimDeadline)).toBe(raisedAt + 60_000);

    h.clock.advance(MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', pulse(125), h.clock.now());
    const alerts = await ofRule('pulse_abnormal');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ id: a.id, severity: 'critical', count: 3, lastReading: { values: { pulse: 125 } } });

    const history = (await api(h.t, op(), 'GET', `/api/v1/alerts/${a.id}`)).body.history;
    expect(history.map((e: { action: string }) => e.action)).toEqual(['created', 'severity.raised']);
    expect(history[1].detail).toEqual({ from: 'urgent', to: 'critical' });
  });

  it('tells the home when severity rises, not on a mere attachment', async () => {
    homeAlerts.messages.length = 0;
    h.clock.advance(MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', bp(120, 80, { pulse: 45 }), h.clock.now()); // urgent: attaches to the critical one
    await send(cuff, 'wh-0001', 'bp-0001', bp(90, 50, { id: 'low-1' }), h.clock.now()); // bp_low: a new alert, which the home hears
    const [msg] = await homeAlerts.next();
    expect(msg!.body).toMatchObject({ severity: 'urgent', state: 'open', title: expect.stringContaining('90/50') });
    expect(homeAlerts.messages).toHaveLength(0);
  });

  it('caps a reading that arrives more than 1 h late at warning, marked late', async () => {
    const other = await h.connect('bp-0002');
    await send(other, 'wh-0002', 'bp-0002', bp(200, 110), h.clock.now() - 2 * 60 * MINUTE);
    const [a] = (await listAlerts(h.t, op())).filter((x) => x.residentId === 'r-0002');
    expect(a).toMatchObject({ rule: 'bp_crisis', severity: 'warning', late: true, claimDeadline: null });
  });
});
