/**
 * The time rules through the hub (SPEC §4), with a fake clock and hand-driven
 * ticks: silent devices, a gateway gone by its last will, a scheduled
 * measurement that did not come; and what happens when the silence ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, publishAcked } from '../../helpers/hub.js';
import { api, bp, district, listAlerts, MINUTE, MONDAY_0900, send, startAlertHub, waitFor, type AlertHub } from './helpers.js';

let h: AlertHub;
const op = () => h.tokens['op-zhang']!;
const tick = (at: number) => h.t.hub.ctx.watchdog.tick(h.clock.set(at));

/** The unresolved alerts of `rule` (optionally of one device or home) as the operator sees them. */
const open = async (rule: string, by: { deviceId?: string; homeId?: string } = {}) =>
  (await listAlerts(h.t, op(), '?state=open,acknowledged,escalated')).filter((a) =>
    a.rule === rule && (by.deviceId === undefined || a.deviceId === by.deviceId) && (by.homeId === undefined || a.homeId === by.homeId));

beforeAll(async () => {
  const doc = district();
  (doc.homes[1]!.residents[0] as Record<string, unknown>).schedule = [{ type: 'blood_pressure', time: '10:00' }];
  h = await startAlertHub({ doc }); // the hub starts, and the district is enrolled, at 09:00 Shanghai time
  // Home 2's gateway is heard at 09:00; home 1's never is (never-connected gateways: neverConnected.test.ts).
  await h.connect('gw-0002');
});

afterAll(() => h?.close());

describe('device_offline', () => {
  it('a fall sensor silent for 3 heartbeats (3 × 300 s) → urgent; a bp cuff silent as long → info', async () => {
    await tick(MONDAY_0900 + 14 * MINUTE + 59_000);
    expect(await open('device_offline')).toEqual([]);
    await tick(MONDAY_0900 + 15 * MINUTE);
    const fall = await open('device_offline', { deviceId: 'fall-0001' });
    expect(fall).toHaveLength(1);
    expect(fall[0]).toMatchObject({ severity: 'urgent', homeId: 'wh-0001', residentId: null, conditionCleared: false });
    // Enrolled at 09:00 and never heard from: an installation to check, and worded so.
    expect(fall[0].titles.en).toBe('Fall sensor never connected');
    expect((await open('device_offline', { deviceId: 'sos-0001' }))[0]).toMatchObject({ severity: 'urgent', residentId: 'r-0001' });
    expect((await open('device_offline', { deviceId: 'bp-0001' }))[0]).toMatchObject({ severity: 'info', residentId: 'r-0001' });
    // Home 2's glucose meter keeps its type's default (12 h): off between uses is not silence.
    expect(await open('device_offline', { deviceId: 'glu-0002' })).toEqual([]);
  });

  it('another tick while it stays silent changes nothing (one alert, count 1)', async () => {
    await tick(MONDAY_0900 + 20 * MINUTE);
    const fall = await open('device_offline', { deviceId: 'fall-0001' });
    expect(fall).toHaveLength(1);
    expect(fall[0].count).toBe(1);
  });

  it('a reading from the fall sensor clears the condition; the urgent alert stays for the operator to close', async () => {
    const sensor = await h.connect('fall-0001');
    await send(sensor, 'wh-0001', 'fall-0001', { type: 'heartbeat', battery: 80 }, h.clock.now());
    const [a] = await open('device_offline', { deviceId: 'fall-0001' });
    expect(a).toMatchObject({ state: 'open', conditionCleared: true });
    const history = (await api(h.t, op(), 'GET', `/api/v1/alerts/${a.id}`)).body.history;
    expect(history.at(-1)).toMatchObject({ action: 'condition.cleared', actor: 'system' });
  });

  it('the bp cuff reporting again resolves its info alert by itself', async () => {
    const [before] = await open('device_offline', { deviceId: 'bp-0001' });
    const cuff = await h.connect('bp-0001');
    await send(cuff, 'wh-0001', 'bp-0001', bp(122, 78), h.clock.now());
    expect(await open('device_offline', { deviceId: 'bp-0001' })).toEqual([]);
    const { alert, history } = (await api(h.t, op(), 'GET', `/api/v1/alerts/${before.id}`)).body;
    expect(alert).toMatchObject({ state: 'resolved', outcome: 'recovered' });
    expect(history.at(-1)).toMatchObject({ action: 'resolved', actor: 'system', fromState: 'open', toState: 'resolved' });
  });

  it('a device that connects (without sending) is heard too: connecting clears it', async () => {
    expect(await open('device_offline', { deviceId: 'glu-0001' })).toHaveLength(1);
    await h.connect('glu-0001');
    await waitFor(async () => (await open('device_offline', { deviceId: 'glu-0001' })).length === 0, 'glu-0001 heard on connect');
  });
});

