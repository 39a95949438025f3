/**
 * Incidents (SPEC §5): alerts of one home raised within 10 minutes of each
 * other are one incident, handled once (an SOS press and a fall); a later
 * alert, or one of another home, starts its own.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bp, listAlerts, MINUTE, send, startAlertHub, type AlertHub } from './helpers.js';

let h: AlertHub;
const alertOf = async (rule: string, homeId = 'wh-0001') => {
  const found = (await listAlerts(h.t, h.tokens['op-zhang']!)).filter((a) => a.rule === rule && a.homeId === homeId);
  expect(found).toHaveLength(1);
  return found[0];
};

beforeAll(async () => {
  h = await startAlertHub();
});

afterAll(() => h?.close());

it('an SOS then a fall 4 minutes later in the same home share one incident; another home has its own', async () => {
  const sos = await h.connect('sos-0001');
  const fall = await h.connect('fall-0001');
  await send(sos, 'wh-0001', 'sos-0001', { type: 'sos', location: 'bedroom' }, h.clock.now());
  h.clock.advance(4 * MINUTE);
  await send(fall, 'wh-0001', 'fall-0001', { type: 'fall', confidence: 0.9 }, h.clock.now());
  const other = await h.connect('sos-0002');
  await send(other, 'wh-0002', 'sos-0002', { type: 'sos' }, h.clock.now());

  const s = await alertOf('sos');
  const f = await alertOf('fall');
  expect(s).toMatchObject({ severity: 'critical', residentId: 'r-0001' });
  expect(f).toMatchObject({ severity: 'critical', residentId: null, deviceId: 'fall-0001' });
  expect(f.incidentId).toBe(s.incidentId);
  expect((await alertOf('sos', 'wh-0002')).incidentId).not.toBe(s.incidentId);
});

it('counts the 10 minutes from the latest alert of the incident: 9 min after the fall still joins it', async () => {
  const cuff = await h.connect('bp-0001');
  h.clock.advance(9 * MINUTE); // 13 min after the SOS, 9 after the fall
  await send(cuff, 'wh-0001', 'bp-0001', bp(120, 80, { pulse: 125 }), h.clock.now());
  expect((await alertOf('pulse_abnormal')).incidentId).toBe((await alertOf('sos')).incidentId);
});

it('an alert 11 minutes after the last one starts a new incident', async () => {
  const cuff = h.clients.find((c) => c.options.clientId === 'bp-0001')!;
  h.clock.advance(11 * MINUTE);
  await send(cuff, 'wh-0001', 'bp-0001', bp(186, 96), h.clock.now());
  const crisis = await alertOf('bp_crisis');
  const sos = await alertOf('sos');
  expect(crisis.incidentId).not.toBe(sos.incidentId);
  expect(crisis.incidentId).toMatch(/^in-/);
});
