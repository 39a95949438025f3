/**
 * The admin actions the import points to (server/api/routes/adminActions.ts),
 * against a real hub, real MQTT clients and a fake clock: a resident moves
 * and keeps readings and targets; a device moves and its next reading counts
 * for the new home's topic only; a gateway is replaced, the old credentials
 * refused at CONNECT, the home's gateway_offline following the new one; a
 * retired device can no longer connect nor raise device_offline, and its id
 * is not issued again.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, publishAcked } from '../../helpers/hub.js';
import { api, district, listAlerts, MINUTE, send, startAlertHub, telemetry, waitFor, type AlertHub, type ApiAnswer } from '../alerts/helpers.js';

let h: AlertHub;
let t0: number;

/** As admin unless another token is given; DELETE too. */
async function call(method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object, token = h.tokens.admin!): Promise<ApiAnswer> {
  if (method !== 'DELETE') return api(h.t, token, method, url, payload);
  const res = await h.t.hub.http.inject({ method, url, headers: { authorization: `Bearer ${token}` } });
  return { status: res.statusCode, body: res.json() };
}

const closed = (c: MqttClient) => new Promise<void>((resolve) => (c.connected ? c.once('close', () => resolve()) : resolve()));
const audit = (action: string) => h.t.hub.ctx.db.prepare('SELECT actor, subject, detail FROM audit WHERE action = ?').all(action) as Array<{ actor: string; subject: string; detail: string }>;
const reading = (deviceId: string, id: string) =>
  h.t.hub.ctx.db.prepare('SELECT home_id AS homeId, resident_id AS residentId FROM readings WHERE device_id = ? AND reading_id = ?').get(deviceId, id) as { homeId: string; residentId: string | null } | undefined;
const openAlert = async (rule: string, pred: (a: { deviceId: string | null; homeId: string }) => boolean = () => true) =>
  (await listAlerts(h.t, h.tokens['op-zhang']!)).find((a) => a.rule === rule && a.state !== 'resolved' && pred(a));

beforeAll(async () => {
  const doc = district();
  // A full home: SPEC §1 allows at most 4 residents.
  doc.homes.push({ id: 'wh-0003', address: '威海市环翠区 3 号', residents: [1, 2, 3, 4].map((n) => ({ id: `r-03${n}`, name: `住户${n}` })) } as never);
  h = await startAlertHub({ doc });
  t0 = h.clock.now();
  // Heard at t0: the gateway, the cuff (a normal reading), the fall sensor (a heartbeat).
  await h.connect('gw-0001');
  await send(await h.connect('bp-0001'), 'wh-0001', 'bp-0001', { id: 'before-move', type: 'blood_pressure', systolic: 128, diastolic: 82, unit: 'mmHg' }, t0);
  const fall = await h.connect('fall-0001');
  await send(fall, 'wh-0001', 'fall-0001', { id: 'fall-hb-1', type: 'heartbeat', battery: 80 }, t0);
  fall.end(true);
});

afterAll(() => h?.close());

