/**
 * The live stream's durable event log (SPEC §6). Events are written inside the
 * transaction that makes the change they announce, and handed to listeners only
 * after that transaction commits, so a screen never shows what a crash could
 * take back, and a reconnecting screen can replay everything it missed.
 *
 * A listener that throws on a commit must not break the commit path (the
 * writes are durable, their senders are acknowledged after this), so the error
 * stops here; but the screens behind that listener may then have missed the
 * whole commit, so it is logged, once per commit with its size and seqs, and
 * counted (`anxin_stream_push_failures_total`): it is a bug to page someone
 * about, never a silent loss.
 */
import type { Logger } from 'pino';
import type { HubMetrics } from '../metrics.js';
import { PerBatch, type GroupCommit } from '../store/groupCommit.js';
import type { Db } from '../store/sqliteDb.js';

export const STREAM_EVENT_TYPES = ['alert.created', 'alert.updated', 'device.status', 'reading', 'resident.doctor_changed'] as const;
export type StreamEventType = (typeof STREAM_EVENT_TYPES)[number];

export interface StreamEvent {
  seq: number;
  type: StreamEventType;
  at: number;
  /** Scope, for deciding who may see it (not sent). */
  homeId: string | null;
  residentId: string | null;
  data: Record<string, unknown>;
  /** `data` as JSON, when the event was read back from the log: sent as it is, never parsed for that. */
  readonly dataJson?: string;
}

/**
 * Which `reading` events a read of the log returns (see {@link EventLog.since}):
 * all, none, or those of these residents and of readings in these homes. The
 * others are left in SQLite: a screen that watches one resident does not make
 * the hub read, let alone parse, the whole city's readings.
 */
export type ReadingScope = 'all' | 'none' | { residents: readonly string[]; homes: readonly string[] };

export interface SinceOptions {
  /** Read no further than this seq (default: the latest published). Bounds the rows one read may walk. */
  upTo?: number;
  /** Default 'all'. Events other than readings are always returned. */
  readings?: ReadingScope;
}

/** A stream event whose data is built when first read. */
class LazyEvent<T> implements StreamEvent {
  private built: Record<string, unknown> | undefined;
  constructor(
    readonly seq: number, readonly type: StreamEventType, readonly at: number,
    readonly homeId: string | null, readonly residentId: string | null,
    private readonly build: (source: T) => Record<string, unknown>, private readonly source: T,
  ) {}

  get data(): Record<string, unknown> {
    return (this.built ??= this.build(this.source));
  }
}

/** An event read back from the log: its data stays JSON until someone asks for it. */
class StoredEvent implements StreamEvent {
  private parsed: Record<string, unknown> | undefined;
  constructor(
    readonly seq: number, readonly type: StreamEventType, readonly at: number,
    readonly homeId: string | null, readonly residentId: string | null, readonly dataJson: string,
  ) {}

  get data(): Record<string, unknown> {
    return (this.parsed ??= JSON.parse(this.dataJson) as Record<string, unknown>);
  }
}

/** Where {@link EventLog} reports a listener that failed on a commit; both optional (tools run without them). */
export interface EventLogOptions {
  log?: Logger;
  metrics?: Pick<HubMetrics, 'streamPushFailures'>;
}

/** The `reading` events of the readings themselves, as EventLog.since reads them (their JSON built as the live event's was). */
const READING_EVENTS = `SELECT stream_seq AS seq, received_at AS at, 'reading' AS type, home_id, resident_id,
          json_object('deviceId', device_id, 'id', reading_id, 'residentId', resident_id, 'homeId', home_id, 'type', type,
            'ts', strftime('%Y-%m-%dT%H:%M:%fZ', ts / 1000.0, 'unixepoch'), 'values', json(vals)) AS data
        FROM readings WHERE stream_seq > @after AND stream_seq <= @upTo`;
/** A reading in the scope given as two JSON arrays of ids (one statement whatever their lengths). */
const IN_SCOPE = `(resident_id IN (SELECT value FROM json_each(@residents)) OR home_id IN (SELECT value FROM json_each(@homes)))`;

export class EventLog {
  private readonly insert;
  /** The since statements by reading scope: every reading, those in a scope, none. */
  private readonly sinceAll;
  private readonly sinceScoped;
  private readonly sinceNoReadings;
  private readonly prunedStmt;
  private readonly log: Logger | undefined;
  private readonly metrics: EventLogOptions['metrics'];
  /** Events of each open batch, pushed to listeners when it commits. */
  private readonly pending = new PerBatch<StreamEvent>();
  private readonly listeners: Array<(events: StreamEvent[]) => void> = [];
  /**
   * The last seq handed out. Seqs are numbered here, not by SQLite, so a
   * recorded job (written later by the writer thread) knows its events' seqs;
   * this process is the file's only writer of events. A job that fails leaves
   * a gap, which a resuming client does not notice (it asks for seq > last).
   */
  private lastSeq: number;
  /**
   * The last seq handed to listeners. The writer thread commits a batch a
   * moment before this process hears of it; until then its events are in the
   * file but not yet pushed, so reads stop here and each event reaches a
   * screen exactly once, by replay or live.
   */
  private publishedSeq: number;

