/**
 * Opt-in retention of the readings journal (README "Journal retention").
 * Without it the journal keeps every reading forever: it is the dedupe key
 * store of SPEC §3, and in a city nearly all of it is heartbeats
 * (docs/scaling.md). Two policies, each off unless configured:
 *
 * - `heartbeat` (ANXIN_HEARTBEAT_RETENTION_DAYS, at least 7): heartbeats the
 *   hub received more than that many days ago. Nothing judges a heartbeat
 *   from the journal after it arrived (device_offline and the dashboards'
 *   device status read `client_status`, battery_low judges it on arrival);
 *   the floor covers a gateway back from a week offline resending what it
 *   had no PUBACK for, which would otherwise be stored twice.
 * - `readings` (ANXIN_READING_RETENTION_DAYS, at least 366): every reading
 *   received more than that many days ago. Its `ts` was then at most 5
 *   minutes after it arrived, so it is now more than 365 days old and a
 *   resend is refused as too old (SPEC §3): no duplicate can be stored.
 *
 * What is never pruned: a row InfluxDB has not confirmed, or whose points it
 * refused (the readings API reads those from the journal; ForwardingRecord);
 * a resident's newest reading of each type (the resident card's latest
 * values, the hand-off's vitals, the watchdog's start-up read it); the
 * journal's newest row (readings.seq has no AUTOINCREMENT: deleting the
 * highest would let the next reading reuse its seq, which the forwarder's
 * cursor and this walk would skip); the newest row holding a live-stream
 * seq (EventLog numbers events on from the highest it finds); a reading an
 * unresolved alert links to (its detail and the hand-off show them: an info
 * alert such as battery_low may stay open past a heartbeat retention). Pruning a row
 * that carries a stream seq raises `stream_pruned`, so a screen resuming
 * from before it is told to reload its lists instead of missing it.
 *
 * Each policy walks the journal by `seq` from a saved cursor, in chunks: a
 * chunk is one recorded group-commit job (the writer thread deletes by
 * primary key in the ingest's own transaction, so pruning never contends
 * for the write lock), and the next waits until it committed and a pause
 * went by. The walk stops at the first row received within the retention,
 * or at the first InfluxDB has not confirmed, and resumes there: a pass reads
 * only rows it has not judged before. Rows it keeps for the reasons above are
 * not looked at again (at most one per resident and reading type per silence
 * longer than the retention, the refused ranges, and the readings of alerts
 * still open when the walk passed them). No index is added to
 * `readings`: every index costs the ingest (`npm run bench -- journal`).
 * 500 rows a chunk, 20 ms apart: 1,000 pruned faster but cost the ingest
 * more than the noise at saturation and added to the PUBACK p99 at 5,000
 * readings/s; 250 halved the rate for nothing measurable (docs/scaling.md).
 *
 * The cursor is saved in `journal_retention` (one row per policy), in the
 * same transaction as the chunk's deletions. SQLite reuses the freed pages (freelist), so the file
 * stops growing rather than shrinks; VACUUM, which shrinks it, rewrites the
 * whole file and is an offline operation.
 */
import type { Logger } from 'pino';
import type { HubMetrics } from '../metrics.js';
import type { ForwardingProgress } from './forwardedReadingQueries.js';
import type { GroupCommit } from './groupCommit.js';
import type { SeqRange } from './journalForwarder.js';
import type { Db } from './sqliteDb.js';

const DAY_MS = 86_400_000;

/** The settings of server/config.ts this module reads. */
export interface RetentionSettings {
  heartbeatRetentionDays?: number;
  readingRetentionDays?: number;
}

export const MIN_HEARTBEAT_RETENTION_DAYS = 7;
export const MIN_READING_RETENTION_DAYS = 366;

/** One line per bad setting, naming its variable (loadConfig joins them). */
export function retentionProblems(c: RetentionSettings): string[] {
  const problems: string[] = [];
  if (c.heartbeatRetentionDays !== undefined && c.heartbeatRetentionDays < MIN_HEARTBEAT_RETENTION_DAYS) {
    problems.push(`ANXIN_HEARTBEAT_RETENTION_DAYS must be at least ${MIN_HEARTBEAT_RETENTION_DAYS}: `
      + 'a gateway back from a week offline resends heartbeats it had no PUBACK for, and they must still be duplicates');
  }
  if (c.readingRetentionDays !== undefined && c.readingRetentionDays < MIN_READING_RETENTION_DAYS) {
    problems.push(`ANXIN_READING_RETENTION_DAYS must be at least ${MIN_READING_RETENTION_DAYS}: `
      + 'a reading up to 365 days old is still accepted, and its row is what makes a resend a duplicate');
  }
  return problems;
}

export type RetentionPolicyName = 'heartbeat' | 'readings';

