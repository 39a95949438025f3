/**
 * The live stream (SPEC §6): `hello`, events with increasing `seq`, and a
 * reconnecting screen that sends `{"resume": lastSeq}` gets everything it
 * missed, in order, then `resumed`, then live events; a doctor's stream
 * carries only their patients.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, bp, district, eventsOf, listAlerts, MINUTE, send, startAlertHub, StreamClient, waitFor, type AlertHub, type StreamMessage } from './helpers.js';

let h: AlertHub;
let cuff: MqttClient;
let sos: MqttClient;
const op = () => h.tokens['op-zhang']!;

beforeAll(async () => {
  h = await startAlertHub();
  cuff = await h.connect('bp-0001');
  sos = await h.connect('sos-0001');
});

afterAll(() => h?.close());

/** Seqs of every event in the durable log after `seq` (an operator may see them all). */
const logSeqsAfter = (seq: number) => h.t.hub.ctx.eventLog.since(seq, 10_000).map((e) => e.seq);

const strictlyIncreasing = (ms: StreamMessage[]) => ms.every((m, i) => i === 0 || m.seq! > ms[i - 1]!.seq!);

describe('operator stream', () => {
  let lastSeq: number;
  let alertId: string;

  it('says hello with the current seq, then pushes the reading and alert.created of a crisis', async () => {
    // The two devices' connection events are written by now (hello's seq is then stable).
    await h.t.hub.ctx.writer.drain();
    const stream = await StreamClient.open(h.t, op());
    const hello = await stream.next((m) => m.type === 'hello');
    expect(hello).toMatchObject({ seq: h.t.hub.ctx.eventLog.latestSeq(), user: { username: 'op-zhang', role: 'operator' } });
    await send(cuff, 'wh-0001', 'bp-0001', bp(184, 96), h.clock.now());
    const created = await stream.next((m) => m.type === 'alert.created', 'alert.created');
    expect(created.data).toMatchObject({ rule: 'bp_crisis', severity: 'critical', state: 'open', residentId: 'r-0001', reason: 'created' });
    expect(created.at).toBe(new Date(h.clock.now()).toISOString());
    alertId = created.data.id;
    const events = eventsOf(stream.messages);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['reading', 'alert.created']));
    expect(strictlyIncreasing(events)).toBe(true);
    expect(events[0]!.seq).toBeGreaterThan(hello.seq as number);
    lastSeq = stream.lastSeq();

    // The network drops: no close handshake.
    stream.socket.terminate();
    await waitFor(() => h.t.hub.ctx.stream.size === 0, 'the hub to notice the dropped socket');
  });

  it('a new socket that resumes gets every missed event in order, then resumed, then live events', async () => {
    // While it is down: an acknowledgement, an SOS, and another crisis reading that attaches.
    h.clock.advance(20_000);
    expect((await api(h.t, op(), 'POST', `/api/v1/alerts/${alertId}/ack`)).status).toBe(200);
    h.clock.advance(MINUTE);
    await send(sos, 'wh-0001', 'sos-0001', { type: 'sos' }, h.clock.now());
    const crisisId = await send(cuff, 'wh-0001', 'bp-0001', bp(190, 99), h.clock.now());
    const missed = logSeqsAfter(lastSeq);
    expect(missed.length).toBeGreaterThanOrEqual(5);

    const stream = await StreamClient.open(h.t, op());
    await stream.next((m) => m.type === 'hello');
    stream.send({ resume: lastSeq });
    await stream.next((m) => m.type === 'resumed', 'resumed');
    const replayed = eventsOf(stream.messages);
    expect(replayed.map((e) => e.seq)).toEqual(missed);
    // A reading's event is replayed from the reading itself, in the shape it was pushed live.
    const reading = replayed.find((e) => e.type === 'reading' && e.data.id === crisisId);
    expect(reading?.data).toEqual({
      deviceId: 'bp-0001', id: crisisId, residentId: 'r-0001', homeId: 'wh-0001', type: 'blood_pressure',
      ts: new Date(h.clock.now()).toISOString(), values: expect.objectContaining({ systolic: 190, diastolic: 99 }),
    });
    expect(replayed.filter((e) => e.type.startsWith('alert.')).map((e) => [e.type, e.data.rule, e.data.state])).toEqual([
      ['alert.updated', 'bp_crisis', 'acknowledged'],
      ['alert.created', 'sos', 'open'],
      ['alert.updated', 'bp_crisis', 'acknowledged'],
    ]);

    await send(cuff, 'wh-0001', 'bp-0001', bp(185, 97), h.clock.now());
    const live = await stream.next((m) => m.type === 'alert.updated', 'a live event after resumed');
    expect(live.seq).toBeGreaterThan(missed.at(-1)!);
    const all = eventsOf(stream.messages);
    expect(strictlyIncreasing(all)).toBe(true);
    expect(stream.messages.findIndex((m) => m.type === 'resumed')).toBeLessThan(stream.messages.indexOf(live));
    stream.close();
  });

  it('an event committed between hello and resume is neither sent before the replay nor twice', async () => {
    const lastSeen = h.t.hub.ctx.eventLog.latestSeq();
    await send(cuff, 'wh-0001', 'bp-0001', bp(120, 80, { id: 'gap-before' }), h.clock.now()); // missed while disconnected
    const stream = await StreamClient.open(h.t, op());
    await stream.next((m) => m.type === 'hello');
    await send(cuff, 'wh-0001', 'bp-0001', bp(121, 80, { id: 'gap-race' }), h.clock.now()); // committed before the client's resume arrives
    await new Promise((r) => setTimeout(r, 100));
    stream.send({ resume: lastSeen });
    await stream.next((m) => m.type === 'resumed', 'resumed');
    const events = eventsOf(stream.messages);
    expect(events.map((e) => e.data.id)).toEqual(['gap-before', 'gap-race']);
    expect(strictlyIncreasing(events)).toBe(true);
    stream.close();
  });

  it('answers a bad resume message with an error, and keeps the socket', async () => {
    const stream = await StreamClient.open(h.t, op());
    await stream.next((m) => m.type === 'hello');
    stream.send({ resume: 'yesterday' });
    expect(await stream.next((m) => m.type === 'error')).toMatchObject({ error: 'invalid_request', field: 'resume' });
    stream.send({ resume: 0 });
    await stream.next((m) => m.type === 'resumed');
    stream.close();
  });

  it('refuses a stream without a session', async () => {
    await expect(StreamClient.open(h.t, 'not-a-token')).rejects.toThrow(/401/);
  });
});

