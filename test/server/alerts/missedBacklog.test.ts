/**
 * A reminder for a missed scheduled measurement (SPEC §4 `reading_missed`) is
 * ended by a measurement of the missed day, not by an older one that a meter
 * syncs from its memory: that one resolved the reminder, and the next tick
 * raised a new one. Real hub, fake clock, hand-driven ticks, readings over MQTT.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bp, district, listAlerts, send, startAlertHub, type AlertHub } from './helpers.js';

let h: AlertHub;
let cuff: MqttClient;
const op = () => h.tokens['op-zhang']!;
const tick = (at: number) => h.t.hub.ctx.watchdog.tick(h.clock.set(at));
const missed = async () => (await listAlerts(h.t, op(), '?state=open,acknowledged,escalated')).filter((a) => a.rule === 'reading_missed');

beforeAll(async () => {
  const doc = district();
  (doc.homes[1]!.residents[0] as Record<string, unknown>).schedule = [{ type: 'blood_pressure', time: '10:00' }];
  h = await startAlertHub({ doc }); // Monday 09:00 in Shanghai
  cuff = await h.connect('bp-0002');
});

afterAll(() => h?.close());

describe('reading_missed and readings from a meter\'s memory', () => {
  it('a reading measured before the missed day leaves the reminder open, and no second one is raised', async () => {
    await tick(Date.parse('2025-03-10T12:01:00+08:00'));
    const [reminder] = await missed();
    expect(reminder).toMatchObject({ residentId: 'r-0002', state: 'open' });

    await send(cuff, 'wh-0002', 'bp-0002', bp(126, 80), Date.parse('2025-03-09T18:30:00+08:00')); // Sunday's, synced on Monday
    expect(await missed()).toMatchObject([{ id: reminder.id, state: 'open', count: 1 }]);
    await tick(Date.parse('2025-03-10T12:10:00+08:00'));
    expect(await missed()).toMatchObject([{ id: reminder.id, count: 1 }]);
  });

  it('a measurement of the day ends it', async () => {
    await send(cuff, 'wh-0002', 'bp-0002', bp(128, 82), h.clock.now());
    expect(await missed()).toEqual([]);
    await tick(Date.parse('2025-03-10T12:20:00+08:00'));
    expect(await missed()).toEqual([]);
  });
});
