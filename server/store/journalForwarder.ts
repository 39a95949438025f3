/**
 * Forwards the readings journal (SQLite `readings`, ordered by `seq`) to a
 * time-series store. The journal is where a reading becomes durable — the
 * PUBACK goes after its group commit — so it is also the spool: while InfluxDB
 * is slow or down, readings simply wait in it, the ingest never waits for
 * InfluxDB, and nothing is held in memory but the batch being written and the
 * next one.
 *
 * - Batches by size and time: a batch is written once `batchSize` readings are
 *   waiting or `flushMs` after the previous write; a backlog goes out in full
 *   batches back to back, in seq order. A batch is read and sent in slices
 *   (see readAfter, writeSliced); the next batch is read while one is written.
 * - The cursor (`forward_cursors`, one row per target) moves only after the
 *   store confirmed a batch. A crash between the write and the cursor update
 *   replays that batch, which is harmless: points are idempotent (same series
 *   and time overwrite; see influxSchema.ts).
 * - Failures (unreachable, 5xx, auth, missing database) are retried forever
 *   with exponential backoff and equal jitter; points the store refuses for
 *   good are counted and skipped, and stay in the journal.
 *
 * In the hub the forwarder runs in a thread of its own (forwarderThread.ts,
 * driven by ThreadedForwarder) with its own connection to the store: reading
 * the journal back and serialising line protocol cost as much event-loop time
 * as the ingest itself. It reports each confirmed batch to the hub's
 * ForwardingRecord (below), which saves the cursor through the group commit
 * and keeps the metrics.
 */
import type { Logger } from 'pino';
import type { HubMetrics } from '../metrics.js';
import type { GroupCommit } from './groupCommit.js';
import type { Db } from './sqliteDb.js';
import type { JournalReading, SinkWriteResult, TimeSeriesSink } from './types.js';

export interface ForwarderOptions {
  /** A connection to the store, to read the journal from (the forwarder thread's own, or the hub's in tests). */
  db: Db;
  sink: TimeSeriesSink;
  log: Logger;
  /** Where confirmed batches and failures are reported (ForwardingRecord, directly or through the thread). */
  outlet: ForwarderOutlet;
  /** The last confirmed seq to start after (default: the cursor saved in the store). */
  cursor?: number;
  /** Readings per batch, the cursor's step (default 5000); sent as requests of at most SLICE readings. */
  batchSize?: number;
  /** Longest a reading waits for its batch to fill, ms (default 1000). */
  flushMs?: number;
  /** Backoff after the first failure and its cap, ms (default 200 and 10 000). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  random?: () => number;
}

/** Journal seqs `from` to `to`, both included. */
export type SeqRange = readonly [from: number, to: number];

/** A batch the store confirmed: every reading up to `seq` is in it, but for those it refused. */
export interface ConfirmedBatch {
  seq: number;
  /** Points stored, and points the store refused for good. */
  written: number;
  refused: number;
  /**
   * Where the refused points are: the seqs of each request that had refusals
   * (InfluxDB 1.x says how many points of a request it dropped, not which).
   */
  refusedSeqs?: SeqRange[];
  /** How long the write took. */
  seconds: number;
}

/** What the forwarder reports; the hub keeps the cursor and the metrics (ForwardingRecord). */
export interface ForwarderOutlet {
  /** The store was set up and answers (at start; again after failures, with `recovered`). */
  ready?(): void;
  confirmed(batch: ConfirmedBatch): void;
  /** A write or set-up failed; it is retried after a backoff. */
  failed(): void;
  /** The store answers again after failures (reported even when there was nothing to write). */
  recovered(): void;
}

/**
 * What the forwarder is doing, for `/readyz`: `starting` (its thread is
 * loading, or the store has not answered its set-up yet), `forwarding` (the
 * store answers; it may be idle), `retrying` (the store failed; backing off),
 * `down` (its thread died; restarting), `stopped`.
 */
export type ForwardingState = 'starting' | 'forwarding' | 'retrying' | 'down' | 'stopped';

/** The forwarder as the hub drives it, in its thread (ThreadedForwarder) or on the event loop (JournalForwarder, tests). */
export interface Forwarder {
  state(): ForwardingState;
  /** The last journal seq the store has confirmed. */
  readonly cursor: number;
  /** Readings in the journal the store has not confirmed yet. */
  lag(): number;
  /** Seqs at or below the cursor whose points the store refused for good (some of them, at least); see ForwardingRecord. */
  refusedSeqs(): readonly SeqRange[];
  start(): void;
  notify(n: number): void;
  /** Resolves true once everything journaled so far is confirmed, false after `timeoutMs`. */
  drained(timeoutMs: number): Promise<boolean>;
  /** Stops after the write in flight (at most `graceMs`; an abandoned write is replayed on the next start). */
  stop(graceMs?: number): Promise<void>;
}

const CURSOR_OF = 'SELECT seq FROM forward_cursors WHERE target = ?';
const LAST_SEQ = 'SELECT coalesce(max(seq), 0) AS seq FROM readings';

/**
 * Most refused ranges kept per target. Past it the two closest are merged:
 * a wider range only makes the readings API read a few more journal rows
 * (deduplicated), so the table and the queries stay small whatever InfluxDB
 * refuses, and no refused reading is forgotten.
 */
export const MAX_REFUSED_RANGES = 64;

/**
 * The hub's record of forwarding to one target: the cursor, saved through the
 * group commit, the seqs of points the store refused for good (table
 * `forward_refused`, saved with the cursor), and the metrics. Confirmations
 * come from the forwarder thread in the hub, straight from a JournalForwarder
 * in tests.
 */
export class ForwardingRecord implements ForwarderOutlet {
  private readonly saveCursor;
  private readonly clearRefused;
  private readonly saveRefused;
  private readonly lastSeqStmt;
  private cursorSeq: number;
  /** Replaced, never changed in place: readers may hold on to it (ForwardedReadingQueries caches by identity). */
  private refused: readonly SeqRange[];

