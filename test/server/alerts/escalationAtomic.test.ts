/**
 * An escalation to the doctor and the notification that tells them are one
 * transaction: when the notification cannot be stored, the escalation fails
 * and the operator is told, instead of an alert escalated to a doctor nobody
 * will ever notify. Real hub and API; the fault is injected into the hub's own
 * delivery queue (a failing insert: a full disk, a locked store), the only
 * stand-in here.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { api, bp, listAlerts, send, startAlertHub, type AlertHub } from './helpers.js';

let h: AlertHub;
let alertId: string;
const op = () => h.tokens['op-zhang']!;
const notifications = () => h.t.hub.ctx.db.prepare('SELECT id, kind FROM notifications WHERE alert_id = ?').all(alertId);

beforeAll(async () => {
  h = await startAlertHub();
  await send(await h.connect('bp-0001'), 'wh-0001', 'bp-0001', bp(175, 95), h.clock.now()); // bp_high (her target: 170): a warning for the doctor
  [{ id: alertId }] = await listAlerts(h.t, op());
});

afterAll(() => h?.close());

it('a notification that cannot be stored fails the escalation, which stays undone', async () => {
  const { deliveries } = h.t.hub.ctx;
  const enqueue = deliveries.enqueue.bind(deliveries);
  deliveries.enqueue = () => { throw new Error('SQLITE_FULL: database or disk is full'); };
  try {
    const esc = await api(h.t, op(), 'POST', `/api/v1/alerts/${alertId}/escalate`, { target: 'doctor' });
    expect(esc.status).toBe(500);
  } finally {
    deliveries.enqueue = enqueue;
  }
  const { body } = await api(h.t, op(), 'GET', `/api/v1/alerts/${alertId}`);
  expect(body.alert).toMatchObject({ state: 'open', escalation: null });
  expect(body.history.map((e: { action: string }) => e.action)).toEqual(['created']);
  expect(notifications()).toEqual([]);
});

it('once it can be stored, the escalation and its notification commit together', async () => {
  const esc = await api(h.t, op(), 'POST', `/api/v1/alerts/${alertId}/escalate`, { target: 'doctor' });
  expect(esc.status).toBe(200);
  expect(esc.body.alert).toMatchObject({ state: 'escalated', escalation: { target: 'doctor', to: 'dr-li' } });
  expect(notifications()).toEqual([expect.objectContaining({ kind: 'escalation.doctor' })]);
});
