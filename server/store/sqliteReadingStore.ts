/** Readings in the embedded SQLite file, written through the group commit. */
import type { Reading } from '../../devices/validateReading.js';
import { PerBatch, type GroupCommit } from './groupCommit.js';
import type { SeqRange } from './journalForwarder.js';
import type { Db } from './sqliteDb.js';
import {
  AGGREGATED_VALUES, type ReadingQuery, type ReadingQueryStore, type ReadingStore, type ReadingWindow, type ReadingWindowQuery, type StoredReading,
} from './types.js';

interface Row {
  device_id: string;
  reading_id: string;
  home_id: string;
  resident_id: string | null;
  type: StoredReading['type'];
  ts: number;
  received_at: number;
  vals: string;
}

/** How the ingest journals a reading (bench/journalCost.ts measures it too). */
export const INSERT_READING = `INSERT INTO readings (device_id, reading_id, home_id, resident_id, type, ts, received_at, vals, stream_seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, reading_id) DO NOTHING`;

/** Runs inside the (recorded) job that stores readings, with the ones that were new. */
export type StoredListener = (stored: Reading[]) => void;

export class SqliteReadingStore implements ReadingStore, ReadingQueryStore {
  private readonly insert;
  private readonly exists;
  private readonly listeners: StoredListener[] = [];
  private readonly journaledListeners: Array<(n: number) => void> = [];
  private streamSeq: (r: Reading, vals: string) => number | null = () => null;
  /** Dedupe keys of the batches being written: the store has them only once each commits. */
  private readonly inFlightKeys = new Set<string>();
  private readonly batchKeys = new PerBatch<string>();

  constructor(private readonly db: Db, private readonly writer: GroupCommit) {
    // The conflict clause is a second guard; the check below already found these readings new.
    this.insert = writer.statement(INSERT_READING);
    this.exists = db.prepare<[string, string], number>('SELECT 1 FROM readings WHERE device_id = ? AND reading_id = ?').pluck();
    const settle = () => {
      const keys = this.batchKeys.settle();
      for (const k of keys) this.inFlightKeys.delete(k);
      return keys.length;
    };
    writer.addHooks({
      begin: () => this.batchKeys.begin(),
      committed: () => {
        const n = settle();
        if (n > 0) for (const l of this.journaledListeners) l(n);
      },
      rolledBack: () => void settle(),
    });
  }

  /**
   * Work that must commit atomically with the readings (the rules engine: a
   * stored reading and the alert it raises are durable together).
   */
  onStored(listener: StoredListener): void {
    this.listeners.push(listener);
  }

  /**
   * Gives each new reading a live-stream event: `seq` numbers it (or answers
   * null: not streamed), and the reading keeps that number (stream_seq), from
   * which the stream replays it (EventLog.since).
   */
  streamWith(seq: (r: Reading, vals: string) => number | null): void {
    this.streamSeq = seq;
  }

  /** Called after each commit with how many new readings it journaled (the time-series forwarder). */
  onJournaled(listener: (n: number) => void): void {
    this.journaledListeners.push(listener);
  }

  /**
   * Stores the readings that are new (by device and reading id) and answers,
   * per reading, whether it was. A recorded job: whether a reading is new is
   * known before the write (the store holds every committed batch;
   * `inFlightKeys` the others), so the rules can judge it in the same batch.
   */
  append(readings: readonly Reading[], done: (err: Error | null, stored?: boolean[]) => void): void {
    this.writer.enqueueRecorded(() => {
      const flags: boolean[] = [];
      const stored: Reading[] = [];
      const keys = this.batchKeys.current;
      for (const r of readings) {
        const key = `${r.deviceId}\n${r.id}`;
        if (this.inFlightKeys.has(key) || this.exists.get(r.deviceId, r.id) !== undefined) {
          flags.push(false);
          continue;
        }
        const vals = JSON.stringify(r.values);
        this.insert.run(r.deviceId, r.id, r.homeId, r.residentId, r.type, r.ts, r.receivedAt, vals, this.streamSeq(r, vals));
        this.inFlightKeys.add(key);
        keys.push(key);
        flags.push(true);
        stored.push(r);
      }
      if (stored.length > 0) for (const l of this.listeners) l(stored);
      return flags;
    }, done, readings.length);
  }