  constructor(private readonly o: { db: Db; writer: GroupCommit; target: string; log: Logger; metrics?: HubMetrics; now?: () => number }) {
    this.saveCursor = o.writer.statement(
      `INSERT INTO forward_cursors (target, seq, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (target) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at`,
    );
    this.clearRefused = o.writer.statement('DELETE FROM forward_refused WHERE target = ?');
    this.saveRefused = o.writer.statement('INSERT INTO forward_refused (target, from_seq, to_seq) VALUES (?, ?, ?)');
    this.lastSeqStmt = o.db.prepare(LAST_SEQ);
    this.cursorSeq = savedCursor(o.db, o.target);
    this.refused = (o.db.prepare('SELECT from_seq, to_seq FROM forward_refused WHERE target = ? ORDER BY from_seq').raw(true)
      .all(o.target) as Array<[number, number]>);
    // Computed at each scrape, not on forwarder events: a forwarder stuck on a hung InfluxDB reports nothing.
    o.metrics?.watchInfluxLag(() => this.lag());
  }

  get cursor(): number {
    return this.cursorSeq;
  }

  refusedSeqs(): readonly SeqRange[] {
    return this.refused;
  }

  lastSeq(): number {
    return (this.lastSeqStmt.get() as { seq: number }).seq;
  }

  lag(): number {
    return Math.max(0, this.lastSeq() - this.cursorSeq);
  }

  confirmed(b: ConfirmedBatch): void {
    const { metrics, log, target, writer } = this.o;
    metrics?.influxWriteLatency.observe(b.seconds);
    metrics?.influxPointsWritten.inc(b.written);
    if (b.refused > 0) metrics?.influxPointsRefused.inc(b.refused);
    const refused = b.refusedSeqs?.length ? mergeRanges([...this.refused, ...b.refusedSeqs], MAX_REFUSED_RANGES) : null;
    // A restarted forwarder thread may confirm again what this record already holds: the cursor never goes back.
    if (b.seq > this.cursorSeq || refused) {
      const seq = Math.max(b.seq, this.cursorSeq);
      // Recorded, and not waited for: it rides with the ingest's next group commit. Saves commit in
      // order; a crash before this one commits replays the batch, which is harmless (idempotent points)
      // and refuses its points again. The refused ranges are saved in the cursor's transaction.
      writer.enqueueRecorded(() => {
        this.saveCursor.run(target, seq, (this.o.now ?? Date.now)());
        if (refused) {
          this.clearRefused.run(target);
          for (const [from, to] of refused) this.saveRefused.run(target, from, to);
        }
      }, (err) => {
        if (err) log.warn({ err, target, seq }, 'saving the forwarding cursor failed; a restart replays from the previous one');
      });
      this.cursorSeq = seq;
      if (refused) this.refused = refused;
    }
  }