describe('doctor stream', () => {
  it('carries only the doctor’s patients, live and on resume; never device status', async () => {
    const stream = await StreamClient.open(h.t, h.tokens['dr-wang']!);
    const hello = await stream.next((m) => m.type === 'hello');
    const other = await h.connect('bp-0002');
    h.clock.advance(MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', bp(199, 101), h.clock.now()); // dr-li's patient
    await send(other, 'wh-0002', 'bp-0002', bp(182, 95), h.clock.now()); // dr-wang's patient
    await stream.next((m) => m.type === 'alert.created', 'dr-wang’s alert');
    const live = eventsOf(stream.messages);
    expect(live.length).toBeGreaterThan(0);
    expect(live.every((e) => e.type !== 'device.status' && e.data.residentId === 'r-0002')).toBe(true);
    stream.close();

    const again = await StreamClient.open(h.t, h.tokens['dr-wang']!);
    await again.next((m) => m.type === 'hello');
    again.send({ resume: 0 });
    await again.next((m) => m.type === 'resumed');
    const replayed = eventsOf(again.messages);
    expect(replayed.map((e) => e.seq)).toEqual(live.map((e) => e.seq)); // r-0002 had no events before
    expect(replayed.every((e) => e.data.residentId === 'r-0002')).toBe(true);
    expect(h.t.hub.ctx.eventLog.since(0, 10_000).some((e) => e.residentId === 'r-0001' && e.seq > (hello.seq as number))).toBe(true);
    expect((await listAlerts(h.t, h.tokens['dr-wang']!)).every((a) => a.residentId === 'r-0002')).toBe(true);
    again.close();
  });

  it('follows a patient handed to another doctor: the new doctor\'s open page carries them from then on, the old one\'s no longer', async () => {
    const wang = await StreamClient.open(h.t, h.tokens['dr-wang']!);
    const li = await StreamClient.open(h.t, h.tokens['dr-li']!);
    const helloWang = await wang.next((m) => m.type === 'hello');
    await li.next((m) => m.type === 'hello');
    wang.send({ resume: helloWang.seq });
    li.send({ resume: (await h.t.hub.ctx.eventLog.latestSeq()) });
    await wang.next((m) => m.type === 'resumed');
    await li.next((m) => m.type === 'resumed');
    // The district's document again, r-0001 now dr-wang's (how patients move: the import).
    const doc = district();
    doc.homes[0]!.residents[0]!.doctor = 'dr-wang';
    await h.t.importDoc(doc);
    h.clock.advance(MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', bp(201, 103), h.clock.now());
    const reading = await wang.next((m) => m.type === 'reading' && (m.data as { residentId?: string }).residentId === 'r-0001', 'r-0001 on dr-wang\'s page');
    await h.t.hub.ctx.writer.drain();
    await new Promise((r) => setTimeout(r, 100));
    expect(eventsOf(li.messages).filter((e) => e.seq! >= reading.seq!)).toEqual([]);
    wang.close();
    li.close();
  });
});

describe('watched readings', () => {
  it('narrows reading events to the watched residents and homes, live and on resume; alerts and device status still flow', async () => {
    await h.t.hub.ctx.writer.drain();
    const stream = await StreamClient.open(h.t, op());
    const hello = await stream.next((m) => m.type === 'hello');
    stream.send({ watch: { residents: ['r-0002'] } });
    expect(await stream.next((m) => m.type === 'watching')).toEqual({ type: 'watching', watch: { residents: ['r-0002'], homes: [] } });
    stream.send({ resume: hello.seq as number });
    await stream.next((m) => m.type === 'resumed');
    const other = await h.connect('bp-0002'); // a new session of dr-wang's cuff: its device.status is not a reading

    h.clock.advance(MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', bp(122, 80, { id: 'w-unwatched' }), h.clock.now());
    await send(other, 'wh-0002', 'bp-0002', bp(123, 80, { id: 'w-watched' }), h.clock.now());
    await send(cuff, 'wh-0001', 'bp-0001', bp(205, 104, { id: 'w-crisis' }), h.clock.now()); // r-0001: an alert, its reading unwatched
    await stream.next((m) => m.type.startsWith('alert.') && m.data.lastReading?.id === 'w-crisis', 'the crisis alert of an unwatched resident');
    const live = eventsOf(stream.messages);
    expect(live.filter((e) => e.type === 'reading').map((e) => e.data.id)).toEqual(['w-watched']);
    expect(live.some((e) => e.type === 'device.status' && e.data.clientId === 'bp-0002' && e.data.online)).toBe(true);
    const lastSeq = stream.lastSeq();
    stream.close();

    // A screen that watches a home before it resumes gets that home's readings only, in the replay too.
    const again = await StreamClient.open(h.t, op());
    await again.next((m) => m.type === 'hello');
    again.send({ watch: { homes: ['wh-0001'] } });
    await again.next((m) => m.type === 'watching');
    again.send({ resume: hello.seq as number });
    await again.next((m) => m.type === 'resumed');
    expect(eventsOf(again.messages).filter((e) => e.type === 'reading').map((e) => e.data.id)).toEqual(['w-unwatched', 'w-crisis']);
    expect(eventsOf(again.messages).filter((e) => e.type.startsWith('alert.')).length).toBeGreaterThan(0);

    // {"watch": null}: every reading again.
    again.send({ watch: null });
    expect(await again.next((m) => m.type === 'watching')).toEqual({ type: 'watching', watch: null });
    await send(other, 'wh-0002', 'bp-0002', bp(124, 80, { id: 'w-all' }), h.clock.now());
    await again.next((m) => m.type === 'reading' && m.data.id === 'w-all', 'a reading of an unwatched home after watch null');
    expect(stream.lastSeq()).toBe(lastSeq);
    again.close();
  });

  it('answers a bad watch with an error naming the field, and keeps the socket and its watch', async () => {
    const stream = await StreamClient.open(h.t, op());
    await stream.next((m) => m.type === 'hello');
    for (const [watch, field] of [
      [{ residents: 'r-0001' }, 'watch.residents'],
      [{ homes: [''] }, 'watch.homes'],
      [{ residents: Array.from({ length: 501 }, (_, i) => `r-${i}`) }, 'watch.residents'],
      [{ rooms: ['a'] }, 'watch.rooms'],
      [['r-0001'], 'watch'],
      ['r-0001', 'watch'],
    ] as const) {
      stream.send({ watch });
      expect(await stream.next((m) => m.type === 'error' || m.type === 'watching')).toMatchObject({ type: 'error', error: 'invalid_request', field });
    }
    stream.send({ resume: 0 });
    await stream.next((m) => m.type === 'resumed');
    stream.close();
  });
});
