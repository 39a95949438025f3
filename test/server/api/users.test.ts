/**
 * Supervisors and the admin's management of people (README, "Roles"): a
 * supervisor does what an operator does, sees what an operator sees, and a
 * doctor still only their own; `PUT /api/v1/users/{username}` changes a role
 * or disables an account, ending that person's sessions and live stream at
 * once, never leaving the hub without an admin. Real hub, MQTT and WebSocket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, login } from '../../helpers/hub.js';
import { api, bp, district, listAlerts, send, startAlertHub, StreamClient, type AlertHub } from '../alerts/helpers.js';

let h: AlertHub;

beforeAll(async () => {
  h = await startAlertHub({
    doc: district([
      { username: 'sup-chen', role: 'supervisor', name: '陈组长' },
      { username: 'op-wu', role: 'operator', name: '吴坐席' },
      { username: 'dr-zhao', role: 'doctor', name: '赵医生' },
    ]),
  });
});

afterAll(() => h?.close());

const password = (username: string) => h.answer.users.find((u) => u.username === username)!.password;
const asAdmin = (method: 'GET' | 'PUT', url: string, payload?: object) => api(h.t, h.tokens.admin!, method, url, payload);
const me = async (token: string) => (await h.t.hub.http.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } })).statusCode;
const audit = (subject: string) => h.t.hub.ctx.db.prepare('SELECT actor, action, detail FROM audit WHERE subject = ? ORDER BY seq').all(subject);

describe('a supervisor', () => {
  it('sees every resident and alert and acts on alerts as an operator does; a doctor still sees only their own', async () => {
    const sup = h.tokens['sup-chen']!;
    const stream = await StreamClient.open(h.t, sup);
    await stream.next((m) => m.type === 'hello');
    const cuff = await h.connect('bp-0001');
    await send(cuff, 'wh-0001', 'bp-0001', bp(188, 97), h.clock.now()); // dr-li's patient: a crisis

    const residents = await api(h.t, sup, 'GET', '/api/v1/residents');
    expect(residents.body.residents.map((r: { id: string }) => r.id).sort()).toEqual(['r-0001', 'r-0002']);
    expect((await api(h.t, h.tokens['dr-wang']!, 'GET', '/api/v1/residents')).body.residents.map((r: { id: string }) => r.id)).toEqual(['r-0002']);
    expect((await api(h.t, sup, 'GET', '/api/v1/residents/r-0001/readings')).status).toBe(200);
    expect((await api(h.t, h.tokens['dr-wang']!, 'GET', '/api/v1/residents/r-0001/readings')).status).toBe(403);

    const [crisis] = await listAlerts(h.t, sup);
    expect(crisis).toMatchObject({ residentId: 'r-0001', rule: 'bp_crisis', state: 'open' });
    expect(await listAlerts(h.t, h.tokens['dr-wang']!)).toEqual([]);
    const created = await stream.next((m) => m.type === 'alert.created', "the crisis on the supervisor's stream");
    expect(created.data.id).toBe(crisis.id);

    const ack = await api(h.t, sup, 'POST', `/api/v1/alerts/${crisis.id}/ack`, {});
    expect([ack.status, ack.body.alert.state, ack.body.alert.assignee]).toEqual([200, 'acknowledged', 'sup-chen']);
    const resolved = await api(h.t, sup, 'POST', `/api/v1/alerts/${crisis.id}/resolve`, { outcome: 'handled' });
    expect([resolved.status, resolved.body.alert.state]).toEqual([200, 'resolved']);
    stream.close();
  });

  it('may not manage people, nor may an operator or a doctor', async () => {
    for (const who of ['sup-chen', 'op-zhang', 'dr-li']) {
      expect((await api(h.t, h.tokens[who]!, 'GET', '/api/v1/users')).status).toBe(403);
      const put = await api(h.t, h.tokens[who]!, 'PUT', '/api/v1/users/op-wu', { role: 'admin' });
      expect([put.status, put.body.error]).toEqual([403, 'forbidden']);
    }
  });
});

describe('PUT /api/v1/users/{username}', () => {
  it('a new role ends the person’s sessions and live stream at once, is audited, and they sign in with it', async () => {
    const token = h.tokens['op-wu']!;
    const stream = await StreamClient.open(h.t, token);
    await stream.next((m) => m.type === 'hello');
    const closed = new Promise<{ code: number; reason: string }>((resolve) => stream.socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));

    const put = await asAdmin('PUT', '/api/v1/users/op-wu', { role: 'supervisor' });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ user: { username: 'op-wu', role: 'supervisor', disabled: false }, changed: ['role'], sessionsEnded: 1 });
    expect(await me(token)).toBe(401);
    // At once: well before the stream's session sweep (5 s) would have seen it.
    const close = await Promise.race([closed, new Promise<null>((r) => setTimeout(() => r(null), 1000))]);
    expect(close).toEqual({ code: 4401, reason: 'session ended (role changed)' });
    expect(audit('op-wu')).toContainEqual({ actor: 'admin', action: 'user.role_changed', detail: JSON.stringify({ from: 'operator', to: 'supervisor' }) });

    const again = await h.t.hub.http.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'op-wu', password: password('op-wu') } });
    expect(again.json().user).toEqual({ username: 'op-wu', role: 'supervisor', name: '吴坐席' });
  });

  it('disabling ends the sessions and refuses sign-in; enabling lets them back; the list shows both', async () => {
    const token = h.tokens['dr-zhao']!;
    const off = await asAdmin('PUT', '/api/v1/users/dr-zhao', { disabled: true, phone: '+86 139 0000 0009' });
    expect(off.body).toMatchObject({ changed: ['phone', 'disabled'], sessionsEnded: 1 });
    expect(await me(token)).toBe(401);
    await expect(login(h.t.hub, 'dr-zhao', password('dr-zhao'))).rejects.toThrow(/401/);
    const list = await asAdmin('GET', '/api/v1/users');
    expect(list.body.users.find((u: { username: string }) => u.username === 'dr-zhao')).toMatchObject({ role: 'doctor', disabled: true, phone: '+86 139 0000 0009' });

    expect((await asAdmin('PUT', '/api/v1/users/dr-zhao', { disabled: false })).body.changed).toEqual(['disabled']);
    expect(await me(await login(h.t.hub, 'dr-zhao', password('dr-zhao')))).toBe(200);
    // Audited by field names, never values.
    expect(audit('dr-zhao').map((a) => [(a as { action: string }).action, (a as { detail: string }).detail])).toEqual([
      ['user.disabled', '{}'], ['user.updated', JSON.stringify({ fields: ['phone'] })], ['user.enabled', '{}'],
    ]);
  });

  it('never leaves the hub without an enabled admin', async () => {
    const demote = await asAdmin('PUT', '/api/v1/users/admin', { role: 'operator' });
    expect([demote.status, demote.body.error, demote.body.field]).toEqual([409, 'last_admin', 'role']);
    const disable = await asAdmin('PUT', '/api/v1/users/admin', { disabled: true });
    expect([disable.status, disable.body.error, disable.body.field]).toEqual([409, 'last_admin', 'disabled']);

    // A second admin who is disabled does not count.
    expect((await asAdmin('PUT', '/api/v1/users/op-zhang', { role: 'admin', disabled: true })).status).toBe(200);
    expect((await asAdmin('PUT', '/api/v1/users/admin', { role: 'operator' })).status).toBe(409);
    expect((await asAdmin('PUT', '/api/v1/users/op-zhang', { disabled: false })).status).toBe(200);
    // Now one may go: op-zhang, signed in as the other admin, demotes the first and gives the role back.
    const other = await login(h.t.hub, 'op-zhang', password('op-zhang'));
    expect((await api(h.t, other, 'PUT', '/api/v1/users/admin', { role: 'operator' })).status).toBe(200);
    expect(await me(h.tokens.admin!)).toBe(401);
    expect((await api(h.t, other, 'PUT', '/api/v1/users/admin', { role: 'admin' })).status).toBe(200);
    h.tokens.admin = await login(h.t.hub, 'admin', ADMIN_PASSWORD);
    expect((await asAdmin('PUT', '/api/v1/users/op-zhang', { role: 'operator' })).status).toBe(200);
  });

  it('keeps a doctor who is still a family doctor a doctor', async () => {
    const put = await asAdmin('PUT', '/api/v1/users/dr-li', { role: 'operator' });
    expect([put.status, put.body.error, put.body.field]).toEqual([409, 'doctor_in_use', 'role']);
    expect(put.body.message).toMatch(/family doctor of 1 resident/);
  });

  it.each([
    ['an unknown role', 'op-zhang', { role: 'boss' }, 400, 'role'],
    ['an unknown field', 'op-zhang', { roles: 'admin' }, 400, 'roles'],
    ['an empty change', 'op-zhang', {}, 400, 'body'],
    ['a blank name', 'op-zhang', { name: ' ' }, 400, 'name'],
    ['a plain-http webhook', 'dr-li', { webhookUrl: 'http://example.com/hook' }, 400, 'webhookUrl'],
  ])('refuses %s with 400 naming the field', async (_what, username, body, status, field) => {
    const res = await asAdmin('PUT', `/api/v1/users/${username}`, body);
    expect([res.status, res.body.field]).toEqual([status, field]);
    expect(res.body.error).toBe('invalid_request');
  });

  it('refuses to disable a doctor who still has patients, naming how many; one disabled all the same (before this check, or in the database) is refused as an escalation target, saying so', async () => {
    const op = await login(h.t.hub, 'op-zhang', password('op-zhang')); // signed in anew: earlier tests changed their role
    const cuff = await h.connect('bp-0001');
    await send(cuff, 'wh-0001', 'bp-0001', bp(186, 96), h.clock.now()); // dr-li's patient
    const crisis = (await listAlerts(h.t, op)).find((a: { rule: string; state: string }) => a.rule === 'bp_crisis' && a.state !== 'resolved');
    const busy = await asAdmin('PUT', '/api/v1/users/dr-li', { disabled: true });
    expect([busy.status, busy.body.error, busy.body.field]).toEqual([409, 'doctor_in_use', 'disabled']);
    expect(busy.body.message).toContain('dr-li is the family doctor of 1 resident(s) and has 0 open item(s)');
    h.t.hub.ctx.db.prepare("UPDATE users SET disabled = 1 WHERE username = 'dr-li'").run();
    const refused = await api(h.t, op, 'POST', `/api/v1/alerts/${crisis.id}/escalate`, { target: 'doctor' });
    expect([refused.status, refused.body.error]).toEqual([409, 'doctor_disabled']);
    expect(refused.body.message).toContain('dr-li');
    // Nothing changed: the operator calls someone, or escalates to 120.
    expect((await api(h.t, op, 'GET', `/api/v1/alerts/${crisis.id}`)).body.alert.state).toBe('open');
    expect((await asAdmin('PUT', '/api/v1/users/dr-li', { disabled: false })).status).toBe(200);
    const escalated = await api(h.t, op, 'POST', `/api/v1/alerts/${crisis.id}/escalate`, { target: 'doctor' });
    expect([escalated.status, escalated.body.alert.escalation.to]).toEqual([200, 'dr-li']);
  });

  it('answers 404 for nobody', async () => {
    const res = await asAdmin('PUT', '/api/v1/users/nobody', { role: 'operator' });
    expect([res.status, res.body]).toEqual([404, { error: 'not_found', message: 'user nobody does not exist' }]);
  });

  it('is where the import sends a role change', async () => {
    const res = await h.t.hub.http.inject({
      method: 'POST', url: '/api/v1/import', headers: { authorization: `Bearer ${h.tokens.admin}` },
      payload: { users: [{ username: 'op-zhang', role: 'supervisor' }] },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([{ path: '/users/0/role', message: expect.stringContaining('PUT /api/v1/users/op-zhang') }]);
    expect(res.json().errors[0].message).toContain('npm run anxin -- set-role op-zhang supervisor');
  });
});
