/**
 * The alert lifecycle through the real API (SPEC §5): acknowledge, escalate
 * to the doctor, the doctor's acknowledgement and note, resolution with an
 * outcome, every step in the append-only history; illegal transitions are
 * refused with 409; one click escalates to 120 and answers the hand-off.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect } from '../../helpers/hub.js';
import { api, bp, listAlerts, MINUTE, send, startAlertHub, waitFor, type AlertHub } from './helpers.js';

let h: AlertHub;
let cuff: MqttClient;
let homeAlerts: Awaited<ReturnType<typeof collect>>;
const op = () => h.tokens['op-zhang']!;
const drLi = () => h.tokens['dr-li']!;

/** Raises a fresh critical alert for r-0001 (resolving whatever crisis alert is open first) and returns its id. */
async function crisis(): Promise<string> {
  h.clock.advance(MINUTE);
  await send(cuff, 'wh-0001', 'bp-0001', bp(188, 96), h.clock.now());
  const [a] = (await listAlerts(h.t, op(), '?state=open')).filter((x) => x.rule === 'bp_crisis');
  return a.id;
}

const post = (token: string, id: string, action: string, body?: object) => api(h.t, token, 'POST', `/api/v1/alerts/${id}/${action}`, body);

beforeAll(async () => {
  h = await startAlertHub();
  cuff = await h.connect('bp-0001');
  homeAlerts = await collect(await h.connect('gw-0001'), 'anxin/v1/homes/wh-0001/alerts');
});

afterAll(() => h?.close());

