/**
 * Who may see and act on alerts, and who may change a resident's targets
 * (SPEC §6): a doctor only for their own patients, an admin not at all on
 * alerts; a target change is audited and changes what raises an alert.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, bp, listAlerts, MINUTE, send, startAlertHub, type AlertHub } from './helpers.js';

let h: AlertHub;
let cuff: MqttClient;
let patientAlert: string;
let homeAlert: string;
const tok = (u: string) => h.tokens[u]!;

beforeAll(async () => {
  h = await startAlertHub();
  cuff = await h.connect('bp-0001');
  await send(cuff, 'wh-0001', 'bp-0001', bp(190, 100), h.clock.now());
  await send(await h.connect('fall-0001'), 'wh-0001', 'fall-0001', { type: 'fall' }, h.clock.now());
  await send(await h.connect('sos-0002'), 'wh-0002', 'sos-0002', { type: 'sos' }, h.clock.now());
  const all = await listAlerts(h.t, tok('op-zhang'));
  patientAlert = all.find((a) => a.rule === 'bp_crisis').id;
  homeAlert = all.find((a) => a.rule === 'fall').id;
});

afterAll(() => h?.close());

describe('alerts', () => {
  it('an operator sees every alert; a doctor only their own patients’', async () => {
    expect((await listAlerts(h.t, tok('op-zhang'))).map((a) => a.rule).sort()).toEqual(['bp_crisis', 'fall', 'sos']);
    expect((await listAlerts(h.t, tok('dr-li'))).map((a) => a.rule)).toEqual(['bp_crisis']);
    expect((await listAlerts(h.t, tok('dr-wang'))).map((a) => [a.rule, a.residentId])).toEqual([['sos', 'r-0002']]);
  });

  it('a doctor’s ?limit counts their own alerts, not everyone’s', async () => {
    h.clock.advance(MINUTE);
    await send(h.clients.find((c) => c.options.clientId === 'sos-0002')!, 'wh-0002', 'sos-0002', { type: 'fall' }, h.clock.now()); // newer, dr-wang’s
    const mine = await listAlerts(h.t, tok('dr-li'), '?limit=1');
    expect(mine.map((a) => a.rule)).toEqual(['bp_crisis']);
    expect((await listAlerts(h.t, tok('dr-wang'), '?limit=1')).map((a) => a.rule)).toEqual(['fall']);
  });

  it('another doctor can neither see nor act on it: 404, as if it did not exist', async () => {
    expect((await api(h.t, tok('dr-wang'), 'GET', `/api/v1/alerts/${patientAlert}`)).status).toBe(404);
    expect((await api(h.t, tok('dr-wang'), 'GET', `/api/v1/alerts/${patientAlert}/handoff`)).status).toBe(404);
    for (const [action, body] of [['ack', {}], ['resolve', { outcome: 'handled', note: 'x' }], ['comment', { note: 'x' }], ['escalate', { target: 'emergency' }]] as const) {
      const res = await api(h.t, tok('dr-wang'), 'POST', `/api/v1/alerts/${patientAlert}/${action}`, body);
      expect(res.status, action).toBe(404);
      expect(res.body.error).toBe('not_found');
    }
    expect((await api(h.t, tok('op-zhang'), 'GET', `/api/v1/alerts/${patientAlert}`)).body.history).toHaveLength(1);
  });

  it('an admin gets 403 on every alert route; without a session, 401', async () => {
    for (const [method, url, body] of [
      ['GET', '/api/v1/alerts', undefined], ['GET', `/api/v1/alerts/${patientAlert}`, undefined], ['GET', `/api/v1/alerts/${patientAlert}/handoff`, undefined],
      ['POST', `/api/v1/alerts/${patientAlert}/ack`, {}], ['POST', `/api/v1/alerts/${patientAlert}/escalate`, { target: 'doctor' }],
      ['POST', `/api/v1/alerts/${patientAlert}/resolve`, { outcome: 'handled' }], ['POST', `/api/v1/alerts/${patientAlert}/comment`, { note: 'x' }],
      ['GET', '/api/v1/kpi', undefined],
    ] as const) {
      const res = await api(h.t, tok('admin'), method, url, body);
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body.error).toBe('forbidden');
    }
    expect((await h.t.hub.http.inject({ url: '/api/v1/alerts' })).statusCode).toBe(401);
  });

  it('a home-level alert escalated to the home’s doctor becomes visible to that doctor only', async () => {
    expect((await api(h.t, tok('dr-li'), 'GET', `/api/v1/alerts/${homeAlert}`)).status).toBe(404);
    const esc = await api(h.t, tok('op-zhang'), 'POST', `/api/v1/alerts/${homeAlert}/escalate`, { target: 'doctor' });
    expect(esc.status).toBe(200);
    expect(esc.body.alert.escalation).toMatchObject({ target: 'doctor', to: 'dr-li' });
    expect((await api(h.t, tok('dr-li'), 'GET', `/api/v1/alerts/${homeAlert}`)).status).toBe(200);
    expect((await api(h.t, tok('dr-li'), 'POST', `/api/v1/alerts/${homeAlert}/ack`)).status).toBe(200);
    expect((await api(h.t, tok('dr-wang'), 'GET', `/api/v1/alerts/${homeAlert}`)).status).toBe(404);
  });

  it('validates action bodies: unknown target or outcome → 400 naming the field', async () => {
    const bad = await api(h.t, tok('op-zhang'), 'POST', `/api/v1/alerts/${patientAlert}/escalate`, { target: 'police' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'invalid_request', field: 'target' });
    const badOutcome = await api(h.t, tok('op-zhang'), 'POST', `/api/v1/alerts/${patientAlert}/resolve`, { outcome: 'fine' });
    expect(badOutcome.status).toBe(400);
    expect((await api(h.t, tok('op-zhang'), 'GET', '/api/v1/alerts/al-nope')).status).toBe(404);
  });
});

describe('targets', () => {
  const put = (who: string, id: string, targets: object) => api(h.t, tok(who), 'PUT', `/api/v1/residents/${id}/targets`, targets);

  it('an operator may not change targets (403), nor another doctor (403)', async () => {
    expect((await put('op-zhang', 'r-0001', { bp_high: { systolic: 150 } })).status).toBe(403);
    expect((await put('dr-wang', 'r-0001', { bp_high: { systolic: 150 } })).status).toBe(403);
    expect((await put('dr-li', 'r-nobody', {})).status).toBe(404);
    expect((await put('dr-li', 'r-0001', { bp_high: { systolic: 'high' } })).status).toBe(400);
  });

  it('with the imported target (bp_high systolic 170), 165/85 raises nothing', async () => {
    h.clock.advance(MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', bp(165, 85), h.clock.now());
    expect((await listAlerts(h.t, tok('dr-li'))).filter((a) => a.rule === 'bp_high')).toEqual([]);
  });

  it('the patient’s doctor sets bp_high systolic 150: audited old → new, and 155/85 now raises bp_high citing the target', async () => {
    const res = await put('dr-li', 'r-0001', { bp_high: { systolic: 150 } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ targets: { bp_high: { systolic: 150 } } });
    const history = await api(h.t, tok('dr-li'), 'GET', '/api/v1/residents/r-0001/targets/history');
    expect(history.status).toBe(200);
    expect(history.body.changes[0]).toEqual({ at: new Date(h.clock.now()).toISOString(), actor: 'dr-li', old: { bp_high: { systolic: 170 } }, new: { bp_high: { systolic: 150 } } });
    expect((await api(h.t, tok('dr-wang'), 'GET', '/api/v1/residents/r-0001/targets/history')).status).toBe(403);

    h.clock.advance(MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', bp(155, 85), h.clock.now());
    const [a] = (await listAlerts(h.t, tok('dr-li'))).filter((x) => x.rule === 'bp_high');
    expect(a).toMatchObject({ severity: 'warning', residentId: 'r-0001', claimDeadline: null });
    expect(a.explanation['zh-CN']).toContain('个人目标');
    expect(a.explanation.en).toContain('≥ 150');
  });

  it('an empty object restores the defaults (160), also audited', async () => {
    expect((await put('dr-li', 'r-0001', {})).status).toBe(200);
    const changes = (await api(h.t, tok('op-zhang'), 'GET', '/api/v1/residents/r-0001/targets/history')).body.changes;
    expect(changes.map((c: { old: object; new: object }) => [c.old, c.new])).toEqual([[{ bp_high: { systolic: 150 } }, {}], [{ bp_high: { systolic: 170 } }, { bp_high: { systolic: 150 } }]]);
  });
});
