/**
 * A console resuming after a long gap must not stall the hub. Readings are
 * never pruned by default and the dashboard always resumes from its last seq:
 * a console asleep 2.5 h at 200 readings/s asks for 1.8M events. The replay
 * used to run synchronously to the end of the log, parsing every row (even
 * readings the console's watch filters out) and writing all of it into the
 * socket: device PUBACKs and /readyz waited seconds, and a console that did
 * not read made the hub buffer hundreds of MB.
 *
 * Whole hub, in-process, real MQTT and WebSocket clients. The log is written
 * straight through the hub's store path (ReadingStore.append, big batches):
 * 300,000 readings over MQTT would take minutes. A canary device publishes
 * QoS 1 readings throughout, and its PUBACK latency is what a device (and the
 * fall sensor behind it) would see.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { publishAcked } from '../../helpers/hub.js';
import { bp, rid, startAlertHub, telemetry, waitFor, type AlertHub } from '../alerts/helpers.js';
import { bpReadings, firstDifference, hubSocketOf, LightStream, metric, storedSeqs, storeReadings } from './helpers.js';

let h: AlertHub;
let canary: MqttClient;
/** The seq before the last 45,000 readings, which are big (2 KB each, as a reading with a long note may be). */
let bigFrom: number;
const op = () => h.tokens['op-zhang']!;
const MiB = 1024 * 1024;

beforeAll(async () => {
  h = await startAlertHub();
  canary = await h.connect('bp-0002');
  const at = h.clock.now();
  const r1 = { homeId: 'wh-0001', deviceId: 'bp-0001', residentId: 'r-0001' };
  const r2 = { homeId: 'wh-0002', deviceId: 'bp-0002', residentId: 'r-0002' };
  // 255,000 readings of r-0001 with 200 of r-0002 among them, then 45,000 big ones of r-0001.
  for (let i = 0; i < 10; i++) await storeReadings(h.t, [...bpReadings(12_750, at, r1), ...bpReadings(20, at, r2), ...bpReadings(12_750, at, r1)]);
  bigFrom = h.t.hub.ctx.eventLog.latestSeq();
  for (let i = 0; i < 2; i++) await storeReadings(h.t, bpReadings(22_500, at, r1, { note: 'n'.repeat(2000) }));
  await h.t.hub.ctx.writer.drain();
}, 120_000);
afterAll(() => h?.close());