describe('ack → escalate to doctor → doctor ack → comment → resolve', () => {
  let id: string;

  it('walks the whole lifecycle, each step answering the alert as it now is', async () => {
    id = await crisis();
    const createdAt = h.clock.now();

    const ackAt = h.clock.advance(20_000);
    const ack = await post(op(), id, 'ack');
    expect(ack.status).toBe(200);
    expect(ack.body.alert).toMatchObject({ state: 'acknowledged', assignee: 'op-zhang', acknowledgedAt: new Date(ackAt).toISOString(), claimDeadline: null });

    h.clock.advance(60_000);
    const esc = await post(op(), id, 'escalate', { target: 'doctor', note: '请李医生今天回访' });
    expect(esc.status).toBe(200);
    expect(esc.body.alert).toMatchObject({ state: 'escalated', escalation: { target: 'doctor', to: 'dr-li', doctorAcknowledgedAt: null } });
    expect(esc.body.handoff).toBeUndefined();

    const seen = await listAlerts(h.t, drLi(), '?state=escalated');
    expect(seen.map((a) => a.id)).toContain(id);

    h.clock.advance(5 * MINUTE);
    const dAck = await post(drLi(), id, 'ack');
    expect(dAck.status).toBe(200);
    expect(dAck.body.alert).toMatchObject({ state: 'escalated', escalation: { doctorAcknowledgedAt: new Date(h.clock.now()).toISOString() } });

    h.clock.advance(MINUTE);
    expect((await post(drLi(), id, 'comment', { note: '已电话联系，建议复测' })).status).toBe(200);

    h.clock.advance(MINUTE);
    const res = await post(drLi(), id, 'resolve', { outcome: 'handled', note: '复测 150/88，调整用药' });
    expect(res.status).toBe(200);
    expect(res.body.alert).toMatchObject({ state: 'resolved', outcome: 'handled', resolvedAt: new Date(h.clock.now()).toISOString() });
    expect(Date.parse(res.body.alert.createdAt)).toBe(createdAt);
  });

  it('records each step, in order, with who, from → to and the note', async () => {
    const { status, body } = await api(h.t, op(), 'GET', `/api/v1/alerts/${id}`);
    expect(status).toBe(200);
    // dr-li has no phone or webhook: the hub records that nobody reached her (see doctorUnreachable.test.ts),
    // whenever the log channel's attempt settles; the people's steps are checked here.
    const unreached = body.history.filter((e: { action: string }) => e.action === 'doctor.unreachable');
    expect(unreached.map((e: Record<string, unknown>) => [e.actor, e.fromState, e.toState])).toEqual([['system', 'escalated', 'escalated']]);
    const steps = body.history.filter((e: { action: string }) => e.action !== 'doctor.unreachable')
      .map((e: Record<string, unknown>) => [e.actor, e.action, e.fromState, e.toState, e.note]);
    expect(steps).toEqual([
      ['system', 'created', null, 'open', null],
      ['op-zhang', 'acknowledged', 'open', 'acknowledged', null],
      ['op-zhang', 'escalated.doctor', 'acknowledged', 'escalated', '请李医生今天回访'],
      ['dr-li', 'doctor.acknowledged', 'escalated', 'escalated', null],
      ['dr-li', 'commented', 'escalated', 'escalated', '已电话联系，建议复测'],
      ['dr-li', 'resolved', 'escalated', 'resolved', '复测 150/88，调整用药'],
    ]);
    expect(body.history.at(-1).detail).toEqual({ outcome: 'handled' });
    const times = body.history.map((e: { at: string }) => Date.parse(e.at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('told the home at each change of state (open, acknowledged, doctor told, resolved), not for notes', async () => {
    const mine = await waitFor(() => {
      const found = homeAlerts.messages.filter((m) => m.body.alertId === id);
      return found.length >= 4 ? found : null;
    }, 'four home messages');
    const states = mine.map((m) => [m.body.state, (m.body.message as { en: string }).en]);
    expect(states).toEqual([
      ['open', 'The call center has been told'],
      ['acknowledged', 'An operator is on it and will call you'],
      ['escalated', 'Your family doctor has been told and will call'],
      ['resolved', 'Handled'],
    ]);
  });

  it('refuses illegal transitions with 409 and a JSON reason: resolve twice, escalate a resolved alert', async () => {
    for (const [action, body] of [['resolve', { outcome: 'handled', note: 'again' }], ['escalate', { target: 'emergency' }], ['ack', undefined]] as const) {
      const res = await post(op(), id, action, body);
      expect(res.status, action).toBe(409);
      expect(res.body).toEqual({ error: 'illegal_transition', message: expect.any(String) });
    }
  });
});

describe('illegal and guarded transitions', () => {
  it('acknowledging twice → 409 illegal_transition', async () => {
    const id = await crisis();
    expect((await post(op(), id, 'ack', { note: '我来处理' })).status).toBe(200);
    const again = await post(op(), id, 'ack');
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ error: 'illegal_transition', message: 'the alert is already acknowledged' });
    const history = (await api(h.t, op(), 'GET', `/api/v1/alerts/${id}`)).body.history;
    expect(history[1]).toMatchObject({ action: 'acknowledged', note: '我来处理' });
    expect((await post(op(), id, 'resolve', { outcome: 'false_alarm' })).status).toBe(200);
  });

  it('resolving an open critical alert needs a note (409 note_required); with one it is resolved', async () => {
    const id = await crisis();
    const bare = await post(op(), id, 'resolve', { outcome: 'false_alarm' });
    expect(bare.status).toBe(409);
    expect(bare.body).toMatchObject({ error: 'note_required', message: expect.any(String) });
    expect((await post(op(), id, 'resolve', { outcome: 'false_alarm', note: '   ' })).body.error).toBe('note_required');
    const noted = await post(op(), id, 'resolve', { outcome: 'false_alarm', note: '袖带未绑好，已指导复测' });
    expect(noted.status).toBe(200);
    expect(noted.body.alert).toMatchObject({ state: 'resolved', outcome: 'false_alarm' });
    const history = (await api(h.t, op(), 'GET', `/api/v1/alerts/${id}`)).body.history;
    expect(history.at(-1)).toMatchObject({ action: 'resolved', fromState: 'open', toState: 'resolved', note: '袖带未绑好，已指导复测' });
  });

  it('only the doctor it was escalated to acts as a doctor; the doctor cannot escalate', async () => {
    const id = await crisis();
    expect((await post(drLi(), id, 'ack')).status).toBe(403);
    expect((await post(drLi(), id, 'escalate', { target: 'doctor' })).status).toBe(403);
    expect((await post(op(), id, 'escalate', { target: 'doctor' })).status).toBe(200);
    expect((await post(op(), id, 'escalate', { target: 'doctor' })).status).toBe(409);
    // From the doctor to 120 is allowed (the doctor judged it an emergency).
    const to120 = await post(op(), id, 'escalate', { target: 'emergency' });
    expect(to120.status).toBe(200);
    expect(to120.body.alert.escalation).toMatchObject({ target: 'emergency' });
    expect((await post(op(), id, 'resolve', { outcome: 'hospitalised' })).status).toBe(200);
  });
});

describe('one click to 120', () => {
  it('escalating an open alert to emergency acknowledges it too and answers the zh-CN hand-off', async () => {
    const id = await crisis();
    h.clock.advance(2 * MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', bp(201, 112), h.clock.now());
    const res = await post(op(), id, 'escalate', { target: 'emergency', note: '已呼叫 120' });
    expect(res.status).toBe(200);
    expect(res.body.alert).toMatchObject({ state: 'escalated', assignee: 'op-zhang', escalation: { target: 'emergency' } });
    const text: string = res.body.handoff['zh-CN'];
    for (const part of ['王秀英', '威海市环翠区文化西路 1 号 2 单元 301', '王强', '+86 138 0000 0001', '+86 631 555 0101']) expect(text).toContain(part);
    expect(text).toContain('共 2 次');
    const history = (await api(h.t, op(), 'GET', `/api/v1/alerts/${id}`)).body.history;
    expect(history.map((e: Record<string, unknown>) => [e.action, e.fromState, e.toState, e.note])).toEqual([
      ['created', null, 'open', null],
      ['acknowledged', 'open', 'acknowledged', null],
      ['escalated.emergency', 'acknowledged', 'escalated', '已呼叫 120'],
    ]);
    const last = await waitFor(() => homeAlerts.messages.find((m) => m.body.alertId === id && m.body.state === 'escalated'), 'the 120 message');
    expect(last.body).toMatchObject({ state: 'escalated', message: { en: 'Emergency rescue (120) is on the way' } });
  });

  it('the hand-off gives the time of the first reading of the event, not the latest', async () => {
    const [a] = (await listAlerts(h.t, op(), '?state=escalated')).filter((x) => x.rule === 'bp_crisis');
    const handoff = (await api(h.t, op(), 'GET', `/api/v1/alerts/${a.id}/handoff`)).body;
    expect(handoff.fields.event.at).toBe(Date.parse(a.createdAt));
    expect(handoff.fields.event.count).toBe(2);
  });
});
