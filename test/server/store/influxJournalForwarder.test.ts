/**
 * The journal forwarder's own logic (server/store/journalForwarder.ts) on a
 * real SQLite journal, with a scripted time-series store in place of InfluxDB
 * so that failures, refusals and timings can be chosen: batching by size and
 * time, backoff with jitter, cursor persistence, order, refusals.
 */
import { rmSync } from 'node:fs';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Reading } from '../../../devices/validateReading.js';
import { HubMetrics } from '../../../server/metrics.js';
import { GroupCommit } from '../../../server/store/groupCommit.js';
import { ForwardingRecord, JournalForwarder, mergeRanges, type ForwarderOptions, type SeqRange } from '../../../server/store/journalForwarder.js';
import { openDatabase, type Db } from '../../../server/store/sqliteDb.js';
import { SqliteReadingStore } from '../../../server/store/sqliteReadingStore.js';
import type { JournalReading, SinkWriteResult, TimeSeriesSink } from '../../../server/store/types.js';
import { tempDataDir } from '../../helpers/hub.js';

class ScriptedSink implements TimeSeriesSink {
  readonly target = 'scripted';
  readonly batches: JournalReading[][] = [];
  readonly attempts: number[] = [];
  readonly points = new Map<string, JournalReading>();
  failing = false;
  /** Write calls (0-based, in call order) that fail once. */
  readonly failCalls = new Set<number>();
  prepareFailures = 0;
  refuse = 0;

  async prepare(): Promise<void> {
    if (this.prepareFailures > 0) {
      this.prepareFailures -= 1;
      throw new Error('connect ECONNREFUSED');
    }
  }

  async write(batch: readonly JournalReading[]): Promise<SinkWriteResult> {
    this.attempts.push(performance.now());
    if (this.failing || this.failCalls.has(this.attempts.length - 1)) throw new Error('503 Service Unavailable');
    this.batches.push([...batch]);
    // Keyed like an InfluxDB point: series and time (with the tiebreak), so a rewrite overwrites.
    for (const r of batch) this.points.set(`${r.type},${r.homeId},${r.residentId},${r.deviceId}@${r.ts}+${r.tiebreak}`, r);
    return { refused: this.refuse };
  }

