/**
 * The gateway's store-and-forward queue (SPEC §8): every accepted reading sits
 * here, on disk, until the hub's PUBACK for the publish that carried it.
 *
 * - Durable: SQLite in WAL mode with `synchronous = FULL`, like the hub, so a
 *   committed reading survives a kill -9 and a power cut. An input is told
 *   "ok" only after the commit.
 * - Ordered: entries leave in the order they came (`seq`, AUTOINCREMENT so a
 *   sequence number is never reused).
 * - Bounded: beyond `maxReadings` the oldest readings are dropped, counted and
 *   reported, but never a fall or an SOS: a queue of nothing but emergencies may
 *   grow past the bound rather than lose one.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Reading types the bound never drops. */
export const PROTECTED_TYPES: ReadonlySet<string> = new Set(['fall', 'sos']);

export interface OutboxEntry {
  seq: number;
  deviceId: string;
  readingId: string;
  type: string;
  /** The reading as it is published (JSON text, without the input's `device` field). */
  body: string;
}

export interface NewEntry {
  deviceId: string;
  readingId: string;
  type: string;
  body: string;
}

/** `queued`: committed; `duplicate`: the same (device, id) is already waiting; `dropped`: refused by the bound. */
export type EnqueueStatus = 'queued' | 'duplicate' | 'dropped';

