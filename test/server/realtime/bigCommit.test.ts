/**
 * One commit can hold hundreds of thousands of stream events: gateways
 * flushing their backlogs send 500 readings a publish, and a group commit
 * takes up to 2,000 publishes. Holding such a commit for a console still in
 * its resume grace spread it into one call's arguments, which V8 refuses past
 * ~125k ("Maximum call stack size exceeded"); the event log swallowed the
 * error, so every console after that one missed the whole commit, critical
 * alerts included, told nothing, and nothing was logged.
 *
 * Whole hub, in-process: the commit is written through the hub's own store
 * path (the ingest's ReadingStore.append: one call, one recorded job, one
 * commit; over MQTT the same commit needs 400 publishes of 500 readings
 * landing in one batch, which a test cannot make happen on purpose), and the
 * consoles are real WebSocket clients. Two hooks only: a console is kept in
 * its resume grace by lengthening the hub's grace for the moment it connects
 * (the race the audit needed 300 ms of churn to hit), and one hub-side socket
 * is made to throw.
 */
import { rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { HubMetrics } from '../../../server/metrics.js';
import { EventLog } from '../../../server/realtime/eventLog.js';
import { GroupCommit } from '../../../server/store/groupCommit.js';
import { openDatabase } from '../../../server/store/sqliteDb.js';
import { tempDataDir } from '../../helpers/hub.js';
import { startAlertHub, waitFor, type AlertHub } from '../alerts/helpers.js';
import { bpReadings, firstDifference, hubSocketOf, LightStream, metric, storedSeqs, storeReadings } from './helpers.js';

let h: AlertHub;
const op = () => h.tokens['op-zhang']!;
const cuff = { homeId: 'wh-0001', deviceId: 'bp-0001', residentId: 'r-0001' };

beforeAll(async () => {
  h = await startAlertHub();
});
afterAll(() => h?.close());

/** A console that has said hello, resumed from there, and is live. */
async function liveConsole(): Promise<LightStream> {
  const c = await LightStream.open(h.t, op());
  await c.hello({ resume: 'hello' });
  await c.nextControl('resumed');
  return c;
}

it('one commit of 200,500 events reaches every live console in full and in order, past a console still in its resume grace', async () => {
  await h.t.hub.ctx.writer.drain();
  // First in the hub's list of sockets: a console that has not resumed yet (an API client, a page slow to load).
  const hub = h.t.hub.ctx.stream as unknown as { resumeGraceMs: number };
  const grace = hub.resumeGraceMs;
  hub.resumeGraceMs = 120_000;
  const waiting = await LightStream.open(h.t, op());
  const waitingFrom = await waiting.hello();
  hub.resumeGraceMs = grace;
  const live = [await liveConsole(), await liveConsole(), await liveConsole()];

  const from = h.t.hub.ctx.eventLog.latestSeq();
  const readings = bpReadings(200_500, h.clock.now(), cuff);
  // A few blood-pressure crises among them: a critical alert is raised and updated inside the same commit.
  for (let i = 100; i < readings.length; i += 50_000) readings[i]!.values = { systolic: 192, diastolic: 96 };
  await storeReadings(h.t, readings);
  const expected = storedSeqs(h.t, from);
  expect(expected.length).toBeGreaterThan(200_500);

  for (const c of live) await c.reach(expected[expected.length - 1]!, 30_000);
  for (const c of live) {
    const seqs = c.events.map((e) => e.seq);
    expect({ length: seqs.length, firstDifference: firstDifference(seqs, expected) }).toEqual({ length: expected.length, firstDifference: -1 });
    expect(c.closed).toBeNull();
  }
  const alerts = live[0]!.events.filter((e) => e.type.startsWith('alert.'));
  expect(alerts[0]).toMatchObject({ type: 'alert.created', rule: 'bp_crisis', severity: 'critical' });
  expect(alerts.length).toBeGreaterThanOrEqual(4);
  expect(await metric(h.t, 'anxin_stream_push_failures_total')).toBe(0);
  expect(await metric(h.t, 'anxin_stream_clients_closed_total')).toBe(0);

  // The console that held the commit resumes: 200,000 events are past the replay bound, so it is told to reload instead.
  waiting.send({ resume: waitingFrom });
  await waiting.nextControl('resumed', 20_000);
  expect(waiting.control.find((m) => m.type === 'resync')).toMatchObject({ reason: 'too_far_behind', oldestSeq: expected[expected.length - 1]! + 1 });
  expect(waiting.events).toHaveLength(0);
  for (const c of [waiting, ...live]) c.close();
}, 90_000);

it('a console whose socket throws is closed with 1013, and resumes what it missed; the others miss nothing', async () => {
  await h.t.hub.ctx.writer.drain();
  const consoles = [await liveConsole(), await liveConsole(), await liveConsole()];
  const broken = consoles[1]!;
  const failingSocket = hubSocketOf(h.t, broken);
  const closedBefore = await metric(h.t, 'anxin_stream_clients_closed_total', 'reason="send_failed"');
  // The hub writes a commit's messages straight to the TCP socket (server/realtime/sharedFrames.ts): its
  // next write throws; the close frame after it goes through.
  const tcp = (failingSocket as unknown as { _socket: Socket })._socket;
  const write = tcp.write;
  tcp.write = (() => {
    tcp.write = write;
    throw new Error('write EPIPE (simulated)');
  }) as typeof tcp.write;
  const from = h.t.hub.ctx.eventLog.latestSeq();
  await storeReadings(h.t, bpReadings(500, h.clock.now(), cuff));
  const expected = storedSeqs(h.t, from);
  expect(expected).toHaveLength(500);

  for (const c of [consoles[0]!, consoles[2]!]) {
    await c.reach(expected[expected.length - 1]!);
    expect(c.events.map((e) => e.seq)).toEqual(expected);
  }
  await waitFor(() => broken.closed, 'the broken console to be closed');
  expect(broken.closed).toMatchObject({ code: 1013 });
  expect(broken.events).toHaveLength(0);
  expect(await metric(h.t, 'anxin_stream_clients_closed_total', 'reason="send_failed"')).toBe(closedBefore + 1);

  // It reconnects and resumes, as the dashboard does on any close but 4401: the commit is replayed to it.
  const again = await LightStream.open(h.t, op());
  await again.hello({ resume: from });
  await again.nextControl('resumed');
  expect(again.events.map((e) => e.seq)).toEqual(expected);
  for (const c of [again, ...consoles]) c.close();
});

it('a listener that throws on a commit is logged once, with the commit\'s size and seqs, and counted; the commit stands and the other listeners get it', async () => {
  const dir = tempDataDir();
  const db = openDatabase(dir, 'normal');
  const writer = new GroupCommit(db);
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const metrics = new HubMetrics();
  try {
    const log = new EventLog(db, writer, { log: logger, metrics });
    const got: number[][] = [];
    log.onCommitted(() => {
      throw new RangeError('Maximum call stack size exceeded');
    });
    log.onCommitted((events) => got.push(events.map((e) => e.seq)));
    await writer.run(() => {
      for (let i = 0; i < 3; i++) log.append('device.status', 1000, { homeId: 'wh-0001', residentId: null }, { i });
    });
    expect(got).toEqual([[1, 2, 3]]);
    expect(log.since(0, 10).map((e) => e.seq)).toEqual([1, 2, 3]);
    const failures = lines.filter((l) => l.level === 50);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ events: 3, firstSeq: 1, lastSeq: 3, err: { type: 'RangeError', message: 'Maximum call stack size exceeded' } });
    expect((await metrics.streamPushFailures.get()).values[0]?.value).toBe(1);
  } finally {
    await writer.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
