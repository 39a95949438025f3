/**
 * Response KPIs (GET /api/v1/kpi): per severity, how many alerts, the share
 * claimed within 60 s and 180 s, and median times, from alerts claimed at
 * known (fake) times. An alert nobody has claimed counts with its wait so far.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { api, bp, MINUTE, send, startAlertHub, type AlertHub } from './helpers.js';

let h: AlertHub;
let T0: number;
const op = () => h.tokens['op-zhang']!;
const SECOND = 1000;

/** Publishes a reading at T0 + `at`, and returns the alert it opened (the newest alert). */
async function raise(at: number, device: string, homeId: string, body: Record<string, unknown>, measuredAgo = 0): Promise<string> {
  h.clock.set(T0 + at);
  const client = h.clients.find((c) => c.options.clientId === device) ?? (await h.connect(device));
  await send(client, homeId, device, body, h.clock.now() - measuredAgo);
  const { alerts } = (await api(h.t, op(), 'GET', '/api/v1/alerts')).body;
  expect(Date.parse(alerts[0].createdAt)).toBe(T0 + at);
  return alerts[0].id;
}

async function act(at: number, id: string, action: string, body?: object): Promise<void> {
  h.clock.set(T0 + at);
  expect((await api(h.t, op(), 'POST', `/api/v1/alerts/${id}/${action}`, body)).status).toBe(200);
}

beforeAll(async () => {
  h = await startAlertHub();
  T0 = h.clock.now();
  const a = await raise(0, 'sos-0001', 'wh-0001', { type: 'sos' });
  await act(30 * SECOND, a, 'ack'); // critical, claimed in 30 s
  const b = await raise(10 * MINUTE, 'bp-0002', 'wh-0002', bp(185, 95));
  await act(10 * MINUTE + 90 * SECOND, b, 'ack'); // critical, 90 s
  const c = await raise(20 * MINUTE, 'fall-0001', 'wh-0001', { type: 'fall' });
  await act(20 * MINUTE + 200 * SECOND, c, 'escalate', { target: 'emergency' }); // critical, 200 s, by one click to 120
  const d = await raise(30 * MINUTE, 'bp-0001', 'wh-0001', bp(190, 96));
  await act(30 * MINUTE + 45 * SECOND, d, 'resolve', { outcome: 'false_alarm', note: '复测正常' }); // critical, closed in 45 s
  const e = await raise(40 * MINUTE, 'bp-0002', 'wh-0002', bp(120, 80, { pulse: 125 }));
  await act(40 * MINUTE + 20 * SECOND, e, 'ack'); // urgent, 20 s
  await raise(40 * MINUTE, 'bp-0001', 'wh-0001', bp(175, 85), 2 * 60 * MINUTE); // late: warning, never claimed
  h.clock.set(T0 + 45 * MINUTE);
});

afterAll(() => h?.close());

it('counts per severity, the share claimed within 60 s and 180 s, and the medians', async () => {
  const { status, body } = await api(h.t, op(), 'GET', '/api/v1/kpi');
  expect(status).toBe(200);
  expect(body.targets).toEqual({ claimedWithin60sPct: 97.5, claimedWithin180sPct: 99 });
  expect(body.to).toBe(new Date(T0 + 45 * MINUTE).toISOString());
  expect(body.bySeverity.critical).toEqual({
    count: 4, open: 3, // all but the one resolved as a false alarm
    claimedWithin60sPct: 50, claimedWithin180sPct: 75, medianSecondsToClaim: 67.5, medianSecondsToResolve: 45,
  });
});

it('the unresolved count and the other severities', async () => {
  const { body } = await api(h.t, op(), 'GET', '/api/v1/kpi');
  expect(body.bySeverity.urgent).toEqual({ count: 1, open: 1, claimedWithin60sPct: 100, claimedWithin180sPct: 100, medianSecondsToClaim: 20, medianSecondsToResolve: null });
  // Waiting 5 min and counting: 0 % within 60 s.
  expect(body.bySeverity.warning).toMatchObject({ count: 1, open: 1, claimedWithin60sPct: 0, claimedWithin180sPct: 0, medianSecondsToClaim: 300 });
  expect(body.bySeverity.info).toEqual({ count: 0, open: 0, claimedWithin60sPct: null, claimedWithin180sPct: null, medianSecondsToClaim: null, medianSecondsToResolve: null });
});

it('takes a time range: from 5 min after the first alert leaves the SOS out; a bad time is a 400', async () => {
  const from = new Date(T0 + 5 * MINUTE).toISOString();
  const { body } = await api(h.t, h.tokens['dr-li']!, 'GET', `/api/v1/kpi?from=${encodeURIComponent(from)}`);
  expect(body.bySeverity.critical).toMatchObject({ count: 3, claimedWithin60sPct: 33.3, claimedWithin180sPct: 66.7, medianSecondsToClaim: 90 });
  const bad = await api(h.t, op(), 'GET', '/api/v1/kpi?from=yesterday');
  expect(bad.status).toBe(400);
  expect(bad.body).toMatchObject({ error: 'invalid_request', field: 'from' });
});
