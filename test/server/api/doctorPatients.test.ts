/**
 * Moving a doctor's patients (server/api/routes/doctorPatients.ts) when a
 * doctor leaves, goes on leave, or districts are redrawn, against a real hub,
 * real MQTT clients, a real WebSocket stream and a real webhook receiver on
 * loopback (the new doctor's): nothing in the first doctor's queue is left
 * where nobody can open it.
 *
 * - before: disabling a doctor who still has patients or open items is
 *   refused (409), naming how many; the admin's list shows the counts;
 * - a refused move changes nothing and names the field;
 * - moving some patients hands over their escalations (the new doctor is
 *   told by webhook, may acknowledge, the old one may not; the alert's
 *   history and the audit say so; the new doctor's stream gets it);
 * - moving all takes the rest, warnings included, and the call center
 *   learns when the new doctor cannot be reached; then the old doctor may be
 *   disabled.
 *
 * Nothing is mocked: dr-wang has no phone or webhook, so the hub's `log`
 * channel reaches nobody and says so, as it would in production.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DoctorInUseError } from '../../../server/store/userStore.js';
import { exampleDocument, login } from '../../helpers/hub.js';
import { SECRET, startReceiver, type Receiver } from '../notify/helpers.js';
import { api, bp, district, listAlerts, send, startAlertHub, StreamClient, waitFor, type AlertHub } from '../alerts/helpers.js';

let h: AlertHub;
let zhao: Receiver;
/** A1: r-0001's crisis escalated to dr-li; A2: r-0001's bp_high warning, open; A3: r-0003's warning escalated to dr-li. */
let a1: string;
let a2: string;
let a3: string;

const admin = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => api(h.t, h.tokens.admin!, method, url, payload);
const move = (from: string, payload: object) => admin('POST', `/api/v1/doctors/${from}/patients/move`, payload);
const doctor = async (username: string) => (await admin('GET', '/api/v1/doctors')).body.doctors.find((d: { username: string }) => d.username === username);
const detail = async (id: string) => (await api(h.t, h.tokens['op-zhang']!, 'GET', `/api/v1/alerts/${id}`)).body;
const residentsOf = async (token: string) => (await api(h.t, token, 'GET', '/api/v1/residents')).body.residents.map((r: { id: string }) => r.id).sort();

beforeAll(async () => {
  zhao = await startReceiver([200]);
  const doc = district([
    { username: 'dr-zhao', role: 'doctor', name: '赵医生', webhookUrl: zhao.url },
    { username: 'dr-gone', role: 'doctor', name: '钱医生' },
  ]);
  // A second patient of dr-li, in a home of their own.
  const third = exampleDocument('wh-0003', '0003').homes[0]!;
  third.residents[0]!.name = '张玉兰';
  doc.homes.push(third);
  h = await startAlertHub({ doc, config: { webhookSecret: SECRET } });
  expect((await admin('PUT', '/api/v1/users/dr-gone', { disabled: true })).status).toBe(200); // no patients: allowed

  const op = h.tokens['op-zhang']!;
  const cuff1 = await h.connect('bp-0001');
  await send(cuff1, 'wh-0001', 'bp-0001', bp(186, 96), h.clock.now());
  a1 = (await listAlerts(h.t, op)).find((a) => a.rule === 'bp_crisis').id;
  expect((await api(h.t, op, 'POST', `/api/v1/alerts/${a1}/escalate`, { target: 'doctor' })).status).toBe(200);
  await send(cuff1, 'wh-0001', 'bp-0001', bp(172, 95), h.clock.now());
  a2 = (await listAlerts(h.t, op)).find((a) => a.rule === 'bp_high' && a.residentId === 'r-0001').id;
  await send(await h.connect('bp-0003'), 'wh-0003', 'bp-0003', bp(175, 95), h.clock.now());
  a3 = (await listAlerts(h.t, op)).find((a) => a.rule === 'bp_high' && a.residentId === 'r-0003').id;
  expect((await api(h.t, op, 'POST', `/api/v1/alerts/${a3}/escalate`, { target: 'doctor', note: '请李医生复查' })).status).toBe(200);
});

afterAll(async () => {
  await h?.close();
  await zhao?.close();
});