  async query(q: ReadingQuery): Promise<StoredReading[]> {
    return this.select(q);
  }

  /** Readings journaled after `seq` (those a time-series store has not confirmed yet). */
  queryAfter(seq: number, q: ReadingQuery): StoredReading[] {
    return this.select(q, seq);
  }

  async aggregate(q: ReadingWindowQuery): Promise<ReadingWindow[]> {
    const fields = AGGREGATED_VALUES[q.type];
    // Field names come from the constant list above, never from a request.
    const stats = fields.flatMap((f, i) => ['min', 'avg', 'max'].map((fn) => `${fn}(json_extract(vals, '$.${f}')) AS f${i}_${fn}`));
    const rows = this.db.prepare(
      `SELECT ts - ts % @every AS start, count(*) AS count${stats.map((s) => `, ${s}`).join('')}
       FROM readings WHERE resident_id = @residentId AND type = @type AND ts >= @from AND ts <= @to
       GROUP BY start ORDER BY start`,
    ).all({ residentId: q.residentId, type: q.type, from: q.from, to: q.to, every: q.everyMs }) as Array<Record<string, number | null>>;
    return rows.map((r) => {
      const values: ReadingWindow['values'] = {};
      fields.forEach((f, i) => {
        const [min, mean, max] = [r[`f${i}_min`], r[`f${i}_avg`], r[`f${i}_max`]];
        if (typeof min === 'number' && typeof mean === 'number' && typeof max === 'number') values[f] = { min, mean, max };
      });
      return { start: r.start!, count: r.count!, values };
    });
  }

  /**
   * Readings of `q` whose seq is in any of these ranges (both ends included): those a
   * time-series store refused (ForwardedReadingQueries). Seqs come from the store itself.
   */
  queryInSeqRanges(ranges: readonly SeqRange[], q: ReadingQuery): StoredReading[] {
    if (ranges.length === 0) return [];
    return this.select(q, undefined, seqRanges(ranges));
  }

  /** Whether a reading of the window query has a seq after `afterSeq` or in `ranges` (one covering-index probe). */
  hasReadingAfter(q: ReadingWindowQuery, afterSeq: number, ranges: readonly SeqRange[]): boolean {
    const row = this.db.prepare(
      `SELECT 1 FROM readings WHERE resident_id = @residentId AND type = @type AND ts >= @from AND ts <= @to
         AND (seq > @afterSeq${ranges.length > 0 ? ` OR ${seqRanges(ranges)}` : ''}) LIMIT 1`,
    ).get({ residentId: q.residentId, type: q.type, from: q.from, to: q.to, afterSeq });
    return row !== undefined;
  }

  private select(q: ReadingQuery, afterSeq?: number, seqCondition?: string): StoredReading[] {
    const where = ['resident_id = @residentId'];
    if (q.type) where.push('type = @type');
    if (q.from !== undefined) where.push('ts >= @from');
    if (q.to !== undefined) where.push('ts <= @to');
    if (afterSeq !== undefined) where.push('seq > @afterSeq');
    if (seqCondition) where.push(`(${seqCondition})`);
    const rows = this.db
      .prepare(`SELECT * FROM readings WHERE ${where.join(' AND ')} ORDER BY ts, seq LIMIT @limit`)
      .all({ ...q, afterSeq, limit: q.limit ?? 10_000 }) as Row[];
    return rows.map((r) => ({
      deviceId: r.device_id,
      id: r.reading_id,
      homeId: r.home_id,
      residentId: r.resident_id,
      type: r.type,
      ts: r.ts,
      receivedAt: r.received_at,
      values: JSON.parse(r.vals) as StoredReading['values'],
    }));
  }
}

/** `seq BETWEEN a AND b OR …`: seqs come from the store itself, never from a request. */
function seqRanges(ranges: readonly SeqRange[]): string {
  return ranges.map(([from, to]) => `seq BETWEEN ${Math.trunc(from)} AND ${Math.trunc(to)}`).join(' OR ');
}