  failed(): void {
    this.o.metrics?.influxWriteErrors.inc();
  }

  recovered(): void {}
}

/**
 * Sorted, overlapping and adjacent ranges joined, then the closest
 * neighbours merged until at most `max` remain (a merged range covers both,
 * and the gap between them).
 */
export function mergeRanges(ranges: readonly SeqRange[], max: number): SeqRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [from, to] of sorted) {
    const last = merged[merged.length - 1];
    if (last && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else merged.push([from, to]);
  }
  while (merged.length > max) {
    let at = 0;
    for (let i = 1; i < merged.length - 1; i++) if (merged[i + 1]![0] - merged[i]![1] < merged[at + 1]![0] - merged[at]![1]) at = i;
    merged[at]![1] = merged[at + 1]![1];
    merged.splice(at + 1, 1);
  }
  return merged;
}

function savedCursor(db: Db, target: string): number {
  return (db.prepare(CURSOR_OF).get(target) as { seq: number } | undefined)?.seq ?? 0;
}

/** A journal row as `readBatch` returns it (raw mode: an array, in the SELECT's column order; cheaper than an object). */
type Row = [
  seq: number, deviceId: string, readingId: string, homeId: string, residentId: string | null,
  type: JournalReading['type'], ts: number, receivedAt: number, vals: string, tiebreak: number,
];

export class JournalForwarder implements Forwarder {
  private readonly readBatch;
  private readonly lastSeqStmt;
  private readonly batchSize: number;
  private readonly flushMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly random: () => number;
  private cursorSeq: number;
  private loop: Promise<void> | null = null;
  private stopped = false;
  private prepared = false;
  /** The store answered a set-up once: until then the state is `starting`. */
  private answered = false;
  private refused: readonly SeqRange[] = [];
  private failures = 0;
  private pending = 0;
  private wakeUp: (() => void) | null = null;

  constructor(private readonly o: ForwarderOptions) {
    this.batchSize = o.batchSize ?? 5000;
    this.flushMs = o.flushMs ?? 1000;
    this.minBackoffMs = o.minBackoffMs ?? 200;
    this.maxBackoffMs = o.maxBackoffMs ?? 10_000;
    this.random = o.random ?? Math.random;
    // The tiebreak counts earlier readings of the same series in the same millisecond (index
    // readings_resident_type_ts): deterministic, so a replay lands on the same points.
    this.readBatch = o.db.prepare(
      `SELECT r.seq, r.device_id, r.reading_id, r.home_id, r.resident_id, r.type, r.ts, r.received_at, r.vals,
         (SELECT count(*) FROM readings p WHERE p.resident_id IS r.resident_id AND p.type = r.type AND p.ts = r.ts
            AND p.device_id = r.device_id AND p.seq < r.seq) AS tiebreak
       FROM readings r WHERE r.seq > ? ORDER BY r.seq LIMIT ?`,
    ).raw(true);
    this.lastSeqStmt = o.db.prepare(LAST_SEQ);
    this.cursorSeq = o.cursor ?? savedCursor(o.db, o.sink.target);
  }

  get cursor(): number {
    return this.cursorSeq;
  }

  state(): ForwardingState {
    if (this.stopped) return 'stopped';
    if (this.failures > 0) return 'retrying';
    return this.answered ? 'forwarding' : 'starting';
  }

