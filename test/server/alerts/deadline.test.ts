/**
 * Claim deadlines survive a restart (SPEC §5, STYLE: "persisted deadlines, so
 * a restart re-arms every timer"): a critical alert raised by one hub becomes
 * overdue at createdAt + 60 s under the NEXT hub on the same data dir, and
 * every signed-in screen hears it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { login, startTestHub, type TestHub } from '../../helpers/hub.js';
import { api, bp, FakeClock, MANUAL_TICKS, send, startAlertHub, StreamClient, type AlertHub } from './helpers.js';

const clock = new FakeClock();
let first: AlertHub;
let second: TestHub;
let token: string;
let critical: { id: string; createdAt: number };
let urgentId: string;

beforeAll(async () => {
  first = await startAlertHub({ clock });
  const cuff = await first.connect('bp-0001');
  await send(cuff, 'wh-0001', 'bp-0001', bp(195, 100), clock.now());
  await send(await first.connect('bp-0002'), 'wh-0002', 'bp-0002', bp(120, 80, { pulse: 125 }), clock.now());
  const alerts = (await api(first.t, first.tokens['op-zhang']!, 'GET', '/api/v1/alerts')).body.alerts;
  const c = alerts.find((a: { rule: string }) => a.rule === 'bp_crisis');
  critical = { id: c.id, createdAt: Date.parse(c.createdAt) };
  urgentId = alerts.find((a: { rule: string }) => a.rule === 'pulse_abnormal').id;
  expect(Date.parse(c.claimDeadline)).toBe(critical.createdAt + 60_000);

  for (const client of first.clients) client.end(true);
  await first.t.stop();
  clock.advance(30_000); // the restart took 30 s
  second = await startTestHub({ dataDir: first.t.dataDir, now: clock.now, config: MANUAL_TICKS });
  const password = first.answer.users.find((u) => u.username === 'op-zhang')!.password;
  token = await login(second.hub, 'op-zhang', password);
});

afterAll(() => second?.destroy());

const detail = async (id: string) => (await api(second, token, 'GET', `/api/v1/alerts/${id}`)).body;

it('the new hub knows the open alert and its deadline', async () => {
  const { alert } = await detail(critical.id);
  expect(alert).toMatchObject({ state: 'open', overdue: false, claimDeadline: new Date(critical.createdAt + 60_000).toISOString() });
  expect(second.hub.ctx.engine.findOpen(critical.id)).toBeDefined();
});

it('at createdAt + 59 s nothing is overdue; at + 61 s the critical one is, with history and a stream event', async () => {
  const stream = await StreamClient.open(second, token);
  const hello = await stream.next((m) => m.type === 'hello');

  await second.hub.ctx.watchdog.tick(critical.createdAt + 59_000);
  expect((await detail(critical.id)).alert.overdue).toBe(false);

  const at = clock.set(critical.createdAt + 61_000);
  await second.hub.ctx.watchdog.tick(at);
  const { alert, history } = await detail(critical.id);
  expect(alert).toMatchObject({ overdue: true, overdueAt: new Date(at).toISOString(), state: 'open' });
  expect(history.at(-1)).toMatchObject({ actor: 'system', action: 'overdue', fromState: 'open', toState: 'open', detail: { deadline: new Date(critical.createdAt + 60_000).toISOString() } });

  const event = await stream.next((m) => m.type === 'alert.updated' && m.data.id === critical.id, 'alert.updated for the overdue alert');
  expect(event.seq).toBeGreaterThan(hello.seq as number);
  expect(event.data).toMatchObject({ overdue: true, reason: 'overdue', severity: 'critical' });
  stream.close();

  // The urgent one has 10 minutes.
  expect((await detail(urgentId)).alert.overdue).toBe(false);
});

it('a later tick does not mark it overdue twice; the urgent alert is overdue after 10 min', async () => {
  await second.hub.ctx.watchdog.tick(critical.createdAt + 5 * 60_000);
  expect((await detail(critical.id)).history.filter((e: { action: string }) => e.action === 'overdue')).toHaveLength(1);
  await second.hub.ctx.watchdog.tick(critical.createdAt + 10 * 60_000 + 1000);
  expect((await detail(urgentId)).alert.overdue).toBe(true);
});

it('acknowledging an overdue alert claims it: no longer overdue, and the KPI counts it as claimed late', async () => {
  clock.set(critical.createdAt + 11 * 60_000);
  expect((await api(second, token, 'POST', `/api/v1/alerts/${critical.id}/ack`)).status).toBe(200);
  const { alert } = await detail(critical.id);
  expect(alert).toMatchObject({ state: 'acknowledged', overdue: false, overdueAt: new Date(critical.createdAt + 61_000).toISOString() });
  const kpi = (await api(second, token, 'GET', '/api/v1/kpi')).body;
  expect(kpi.bySeverity.critical).toMatchObject({ count: 1, claimedWithin60sPct: 0, medianSecondsToClaim: 660 });
});
