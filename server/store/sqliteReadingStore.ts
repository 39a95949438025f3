/** Readings in the embedded SQLite file, written through the group commit. */
import type { Reading } from '../../devices/validateReading.js';
import type { GroupCommit } from './groupCommit.js';
import type { Db } from './sqliteDb.js';
import type { ReadingQuery, ReadingStore, StoredReading } from './types.js';

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

/** Runs inside the transaction that stores readings, with the ones that were new. */
export type StoredListener = (stored: Reading[]) => void;

export class SqliteReadingStore implements ReadingStore {
  private readonly insert;
  private readonly listeners: StoredListener[] = [];

  constructor(private readonly db: Db, private readonly writer: GroupCommit) {
    this.insert = db.prepare(
      `INSERT INTO readings (device_id, reading_id, home_id, resident_id, type, ts, received_at, vals)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, reading_id) DO NOTHING`,
    );
  }

  /**
   * Work that must commit atomically with the readings (the rules engine: a
   * stored reading and the alert it raises are durable together).
   */
  onStored(listener: StoredListener): void {
    this.listeners.push(listener);
  }

  append(readings: readonly Reading[], done: (err: Error | null, stored?: boolean[]) => void): void {
    this.writer.enqueue(() => {
      const flags = readings.map((r) =>
        this.insert.run(r.deviceId, r.id, r.homeId, r.residentId, r.type, r.ts, r.receivedAt, JSON.stringify(r.values)).changes === 1);
      if (this.listeners.length > 0) {
        const stored = readings.filter((_, i) => flags[i]);
        if (stored.length > 0) for (const l of this.listeners) l(stored);
      }
      return flags;
    }, done);
  }

  async query(q: ReadingQuery): Promise<StoredReading[]> {
    const where = ['resident_id = @residentId'];
    if (q.type) where.push('type = @type');
    if (q.from !== undefined) where.push('ts >= @from');
    if (q.to !== undefined) where.push('ts <= @to');
    const rows = this.db
      .prepare(`SELECT * FROM readings WHERE ${where.join(' AND ')} ORDER BY ts, seq LIMIT @limit`)
      .all({ ...q, limit: q.limit ?? 10_000 }) as Row[];
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
