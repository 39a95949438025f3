/**
 * The hub frames each stream message once and writes the same bytes to every
 * screen that gets it (server/realtime/sharedFrames.ts). Screens of different
 * scopes open together must each get exactly their messages, in seq order,
 * and byte for byte what ws's own per-socket send makes of them (the frame
 * header's three length forms, multi-byte text), also a screen whose socket
 * stopped reading for a while and then caught up.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { StreamEvent } from '../../../server/realtime/eventLog.js';
import { startAlertHub, waitFor, type AlertHub } from '../alerts/helpers.js';
import { bpReadings, hubSocketOf, LightStream, storeReadings } from './helpers.js';

let h: AlertHub;
beforeAll(async () => {
  h = await startAlertHub();
});
afterAll(() => h?.close());

const r1 = { homeId: 'wh-0001', deviceId: 'bp-0001', residentId: 'r-0001' };
const r2 = { homeId: 'wh-0002', deviceId: 'bp-0002', residentId: 'r-0002' };

/** ws's own frame of a text message from a server (what `WebSocket.send` writes): the reference bytes. */
const wsFrame = (text: string): Buffer => Buffer.concat(
  (WebSocket as unknown as { Sender: { frame(data: Buffer, o: object): Buffer[] } }).Sender.frame(Buffer.from(text), { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }),
);

/** A live screen that also keeps every byte its TCP socket received from the moment it went live. */
class RecordingScreen {
  readonly bytes: Buffer[] = [];
  readonly texts: string[] = [];

  private constructor(readonly stream: LightStream, readonly name: string, readonly sees: (e: StreamEvent) => boolean) {}

  static async open(name: string, token: string, sees: (e: StreamEvent) => boolean, watch?: object): Promise<RecordingScreen> {
    const stream = await LightStream.open(h.t, token);
    await stream.hello({ resume: 'hello', ...(watch && { watch }) });
    await stream.nextControl('resumed');
    // Nothing is in flight once `resumed` is in: from here, every byte is a frame of a message that follows.
    const s = new RecordingScreen(stream, name, sees);
    stream.tcp.on('data', (chunk: Buffer) => s.bytes.push(chunk));
    stream.socket.on('message', (raw: Buffer) => s.texts.push(raw.toString()));
    return s;
  }

  /** Its event messages (not hello, resumed, watching …), as received. */
  eventTexts(): string[] {
    return this.texts.filter((t) => t.startsWith('{"seq":'));
  }
}

it('screens of different scopes each get exactly their messages, in order, byte for byte as a per-socket send, one of them after pausing', async () => {
  await h.t.hub.ctx.writer.drain();
  const { eventLog, writer } = h.t.hub.ctx;
  // The hub's live events as committed, for the expected messages: what `WebSocket.send(JSON.stringify(…))` of each gives.
  const committed: StreamEvent[] = [];
  eventLog.onCommitted((events) => {
    for (const e of events) committed.push(e);
  });
  const message = (e: StreamEvent) => JSON.stringify({ seq: e.seq, type: e.type, at: new Date(e.at).toISOString(), data: e.data });

  // Interleaved, so that a frame reused from the wrong screen lands on a neighbour with a different scope.
  const screens = [
    await RecordingScreen.open('operator, every reading', h.tokens['op-zhang']!, () => true),
    await RecordingScreen.open('dr-wang (r-0002)', h.tokens['dr-wang']!, (e) => e.type !== 'device.status' && e.residentId === 'r-0002'),
    await RecordingScreen.open('operator watching r-0002', h.tokens['op-zhang']!, (e) => e.type !== 'reading' || e.residentId === 'r-0002', { residents: ['r-0002'] }),
    await RecordingScreen.open('admin', h.tokens.admin!, (e) => e.type === 'device.status'),
    await RecordingScreen.open('dr-li (r-0001)', h.tokens['dr-li']!, (e) => e.type !== 'device.status' && e.residentId === 'r-0001'),
    await RecordingScreen.open('operator watching home wh-0001', h.tokens['op-zhang']!, (e) => e.type !== 'reading' || e.homeId === 'wh-0001', { homes: ['wh-0001'] }),
  ];
  const [, drWang] = screens;

  /** Device-status events of every frame length form: < 126 bytes, 16-bit, 64-bit; and text that is not ASCII. */
  const statuses = (home: string, sizes: number[]) => writer.run(() => {
    for (const n of sizes) eventLog.append('device.status', h.clock.now(), { homeId: home, residentId: null }, n === 0 ? {} : { note: '张坐席'.repeat(n) });
  });
  const mixed = async () => {
    // Readings of both residents in one commit, some of them a crisis (alerts in the same commit).
    await storeReadings(h.t, [
      ...bpReadings(3, h.clock.now(), r1), ...bpReadings(2, h.clock.now(), r2, { systolic: 190 }),
      ...bpReadings(2, h.clock.now(), r1, { systolic: 185 }), ...bpReadings(4, h.clock.now(), r2),
    ]);
    await statuses('wh-0001', [0, 40, 30_000]);
    await statuses('wh-0002', [1]);
  };

  await mixed();
  // A doctor's page stops reading (a tab in the background): its messages wait in the hub's buffer, the others flow.
  drWang!.stream.tcp.pause();
  const hubSide = hubSocketOf(h.t, drWang!.stream);
  for (let i = 0; i < 40 && hubSide.bufferedAmount === 0; i++) {
    await storeReadings(h.t, bpReadings(1000, h.clock.now(), r2, { note: '夜间测量'.repeat(40) }));
    await mixed();
  }
  expect(hubSide.bufferedAmount, 'the paused screen has unsent messages waiting on the hub').toBeGreaterThan(0);
  drWang!.stream.tcp.resume();
  await mixed();

  const last = committed[committed.length - 1]!.seq;
  for (const s of screens) {
    const expected = committed.filter((e) => s.sees(e)).map(message);
    expect(expected.length, `${s.name}: something to see`).toBeGreaterThan(0);
    await waitFor(() => s.eventTexts().length >= expected.length, `${s.name} to get its ${expected.length} messages`, 20_000);
    // A moment more: a message too many would show.
    await new Promise((r) => setTimeout(r, 50));
    const got = s.eventTexts();
    const at = got.length === expected.length && got.every((t, i) => t === expected[i]) ? -1 : got.findIndex((t, i) => t !== expected[i]);
    expect(at, `${s.name}: first differing message ${at}: got ${got[at]?.slice(0, 120)}, expected ${expected[at]?.slice(0, 120)}`).toBe(-1);
    // On the wire: exactly ws's frames of those messages, back to back (no other bytes, none torn or swapped).
    const wire = Buffer.concat(s.bytes);
    const reference = Buffer.concat(s.texts.map(wsFrame));
    expect(wire.length, `${s.name}: bytes on the wire`).toBe(reference.length);
    expect(wire.equals(reference), `${s.name}: the bytes are ws's frames of its messages`).toBe(true);
    expect(s.stream.closed, `${s.name} stays open`).toBeNull();
  }
  expect(new Set(committed.map((e) => e.type)), 'readings, alerts and device status').toEqual(new Set(['reading', 'alert.created', 'alert.updated', 'device.status']));
  expect(committed.some((e) => Buffer.byteLength(message(e)) > 65_535), 'a message past the 16-bit length').toBe(true);
  expect(last).toBe(eventLog.latestSeq());
  for (const s of screens) s.stream.close();
}, 120_000);