/** Runs `work` while the canary publishes a QoS 1 reading every `everyMs`; answers each PUBACK's latency (one never acked counts until the end). */
async function withCanary<T>(work: () => Promise<T>, everyMs = 20): Promise<{ result: T; latencies: number[] }> {
  const latencies: number[] = [];
  const pending = new Set<number>();
  const publish = () => {
    const t0 = performance.now();
    pending.add(t0);
    void publishAcked(canary, telemetry('wh-0002', 'bp-0002'), { id: rid('canary'), ts: h.clock.now(), ...bp(118, 76) }).then(() => {
      pending.delete(t0);
      latencies.push(performance.now() - t0);
    });
  };
  const timer = setInterval(publish, everyMs);
  try {
    const result = await work();
    return { result, latencies };
  } finally {
    clearInterval(timer);
    await waitFor(() => pending.size === 0, 'the canary\'s last PUBACKs', 10_000).catch(() => {
      for (const t0 of pending) latencies.push(performance.now() - t0);
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('a console resuming from seq 0, 300,000 readings back, is told to resync at once; the canary is acknowledged within 500 ms and the hub grows < 100 MB', async () => {
  const resyncsBefore = await metric(h.t, 'anxin_stream_resyncs_total', 'reason="too_far_behind"');
  const rss0 = process.memoryUsage().rss;
  let rssMax = rss0;
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 10);
  const { result: c, latencies } = await withCanary(async () => {
    await sleep(200);
    const c = await LightStream.open(h.t, op());
    await c.hello({ resume: 0 });
    await c.nextControl('resumed', 30_000);
    await sleep(500);
    return c;
  });
  clearInterval(sampler);

  const resync = c.control.find((m) => m.type === 'resync');
  expect(resync).toMatchObject({ reason: 'too_far_behind', after: 0 });
  expect(resync!.oldestSeq).toBeGreaterThan(300_000);
  // No replay: live events follow, from oldestSeq on, in order.
  expect(c.control.find((m) => m.type === 'resumed')).toMatchObject({ after: 0 });
  expect(c.events.length).toBeGreaterThan(5);
  expect(c.events.every((e, i) => e.seq >= (resync!.oldestSeq as number) && (i === 0 || e.seq > c.events[i - 1]!.seq))).toBe(true);
  expect(await metric(h.t, 'anxin_stream_resyncs_total', 'reason="too_far_behind"')).toBe(resyncsBefore + 1);

  expect(latencies.length).toBeGreaterThan(20);
  expect(Math.max(...latencies)).toBeLessThan(500);
  expect((rssMax - rss0) / MiB).toBeLessThan(100);
  c.close();
}, 60_000);

it('a console watching one resident resumes over the whole log: only that resident\'s readings leave SQLite, and those committed during the paged replay arrive once, in order, before the live ones', async () => {
  const readBefore = await metric(h.t, 'anxin_stream_replay_events_total');
  // Which seq was the latest at each read of the log: it moves when commits land between the replay's pages.
  const log = h.t.hub.ctx.eventLog;
  const since = log.since.bind(log);
  const latestAtReads: number[] = [];
  log.since = (seq, limit, opts) => {
    latestAtReads.push(log.latestSeq());
    return since(seq, limit, opts);
  };
  let c: LightStream;
  let latencies: number[];
  try {
    ({ result: c, latencies } = await withCanary(async () => {
      await sleep(100);
      const c = await LightStream.open(h.t, op());
      await c.hello({ watch: { residents: ['r-0002'] }, resume: 0 });
      await c.nextControl('resumed', 30_000);
      await sleep(300);
      return c;
    }, 5));
  } finally {
    log.since = since;
  }
  await h.t.hub.ctx.writer.drain();
  const expected = storedSeqs(h.t, 0, 'r-0002');
  await c.reach(expected[expected.length - 1]!);

  const seqs = c.events.map((e) => e.seq);
  expect({ length: seqs.length, firstDifference: firstDifference(seqs, expected) }).toEqual({ length: expected.length, firstDifference: -1 });
  expect(c.events.filter((e) => e.type === 'reading').every((e) => e.residentId === 'r-0002')).toBe(true);
  expect(c.control.some((m) => m.type === 'resync')).toBe(false);
  const resumed = c.control.find((m) => m.type === 'resumed')!;
  // Some canary readings were committed while the replay read its pages, and came by the replay.
  expect(new Set(latestAtReads).size).toBeGreaterThan(1);
  expect(resumed.after).toBeGreaterThan(200);
  // Every event the replay sent, and nothing else, was read from SQLite: not the 300,000 readings of r-0001.
  expect(await metric(h.t, 'anxin_stream_replay_events_total') - readBefore).toBe(resumed.after);
  expect(Math.max(...latencies)).toBeLessThan(500);
  c.close();
}, 60_000);

it('a console that stops reading during its replay is not buffered without bound, and is closed with 1013 when it stays stopped', async () => {
  const stalledBefore = await metric(h.t, 'anxin_stream_clients_closed_total', 'reason="replay_stalled"');
  const c = await LightStream.open(h.t, op());
  await c.hello();
  const hubSide = hubSocketOf(h.t, c);
  const subscribers = h.t.hub.ctx.stream.size;
  // A tab put to sleep just after it asked: 45,000 events of 2 KB (90 MB) are within the replay bound.
  c.tcp.pause();
  c.send({ resume: bigFrom });
  const rss0 = process.memoryUsage().rss;
  let rssMax = rss0;
  let bufferedMax = 0;
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
    bufferedMax = Math.max(bufferedMax, hubSide.bufferedAmount);
  }, 5);
  try {
    await waitFor(() => h.t.hub.ctx.stream.size < subscribers, 'the hub to give up on the stalled console', 20_000);
  } finally {
    clearInterval(sampler);
  }
  expect(await metric(h.t, 'anxin_stream_clients_closed_total', 'reason="replay_stalled"')).toBe(stalledBefore + 1);
  // At most the replay's cap and one page (1,000 events of ~2 KB) were ever waiting in the hub.
  expect(bufferedMax / MiB).toBeLessThan(4);
  expect((rssMax - rss0) / MiB).toBeLessThan(100);

  // Awake again: it reads what was sent, a gapless run of the replay, then the close (it reconnects and resumes).
  c.tcp.resume();
  await waitFor(() => c.closed, 'the close frame', 20_000);
  expect(c.closed).toMatchObject({ code: 1013 });
  const expected = storedSeqs(h.t, bigFrom);
  expect(c.events.length).toBeGreaterThan(0);
  expect(c.events.length).toBeLessThan(expected.length);
  expect(firstDifference(c.events.map((e) => e.seq), expected.slice(0, c.events.length))).toBe(-1);
}, 60_000);