describe('before any move', () => {
  it('an import (or PUT of the resident) that changes the doctor of a patient with an escalation is refused, naming the move', async () => {
    const res = await admin('PUT', '/api/v1/residents/r-0001', { name: '王秀英', doctor: 'dr-zhao' });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({
      path: '/homes/0/residents/0/doctor',
      message: expect.stringContaining('resident r-0001 has 1 alert(s) escalated to dr-li; changing their doctor hands those over, an admin action: POST /api/v1/doctors/dr-li/patients/move'),
    })]);
    expect((await doctor('dr-li')).patients).toBe(2);
  });

  it("the admin's list shows each doctor's patients and open items", async () => {
    expect(await doctor('dr-li')).toEqual({ username: 'dr-li', name: '李医生', role: 'doctor', disabled: false, patients: 2, escalations: 2, warnings: 1, openItems: 3 });
    expect(await doctor('dr-gone')).toMatchObject({ disabled: true, patients: 0, openItems: 0 });
    const patients = await admin('GET', '/api/v1/doctors/dr-li/patients');
    expect(patients.body.patients).toEqual([
      { id: 'r-0001', name: '王秀英', homeId: 'wh-0001', escalations: 1, warnings: 1 },
      { id: 'r-0003', name: '张玉兰', homeId: 'wh-0003', escalations: 1, warnings: 0 },
    ]);
  });

  it('disabling a doctor who still has patients and open items is refused with 409, naming how many; they can still sign in', async () => {
    const res = await admin('PUT', '/api/v1/users/dr-li', { disabled: true });
    expect([res.status, res.body.error]).toEqual([409, 'doctor_in_use']);
    expect(res.body.message).toContain('dr-li');
    expect(res.body.message).toMatch(/\b2 (resident|patient)/);
    expect(await doctor('dr-li')).toMatchObject({ disabled: false });
    const password = h.answer.users.find((u) => u.username === 'dr-li')!.password;
    await expect(login(h.t.hub, 'dr-li', password)).resolves.toBeTruthy();
    // The CLI's path (UserStore.setDisabled) throws rather than answer "done": it names the open items too.
    expect(() => h.t.hub.ctx.users.setDisabled('dr-li', true, 'cli')).toThrow(DoctorInUseError);
    expect(() => h.t.hub.ctx.users.setDisabled('dr-li', true, 'cli')).toThrow('dr-li is the family doctor of 2 resident(s) and has 3 open item(s) in their queue (2 escalation(s), 1 warning(s))');
  });
});

describe('a refused move', () => {
  it.each([
    ['an unknown doctor to move from', 'dr-nobody', { to: 'dr-wang' }, 404, 'not_found', 'username'],
    ['no target', 'dr-li', {}, 400, 'invalid_request', 'to'],
    ['an unknown target', 'dr-li', { to: 'dr-nobody' }, 400, 'invalid_request', 'to'],
    ['a target who is not a doctor', 'dr-li', { to: 'op-zhang' }, 400, 'invalid_request', 'to'],
    ['a disabled target', 'dr-li', { to: 'dr-gone' }, 409, 'doctor_disabled', 'to'],
    ['the same doctor', 'dr-li', { to: 'dr-li' }, 400, 'invalid_request', 'to'],
    ['an empty list of residents', 'dr-li', { to: 'dr-wang', residents: [] }, 400, 'invalid_request', 'residents'],
    ['a doctor with nothing to move', 'dr-zhao', { to: 'dr-wang' }, 409, 'nothing_to_move', 'username'],
  ])('%s: refused naming the field, nothing moved', async (_what, from, body, status, error, field) => {
    const res = await move(from, body);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ error, field });
    expect(typeof res.body.message).toBe('string');
    expect(await doctor('dr-li')).toMatchObject({ patients: 2, openItems: 3 });
  });

  it("names each resident who is not the doctor's patient, and moves none of the others", async () => {
    const res = await move('dr-li', { to: 'dr-zhao', residents: ['r-0003', 'r-0002', 'r-9999'] });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', field: 'residents' });
    expect(res.body.errors).toEqual([
      { path: '/residents/1', message: "resident r-0002 is dr-wang's patient, not dr-li's" },
      { path: '/residents/2', message: 'resident r-9999 does not exist' },
    ]);
    expect(await residentsOf(h.tokens['dr-zhao']!)).toEqual([]);
  });

  it('is for admins only', async () => {
    for (const who of ['op-zhang', 'dr-li']) {
      expect((await api(h.t, h.tokens[who]!, 'POST', '/api/v1/doctors/dr-li/patients/move', { to: 'dr-zhao' })).status).toBe(403);
      expect((await api(h.t, h.tokens[who]!, 'GET', '/api/v1/doctors')).status).toBe(403);
    }
  });
});