export interface OutboxOptions {
  maxReadings: number;
  now?: () => number;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS entries (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id  TEXT NOT NULL,
    reading_id TEXT NOT NULL,
    type       TEXT NOT NULL,
    protected  INTEGER NOT NULL,
    body       TEXT NOT NULL,
    UNIQUE (device_id, reading_id)
  ) STRICT;
  CREATE INDEX IF NOT EXISTS entries_droppable ON entries (protected, seq);
  CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
  CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
`;

export class Outbox {
  private readonly db: Database.Database;
  private readonly stmts;
  private depthNow: number;
  private nextCounter: number;
  private droppedTotal: number;
  private rejectedTotal: number;
  private readonly listeners: Array<() => void> = [];

  private constructor(db: Database.Database, private readonly opts: OutboxOptions) {
    this.db = db;
    this.stmts = {
      insert: db.prepare('INSERT INTO entries (device_id, reading_id, type, protected, body) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING'),
      oldestDroppable: db.prepare('SELECT seq FROM entries WHERE protected = 0 ORDER BY seq LIMIT 1').pluck(),
      deleteSeq: db.prepare('DELETE FROM entries WHERE seq = ?'),
      deleteReading: db.prepare('DELETE FROM entries WHERE device_id = ? AND reading_id = ?'),
      has: db.prepare('SELECT 1 FROM entries WHERE device_id = ? AND reading_id = ?').pluck(),
      after: db.prepare('SELECT seq, device_id AS deviceId, reading_id AS readingId, type, body FROM entries WHERE seq > ? ORDER BY seq LIMIT ?'),
      count: db.prepare('SELECT count(*) FROM entries').pluck(),
      getCounter: db.prepare('SELECT value FROM counters WHERE name = ?').pluck(),
      setCounter: db.prepare('INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value'),
      getState: db.prepare('SELECT value FROM state WHERE key = ?').pluck(),
      setState: db.prepare('INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
    this.depthNow = this.stmts.count.get() as number;
    // A fresh outbox starts its id counter at the clock, so a gateway whose disk was
    // wiped does not reuse ids the hub already stored (it would take them for duplicates).
    const seed = this.counter('idCounter') ?? (opts.now ?? Date.now)();
    this.stmts.setCounter.run('idCounter', seed);
    this.nextCounter = seed;
    this.droppedTotal = this.counter('dropped') ?? 0;
    this.rejectedTotal = this.counter('rejected') ?? 0;
  }

  /** Opens (creating if needed) `outbox.sqlite` in `dataDir`. */
  static open(dataDir: string, opts: OutboxOptions): Outbox {
    mkdirSync(dataDir, { recursive: true });
    const db = new Database(join(dataDir, 'outbox.sqlite'));
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      db.exec(SCHEMA);
      return new Outbox(db, opts);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Readings waiting for the hub's acknowledgement. */
  get depth(): number {
    return this.depthNow;
  }

  /** Readings dropped by the bound, ever (persisted). */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Readings the hub refused, ever (persisted). */
  get rejected(): number {
    return this.rejectedTotal;
  }

  /**
   * A new reading id for a device: `${deviceId}-${counter}`. The counter is
   * persisted with the next commit; an id handed out for a reading that is never
   * committed may be handed out again, which is harmless.
   */
  nextReadingId(deviceId: string): string {
    this.nextCounter++;
    const suffix = `-${this.nextCounter}`;
    // Ids are at most 64 characters (SPEC §3); the counter alone is unique, so a long device id is shortened.
    return `${deviceId.slice(0, 64 - suffix.length)}${suffix}`;
  }

  /** Called after every commit that added entries (the uplink wakes up). */
  onEnqueued(listener: () => void): void {
    this.listeners.push(listener);
  }

  /**
   * Commits readings in one transaction (with an optional piece of state, e.g.
   * the zigbee2mqtt state they came from, so both survive or neither does).
   */
  enqueue(entries: readonly NewEntry[], state?: { key: string; value: unknown }): EnqueueStatus[] {
    const statuses = this.db.transaction(() => {
      const out: EnqueueStatus[] = [];
      const seqs: Array<number | null> = [];
      for (const e of entries) {
        const r = this.stmts.insert.run(e.deviceId, e.readingId, e.type, PROTECTED_TYPES.has(e.type) ? 1 : 0, e.body);
        out.push(r.changes === 1 ? 'queued' : 'duplicate');
        seqs.push(r.changes === 1 ? Number(r.lastInsertRowid) : null);
        this.depthNow += r.changes;
        while (this.depthNow > this.opts.maxReadings) {
          const victim = this.stmts.oldestDroppable.get() as number | undefined;
          if (victim === undefined) break; // only falls and SOS left: keep them all
          this.stmts.deleteSeq.run(victim);
          this.depthNow--;
          this.droppedTotal++;
          const mine = seqs.indexOf(victim);
          if (mine >= 0) out[mine] = 'dropped';
        }
      }
      this.stmts.setCounter.run('idCounter', this.nextCounter);
      this.stmts.setCounter.run('dropped', this.droppedTotal);
      if (state) this.stmts.setState.run(state.key, JSON.stringify(state.value));
      return out;
    });
    const before = { depth: this.depthNow, dropped: this.droppedTotal };
    try {
      const result = statuses();
      if (result.includes('queued')) for (const l of this.listeners) l();
      return result;
    } catch (err) {
      // Rolled back: put the in-memory counts back as they were.
      this.depthNow = this.stmts.count.get() as number;
      this.droppedTotal = before.dropped;
      throw err;
    }
  }

  /** The next `limit` entries after `afterSeq`, oldest first. */
  peek(afterSeq: number, limit: number): OutboxEntry[] {
    return this.stmts.after.all(afterSeq, limit) as OutboxEntry[];
  }

  /** Removes entries the hub acknowledged (by seq; already-removed ones are ignored). */
  ack(seqs: readonly number[]): void {
    this.db.transaction(() => {
      for (const s of seqs) this.depthNow -= this.stmts.deleteSeq.run(s).changes;
    })();
  }

  /** Removes a reading the hub refused (when it names one), and counts the refusal. */
  reject(deviceId: string | null, readingId: string | undefined): void {
    this.db.transaction(() => {
      if (deviceId !== null && readingId !== undefined) this.depthNow -= this.stmts.deleteReading.run(deviceId, readingId).changes;
      this.rejectedTotal++;
      this.stmts.setCounter.run('rejected', this.rejectedTotal);
    })();
  }

  /** Whether a reading is still waiting for the hub. */
  has(deviceId: string, readingId: string): boolean {
    return this.stmts.has.get(deviceId, readingId) !== undefined;
  }

  state<T>(key: string): T | undefined {
    const raw = this.stmts.getState.get(key) as string | undefined;
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private counter(name: string): number | undefined {
    return this.stmts.getCounter.get(name) as number | undefined;
  }
}