  /** Refused since this forwarder started (the hub keeps them across restarts: ForwardingRecord). */
  refusedSeqs(): readonly SeqRange[] {
    return this.refused;
  }

  lag(): number {
    return Math.max(0, (this.lastSeqStmt.get() as { seq: number }).seq - this.cursorSeq);
  }

  start(): void {
    this.loop ??= this.run();
  }

  notify(n: number): void {
    this.pending += n;
    if (this.pending >= this.batchSize) this.wake();
  }

  async drained(timeoutMs: number): Promise<boolean> {
    const target = (this.lastSeqStmt.get() as { seq: number }).seq;
    const until = Date.now() + timeoutMs;
    while (this.cursorSeq < target) {
      if (Date.now() > until || this.stopped) return false;
      this.wakeIfHealthy();
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  /** Ends the wait for a batch to fill (not a backoff: a failing store is not hurried). */
  wakeIfHealthy(): void {
    if (this.failures === 0) this.wake();
  }

  /** Stops after the write in flight (see Forwarder) and closes the store's client. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopped = true;
    this.wake();
    if (this.loop) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.loop, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    await this.o.sink.close().catch((err: unknown) => this.o.log.warn({ err }, 'closing the time-series client failed'));
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let full: boolean;
      try {
        full = await this.step();
      } catch (err) {
        if (this.stopped) return;
        this.failures += 1;
        this.prepared = false; // set up again on recovery: the database may have been dropped meanwhile
        this.o.outlet.failed();
        const level = this.failures === 1 || this.failures % 20 === 0 ? 'warn' : 'debug';
        this.o.log[level]({ err, target: this.o.sink.target, failures: this.failures, lag: this.lag() }, 'time-series write failed; the journal keeps the readings, retrying');
        await this.sleep(this.backoffMs(), false);
        continue;
      }
      if (!full) await this.sleep(this.flushMs, true);
    }
  }

  /** Sets the store up when needed, then forwards one batch; true when it was full. */
  private async step(): Promise<boolean> {
    if (!this.prepared) {
      await this.o.sink.prepare();
      this.prepared = true;
      this.answered = true;
      this.o.outlet.ready?.();
      this.o.log.info({ target: this.o.sink.target, cursor: this.cursorSeq, lag: this.lag() }, 'time-series store ready; forwarding the journal');
    }
    if (this.stopped) return false;
    const full = await this.forwardOnce();
    if (this.failures > 0) {
      this.o.log.info({ target: this.o.sink.target, failures: this.failures, lag: this.lag() }, 'time-series store reachable again; replaying the journal in order');
      this.o.outlet.recovered();
    }
    this.failures = 0;
    return full;
  }

  /** The batch after the cursor, read while the previous one was being written. */
  private prefetched: { after: number; batch: Promise<JournalReading[]> } | null = null;

  /**
   * Up to `batchSize` readings after `seq`, read and decoded `SLICE` at a time
   * with a turn of the event loop between slices. On the hub's event loop (as
   * it ran before its thread) this let commits and PUBACKs go on: one
   * 5,000-row read held it ~9 ms. In the thread, slices still measured better:
   * reading 5,000 at once gave 0.63 × direct writes against 0.70 × (bench
   * influx), the writes of one slice overlapping the read of the next. Rows a
   * slice does not see yet have higher seqs (one writer appends in seq order),
   * so the batch has no gaps.
   */
  private async readAfter(seq: number): Promise<JournalReading[]> {
    const batch: JournalReading[] = [];
    let after = seq;
    for (;;) {
      const want = Math.min(SLICE, this.batchSize - batch.length);
      const rows = this.readBatch.all(after, want) as Row[];
      for (const row of rows) batch.push(toJournalReading(row));
      if (rows.length < want || batch.length >= this.batchSize || this.stopped) return batch;
      after = batch[batch.length - 1]!.seq;
      await nextTurn();
    }
  }

  /**
   * Writes `batch` as requests of at most `SLICE` points, each built in its own
   * turn of the event loop (a client library serialises a whole request at
   * once: ~30 ms for 5,000 points), all in flight together. Confirmed when
   * every request is; any failure fails the batch, which is written again
   * whole (points are idempotent).
   */
  private async writeSliced(batch: JournalReading[], after: number): Promise<SinkWriteResult & { refusedSeqs: SeqRange[] }> {
    // Settled as they are started: a request that fails while the next is being built is not an unhandled rejection.
    const writes: Array<Promise<{ result?: SinkWriteResult; err?: unknown }>> = [];
    for (let i = 0; i < batch.length; i += SLICE) {
      if (i > 0) await nextTurn();
      writes.push(this.o.sink.write(batch.slice(i, i + SLICE)).then((result) => ({ result }), (err: unknown) => ({ err })));
    }
    const settled = await Promise.all(writes);
    const failed = settled.find((w) => !w.result);
    if (failed) throw failed.err;
    const done = settled.map((w) => w.result!);
    // A request's range starts right after the previous one's last seq (or the cursor): consecutive refused requests join.
    const refusedSeqs: SeqRange[] = [];
    done.forEach((r, k) => {
      if (r.refused > 0) refusedSeqs.push([(k === 0 ? after : batch[k * SLICE - 1]!.seq) + 1, batch[Math.min(batch.length, (k + 1) * SLICE) - 1]!.seq]);
    });
    return { refused: done.reduce((n, r) => n + r.refused, 0), refusal: done.find((r) => r.refusal)?.refusal, refusedSeqs };
  }

  /** Writes the next batch; true when it was full (more may be waiting). */
  private async forwardOnce(): Promise<boolean> {
    const ahead = this.prefetched;
    this.prefetched = null;
    const batch = ahead?.after === this.cursorSeq ? await ahead.batch : await this.readAfter(this.cursorSeq);
    this.pending = 0;
    if (batch.length === 0) return false;
    const last = batch[batch.length - 1]!.seq;
    const started = process.hrtime.bigint();
    const writing = this.writeSliced(batch, this.cursorSeq);
    // While the store works on this batch, read and decode the next one (used only if this one is confirmed).
    if (batch.length === this.batchSize) {
      const next = this.readAfter(last);
      next.catch(() => {}); // a failed read surfaces when the batch is used; unused, it is dropped
      this.prefetched = { after: last, batch: next };
    }
    const result = await writing;
    this.cursorSeq = last;
    const refusedSeqs = result.refusedSeqs.length > 0 ? result.refusedSeqs : undefined;
    if (refusedSeqs) this.refused = mergeRanges([...this.refused, ...refusedSeqs], MAX_REFUSED_RANGES);
    this.o.outlet.confirmed({
      seq: last, written: batch.length - result.refused, refused: result.refused, seconds: Number(process.hrtime.bigint() - started) / 1e9,
      ...(refusedSeqs && { refusedSeqs }),
    });
    if (result.refused > 0) {
      this.o.log.warn({ target: this.o.sink.target, refused: result.refused, reason: result.refusal, seqs: [batch[0]!.seq, last] },
        'the time-series store refused points for good; they stay in the journal');
    }
    return batch.length === this.batchSize;
  }

  /** Exponential with equal jitter: half the step fixed, half random, so retries of many hubs spread out. */
  private backoffMs(): number {
    const step = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.min(this.failures - 1, 30));
    return step / 2 + this.random() * (step / 2);
  }

  /** Waits `ms`; a wakeable wait ends early when a full batch is waiting (never a backoff). */
  private sleep(ms: number, wakeable: boolean): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        if (wakeable || this.stopped) done();
      };
      const done = () => {
        clearTimeout(timer);
        if (this.wakeUp === wake) this.wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = wake;
    });
  }

  private wake(): void {
    this.wakeUp?.();
  }
}

/** Rows read, and points sent in one request, at a time (see readAfter and writeSliced). */
const SLICE = 1000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function toJournalReading([seq, deviceId, id, homeId, residentId, type, ts, receivedAt, vals, tiebreak]: Row): JournalReading {
  return { seq, homeId, deviceId, residentId, id, type, ts, receivedAt, values: JSON.parse(vals) as JournalReading['values'], tiebreak };
}
