/**
 * The live stream's durable event log (SPEC §6). Events are written inside the
 * transaction that makes the change they announce, and handed to listeners only
 * after that transaction commits, so a screen never shows what a crash could
 * take back, and a reconnecting screen can replay everything it missed.
 */
import { PerBatch, type GroupCommit } from '../store/groupCommit.js';
import type { Db } from '../store/sqliteDb.js';

export const STREAM_EVENT_TYPES = ['alert.created', 'alert.updated', 'device.status', 'reading'] as const;
export type StreamEventType = (typeof STREAM_EVENT_TYPES)[number];

export interface StreamEvent {
  seq: number;
  type: StreamEventType;
  at: number;
  /** Scope, for deciding who may see it (not sent). */
  homeId: string | null;
  residentId: string | null;
  data: Record<string, unknown>;
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

export class EventLog {
  private readonly insert;
  private readonly sinceStmt;
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

  constructor(private readonly db: Db, writer: GroupCommit) {
    this.insert = writer.statement('INSERT INTO events (seq, at, type, home_id, resident_id, data) VALUES (?, ?, ?, ?, ?, ?)');
    this.sinceStmt = db.prepare(`
      SELECT * FROM (
        SELECT seq, at, type, home_id, resident_id, data FROM events WHERE seq > @after AND seq <= @upTo ORDER BY seq LIMIT @limit)
      UNION ALL
      SELECT * FROM (
        SELECT stream_seq AS seq, received_at AS at, 'reading' AS type, home_id, resident_id,
          json_object('deviceId', device_id, 'id', reading_id, 'residentId', resident_id, 'homeId', home_id, 'type', type,
            'ts', strftime('%Y-%m-%dT%H:%M:%fZ', ts / 1000.0, 'unixepoch'), 'values', json(vals)) AS data
        FROM readings WHERE stream_seq > @after AND stream_seq <= @upTo ORDER BY stream_seq LIMIT @limit)
      ORDER BY seq LIMIT @limit`);
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
   * event's was).
   */
  since(seq: number, limit: number): StreamEvent[] {
    const rows = this.sinceStmt.all({ after: seq, upTo: this.publishedSeq, limit }) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      seq: r.seq as number,
      type: r.type as StreamEventType,
      at: r.at as number,
      homeId: r.home_id as string | null,
      residentId: r.resident_id as string | null,
      data: JSON.parse(r.data as string) as Record<string, unknown>,
    }));
  }

  /**
   * The highest seq the retention pruning removed (0 if none): a screen that
   * has every event up to a seq below it may have missed one, and must reload
   * its lists. Readings' events are never pruned (the readings are kept).
   */
  prunedThrough(): number {
    return (this.db.prepare('SELECT through_seq AS s FROM stream_pruned WHERE id = 1').get() as { s: number } | undefined)?.s ?? 0;
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
      } catch {
        // A failing screen push must never break the commit path; listeners log their own errors.
      }
    }
  }
}
