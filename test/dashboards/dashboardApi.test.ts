/** The dashboards' aggregate routes (server/api/routes/dashboardApi.ts) and the pages the hub serves. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, exampleDocument, login, publishAcked, secretOf, startTestHub, type TestHub } from '../helpers/hub.js';

let t: TestHub;
let offset = 0;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  t = await startTestHub({ now: () => Date.now() + offset, config: { sessionHours: 24 * 30 } });
  const doc = exampleDocument() as ReturnType<typeof exampleDocument> & { homes: Array<{ residents: Array<{ schedule?: unknown }> }> };
  doc.homes[0]!.residents[0]!.schedule = [{ type: 'blood_pressure', time: '08:00' }];
  const other = exampleDocument('wh-0009', '0009');
  other.homes[0]!.residents[0]!.doctor = 'dr-wang';
  const answer = await t.importDoc({
    homes: [...doc.homes, ...other.homes],
    users: [...doc.users, { username: 'dr-wang', role: 'doctor', name: '王医生' }, { username: 'op-1', role: 'operator', name: '坐席一' }],
  });
  for (const u of answer.users) tokens[u.username] = await login(t.hub, u.username, u.password);
  tokens.admin = await t.adminToken();
  const bp = await connectClient(t.mqttUrl, 'bp-0001', secretOf(answer, 'bp-0001'));
  await publishAcked(bp, 'anxin/v1/homes/wh-0001/devices/bp-0001/telemetry', [
    { type: 'blood_pressure', id: 'a', ts: Date.now() - 3600_000, systolic: 150, diastolic: 90, unit: 'mmHg' },
    { type: 'blood_pressure', id: 'b', ts: Date.now() - 60_000, systolic: 185, diastolic: 95, pulse: 88, unit: 'mmHg' },
  ]);
  bp.end(true);
});
afterAll(() => t?.destroy());

const get = (url: string, who: string) => t.hub.http.inject({ url, headers: { authorization: `Bearer ${tokens[who]}` } });

describe('dashboard routes', () => {
  it('gives every role the time zone, deadlines and configured thresholds', async () => {
    const res = await get('/api/v1/dashboard/config', 'admin');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.tz).toBe('Asia/Shanghai');
    expect(body.claimDeadlineSeconds.critical).toBe(60);
    expect(body.rules.bp_high.thresholds).toEqual({ systolic: 160, diastolic: 100 });
    expect(body.rules.fall.thresholds).toEqual({});
    expect(body.rules.bp_crisis.sources.systolic).toMatch(/ACC\/AHA/);
  });

  it('summarises a resident: latest vitals, effective thresholds, open alerts, doctor', async () => {
    const res = await get('/api/v1/dashboard/residents/r-0001', 'op-1');
    expect(res.statusCode).toBe(200);
    const s = res.json();
    expect(s.resident.name).toBe('王秀英');
    expect(s.latest.blood_pressure.values).toMatchObject({ systolic: 185, diastolic: 95, pulse: 88 });
    expect(s.latest.glucose).toBeNull();
    expect(s.thresholds.bp_high).toEqual({ systolic: 170, diastolic: 100 });
    expect(s.thresholds.bp_crisis).toEqual({ systolic: 180, diastolic: 120 });
    expect(s.targeted).toEqual({ bp_high: ['systolic'] });
    expect(s.openAlerts.critical).toBe(1);
    expect(s.doctor).toEqual({ username: 'dr-li', name: '李医生' });
    expect(s.missed).toEqual([expect.objectContaining({ type: 'blood_pressure', time: '08:00', missedDays: 0 })]);
  });

  it('counts scheduled measurements missed day after day', async () => {
    offset = 3 * 86400_000;
    try {
      const s = (await get('/api/v1/dashboard/residents/r-0001', 'dr-li')).json();
      expect(s.missed[0].missedDays).toBeGreaterThanOrEqual(2);
      expect(s.missed[0].missedDays).toBeLessThanOrEqual(3);
    } finally {
      offset = 0;
    }
  });

  it('keeps to the policies: a doctor sees their own patients only, an admin no vitals', async () => {
    expect((await get('/api/v1/dashboard/residents/r-0001', 'dr-wang')).statusCode).toBe(403);
    expect((await get('/api/v1/dashboard/residents/r-0001', 'admin')).statusCode).toBe(403);
    expect((await get('/api/v1/dashboard/residents/r-nobody', 'op-1')).statusCode).toBe(404);
    expect((await get('/api/v1/dashboard/patients', 'admin')).statusCode).toBe(403);
    expect((await t.hub.http.inject({ url: '/api/v1/dashboard/config' })).statusCode).toBe(401);
    const mine = (await get('/api/v1/dashboard/patients', 'dr-wang')).json().patients;
    expect(mine.map((p: { resident: { id: string } }) => p.resident.id)).toEqual(['r-0009']);
    expect((await get('/api/v1/dashboard/patients', 'op-1')).json().patients).toHaveLength(2);
  });

  it('lists homes with gateway, residents and devices with status', async () => {
    const homes = (await get('/api/v1/dashboard/homes', 'admin')).json().homes;
    expect(homes.map((h: { id: string }) => h.id)).toEqual(['wh-0001', 'wh-0009']);
    expect(homes[0]).toMatchObject({ gatewayId: 'gw-0001', residents: [{ id: 'r-0001', name: '王秀英', doctor: 'dr-li' }] });
    expect(homes[0].devices).toHaveLength(5);
    expect(homes[0].devices.find((d: { id: string }) => d.id === 'bp-0001').status.connectedAt).not.toBeNull();
    expect(homes[0].devices.find((d: { id: string }) => d.id === 'glu-0001').status).toBeNull();
    const theirs = (await get('/api/v1/dashboard/homes', 'dr-wang')).json().homes;
    expect(theirs.map((h: { id: string }) => h.id)).toEqual(['wh-0009']);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const paths = Object.keys((await t.hub.http.inject({ url: '/api/docs/json' })).json().paths);
    for (const p of ['/api/v1/dashboard/config', '/api/v1/dashboard/residents/{id}', '/api/v1/dashboard/patients', '/api/v1/dashboard/homes']) expect(paths).toContain(p);
  });

  it('serves the dashboards at every page path', async () => {
    for (const url of ['/', '/login', '/operator', '/doctor', '/admin']) {
      const res = await t.hub.http.inject({ url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/text\/html/);
      expect(res.body).toContain('<div id="app">');
    }
  });
});