describe('gateway_offline', () => {
  it('a gateway gone by its last will → urgent gateway_offline after 10 minutes', async () => {
    const willAt = h.clock.set(MONDAY_0900 + 30 * MINUTE);
    const gw = await h.connect('gw-0002', {
      will: { topic: 'anxin/v1/homes/wh-0002/gateway/status', payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
    });
    await publishAcked(gw, 'anxin/v1/homes/wh-0002/gateway/status', { online: true, outboxDepth: 0 });
    await waitFor(() => h.t.hub.ctx.directory.status('gw-0002')?.online === true, 'gateway online');
    gw.stream.destroy(); // the connection drops without DISCONNECT: the broker publishes the will
    await waitFor(() => h.t.hub.ctx.directory.status('gw-0002')?.online === false, 'the last will recorded');

    await tick(willAt + 9 * MINUTE + 59_000);
    expect(await open('gateway_offline', { homeId: 'wh-0002' })).toEqual([]);
    await tick(willAt + 10 * MINUTE);
    const alerts = await open('gateway_offline', { homeId: 'wh-0002' });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ severity: 'urgent', homeId: 'wh-0002', residentId: null, deviceId: null, state: 'open' });
    expect(Date.parse(alerts[0].claimDeadline)).toBe(willAt + 20 * MINUTE);
  });

  it('the gateway coming back clears the condition', async () => {
    const gw = await h.connect('gw-0002');
    await publishAcked(gw, 'anxin/v1/homes/wh-0002/gateway/status', { online: true });
    await waitFor(async () => (await open('gateway_offline', { homeId: 'wh-0002' }))[0]?.conditionCleared === true, 'gateway_offline cleared');
  });
});

describe('reading_missed', () => {
  it('BP scheduled at 10:00 and not measured: nothing at 11:59, info after 12:00 local time', async () => {
    await tick(Date.parse('2025-03-10T11:59:00+08:00'));
    expect(await open('reading_missed')).toEqual([]);
    await tick(Date.parse('2025-03-10T12:01:00+08:00'));
    const alerts = await open('reading_missed');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ severity: 'info', residentId: 'r-0002', homeId: 'wh-0002', claimDeadline: null });
    expect(alerts[0].titles['zh-CN']).toContain('10:00');
  });

  it('the measurement arriving late resolves the reminder by itself', async () => {
    const cuff = await h.connect('bp-0002');
    await send(cuff, 'wh-0002', 'bp-0002', bp(128, 82), h.clock.now());
    expect(await open('reading_missed')).toEqual([]);
    await tick(h.clock.now() + MINUTE);
    expect(await open('reading_missed')).toEqual([]);
  });
});

describe('a time-rule alert a person resolved while its condition lasts', () => {
  const resolve = async (id: string, note?: string) =>
    expect((await api(h.t, op(), 'POST', `/api/v1/alerts/${id}/resolve`, { outcome: 'handled', ...(note && { note }) })).status).toBe(200);

  it('does not come back at the next tick for the same silence; it does once the device was heard and falls silent again', async () => {
    const [pir] = await open('device_offline', { deviceId: 'pir-0001' });
    expect(pir).toMatchObject({ severity: 'info', state: 'open' });
    await resolve(pir.id); // "technician booked"
    await tick(h.clock.now() + MINUTE);
    await tick(h.clock.now() + 60 * MINUTE);
    expect(await open('device_offline', { deviceId: 'pir-0001' })).toEqual([]);

    const sensor = await h.connect('pir-0001');
    await send(sensor, 'wh-0001', 'pir-0001', { type: 'motion', location: 'hall' }, h.clock.now());
    const heardAt = h.clock.now();
    sensor.end(true);
    await tick(heardAt + 15 * MINUTE);
    const again = await open('device_offline', { deviceId: 'pir-0001' });
    expect(again).toHaveLength(1);
    expect(again[0].id).not.toBe(pir.id);
  });

  it('a missed measurement reminded and resolved is not raised again the same day, but is the next day', async () => {
    // Sessions last 12 h of the hub's clock; sign in again on the next days.
    const signIn = async () => {
      h.tokens['op-zhang'] = await login(h.t.hub, 'op-zhang', h.answer.users.find((u) => u.username === 'op-zhang')!.password);
    };
    await tick(Date.parse('2025-03-11T12:01:00+08:00'));
    await signIn();
    const [tuesday] = await open('reading_missed');
    expect(tuesday).toMatchObject({ severity: 'info', residentId: 'r-0002' });
    await resolve(tuesday.id); // the reminder call was made
    await tick(Date.parse('2025-03-11T12:05:00+08:00'));
    await tick(Date.parse('2025-03-11T20:00:00+08:00'));
    expect(await open('reading_missed')).toEqual([]);

    await tick(Date.parse('2025-03-12T12:01:00+08:00'));
    await signIn();
    const [wednesday] = await open('reading_missed');
    expect(wednesday).toMatchObject({ severity: 'info', residentId: 'r-0002' });
    expect(wednesday.id).not.toBe(tuesday.id);
    expect(wednesday.titles.en).toContain('2 days');
  });
});