describe('moving a resident', () => {
  it('is for admins only, and names the field of a bad request', async () => {
    expect((await call('POST', '/api/v1/residents/r-0001/move', { homeId: 'wh-0002' }, h.tokens['op-zhang'])).status).toBe(403);
    const bad = await call('POST', '/api/v1/residents/r-0001/move', { homeId: 'WH 2' });
    expect(bad).toMatchObject({ status: 400, body: { error: 'invalid_request', field: 'homeId' } });
  });

  it('refuses what it cannot do, with 404/400/409 naming the field', async () => {
    expect(await call('POST', '/api/v1/residents/r-9999/move', { homeId: 'wh-0002' })).toMatchObject({ status: 404, body: { field: 'id' } });
    expect(await call('POST', '/api/v1/residents/r-0001/move', { homeId: 'wh-0404' })).toMatchObject({ status: 400, body: { field: 'homeId' } });
    expect(await call('POST', '/api/v1/residents/r-0001/move', { homeId: 'wh-0001' })).toMatchObject({ status: 409, body: { error: 'already_there', field: 'homeId' } });
    expect(await call('POST', '/api/v1/residents/r-0001/move', { homeId: 'wh-0003', devices: 'unbind' })).toMatchObject({ status: 409, body: { error: 'home_full', field: 'homeId' } });
    const bound = await call('POST', '/api/v1/residents/r-0001/move', { homeId: 'wh-0002' });
    expect(bound).toMatchObject({ status: 409, body: { error: 'devices_bound', field: 'devices' } });
    expect(bound.body.errors.map((e: { path: string }) => e.path)).toEqual(['/devices/bp-0001', '/devices/glu-0001', '/devices/sos-0001']);
  });

  it('waits for the call center: an unresolved alert of the resident belongs to the old address', async () => {
    const bpClient = h.clients.find((c) => c.options.clientId === 'bp-0001')!;
    await send(bpClient, 'wh-0001', 'bp-0001', { type: 'blood_pressure', systolic: 190, diastolic: 100, unit: 'mmHg' }, h.clock.now());
    const crisis = await waitFor(() => openAlert('bp_crisis'), 'bp_crisis');
    const refused = await call('POST', '/api/v1/residents/r-0001/move', { homeId: 'wh-0002', devices: 'unbind' });
    expect(refused).toMatchObject({ status: 409, body: { error: 'unresolved_alerts', field: 'id', errors: [{ path: `/alerts/${crisis.id}` }] } });
    const resolved = await call('POST', `/api/v1/alerts/${crisis.id}/resolve`, { outcome: 'handled', note: '已电话确认，复测正常' }, h.tokens['op-zhang']);
    expect(resolved.status).toBe(200);
  });

  it('moves them with targets, schedule, doctor and readings; devices left behind are unbound; audited', async () => {
    const moved = await call('POST', '/api/v1/residents/r-0001/move', { homeId: 'wh-0002', devices: 'unbind' });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ fromHomeId: 'wh-0001', movedDevices: [], unboundDevices: ['bp-0001', 'glu-0001', 'sos-0001'], resident: { id: 'r-0001', homeId: 'wh-0002' } });
    const r = await call('GET', '/api/v1/residents/r-0001', undefined, h.tokens['dr-li']);
    expect(r.body).toMatchObject({ homeId: 'wh-0002', doctor: 'dr-li', targets: { bp_high: { systolic: 170 } }, home: { id: 'wh-0002' } });
    const readings = await call('GET', `/api/v1/residents/r-0001/readings?type=blood_pressure&from=${new Date(t0 - MINUTE).toISOString()}`, undefined, h.tokens['dr-li']);
    expect(readings.body.readings.map((x: { id: string }) => x.id)).toContain('before-move');
    expect(reading('bp-0001', 'before-move')).toEqual({ homeId: 'wh-0001', residentId: 'r-0001' }); // measured there, stays there
    const home1 = await call('GET', '/api/v1/homes/wh-0001');
    expect(home1.body.residents).toEqual([]);
    expect(home1.body.devices.filter((d: { residentId: string | null }) => d.residentId !== null)).toEqual([]);
    expect(audit('resident.moved')).toMatchObject([{ actor: 'admin', subject: 'r-0001' }]);
  });
});