  async close(): Promise<void> {}
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function journal(): { db: Db; writer: GroupCommit; readings: SqliteReadingStore; append(n: number, ts?: number): Promise<void> } {
  const dir = tempDataDir();
  const db = openDatabase(dir, 'normal');
  const writer = new GroupCommit(db);
  const readings = new SqliteReadingStore(db, writer);
  let next = 0;
  cleanup.push(() => {
    writer.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    db, writer, readings,
    append(n, ts) {
      const batch: Reading[] = Array.from({ length: n }, () => {
        next += 1;
        return { homeId: 'h-1', deviceId: 'bp-1', residentId: 'r-1', id: `r${next}`, type: 'blood_pressure', ts: ts ?? 1_700_000_000_000 + next, receivedAt: 1_700_000_000_000 + next, values: { systolic: 100 + next, diastolic: 70 } };
      });
      return new Promise((resolve, reject) => readings.append(batch, (err) => (err ? reject(err) : resolve())));
    },
  };
}

/** The forwarder on the event loop, reporting to the record the hub keeps (in the hub it runs in its thread). */
function forwarder(j: ReturnType<typeof journal>, sink: TimeSeriesSink, opts: Partial<ForwarderOptions> & { metrics?: HubMetrics } = {}): JournalForwarder {
  const log = pino({ level: 'silent' });
  const outlet = new ForwardingRecord({ db: j.db, writer: j.writer, target: sink.target, log, metrics: opts.metrics });
  const f = new JournalForwarder({ db: j.db, sink, log, outlet, ...opts });
  j.readings.onStored((stored) => f.notify(stored.length));
  cleanup.push(() => f.stop());
  f.start();
  return f;
}

describe('journal forwarder', () => {
  it('writes full batches at once and waits up to flushMs to fill a partial one', async () => {
    const j = journal();
    const sink = new ScriptedSink();
    const f = forwarder(j, sink, { batchSize: 5, flushMs: 400 });
    await sleep(50); // the forwarder found the journal empty and waits
    await j.append(12);
    await sleep(100);
    expect(sink.batches.map((b) => b.length)).toEqual([5, 5, 2]); // woken by a full batch; the tail goes with it
    await j.append(3); // fewer than a batch: no wake-up
    await sleep(100);
    expect(sink.batches).toHaveLength(3);
    await sleep(500);
    expect(sink.batches.map((b) => b.length)).toEqual([5, 5, 2, 3]);
    expect(f.cursor).toBe(15);
    expect(f.lag()).toBe(0);
  });

  it('retries with growing, jittered, capped delays while the store fails, then replays in seq order, each reading once', async () => {
    const j = journal();
    const sink = new ScriptedSink();
    sink.failing = true;
    const metrics = new HubMetrics();
    const f = forwarder(j, sink, { batchSize: 4, flushMs: 20, minBackoffMs: 20, maxBackoffMs: 160, random: () => 0.5, metrics });
    await j.append(10);
    await sleep(700);
    expect(f.cursor).toBe(0);
    expect(f.lag()).toBe(10);
    const gaps = sink.attempts.slice(1).map((t, i) => t - sink.attempts[i]!);
    // Equal jitter at random() = 0.5: 3/4 of 20, 40, 80, 160, then 160 again (the cap).
    expect(gaps.length).toBeGreaterThanOrEqual(5);
    [15, 30, 60, 120, 120].forEach((expected, i) => expect(gaps[i]).toBeGreaterThanOrEqual(expected - 2));
    expect(Math.max(...gaps)).toBeLessThan(120 + 60);
    sink.failing = false;
    expect(await f.drained(2000)).toBe(true);
    expect(sink.batches.flat().map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(sink.points.size).toBe(10);
    expect((await metrics.registry.getSingleMetric('anxin_influx_write_errors_total')!.get()).values[0]!.value).toBe(sink.attempts.length - 3);
    expect((await metrics.registry.getSingleMetric('anxin_influx_lag_readings')!.get()).values[0]!.value).toBe(0);
  });

  it('sends a large batch as requests of at most 1,000 readings; one failed request fails the batch, which is written again whole', async () => {
    const j = journal();
    const sink = new ScriptedSink();
    sink.failCalls.add(1); // the second request of the first batch
    const f = forwarder(j, sink, { batchSize: 2500, flushMs: 20, minBackoffMs: 10, maxBackoffMs: 10 });
    await j.append(2500);
    expect(await f.drained(5000)).toBe(true);
    // Attempt 1: 1,000 ok, 1,000 failed, 500 ok; the cursor stays. Attempt 2: all three again.
    expect(sink.attempts).toHaveLength(6);
    expect(sink.batches.map((b) => b.length)).toEqual([1000, 500, 1000, 1000, 500]);
    expect(f.cursor).toBe(2500);
    expect(sink.points.size).toBe(2500);
    expect([...sink.points.values()].map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
  });

  it('sets the store up before the first write, retrying until it answers', async () => {
    const j = journal();
    const sink = new ScriptedSink();
    sink.prepareFailures = 3;
    await j.append(2);
    const f = forwarder(j, sink, { flushMs: 20, minBackoffMs: 10, maxBackoffMs: 20 });
    expect(await f.drained(2000)).toBe(true);
    expect(sink.prepareFailures).toBe(0);
    expect(sink.batches.flat()).toHaveLength(2);
  });

  it('keeps its cursor across restarts, and a replay from an older cursor rewrites the same points', async () => {
    const j = journal();
    const sink = new ScriptedSink();
    await j.append(3, 1_700_000_000_000); // three readings in one millisecond: tiebreaks 0, 1, 2
    const first = forwarder(j, sink, { flushMs: 20 });
    expect(await first.drained(2000)).toBe(true);
    await first.stop();
    expect(sink.batches.flat().map((r) => r.tiebreak)).toEqual([0, 1, 2]);
    expect(j.db.prepare("SELECT seq FROM forward_cursors WHERE target = 'scripted'").get()).toEqual({ seq: 3 });

    await j.append(2);
    const second = forwarder(j, sink, { flushMs: 20 });
    expect(await second.drained(2000)).toBe(true);
    await second.stop();
    expect(sink.batches.flat().map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);

    j.db.prepare('UPDATE forward_cursors SET seq = 0').run(); // a crash between writes and cursor updates
    const third = forwarder(j, sink, { flushMs: 20 });
    expect(await third.drained(2000)).toBe(true);
    expect(sink.batches.flat()).toHaveLength(10);
    expect(sink.points.size).toBe(5);
  });

  it('moves on past points the store refuses for good, and counts them', async () => {
    const j = journal();
    const sink = new ScriptedSink();
    sink.refuse = 1;
    const metrics = new HubMetrics();
    await j.append(4);
    const f = forwarder(j, sink, { flushMs: 20, metrics });
    expect(await f.drained(2000)).toBe(true);
    expect((await metrics.registry.getSingleMetric('anxin_influx_points_refused_total')!.get()).values[0]!.value).toBe(1);
    expect((await metrics.registry.getSingleMetric('anxin_influx_points_written_total')!.get()).values[0]!.value).toBe(3);
    // Where: the seqs of the request that had the refusal, saved with the cursor.
    expect(f.refusedSeqs()).toEqual([[1, 4]]);
    await j.writer.drain();
    expect(j.db.prepare('SELECT target, from_seq, to_seq FROM forward_refused').all()).toEqual([{ target: 'scripted', from_seq: 1, to_seq: 4 }]);
    expect(new ForwardingRecord({ db: j.db, writer: j.writer, target: 'scripted', log: pino({ level: 'silent' }) }).refusedSeqs()).toEqual([[1, 4]]);
  });

  it.each([
    { ranges: [[5, 9], [1, 4], [20, 30]], max: 10, merged: [[1, 9], [20, 30]] }, // adjacent requests join
    { ranges: [[1, 10], [5, 12]], max: 10, merged: [[1, 12]] }, // a replay refusing again overlaps
    { ranges: [[1, 2], [10, 11], [13, 14], [40, 41]], max: 2, merged: [[1, 14], [40, 41]] }, // over the cap: the closest merge
  ] as Array<{ ranges: SeqRange[]; max: number; merged: SeqRange[] }>)('keeps refused ranges few: $ranges at most $max → $merged', ({ ranges, max, merged }) => {
    expect(mergeRanges(ranges, max)).toEqual(merged);
  });
});
