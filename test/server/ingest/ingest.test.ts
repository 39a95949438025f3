/**
 * The ingest through real MQTT clients against a real hub: readings in, rows
 * out, and every refusal answered on the sender's `rejects` topic.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectClient, subscribeGranted, exampleDocument, login, publishAcked, secretOf, startTestHub, type ImportAnswer, type TestHub } from '../../helpers/hub.js';

const T = 'anxin/v1/homes/wh-0001/devices';
let t: TestHub;
let answer: ImportAnswer;
let doctorToken: string;
let bp: MqttClient;
let bpRejects: Awaited<ReturnType<typeof collect>>;

async function readings(residentId: string, query = '') {
  const res = await t.hub.http.inject({ url: `/api/v1/residents/${residentId}/readings${query}`, headers: { authorization: `Bearer ${doctorToken}` } });
  expect(res.statusCode).toBe(200);
  return (res.json() as { readings: Array<{ id: string; deviceId: string; type: string; ts: string; values: Record<string, unknown> }> }).readings;
}

const now = () => Date.now();
let seq = 0;
const nextId = (p = 'r') => `${p}-${++seq}`;

beforeAll(async () => {
  t = await startTestHub();
  const doc = exampleDocument();
  doc.homes.push({ ...exampleDocument('wh-0002', '0002').homes[0]!, residents: [], devices: [{ id: 'bp-0002', type: 'bp_cuff' }] } as never);
  answer = await t.importDoc(doc);
  doctorToken = await login(t.hub, 'dr-li', answer.users.find((u) => u.username === 'dr-li')!.password);
  bp = await connectClient(t.mqttUrl, 'bp-0001', secretOf(answer, 'bp-0001'));
  bpRejects = await collect(bp, `${T}/bp-0001/rejects`);
});

afterAll(async () => {
  bp?.end(true);
  await t?.destroy();
});

describe('valid readings are stored with converted units', () => {
  it.each([
    ['bp-0001', { type: 'blood_pressure', systolic: 142, diastolic: 91, pulse: 72, unit: 'mmHg' }, { systolic: 142, diastolic: 91, pulse: 72 }],
    ['bp-0001', { type: 'blood_pressure', systolic: 20, diastolic: 12, unit: 'kPa' }, { systolic: 150.0124, diastolic: 90.00744, sourceUnit: 'kPa' }],
    ['glu-0001', { type: 'glucose', value: 6.2, unit: 'mmol/L', context: 'fasting' }, { value: 6.2, context: 'fasting' }],
    ['glu-0001', { type: 'glucose', value: 180.16, unit: 'mg/dL' }, { value: 10, sourceUnit: 'mg/dL' }],
    ['sos-0001', { type: 'sos', location: 'bedroom' }, { location: 'bedroom' }],
    ['sos-0001', { type: 'heartbeat', battery: 80, rssi: -60 }, { battery: 80, rssi: -60 }],
  ])('%s %j', async (deviceId, body, expected) => {
    const client = deviceId === 'bp-0001' ? bp : await connectClient(t.mqttUrl, deviceId, secretOf(answer, deviceId));
    const id = nextId();
    const ts = new Date(now() - 60_000).toISOString();
    await publishAcked(client, `${T}/${deviceId}/telemetry`, { ...body, id, ts });
    if (client !== bp) client.end(true);
    const row = (await readings('r-0001')).find((r) => r.id === id);
    expect(row).toBeDefined();
    expect(row!.deviceId).toBe(deviceId);
    expect(row!.ts).toBe(ts);
    for (const [k, v] of Object.entries(expected)) {
      if (typeof v === 'number') expect(row!.values[k]).toBeCloseTo(v, 3);
      else expect(row!.values[k]).toBe(v);
    }
  });

  it('stores home-level readings (an unbound fall sensor, a motion sensor) with no resident', async () => {
    for (const [deviceId, type] of [['fall-0001', 'fall'], ['pir-0001', 'motion']] as const) {
      const client = await connectClient(t.mqttUrl, deviceId, secretOf(answer, deviceId));
      await publishAcked(client, `${T}/${deviceId}/telemetry`, { type, id: nextId(), ts: now(), ...(type === 'fall' && { confidence: 0.93, recovered: false }) });
      client.end(true);
    }
    const rows = t.hub.ctx.db.prepare("SELECT device_id, resident_id FROM readings WHERE device_id IN ('fall-0001', 'pir-0001')").all();
    expect(rows).toEqual([{ device_id: 'fall-0001', resident_id: null }, { device_id: 'pir-0001', resident_id: null }]);
  });

  it('filters readings by type and time range', async () => {
    const base = now() - 3600_000;
    for (let i = 0; i < 3; i++) {
      await publishAcked(bp, `${T}/bp-0001/telemetry`, { type: 'blood_pressure', id: `range-${i}`, ts: base + i * 60_000, systolic: 130 + i, diastolic: 80, unit: 'mmHg' });
    }
    const rows = await readings('r-0001', `?type=blood_pressure&from=${base + 30_000}&to=${new Date(base + 150_000).toISOString()}`);
    expect(rows.map((r) => r.id)).toEqual(['range-1', 'range-2']);
  });

  it('says when the answer was cut at its limit, and the next page follows from the last reading', async () => {
    const base = now() - 7200_000;
    for (let i = 0; i < 5; i++) {
      await publishAcked(bp, `${T}/bp-0001/telemetry`, { type: 'blood_pressure', id: `page-${i}`, ts: base + i * 60_000, systolic: 120, diastolic: 80, unit: 'mmHg' });
    }
    const range = `type=blood_pressure&from=${base}&to=${base + 4 * 60_000}`;
    const page = async (query: string) => (await t.hub.http.inject({ url: `/api/v1/residents/r-0001/readings?${query}`, headers: { authorization: `Bearer ${doctorToken}` } })).json();
    const first = await page(`${range}&limit=3`);
    expect(first.readings.map((r: { id: string }) => r.id)).toEqual(['page-0', 'page-1', 'page-2']);
    expect(first.truncated).toBe(true);
    const rest = await page(`type=blood_pressure&from=${Date.parse(first.readings[2].ts) + 1}&to=${base + 4 * 60_000}&limit=3`);
    expect(rest).toMatchObject({ readings: [{ id: 'page-3' }, { id: 'page-4' }], truncated: false });
    expect((await page(`${range}&limit=5`)).truncated).toBe(false);
  });
});

describe('every refusal is answered on rejects with its code', () => {
  const ok = () => ({ type: 'blood_pressure', id: nextId('bad'), ts: now(), systolic: 130, diastolic: 85, unit: 'mmHg' });
  it.each([
    ['invalid_json', '{"type": "blood_pressure", ', undefined],
    ['not_object', '[1]', undefined],
    ['not_object', '"hello"', undefined],
    ['unknown_type', { ...ok(), type: 'temperature' }, 'type'],
    ['missing_field', { ...ok(), systolic: undefined }, 'systolic'],
    ['missing_field', { ...ok(), id: undefined }, 'id'],
    ['invalid_field', { ...ok(), systolic: '130' }, 'systolic'],
    ['invalid_field', '{"type":"blood_pressure","id":"inf-1","ts":1,"systolic":1e400,"diastolic":80,"unit":"mmHg"}', 'systolic'],
    ['unknown_unit', { ...ok(), unit: 'cmH2O' }, 'unit'],
    ['out_of_range', { ...ok(), systolic: 320 }, 'systolic'],
    ['out_of_range', { ...ok(), systolic: 5, unit: 'kPa' }, 'systolic'],
    ['out_of_range', { ...ok(), systolic: 120, diastolic: 125 }, 'diastolic'],
    ['out_of_range', { ...ok(), pulse: 300 }, 'pulse'],
    ['ts_invalid', { ...ok(), ts: '2026-11-23 10:00' }, 'ts'],
    ['ts_future', { ...ok(), ts: now() + 10 * 60_000 }, 'ts'],
    ['ts_too_old', { ...ok(), ts: now() - 366 * 24 * 3600_000 }, 'ts'],
    ['type_not_supported', { type: 'glucose', id: nextId(), ts: now(), value: 5, unit: 'mmol/L' }, 'type'],
    ['unknown_resident', { ...ok(), residentId: 'r-0002' }, 'residentId'],
    ['batch_too_large', Array.from({ length: 501 }, () => ok()), undefined],
    ['payload_too_large', { ...ok(), note: 'x'.repeat(5000) }, undefined],
  ])('%s', async (code, payload, field) => {
    const countBefore = (t.hub.ctx.db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
    await publishAcked(bp, `${T}/bp-0001/telemetry`, typeof payload === 'string' ? payload : JSON.stringify(payload));
    const [msg] = await bpRejects.next();
    expect(msg!.body.error).toBe(code);
    expect(msg!.body.field).toBe(field);
    expect(typeof msg!.body.detail).toBe('string');
    if (typeof payload === 'object' && !Array.isArray(payload) && payload.id) expect(msg!.body.id).toBe(payload.id);
    const countAfter = (t.hub.ctx.db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
    expect(countAfter).toBe(countBefore);
  });

  it('counts refusals by reason, keeps them for an admin, and keeps the sender connected', async () => {
    const metrics = await t.hub.http.inject({ url: '/metrics' });
    expect(metrics.body).toMatch(/anxin_readings_refused_total\{reason="out_of_range"\} [4-9]/);
    const res = await t.hub.http.inject({ url: '/api/v1/refusals?code=ts_future', headers: { authorization: `Bearer ${await t.adminToken()}` } });
    const refusals = (res.json() as { refusals: Array<{ clientId: string; code: string; field: string; payload: string }> }).refusals;
    expect(refusals[0]).toMatchObject({ clientId: 'bp-0001', code: 'ts_future', field: 'ts' });
    expect(refusals[0]!.payload).toContain('"blood_pressure"');
    expect(bp.connected).toBe(true);
    const id = nextId();
    await publishAcked(bp, `${T}/bp-0001/telemetry`, { ...ok(), id });
    expect((await readings('r-0001')).some((r) => r.id === id)).toBe(true);
  });

  it('in a batch, stores the good readings and refuses only the bad ones', async () => {
    const good = [ok(), ok()];
    const bad = { ...ok(), systolic: 999 };
    await publishAcked(bp, `${T}/bp-0001/telemetry`, [good[0], bad, good[1]]);
    const [msg] = await bpRejects.next();
    expect(msg!.body).toMatchObject({ id: bad.id, error: 'out_of_range', field: 'systolic' });
    const ids = (await readings('r-0001')).map((r) => r.id);
    expect(ids).toContain(good[0]!.id);
    expect(ids).toContain(good[1]!.id);
    expect(ids).not.toContain(bad.id);
  });
});

describe('identity and topic access', () => {
  it('refuses a wrong secret and an unknown client with CONNACK 4, a borrowed client id with 2', async () => {
    await expect(connectClient(t.mqttUrl, 'bp-0001', 'not-the-secret')).rejects.toMatchObject({ code: 4 });
    await expect(connectClient(t.mqttUrl, 'nobody-0001', 'whatever')).rejects.toMatchObject({ code: 4 });
    await expect(connectClient(t.mqttUrl, 'bp-0001', secretOf(answer, 'bp-0001'), { clientId: 'glu-0001' })).rejects.toMatchObject({ code: 2 });
    const metrics = (await t.hub.http.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/anxin_mqtt_connect_refused_total\{reason="wrong_secret"\} [1-9]/);
    expect(metrics).toMatch(/anxin_mqtt_connect_refused_total\{reason="unknown_client"\} [1-9]/);
  });

  it("a device cannot publish to another device's topic; it is told on its own rejects", async () => {
    const id = nextId();
    await publishAcked(bp, `${T}/glu-0001/telemetry`, { type: 'glucose', id, ts: now(), value: 5, unit: 'mmol/L' });
    const [msg] = await bpRejects.next();
    expect(msg!.body.error).toBe('topic_not_allowed');
    expect(t.hub.ctx.db.prepare('SELECT count(*) AS n FROM readings WHERE reading_id = ?').get(id)).toEqual({ n: 0 });
  });

  it('a device cannot subscribe to # or to another device', async () => {
    expect(await subscribeGranted(bp, ['#', `${T}/glu-0001/rejects`, 'anxin/v1/homes/wh-0001/alerts'])).toEqual([128, 128, 128]);
    expect(await subscribeGranted(bp, [`${T}/bp-0001/rejects`])).toEqual([0]);
  });

  it('a gateway publishes for the devices of its home, not for another home or an unknown device', async () => {
    const gw = await connectClient(t.mqttUrl, 'gw-0001', secretOf(answer, 'gw-0001'));
    const own = await collect(gw, 'anxin/v1/homes/wh-0001/gateway/rejects');
    const deviceRejects = await collect(gw, `${T}/+/rejects`);
    expect(await subscribeGranted(gw, ['anxin/v1/homes/wh-0001/alerts', 'anxin/v1/homes/wh-0002/alerts', '#', `${T}/bp-0002/rejects`])).toEqual([0, 128, 128, 128]);

    const id = nextId();
    await publishAcked(gw, `${T}/bp-0001/telemetry`, { type: 'blood_pressure', id, ts: now(), systolic: 128, diastolic: 82, unit: 'mmHg' });
    expect((await readings('r-0001')).some((r) => r.id === id)).toBe(true);

    await publishAcked(gw, 'anxin/v1/homes/wh-0002/devices/bp-0002/telemetry', { type: 'blood_pressure', id: nextId(), ts: now(), systolic: 128, diastolic: 82, unit: 'mmHg' });
    expect((await own.next())[0]!.body.error).toBe('topic_not_allowed');

    await publishAcked(gw, `${T}/bp-9999/telemetry`, { type: 'blood_pressure', id: nextId(), ts: now(), systolic: 128, diastolic: 82, unit: 'mmHg' });
    expect((await deviceRejects.next())[0]!).toMatchObject({ topic: `${T}/bp-9999/rejects`, body: { error: 'unknown_device' } });

    await publishAcked(gw, `${T}/bp-0001/telemetry`, '{oops');
    expect((await deviceRejects.next())[0]).toMatchObject({ topic: `${T}/bp-0001/rejects`, body: { error: 'invalid_json' } });
    gw.end(true);
  });

  it('accepts a full gateway backlog of 500 readings in one publish', async () => {
    const gw = await connectClient(t.mqttUrl, 'gw-0001', secretOf(answer, 'gw-0001'));
    const base = now() - 3 * 3600_000;
    const batch = Array.from({ length: 500 }, (_, i) => ({ type: 'blood_pressure', id: `backlog-${i}`, ts: base + i * 1000, systolic: 120 + (i % 30), diastolic: 80, unit: 'mmHg' }));
    await publishAcked(gw, `${T}/bp-0001/telemetry`, batch);
    expect(t.hub.ctx.db.prepare("SELECT count(*) AS n FROM readings WHERE reading_id LIKE 'backlog-%'").get()).toEqual({ n: 500 });
    gw.end(true);
  });

  it('speaks MQTT over WebSocket at /mqtt with the same identity rules', async () => {
    const ws = await connectClient(t.wsUrl, 'glu-0001', secretOf(answer, 'glu-0001'));
    const id = nextId();
    await publishAcked(ws, `${T}/glu-0001/telemetry`, { type: 'glucose', id, ts: now(), value: 7.1, unit: 'mmol/L' });
    expect((await readings('r-0001')).some((r) => r.id === id)).toBe(true);
    ws.end(true);
    await expect(connectClient(t.wsUrl, 'glu-0001', 'wrong')).rejects.toMatchObject({ code: 4 });
  });
});

describe('duplicates', () => {
  it('stores a repeated (deviceId, id) once and acknowledges it', async () => {
    const r = { type: 'blood_pressure', id: 'dup-1', ts: now(), systolic: 135, diastolic: 85, unit: 'mmHg' };
    await publishAcked(bp, `${T}/bp-0001/telemetry`, r);
    await publishAcked(bp, `${T}/bp-0001/telemetry`, r);
    await publishAcked(bp, `${T}/bp-0001/telemetry`, [r, r]);
    expect((await readings('r-0001')).filter((x) => x.id === 'dup-1')).toHaveLength(1);
    expect((await t.hub.http.inject({ url: '/metrics' })).body).toMatch(/anxin_readings_duplicate_total 3/);
  });
});
