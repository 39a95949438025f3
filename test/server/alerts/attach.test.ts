/**
 * What a reading replayed from a backlog does to the alert it attaches to
 * (SPEC §4: attach with count and latest value; "late" is about the past): it
 * counts, but the latest value stays the newest measured, and an alert that a
 * timely reading has joined is no longer late. Real hub, real MQTT.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bp, listAlerts, MINUTE, send, startAlertHub, type AlertHub } from './helpers.js';

let h: AlertHub;
let cuff: MqttClient;
const op = () => h.tokens['op-zhang']!;
const alertOf = async (rule: string) => (await listAlerts(h.t, op(), '?state=open')).find((a) => a.rule === rule && a.residentId === 'r-0001');

beforeAll(async () => {
  h = await startAlertHub();
  cuff = await h.connect('bp-0001');
});

afterAll(() => h?.close());

describe('attaching', () => {
  it('an older reading synced from the cuff\'s memory counts, but the latest value stays the newest measured', async () => {
    h.clock.advance(MINUTE);
    const newest = h.clock.now();
    await send(cuff, 'wh-0001', 'bp-0001', bp(150, 112), newest); // bp_severe
    h.clock.advance(2 * MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', bp(145, 111), h.clock.now() - 30 * MINUTE);
    expect(await alertOf('bp_severe')).toMatchObject({
      count: 2, late: false,
      lastReading: { ts: new Date(newest).toISOString(), values: { systolic: 150, diastolic: 112 } },
    });
  });

  it('an alert opened by a late reading is no longer late once a timely one attaches', async () => {
    h.clock.advance(MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', bp(190, 100), h.clock.now() - 2 * 60 * MINUTE); // over 1 h late: warning, late
    expect(await alertOf('bp_crisis')).toMatchObject({ severity: 'warning', late: true });
    h.clock.advance(MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', bp(200, 125), h.clock.now());
    expect(await alertOf('bp_crisis')).toMatchObject({ severity: 'critical', late: false, count: 2, lastReading: { values: { systolic: 200 } } });
  });

  it('a timely alert stays timely when a late reading attaches', async () => {
    h.clock.advance(MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', bp(200, 126), h.clock.now() - 2 * 60 * MINUTE);
    expect(await alertOf('bp_crisis')).toMatchObject({ severity: 'critical', late: false, count: 3, lastReading: { values: { systolic: 200, diastolic: 125 } } });
  });
});