describe('moving a device', () => {
  it('resolves its device alerts of the old home, closes its session, and counts its next reading for the new home only', async () => {
    h.clock.set(t0 + 16 * MINUTE);
    await h.t.hub.ctx.watchdog.tick(h.clock.now());
    const offline = await waitFor(() => openAlert('device_offline', (a) => a.deviceId === 'bp-0001'), 'bp-0001 offline');
    // The cuff follows its resident.
    const old = h.clients.find((c) => c.options.clientId === 'bp-0001')!;
    const moved = await call('POST', '/api/v1/devices/bp-0001/move', { homeId: 'wh-0002', resident: 'r-0001' });
    expect(moved).toMatchObject({ status: 200, body: { fromHomeId: 'wh-0001', resolvedAlerts: [offline.id], device: { id: 'bp-0001', homeId: 'wh-0002', residentId: 'r-0001' } } });
    await closed(old);
    const detail = await call('GET', `/api/v1/alerts/${offline.id}`, undefined, h.tokens['op-zhang']);
    expect(detail.body.alert.state).toBe('resolved');
    expect(detail.body.history.at(-1)).toMatchObject({ actor: 'admin', action: 'resolved', note: expect.stringContaining('wh-0002') });

    const again = await connectClient(h.t.mqttUrl, 'bp-0001', h.answer.credentials.find((c) => c.username === 'bp-0001')!.password);
    h.clients.push(again);
    await publishAcked(again, telemetry('wh-0002', 'bp-0001'), { id: 'after-move', type: 'blood_pressure', systolic: 122, diastolic: 78, unit: 'mmHg', ts: h.clock.now() });
    await publishAcked(again, telemetry('wh-0001', 'bp-0001'), { id: 'old-topic', type: 'blood_pressure', systolic: 122, diastolic: 78, unit: 'mmHg', ts: h.clock.now() });
    expect(reading('bp-0001', 'after-move')).toEqual({ homeId: 'wh-0002', residentId: 'r-0001' });
    const refusal = await waitFor(() => h.t.hub.ctx.refusals.list({ code: 'topic_not_allowed' }).find((x) => x.clientId === 'bp-0001'), 'refusal of the old topic');
    expect(refusal.topic).toBe(telemetry('wh-0001', 'bp-0001'));
    expect(reading('bp-0001', 'old-topic')).toBeUndefined();
    expect(reading('bp-0001', 'before-move')).toEqual({ homeId: 'wh-0001', residentId: 'r-0001' });
  });

  it('refuses a resident of another home, and the import points to this route', async () => {
    expect(await call('POST', '/api/v1/devices/glu-0001/move', { homeId: 'wh-0002', resident: 'r-0302' })).toMatchObject({ status: 400, body: { field: 'resident' } });
    const doc = district();
    const reimport = await call('POST', '/api/v1/import', { homes: [{ ...doc.homes[0], residents: [] }] });
    expect(reimport.status).toBe(400);
    expect(reimport.body.errors).toContainEqual({ path: '/homes/0/devices/0/id', message: expect.stringContaining('POST /api/v1/devices/bp-0001/move') });
  });
});

describe('replacing a gateway', () => {
  let secret: string;

  it('issues the new gateway its secret once, revokes the old one at once and closes its session', async () => {
    expect(await call('POST', '/api/v1/homes/wh-0001/gateway', { id: 'bp-0002' })).toMatchObject({ status: 409, body: { error: 'id_taken', field: 'id' } });
    expect(await call('POST', '/api/v1/homes/wh-0404/gateway', { id: 'gw-0101' })).toMatchObject({ status: 404 });
    const old = h.clients.find((c) => c.options.clientId === 'gw-0001')!;
    const replaced = await call('POST', '/api/v1/homes/wh-0001/gateway', { id: 'gw-0101' });
    expect(replaced).toMatchObject({ status: 200, body: { homeId: 'wh-0001', gatewayId: 'gw-0101', previousGatewayId: 'gw-0001', credential: { username: 'gw-0101', kind: 'gateway' } } });
    secret = replaced.body.credential.password;
    await closed(old);
    await expect(connectClient(h.t.mqttUrl, 'gw-0001', h.answer.credentials.find((c) => c.username === 'gw-0001')!.password)).rejects.toMatchObject({ code: 4 });
    expect(JSON.stringify(audit('gateway.replaced'))).not.toContain(secret);
    expect((await call('GET', '/api/v1/homes/wh-0001')).body.gatewayId).toBe('gw-0101');
  });

  it('leaves the home unheard until the new gateway connects: gateway_offline after 10 min, cleared by the new one', async () => {
    await h.t.hub.ctx.watchdog.tick(h.clock.set(t0 + 27 * MINUTE));
    const offline = await waitFor(() => openAlert('gateway_offline', (a) => a.homeId === 'wh-0001'), 'gateway_offline');
    const gw = await connectClient(h.t.mqttUrl, 'gw-0101', secret);
    h.clients.push(gw);
    await publishAcked(gw, 'anxin/v1/homes/wh-0001/gateway/status', { online: true });
    await waitFor(async () => (await call('GET', `/api/v1/alerts/${offline.id}`, undefined, h.tokens['op-zhang'])).body.history.some((x: { action: string }) => x.action === 'condition.cleared'), 'cleared');
    // The new gateway publishes for the home's devices; the old id is not issued again by an import.
    await publishAcked(gw, telemetry('wh-0001', 'glu-0001'), { id: 'via-new-gw', type: 'glucose', value: 6.1, unit: 'mmol/L', ts: h.clock.now() });
    expect(reading('glu-0001', 'via-new-gw')).toMatchObject({ homeId: 'wh-0001' });
    const reuse = await call('POST', '/api/v1/import', { homes: [{ id: 'wh-0009', address: '新家', gateway: { id: 'gw-0001' } }] });
    expect(reuse.body.errors).toEqual([{ path: '/homes/0/gateway/id', message: expect.stringContaining('never reused') }]);
  });

  it('notes a replacement on the home\'s unresolved gateway_offline, for whoever handles it', async () => {
    const offline = (await openAlert('gateway_offline', (a) => a.homeId === 'wh-0001'))!;
    expect((await call('POST', '/api/v1/homes/wh-0001/gateway', { id: 'gw-0102' })).status).toBe(200);
    const detail = await call('GET', `/api/v1/alerts/${offline.id}`, undefined, h.tokens['op-zhang']);
    expect(detail.body.alert.state).not.toBe('resolved');
    expect(detail.body.history.at(-1)).toMatchObject({ actor: 'admin', action: 'commented', note: expect.stringContaining('gw-0101 → gw-0102') });
  });
});