  constructor(private readonly db: Db, writer: GroupCommit, opts: EventLogOptions = {}) {
    this.log = opts.log;
    this.metrics = opts.metrics;
    this.insert = writer.statement('INSERT INTO events (seq, at, type, home_id, resident_id, data) VALUES (?, ?, ?, ?, ?, ?)');
    // Readings journaled under migration 7 have a copy of their event in events (type 'reading'): scoped like the others.
    const merged = (eventsWhere: string, readingsWhere: string | null) => db.prepare(`
      SELECT * FROM (
        SELECT seq, at, type, home_id, resident_id, data FROM events WHERE seq > @after AND seq <= @upTo${eventsWhere} ORDER BY seq LIMIT @limit)
      ${readingsWhere === null ? '' : `UNION ALL
      SELECT * FROM (${READING_EVENTS}${readingsWhere} ORDER BY stream_seq LIMIT @limit)`}
      ORDER BY seq LIMIT @limit`);
    this.sinceAll = merged('', '');
    this.sinceScoped = merged(` AND (type != 'reading' OR ${IN_SCOPE})`, ` AND ${IN_SCOPE}`);
    this.sinceNoReadings = merged(" AND type != 'reading'", null);
    this.prunedStmt = db.prepare('SELECT through_seq AS s FROM stream_pruned WHERE id = 1');
    const maxOf = (sql: string) => (db.prepare(sql).get() as { s: number | null }).s ?? 0;
    this.lastSeq = Math.max(maxOf('SELECT max(seq) AS s FROM events'), maxOf('SELECT max(stream_seq) AS s FROM readings WHERE stream_seq IS NOT NULL'));
    this.publishedSeq = this.lastSeq;
    writer.addHooks({
      begin: () => this.pending.begin(),
      committed: () => this.flush(this.pending.settle()),
      rolledBack: () => void this.pending.settle(),
      mark: () => this.pending.mark(),
      discard: (from, to) => this.pending.discardOldest(from, to),
    });
  }

  /**
   * Numbers an event that has no row of its own (a reading's: the reading
   * carries the seq, see since), and queues it for listeners. Its data is
   * built from `source` only if a listener reads it (no screen connected, no
   * cost): `build` must be pure.
   */
  reserve<T>(type: StreamEventType, at: number, scope: { homeId: string | null; residentId: string | null }, build: (source: T) => Record<string, unknown>, source: T): number {
    const seq = ++this.lastSeq;
    this.pending.current.push(new LazyEvent(seq, type, at, scope.homeId, scope.residentId, build, source));
    return seq;
  }

  /** Appends an event; call only inside a group-commit job. */
  append(type: StreamEventType, at: number, scope: { homeId: string | null; residentId: string | null }, data: Record<string, unknown>): void {
    const seq = ++this.lastSeq;
    this.insert.run(seq, at, type, scope.homeId, scope.residentId, JSON.stringify(data));
    this.pending.current.push({ seq, type, at, homeId: scope.homeId, residentId: scope.residentId, data });
  }

  /** A point to roll back to when a savepoint inside the transaction fails. */
  mark(): number {
    return this.pending.mark();
  }

  rollbackTo(mark: number): void {
    this.pending.truncate(mark);
  }

  onCommitted(listener: (events: StreamEvent[]) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Published events after `seq`, oldest first, at most `limit`: the events
   * table's, merged with the `reading` events, which are the readings
   * themselves (numbered by stream_seq; their JSON built here as the live
   * event's was). Only the readings in `opts.readings` leave SQLite, and no
   * event's data is parsed unless read (`dataJson` is what a screen is sent).
   *
   * With `opts.upTo` a read walks at most the rows numbered up to it, whatever
   * the scope matches: a full page (`limit` events) means there may be more
   * before `upTo`, a shorter one that there is none.
   */
  since(seq: number, limit: number, opts: SinceOptions = {}): StreamEvent[] {
    const upTo = Math.min(opts.upTo ?? this.publishedSeq, this.publishedSeq);
    const scope = opts.readings ?? 'all';
    const params = { after: seq, upTo, limit };
    const rows = (scope === 'all' ? this.sinceAll.all(params)
      : scope === 'none' ? this.sinceNoReadings.all(params)
        : this.sinceScoped.all({ ...params, residents: JSON.stringify(scope.residents), homes: JSON.stringify(scope.homes) })) as Array<Record<string, unknown>>;
    return rows.map((r) => new StoredEvent(r.seq as number, r.type as StreamEventType, r.at as number, r.home_id as string | null, r.resident_id as string | null, r.data as string));
  }

  /**
   * The highest seq the retention pruning removed (0 if none): a screen that
   * has every event up to a seq below it may have missed one, and must reload
   * its lists. Readings' events are never pruned (the readings are kept).
   */
  prunedThrough(): number {
    return (this.prunedStmt.get() as { s: number } | undefined)?.s ?? 0;
  }

  /** The seq of the latest event handed to listeners (a screen that has it has everything). */
  latestSeq(): number {
    return this.publishedSeq;
  }

  /** Drops events older than `before` (epoch ms), keeping the retention promised to clients. Call inside a group-commit job. */
  prune(before: number): number {
    const through = (this.db.prepare('SELECT max(seq) AS s FROM events WHERE at < ?').get(before) as { s: number | null }).s;
    if (through === null) return 0;
    this.db.prepare('UPDATE stream_pruned SET through_seq = max(through_seq, ?) WHERE id = 1').run(through);
    return this.db.prepare('DELETE FROM events WHERE at < ?').run(before).changes;
  }

  private flush(events: StreamEvent[]): void {
    if (events.length === 0) return;
    this.publishedSeq = events[events.length - 1]!.seq;
    for (const l of this.listeners) {
      try {
        l(events);
      } catch (err) {
        // Never break the commit path (see the top of this file); but say so, once for the whole commit.
        this.metrics?.streamPushFailures.inc();
        this.log?.error({ err, events: events.length, firstSeq: events[0]!.seq, lastSeq: this.publishedSeq },
          'pushing a commit\'s events to the live stream failed: screens may have missed them');
      }
    }
  }
}