export interface JournalRetentionOptions extends RetentionSettings {
  /** The hub's connection: the walk reads the journal here, while recording its job. */
  db: Db;
  writer: GroupCommit;
  log: Logger;
  metrics?: HubMetrics;
  now: () => number;
  /** InfluxDB's progress when it is configured: nothing after its cursor, nor in its refused ranges, is pruned. */
  forwarding?: ForwardingProgress | null;
  /** Rows judged per chunk (default 500). */
  chunkRows?: number;
  /** Pause between chunks, ms (default 20). */
  pauseMs?: number;
  /** Between passes, ms (default 10 minutes); the first runs `firstPassMs` after start (default 1 minute). */
  intervalMs?: number;
  firstPassMs?: number;
}

/** What one pass of one policy did. */
export interface PassResult {
  policy: RetentionPolicyName;
  /** Rows judged (the walk moved past them) and rows deleted. */
  judged: number;
  pruned: number;
  chunks: number;
  /** The walk's saved position: every row up to it has been judged. */
  cursor: number;
  /** Old rows wait after the cursor because InfluxDB has not confirmed them yet. */
  waitingForInflux: boolean;
}

interface Policy {
  name: RetentionPolicyName;
  days: number;
  /** Only heartbeats, or every type. */
  heartbeatsOnly: boolean;
  cursor: number;
}

interface ChunkResult {
  judged: number;
  pruned: number;
  cursor: number;
  /** Nothing old is left to judge now (the walk reached recent rows, the journal's end or InfluxDB's cursor). */
  done: boolean;
  waitingForInflux: boolean;
}

type Row = [seq: number, type: string, residentId: string | null, ts: number, receivedAt: number, streamSeq: number | null, deviceId: string, readingId: string];


