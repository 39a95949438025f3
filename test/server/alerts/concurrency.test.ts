/**
 * No duplicate alerts under load (SPEC §4: one unresolved alert per resident
 * and rule): 100 crisis readings for one resident, published at once by 10
 * real MQTT clients of the home (9 cuffs and the gateway), make exactly one
 * alert with all 100 attached, in memory, on the API and in the store.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { publishAcked } from '../../helpers/hub.js';
import { bp, listAlerts, startAlertHub, telemetry, type AlertHub } from './helpers.js';

const HOME = 'wh-0009';
const CUFFS = Array.from({ length: 9 }, (_, i) => `bp-c${i + 1}`);

let h: AlertHub;

beforeAll(async () => {
  h = await startAlertHub({
    doc: {
      homes: [{
        id: HOME, address: '威海市环翠区统一路 9 号', phone: '+86 631 555 0109',
        residents: [{ id: 'r-0009', name: '张玉珍', birthYear: 1938, sex: 'F', doctor: 'dr-li', contacts: [] }],
        gateway: { id: 'gw-0009' },
        devices: CUFFS.map((id) => ({ id, type: 'bp_cuff', resident: 'r-0009' })),
      }],
      users: [{ username: 'dr-li', role: 'doctor', name: '李医生' }, { username: 'op-zhang', role: 'operator', name: '张坐席' }],
    },
  });
});

afterAll(() => h?.close());

it('100 crisis readings from 10 clients at once → exactly one unresolved bp_crisis alert with count 100', async () => {
  // The gateway publishes for the first cuff; each cuff for itself. Reading ids are unique per device.
  const senders = await Promise.all([...CUFFS.map((id) => h.connect(id)), h.connect('gw-0009')]);
  const ts = h.clock.now();
  const publishes = senders.flatMap((client, c) => {
    const deviceId = CUFFS[c] ?? CUFFS[0]!;
    return Array.from({ length: 10 }, (_, i) =>
      publishAcked(client, telemetry(HOME, deviceId), { ...bp(180 + i, 100 + c), id: `burst-${c}-${i}`, ts }));
  });
  await Promise.all(publishes);

  const stored = h.t.hub.ctx.db.prepare("SELECT count(*) AS n FROM readings WHERE resident_id = 'r-0009'").get() as { n: number };
  expect(stored.n).toBe(100);

  const alerts = (await listAlerts(h.t, h.tokens['op-zhang']!)).filter((a) => a.residentId === 'r-0009');
  expect(alerts).toHaveLength(1);
  expect(alerts[0]).toMatchObject({ rule: 'bp_crisis', severity: 'critical', state: 'open', count: 100 });

  const rows = h.t.hub.ctx.db.prepare("SELECT id, count FROM alerts WHERE dedupe_key = 'resident:r-0009:bp_crisis'").all() as Array<{ id: string; count: number }>;
  expect(rows).toEqual([{ id: alerts[0].id, count: 100 }]);
  const linked = h.t.hub.ctx.db.prepare('SELECT count(*) AS n FROM alert_readings WHERE alert_id = ?').get(alerts[0].id) as { n: number };
  expect(linked.n).toBe(100);
  // One alert.created, and one alert.updated per attached reading, in the durable event log.
  const events = h.t.hub.ctx.db.prepare("SELECT type, count(*) AS n FROM events WHERE type LIKE 'alert.%' GROUP BY type ORDER BY type").all();
  expect(events).toEqual([{ type: 'alert.created', n: 1 }, { type: 'alert.updated', n: 99 }]);
  expect(h.t.hub.ctx.engine.unresolved().filter((a) => a.residentId === 'r-0009')).toHaveLength(1);
});

it('the same 100 readings sent again (a gateway replaying after a lost PUBACK) attach nothing', async () => {
  const gw = h.clients[h.clients.length - 1]!;
  const ts = h.clock.now();
  await Promise.all(Array.from({ length: 10 }, (_, i) => publishAcked(gw, telemetry(HOME, CUFFS[0]!), { ...bp(180 + i, 109), id: `burst-9-${i}`, ts })));
  const [a] = (await listAlerts(h.t, h.tokens['op-zhang']!)).filter((x) => x.residentId === 'r-0009');
  expect(a.count).toBe(100);
});
