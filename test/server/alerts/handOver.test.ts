/**
 * An escalation handed over when patients move to another doctor
 * (AlertService.handOverEscalation via POST /api/v1/doctors/{u}/patients/move),
 * for an alert of the home rather than of a resident (an unbound fall sensor):
 * it stays with the doctor while they still have a patient in that home, and
 * follows once they have none; each hand-over is a new escalation with its own
 * notification to the new doctor, even two within one millisecond of the
 * hub's clock. Real hub, MQTT and store; the clock is the tests' own.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { api, district, listAlerts, send, startAlertHub, type AlertHub } from './helpers.js';

let h: AlertHub;
let fall: string;

const move = (from: string, payload: object) => api(h.t, h.tokens.admin!, 'POST', `/api/v1/doctors/${from}/patients/move`, payload);
const escalatedTo = async () => (await api(h.t, h.tokens['op-zhang']!, 'GET', `/api/v1/alerts/${fall}`)).body.alert.escalation.to;

beforeAll(async () => {
  const doc = district([{ username: 'dr-zhao', role: 'doctor', name: '赵医生' }]);
  // A second resident of home 1, also dr-li's: the fall sensor is bound to neither.
  doc.homes[0]!.residents.push({ ...doc.homes[0]!.residents[0]!, id: 'r-0011', name: '王建华', sex: 'M' });
  h = await startAlertHub({ doc });
  await send(await h.connect('fall-0001'), 'wh-0001', 'fall-0001', { type: 'fall', confidence: 0.95 }, h.clock.now());
  const alert = (await listAlerts(h.t, h.tokens['op-zhang']!)).find((a) => a.rule === 'fall');
  expect(alert).toMatchObject({ homeId: 'wh-0001', residentId: null, severity: 'critical' });
  fall = alert.id;
  const esc = await api(h.t, h.tokens['op-zhang']!, 'POST', `/api/v1/alerts/${fall}/escalate`, { target: 'doctor' });
  expect([esc.status, esc.body.alert.escalation.to]).toEqual([200, 'dr-li']);
});

afterAll(() => h?.close());

it("stays with the doctor while they keep a patient in the home, and follows the last one", async () => {
  const first = await move('dr-li', { to: 'dr-wang', residents: ['r-0001'] });
  expect([first.status, first.body.escalations]).toEqual([200, []]);
  expect(await escalatedTo()).toBe('dr-li');
  expect(first.body.remaining).toMatchObject({ patients: 1, escalations: 1 });

  const last = await move('dr-li', { to: 'dr-zhao', residents: ['r-0011'] });
  expect([last.status, last.body.escalations]).toEqual([200, [fall]]);
  expect(await escalatedTo()).toBe('dr-zhao');
  expect(last.body.remaining).toEqual({ patients: 0, escalations: 0, warnings: 0, openItems: 0 });
  // dr-zhao may act on it; it is theirs to see though no resident of theirs is named on it.
  expect((await api(h.t, h.tokens['dr-zhao']!, 'POST', `/api/v1/alerts/${fall}/ack`)).status).toBe(200);
});

it('handed over twice in one millisecond, each new doctor gets a notification of their own; the new one must acknowledge again', async () => {
  const again = await move('dr-zhao', { to: 'dr-wang' });
  expect([again.status, again.body.escalations]).toEqual([200, [fall]]);
  const alert = (await api(h.t, h.tokens['op-zhang']!, 'GET', `/api/v1/alerts/${fall}`)).body.alert;
  expect(alert.escalation).toMatchObject({ to: 'dr-wang', doctorAcknowledgedAt: null });
  const sent = h.t.hub.ctx.db.prepare('SELECT id, recipient FROM notifications WHERE alert_id = ? ORDER BY created_at, id').all(fall) as Array<{ id: string; recipient: string }>;
  expect(sent.map((n) => JSON.parse(n.recipient).username)).toEqual(['dr-li', 'dr-zhao', 'dr-wang']);
  expect(new Set(sent.map((n) => n.id)).size).toBe(3);
  // All at the same instant of the hub's clock: the escalation times still differ (the notifications' keys).
  expect(h.clock.now()).toBe(Date.parse(alert.escalation.at) - 2);
});