describe('moving some patients (r-0003 to dr-zhao)', () => {
  let stream: StreamClient;
  let left: StreamClient;
  beforeAll(async () => {
    stream = await StreamClient.open(h.t, h.tokens['dr-zhao']!);
    left = await StreamClient.open(h.t, h.tokens['dr-li']!);
    await stream.next((m) => m.type === 'hello');
    await left.next((m) => m.type === 'hello');
  });
  afterAll(() => {
    stream?.close();
    left?.close();
  });

  it('moves the patient and hands over their escalation; the new doctor is told by webhook, the old one keeps the rest', async () => {
    const res = await move('dr-li', { to: 'dr-zhao', residents: ['r-0003'] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      from: 'dr-li', to: 'dr-zhao', residents: ['r-0003'], escalations: [a3], warnings: [],
      remaining: { patients: 1, escalations: 1, warnings: 1, openItems: 2 },
    });
    expect(await residentsOf(h.tokens['dr-zhao']!)).toEqual(['r-0003']);
    expect(await residentsOf(h.tokens['dr-li']!)).toEqual(['r-0001']);

    // The same notification as an escalation: signed, kind escalation.doctor, to dr-zhao, about r-0003.
    await waitFor(() => zhao.acknowledged.size === 1, "dr-zhao's webhook");
    const body = JSON.parse(zhao.requests[0]!.body);
    expect(zhao.requests[0]!.verified).toBe(true);
    expect(body).toMatchObject({ kind: 'escalation.doctor', alertId: a3, recipient: { username: 'dr-zhao', name: '赵医生' }, payload: { residentId: 'r-0003', severity: 'warning' } });
    expect(body.title['zh-CN']).toContain('张玉兰');
    // It says whose it was, so dr-zhao knows it is a hand-over, not a new call from the call center.
    expect(body.payload.handedOverFrom).toBe('dr-li');
    expect(body.body['zh-CN']).toContain('此预警原已转给 dr-li，管理员已将患者转由您负责');
    expect(body.body.en).toContain('was escalated to dr-li; an admin moved the patient to you');
    // …and recorded as reaching them, as any escalation's delivery is.
    const reached = await waitFor(async () => { const d = await detail(a3); return d.alert.escalation.delivery?.state === 'delivered' ? d : null; }, 'delivered');
    expect(reached.alert.escalation).toMatchObject({ target: 'doctor', to: 'dr-zhao', doctorAcknowledgedAt: null });
    const handed = reached.history.find((e: { action: string; actor: string }) => e.action === 'escalated.doctor' && e.actor === 'admin');
    expect(handed).toMatchObject({ fromState: 'escalated', toState: 'escalated', detail: { target: 'doctor', from: 'dr-li', to: 'dr-zhao', reason: 'patients.moved' } });
    expect(handed.note).toContain('dr-li → dr-zhao');
    expect(reached.history.at(-1)).toMatchObject({ actor: 'system', action: 'doctor.notified', detail: { to: 'dr-zhao', channel: 'webhook' } });
  });

  it("is on the new doctor's live stream and in their queue: they may acknowledge it, the old doctor no longer sees it", async () => {
    // Both doctors' pages hear of the move itself, so their patient lists change without a reload.
    const moved = { type: 'resident.doctor_changed', data: { residentId: 'r-0003', from: 'dr-li', to: 'dr-zhao' } };
    expect(await stream.next((m) => m.type === 'resident.doctor_changed', "the move on dr-zhao's stream")).toMatchObject(moved);
    expect(await left.next((m) => m.type === 'resident.doctor_changed', "the move on dr-li's stream")).toMatchObject(moved);
    const event = await stream.next((m) => m.type === 'alert.updated' && m.data.id === a3, "the hand-over on dr-zhao's stream");
    expect(event.data.escalation).toMatchObject({ target: 'doctor', to: 'dr-zhao' });
    expect((await listAlerts(h.t, h.tokens['dr-zhao']!)).map((a) => a.id)).toEqual([a3]);
    // Not theirs to see any more (the alerts API answers 404 for what a doctor may not see).
    expect((await api(h.t, h.tokens['dr-li']!, 'POST', `/api/v1/alerts/${a3}/ack`)).status).toBe(404);
    const ack = await api(h.t, h.tokens['dr-zhao']!, 'POST', `/api/v1/alerts/${a3}/ack`);
    expect([ack.status, ack.body.alert.escalation.doctorAcknowledgedAt]).toEqual([200, expect.any(String)]);
  });

  it('is audited as an admin action', () => {
    const rows = h.t.hub.ctx.db.prepare("SELECT actor, subject, detail FROM audit WHERE action = 'patients.moved'").all() as Array<{ actor: string; subject: string; detail: string }>;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor: 'admin', subject: 'dr-li' });
    expect(JSON.parse(rows[0]!.detail)).toEqual({ to: 'dr-zhao', residents: ['r-0003'], escalations: [a3], warnings: [] });
  });
});