export class JournalRetention {
  private readonly policies: Policy[] = [];
  private readonly chunkRows: number;
  private readonly pauseMs: number;
  private readonly rowsAfter;
  private readonly linkedToOpenAlerts;
  private readonly maxSeq;
  private readonly maxStreamSeq;
  private readonly newestOfKind;
  private readonly receivedAfter;
  private readonly oldestRow;
  private readonly deleteRow;
  private readonly saveCursor;
  private readonly raiseStreamPruned;
  private running: Promise<PassResult[]> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly o: JournalRetentionOptions) {
    this.chunkRows = o.chunkRows ?? 500;
    this.pauseMs = o.pauseMs ?? 20;
    const saved = o.db.prepare<[string], number>('SELECT seq FROM journal_retention WHERE policy = ?').pluck();
    const add = (name: RetentionPolicyName, days: number | undefined, heartbeatsOnly: boolean) => {
      if (days !== undefined) this.policies.push({ name, days, heartbeatsOnly, cursor: saved.get(name) ?? 0 });
    };
    add('heartbeat', o.heartbeatRetentionDays, true);
    add('readings', o.readingRetentionDays, false);
    this.rowsAfter = o.db.prepare('SELECT seq, type, resident_id, ts, received_at, stream_seq, device_id, reading_id FROM readings WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?').raw(true);
    // Few: the readings of the alerts not resolved yet (alert_readings' key starts with the alert id).
    this.linkedToOpenAlerts = o.db.prepare<[], [string, string]>(
      "SELECT device_id, reading_id FROM alert_readings WHERE alert_id IN (SELECT id FROM alerts WHERE state <> 'resolved')",
    ).raw(true);
    this.maxSeq = o.db.prepare<[], number | null>('SELECT max(seq) FROM readings').pluck();
    // Both on indexes: the partial readings_stream_seq, and readings_resident_type_ts.
    this.maxStreamSeq = o.db.prepare<[], number | null>('SELECT max(stream_seq) FROM readings WHERE stream_seq IS NOT NULL').pluck();
    this.newestOfKind = o.db.prepare<[string, string], number | null>('SELECT max(ts) FROM readings WHERE resident_id = ? AND type = ?').pluck();
    this.receivedAfter = o.db.prepare<[number], number | undefined>('SELECT received_at FROM readings WHERE seq > ? ORDER BY seq LIMIT 1').pluck();
    this.oldestRow = o.db.prepare<[], number | undefined>('SELECT received_at FROM readings ORDER BY seq LIMIT 1').pluck();
    this.deleteRow = o.writer.statement('DELETE FROM readings WHERE seq = ?');
    this.saveCursor = o.writer.statement(
      `INSERT INTO journal_retention (policy, seq, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (policy) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at`,
    );
    this.raiseStreamPruned = o.writer.statement('UPDATE stream_pruned SET through_seq = max(through_seq, ?) WHERE id = 1');
    if (this.policies.length > 0) o.metrics?.watchJournalRetention(() => this.positions());
  }

  /** Whether any policy is configured. */
  get enabled(): boolean {
    return this.policies.length > 0;
  }

  /** Runs a pass `firstPassMs` after this call, then every `intervalMs`; nothing when no policy is configured. */
  start(): void {
    if (!this.enabled || this.stopped) return;
    const next = (ms: number) => {
      this.timer = setTimeout(() => {
        this.pass().catch((err: unknown) => this.o.log.error({ err }, 'journal retention pass failed'))
          .finally(() => { if (!this.stopped) next(this.o.intervalMs ?? 600_000); });
      }, ms).unref();
    };
    next(this.o.firstPassMs ?? 60_000);
  }

  /** No further passes; waits for the chunk in flight (the pass ends after it). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => {});
  }

  /**
   * One pass of every policy, as of the clock's now; a call while a pass
   * runs gets that pass. Resolves when it is over (each chunk committed).
   */
  pass(): Promise<PassResult[]> {
    this.running ??= (async () => {
      try {
        const results: PassResult[] = [];
        for (const p of this.policies) results.push(await this.passOf(p));
        return results;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async passOf(p: Policy): Promise<PassResult> {
    const started = process.hrtime.bigint();
    const result: PassResult = { policy: p.name, judged: 0, pruned: 0, chunks: 0, cursor: p.cursor, waitingForInflux: false };
    while (!this.stopped) {
      const c = await this.o.writer.runRecorded(() => this.chunk(p));
      // Committed: the saved cursor and the deletions are durable together.
      p.cursor = c.cursor;
      result.chunks += 1;
      result.judged += c.judged;
      result.pruned += c.pruned;
      result.cursor = c.cursor;
      result.waitingForInflux = c.waitingForInflux;
      if (c.pruned > 0) this.o.metrics?.journalRowsPruned.inc({ policy: p.name }, c.pruned);
      if (c.done) break;
      await new Promise((resolve) => setTimeout(resolve, this.pauseMs));
    }
    if (result.pruned > 0 || result.waitingForInflux) {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.o.log.info({ ...result, days: p.days, seconds: Math.round(seconds * 1000) / 1000 },
        result.waitingForInflux ? 'journal retention: old rows wait for InfluxDB to confirm them' : 'journal retention: pruned old rows');
    }
    return result;
  }

  /**
   * A recorded job: judges up to `chunkRows` rows after the cursor on the
   * batch's read snapshot, and records their deletions and the new cursor.
   */
  private chunk(p: Policy): ChunkResult {
    const now = this.o.now();
    const horizon = now - p.days * DAY_MS;
    const last = this.maxSeq.get() ?? 0;
    const confirmed = this.o.forwarding?.cursor ?? Infinity;
    const refused = this.o.forwarding?.refusedSeqs() ?? [];
    // Never the newest row (its seq would be reused), never one InfluxDB has not confirmed.
    const limit = Math.min(last - 1, confirmed);
    const streamMax = this.maxStreamSeq.get() ?? 0;
    const newest = new Map<string, number>();
    let cursor = p.cursor;
    let judged = 0;
    let pruned = 0;
    let streamThrough = 0;
    let reachedRecent = false;
    let linked: Set<string> | undefined;
    for (const [seq, type, residentId, ts, receivedAt, streamSeq, deviceId, readingId] of this.rowsAfter.iterate(p.cursor, limit, this.chunkRows) as IterableIterator<Row>) {
      if (receivedAt >= horizon) {
        reachedRecent = true;
        break;
      }
      cursor = seq;
      judged += 1;
      if (p.heartbeatsOnly && type !== 'heartbeat') continue;
      if (refused.length > 0 && inRanges(seq, refused)) continue;
      if (streamSeq !== null && streamSeq >= streamMax) continue;
      linked ??= new Set(this.linkedToOpenAlerts.all().map(([device, reading]) => `${device}\n${reading}`));
      if (linked.has(`${deviceId}\n${readingId}`)) continue;
      if (residentId !== null) {
        const key = `${residentId}\n${type}`;
        let newestTs = newest.get(key);
        if (newestTs === undefined) newest.set(key, (newestTs = this.newestOfKind.get(residentId, type) ?? 0));
        if (ts >= newestTs) continue;
      }
      this.deleteRow.run(seq);
      pruned += 1;
      if (streamSeq !== null) streamThrough = Math.max(streamThrough, streamSeq);
    }
    if (streamThrough > 0) this.raiseStreamPruned.run(streamThrough);
    if (cursor > p.cursor) this.saveCursor.run(p.name, cursor, now);
    const atLimit = !reachedRecent && judged < this.chunkRows;
    // Stopped at InfluxDB's cursor with an old row right after it.
    const waitingForInflux = atLimit && confirmed < last - 1 && (this.receivedAfter.get(confirmed) ?? Infinity) < horizon;
    return { judged, pruned, cursor, done: reachedRecent || atLimit, waitingForInflux };
  }

  /** Per policy, how far its walk is behind its retention (0 when caught up); and the oldest row's arrival. */
  private positions(): { behind: Array<{ policy: RetentionPolicyName; seconds: number }>; oldestReceivedAt: number | null } {
    const now = this.o.now();
    const behind = this.policies.map((p) => {
      const next = this.receivedAfter.get(p.cursor);
      const horizon = now - p.days * DAY_MS;
      return { policy: p.name, seconds: next === undefined ? 0 : Math.max(0, (horizon - next) / 1000) };
    });
    return { behind, oldestReceivedAt: this.oldestRow.get() ?? null };
  }
}

function inRanges(seq: number, ranges: readonly SeqRange[]): boolean {
  for (const [from, to] of ranges) if (seq >= from && seq <= to) return true;
  return false;
}
