/**
 * Sign-in, sessions and who may see what (SPEC §6), against the real API:
 * health data only for those allowed, errors as JSON naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, connectClient, exampleDocument, login, publishAcked, secretOf, startTestHub, type TestHub } from '../../helpers/hub.js';

let t: TestHub;
let answer: Awaited<ReturnType<TestHub['importDoc']>>;
const tokens: Record<string, string> = {};

async function get(url: string, who?: string) {
  const res = await t.hub.http.inject({ url, headers: who ? { authorization: `Bearer ${tokens[who]}` } : {} });
  return { status: res.statusCode, body: res.json() as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

beforeAll(async () => {
  t = await startTestHub({ config: { loginPerMinute: 12 } });
  const doc = exampleDocument();
  const other = exampleDocument('wh-0002', '0002').homes[0]!;
  other.residents[0]!.doctor = 'dr-wang';
  doc.homes.push(other);
  doc.users.push({ username: 'dr-wang', role: 'doctor', name: '王医生' }, { username: 'op-zhang', role: 'operator', name: '张坐席' });
  answer = await t.importDoc(doc);
  for (const u of answer.users) tokens[u.username] = await login(t.hub, u.username, u.password);
  tokens.admin = await t.adminToken();
  const bp = await connectClient(t.mqttUrl, 'bp-0001', secretOf(answer, 'bp-0001'));
  await publishAcked(bp, 'anxin/v1/homes/wh-0001/devices/bp-0001/telemetry', { type: 'blood_pressure', id: 'a-1', ts: Date.now(), systolic: 150, diastolic: 90, unit: 'mmHg' });
  bp.end(true);
});

afterAll(() => t?.destroy());

describe('sign-in', () => {
  it('answers a token, the user, and an HttpOnly session cookie that works on its own', async () => {
    const res = await t.hub.http.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: ADMIN_PASSWORD } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ user: { username: 'admin', role: 'admin' } });
    const cookie = res.cookies.find((c) => c.name === 'anxin_session')!;
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe('Strict');
    const me = await t.hub.http.inject({ url: '/api/v1/auth/me', cookies: { anxin_session: cookie.value } });
    expect(me.json()).toMatchObject({ user: { username: 'admin' } });
  });

  it('refuses a wrong password with 401 JSON, and logout ends the session', async () => {
    const bad = await t.hub.http.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: 'wrong-password' } });
    expect(bad.statusCode).toBe(401);
    expect(bad.json()).toEqual({ error: 'invalid_credentials', message: 'wrong username or password' });
    const token = await login(t.hub, 'admin', ADMIN_PASSWORD);
    await t.hub.http.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { authorization: `Bearer ${token}` } });
    const after = await t.hub.http.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } });
    expect(after.statusCode).toBe(401);
    expect(after.json().error).toBe('unauthenticated');
  });

  it('names the missing field of a bad sign-in request', async () => {
    const res = await t.hub.http.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_request', field: 'password' });
  });

  it('answers a body that is not JSON, or not sent as JSON, in the API\'s words', async () => {
    const post = (payload: string, contentType: string) => t.hub.http.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': contentType }, payload });
    const broken = await post('{"username":', 'application/json');
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toMatchObject({ error: 'invalid_json', field: 'body', message: expect.stringMatching(/^the body is not valid JSON: /) });
    const empty = await post('', 'application/json');
    expect([empty.statusCode, empty.json().error]).toEqual([400, 'invalid_json']);
    const text = await post('username=admin', 'text/plain');
    expect([text.statusCode, text.json()]).toEqual([400, { error: 'invalid_request', field: 'body', message: 'body must be object' }]);
  });

  it('rate-limits failed sign-ins per address', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 14; i++) {
      // Each for another name: one username's own limit (test/server/api/signIn.test.ts) stays out of it.
      const res = await t.hub.http.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '10.9.9.9', payload: { username: `nobody-${i}`, password: `guess-${i}` } });
      codes.push(res.statusCode);
    }
    expect(codes.slice(0, 12)).toEqual(Array(12).fill(401));
    expect(codes.slice(12)).toEqual([429, 429]);
  });
});

describe('roles', () => {
  it.each([
    // route, who, expected status
    ['/api/v1/residents/r-0001/readings', undefined, 401],
    ['/api/v1/residents/r-0001/readings', 'op-zhang', 200],
    ['/api/v1/residents/r-0001/readings', 'dr-li', 200],
    ['/api/v1/residents/r-0001/readings', 'dr-wang', 403],
    ['/api/v1/residents/r-0001/readings', 'admin', 403],
    ['/api/v1/residents/r-0001', 'dr-wang', 403],
    ['/api/v1/residents/r-0001', 'dr-li', 200],
    ['/api/v1/residents/r-9999', 'op-zhang', 404],
    ['/api/v1/homes/wh-0002', 'dr-li', 404],
    ['/api/v1/homes/wh-0002', 'dr-wang', 200],
    ['/api/v1/refusals', 'op-zhang', 403],
    ['/api/v1/refusals', 'admin', 200],
    ['/api/v1/users', 'dr-li', 403],
  ])('GET %s as %s → %i', async (url, who, status) => {
    const res = await get(url, who);
    expect(res.status).toBe(status);
    if (status >= 400) expect(typeof res.body.error).toBe('string');
  });

  it('lets only an admin import, enrol devices or rotate secrets', async () => {
    for (const who of ['op-zhang', 'dr-li']) {
      for (const [method, url] of [['POST', '/api/v1/import'], ['POST', '/api/v1/devices'], ['POST', '/api/v1/devices/bp-0001/secret']] as const) {
        const res = await t.hub.http.inject({ method, url, headers: { authorization: `Bearer ${tokens[who]}` }, payload: {} });
        expect(res.statusCode, `${who} ${method} ${url}`).toBe(403);
      }
    }
  });

  it('shows a doctor only their own patients', async () => {
    expect((await get('/api/v1/residents', 'dr-li')).body.residents.map((r: { id: string }) => r.id)).toEqual(['r-0001']);
    expect((await get('/api/v1/residents', 'op-zhang')).body.residents.map((r: { id: string }) => r.id)).toEqual(['r-0001', 'r-0002']);
    expect((await get('/api/v1/homes', 'dr-wang')).body.homes.map((h: { id: string }) => h.id)).toEqual(['wh-0002']);
  });

  it('answers a resident with home, access notes, contacts, age and devices', async () => {
    const { body } = await get('/api/v1/residents/r-0001', 'op-zhang');
    expect(body).toMatchObject({
      id: 'r-0001', name: '王秀英', birthYear: 1941, doctor: 'dr-li',
      contacts: [{ name: '王强', relation: 'son' }],
      targets: { bp_high: { systolic: 170 } },
      home: { id: 'wh-0001', address: expect.stringContaining('威海市'), gatewayId: 'gw-0001' },
    });
    expect(body.age).toBe(new Date().getUTCFullYear() - 1941);
    expect(body.devices.map((d: { id: string }) => d.id)).toEqual(['bp-0001', 'fall-0001', 'glu-0001', 'pir-0001', 'sos-0001']);
  });
});

describe('provisioning', () => {
  it('enrols one device through the API, shows its secret once, and it can publish', async () => {
    const res = await t.hub.http.inject({
      method: 'POST', url: '/api/v1/devices', headers: { authorization: `Bearer ${tokens.admin}` },
      payload: { homeId: 'wh-0001', id: 'bp-0009', type: 'bp_cuff', resident: 'r-0001' },
    });
    expect(res.statusCode).toBe(200);
    const [cred] = res.json().credentials;
    expect(cred).toMatchObject({ username: 'bp-0009', kind: 'device' });
    const again = await t.hub.http.inject({
      method: 'PUT', url: '/api/v1/devices/bp-0009', headers: { authorization: `Bearer ${tokens.admin}` },
      payload: { type: 'bp_cuff', resident: 'r-0001', heartbeatSeconds: 600 },
    });
    expect(again.json().credentials).toEqual([]);
    const c = await connectClient(t.mqttUrl, 'bp-0009', cred.password);
    await publishAcked(c, 'anxin/v1/homes/wh-0001/devices/bp-0009/telemetry', { type: 'blood_pressure', id: 'n-1', ts: Date.now(), systolic: 120, diastolic: 80, unit: 'mmHg' });
    c.end(true);
    expect((await get('/api/v1/devices/bp-0009', 'op-zhang')).body).toMatchObject({ heartbeatSeconds: 600, residentId: 'r-0001' });
  });

  it('refuses a bad import with every problem by path and writes nothing', async () => {
    const before = (await get('/api/v1/homes', 'admin')).body.homes.length;
    const res = await t.hub.http.inject({
      method: 'POST', url: '/api/v1/import', headers: { authorization: `Bearer ${tokens.admin}` },
      payload: { homes: [{ id: 'wh-0100', address: '新地址' }, { id: 'Bad Id', address: 'x', devices: [{ id: 'd-1', type: 'toaster' }] }] },
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error).toBe('invalid_document');
    expect(body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['/homes/1/id', '/homes/1/devices/0/type']));
    expect((await get('/api/v1/homes', 'admin')).body.homes.length).toBe(before);
  });

  it('rotates a secret: the old one stops working, the new one works', async () => {
    const res = await t.hub.http.inject({ method: 'POST', url: '/api/v1/devices/glu-0002/secret', headers: { authorization: `Bearer ${tokens.admin}` } });
    expect(res.statusCode).toBe(200);
    const { password } = res.json();
    await expect(connectClient(t.mqttUrl, 'glu-0002', secretOf(answer, 'glu-0002'))).rejects.toMatchObject({ code: 4 });
    const c = await connectClient(t.mqttUrl, 'glu-0002', password);
    c.end(true);
    const missing = await t.hub.http.inject({ method: 'POST', url: '/api/v1/devices/nope-1/secret', headers: { authorization: `Bearer ${tokens.admin}` } });
    expect(missing.statusCode).toBe(404);
  });
});