describe('moving all the rest (to dr-wang, who has no phone or webhook)', () => {
  it("takes the patient, the escalation and the warning; the call center learns dr-wang was not reached; then dr-li may be disabled", async () => {
    const res = await move('dr-li', { to: 'dr-wang' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      from: 'dr-li', to: 'dr-wang', residents: ['r-0001'], escalations: [a1], warnings: [a2],
      remaining: { patients: 0, escalations: 0, warnings: 0, openItems: 0 },
    });
    expect(await residentsOf(h.tokens['dr-wang']!)).toEqual(['r-0001', 'r-0002']);
    const wang = await listAlerts(h.t, h.tokens['dr-wang']!);
    expect(wang.find((a) => a.id === a1).escalation).toMatchObject({ target: 'doctor', to: 'dr-wang' });
    expect(wang.map((a) => a.id)).toContain(a2);

    // The warning's history says where it went.
    const warning = await detail(a2);
    expect(warning.alert.state).toBe('open');
    expect(warning.history.at(-1)).toMatchObject({ actor: 'admin', action: 'commented', detail: { reason: 'patients.moved', from: 'dr-li', to: 'dr-wang' } });
    expect(warning.history.at(-1).note).toContain('dr-wang');

    // Nobody could tell dr-wang: the operator's console hears it, as for any escalation.
    const failed = await waitFor(async () => { const d = (await detail(a1)).alert.escalation.delivery; return d?.state === 'failed' ? d : null; }, 'delivery failed');
    expect(failed.message['zh-CN']).toContain('王医生');

    expect(await doctor('dr-li')).toMatchObject({ patients: 0, openItems: 0 });
    const off = await admin('PUT', '/api/v1/users/dr-li', { disabled: true });
    expect([off.status, off.body.user?.disabled]).toEqual([200, true]);
    // An escalation of the moved patient now goes to dr-wang, not to a doctor who cannot sign in.
    const op = h.tokens['op-zhang']!;
    const esc = await api(h.t, op, 'POST', `/api/v1/alerts/${a2}/escalate`, { target: 'doctor' });
    expect([esc.status, esc.body.alert?.escalation?.to]).toEqual([200, 'dr-wang']);
  });

  it('a disabled doctor with patients left over from before can still be emptied (the repair of the missed-care state)', async () => {
    // As a hub before this check left it: a doctor disabled while r-0002 was theirs.
    h.t.hub.ctx.db.prepare("UPDATE users SET disabled = 1 WHERE username = 'dr-wang'").run();
    expect(await doctor('dr-wang')).toMatchObject({ disabled: true, patients: 2, escalations: 2 });
    const res = await move('dr-wang', { to: 'dr-zhao' });
    expect(res.status).toBe(200);
    expect(res.body.residents).toEqual(['r-0001', 'r-0002']);
    expect(res.body.remaining.openItems).toBe(0);
    expect(await residentsOf(h.tokens['dr-zhao']!)).toEqual(['r-0001', 'r-0002', 'r-0003']);
  });
});
