/**
 * The live stream's durable event log (SPEC §6). Events are written inside the
 * transaction that makes the change they announce, and handed to listeners only
 * after that transaction commits, so a screen never shows what a crash could
 * take back, and a reconnecting screen can replay everything it missed.
 */
import type { GroupCommit } from '../store/groupCommit.js';
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

export class EventLog {
  private readonly insert;
  private pending: StreamEvent[] = [];
  private readonly listeners: Array<(events: StreamEvent[]) => void> = [];

  constructor(private readonly db: Db, writer: GroupCommit) {
    this.insert = db.prepare('INSERT INTO events (at, type, home_id, resident_id, data) VALUES (?, ?, ?, ?, ?)');
    writer.addHooks({
      committed: () => this.flush(),
      rolledBack: () => (this.pending = []),
    });
  }

  /** Appends an event; call only inside a group-commit job. */
  append(type: StreamEventType, at: number, scope: { homeId: string | null; residentId: string | null }, data: Record<string, unknown>): void {
    const info = this.insert.run(at, type, scope.homeId, scope.residentId, JSON.stringify(data));
    this.pending.push({ seq: Number(info.lastInsertRowid), type, at, homeId: scope.homeId, residentId: scope.residentId, data });
  }

  /** A point to roll back to when a savepoint inside the transaction fails. */
  mark(): number {
    return this.pending.length;
  }

  rollbackTo(mark: number): void {
    this.pending.length = mark;
  }

  onCommitted(listener: (events: StreamEvent[]) => void): void {
    this.listeners.push(listener);
  }

  /** Events after `seq`, oldest first, at most `limit`. */
  since(seq: number, limit: number): StreamEvent[] {
    const rows = this.db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?').all(seq, limit) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      seq: r.seq as number,
      type: r.type as StreamEventType,
      at: r.at as number,
      homeId: r.home_id as string | null,
      residentId: r.resident_id as string | null,
      data: JSON.parse(r.data as string) as Record<string, unknown>,
    }));
  }

  oldestSeq(): number | null {
    return (this.db.prepare('SELECT min(seq) AS s FROM events').get() as { s: number | null }).s;
  }

  latestSeq(): number {
    return (this.db.prepare('SELECT max(seq) AS s FROM events').get() as { s: number | null }).s ?? 0;
  }

  /** Drops events older than `before` (epoch ms), keeping the retention promised to clients. */
  prune(before: number): number {
    return this.db.prepare('DELETE FROM events WHERE at < ?').run(before).changes;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    for (const l of this.listeners) {
      try {
        l(events);
      } catch {
        // A failing screen push must never break the commit path; listeners log their own errors.
      }
    }
  }
}