describe('retiring a device', () => {
  it('revokes it, resolves its offline alert with a note, keeps its readings, and never raises device_offline again', async () => {
    const offline = await waitFor(() => openAlert('device_offline', (a) => a.deviceId === 'fall-0001'), 'fall-0001 offline');
    const retired = await call('DELETE', '/api/v1/devices/fall-0001');
    expect(retired).toMatchObject({ status: 200, body: { id: 'fall-0001', homeId: 'wh-0001', resolvedAlerts: [offline.id] } });
    const detail = await call('GET', `/api/v1/alerts/${offline.id}`, undefined, h.tokens['op-zhang']);
    expect(detail.body.history.at(-1)).toMatchObject({ action: 'resolved', note: expect.stringContaining('retired') });
    await expect(connectClient(h.t.mqttUrl, 'fall-0001', h.answer.credentials.find((c) => c.username === 'fall-0001')!.password)).rejects.toMatchObject({ code: 4 });
    expect(reading('fall-0001', 'fall-hb-1')).toMatchObject({ homeId: 'wh-0001' });

    await h.t.hub.ctx.watchdog.tick(h.clock.set(t0 + 3 * 60 * MINUTE));
    expect(await openAlert('device_offline', (a) => a.deviceId === 'fall-0001')).toBeUndefined();
    expect((await call('GET', '/api/v1/homes/wh-0001')).body.devices.map((d: { id: string }) => d.id)).not.toContain('fall-0001');
  });

  it('is not undone by an import, nor done twice', async () => {
    expect(await call('DELETE', '/api/v1/devices/fall-0001')).toMatchObject({ status: 409, body: { error: 'retired', field: 'id' } });
    expect(await call('DELETE', '/api/v1/devices/gw-0102')).toMatchObject({ status: 404, body: { message: expect.stringContaining('/api/v1/homes/wh-0001/gateway') } });
    const reuse = await call('POST', '/api/v1/devices', { homeId: 'wh-0001', id: 'fall-0001', type: 'fall_sensor' });
    expect(reuse).toMatchObject({ status: 400, body: { errors: [{ path: '/homes/0/devices/0/id', message: expect.stringContaining('retired') }] } });
    expect(audit('device.retired')).toMatchObject([{ subject: 'fall-0001' }]);
  });
});
