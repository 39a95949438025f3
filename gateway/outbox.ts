/**
 * The gateway's store-and-forward queue (SPEC §8): every accepted reading sits
 * here, on disk, until the hub's PUBACK for the publish that carried it.
 *
 * - Durable: SQLite in WAL mode with `synchronous = FULL`, like the hub, so a
 *   committed reading survives a kill -9 and a power cut. An input is told
 *   "ok" only after the commit.
 * - Ordered: entries leave in the order they came (`seq`, AUTOINCREMENT so a
 *   sequence number is never reused).
 * - Bounded: beyond `maxReadings` readings are dropped, counted and reported:
 *   heartbeats first, then motion, then the oldest of the rest; never a fall or
 *   an SOS: a queue of nothing but emergencies may grow past the bound rather
 *   than lose one.
 * - Held: a reading that arrived while the gateway's clock was not set waits
 *   here without `ts`, is not sent, and is stamped and released by the intake
 *   once the clock is set.
 * - Self-healing: a file that is not a database or fails `quick_check` (an SD
 *   card after a power cut) is moved aside, what can still be read of it is
 *   copied into a fresh outbox, and the replacement is counted, so the gateway
 *   starts and a fall is not refused for a broken file.
 */
import Database from 'better-sqlite3';
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';

/** Reading types the bound never drops. */
export const PROTECTED_TYPES: ReadonlySet<string> = new Set(['fall', 'sos']);

/**
 * Types the bound drops before any other, in this order: the hub learns least
 * from an old heartbeat, then from old motion (it only feeds the inactivity
 * watchdog); blood pressure and glucose are what a doctor looks at.
 */
export const DROPPED_FIRST: readonly string[] = ['heartbeat', 'motion'];

export const OUTBOX_FILE = 'outbox.sqlite';

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
  /** Not sent until released: it has no `ts` yet (the gateway's clock was not set). */
  held?: boolean;
}

/** `queued`: committed; `duplicate`: the same (device, id) is already waiting; `dropped`: refused by the bound. */
export type EnqueueStatus = 'queued' | 'duplicate' | 'dropped';

/** A refusal from the hub, with the entry it removed (none when the entry had already left). */
export interface Rejection {
  deviceId: string | null;
  readingId: string | undefined;
  code: string | undefined;
  entry: OutboxEntry | undefined;
}

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
  CREATE INDEX IF NOT EXISTS entries_type ON entries (type, seq);
  CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
  CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
`;

// Added after the first release: an outbox file of that version gets the column on open.
const HELD_COLUMN = 'ALTER TABLE entries ADD COLUMN held INTEGER NOT NULL DEFAULT 0';
const HELD_INDEX = 'CREATE INDEX IF NOT EXISTS entries_held ON entries (seq) WHERE held = 1';

/** Reading ids are `${device}-${prefix}-${counter}`; the prefix is random per outbox (40 bits, Crockford base32). */
const PREFIX_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const PREFIX_LENGTH = 8;

/** What `open` did with a damaged file. */
export interface OutboxReplacement {
  /** Where the damaged file now is. */
  movedTo: string;
  /** Why it was set aside (the SQLite error or the first `quick_check` line). */
  reason: string;
  /** Entries copied from it into the fresh outbox. */
  salvaged: number;
}

export class Outbox {
  private readonly db: Database.Database;
  private readonly stmts;
  private depthNow: number;
  private readonly idPrefix: string;
  private nextCounter: number;
  private droppedTotal: number;
  private rejectedTotal: number;
  private replacedTotal: number;
  private readonly listeners: Array<() => void> = [];
  private readonly rejectListeners: Array<(r: Rejection) => void> = [];
  /** Set when this open replaced a damaged file (for the log). */
  replacement: OutboxReplacement | null = null;

  private constructor(db: Database.Database, private readonly opts: OutboxOptions) {
    this.db = db;
    this.stmts = {
      insert: db.prepare('INSERT INTO entries (device_id, reading_id, type, protected, body, held) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING'),
      oldestOfType: db.prepare('SELECT min(seq) FROM entries WHERE type = ?').pluck(),
      oldestDroppable: db.prepare('SELECT seq FROM entries WHERE protected = 0 ORDER BY seq LIMIT 1').pluck(),
      deleteSeq: db.prepare('DELETE FROM entries WHERE seq = ?'),
      deleteReading: db.prepare('DELETE FROM entries WHERE device_id = ? AND reading_id = ?'),
      get: db.prepare('SELECT seq, device_id AS deviceId, reading_id AS readingId, type, body FROM entries WHERE device_id = ? AND reading_id = ?'),
      has: db.prepare('SELECT 1 FROM entries WHERE device_id = ? AND reading_id = ?').pluck(),
      after: db.prepare('SELECT seq, device_id AS deviceId, reading_id AS readingId, type, body FROM entries WHERE seq > ? AND held = 0 ORDER BY seq LIMIT ?'),
      protectedEntries: db.prepare('SELECT seq, device_id AS deviceId, reading_id AS readingId, type, body FROM entries WHERE protected = 1 ORDER BY seq'),
      held: db.prepare('SELECT seq, device_id AS deviceId, reading_id AS readingId, type, body FROM entries WHERE held = 1 ORDER BY seq'),
      heldRow: db.prepare('SELECT device_id, reading_id, type, protected FROM entries WHERE seq = ? AND held = 1'),
      anyHeld: db.prepare('SELECT 1 FROM entries WHERE held = 1 LIMIT 1').pluck(),
      count: db.prepare('SELECT count(*) FROM entries').pluck(),
      getCounter: db.prepare('SELECT value FROM counters WHERE name = ?').pluck(),
      setCounter: db.prepare('INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value'),
      getState: db.prepare('SELECT value FROM state WHERE key = ?').pluck(),
      setState: db.prepare('INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
    this.depthNow = this.stmts.count.get() as number;
    // Ids must never repeat one an earlier outbox of this gateway handed out (after a disk
    // replacement the hub would take a new fall for a duplicate). A clock-seeded counter
    // repeats on a box without RTC that boots at 1970; a random prefix per outbox does not.
    const stored = this.stmts.getState.get('idPrefix') as string | undefined;
    this.idPrefix = stored === undefined ? randomPrefix() : (JSON.parse(stored) as string);
    this.nextCounter = stored === undefined ? 0 : (this.counter('idCounter') ?? 0);
    if (stored === undefined) {
      db.transaction(() => {
        this.stmts.setState.run('idPrefix', JSON.stringify(this.idPrefix));
        this.stmts.setCounter.run('idCounter', 0);
      })();
    }
    this.droppedTotal = this.counter('dropped') ?? 0;
    this.rejectedTotal = this.counter('rejected') ?? 0;
    this.replacedTotal = this.counter('replaced') ?? 0;
  }

  /**
   * Opens (creating if needed) `outbox.sqlite` in `dataDir`. A file that is not
   * a database or fails `quick_check` is moved aside as
   * `outbox.sqlite.corrupt-<time>` (with its `-wal`/`-shm`), what is still
   * readable of it is copied over, and a fresh outbox is started
   * (`replacement` says so; `replaced` counts it). Other errors (permissions,
   * a missing disk) still stop the gateway.
   */
  static open(dataDir: string, opts: OutboxOptions): Outbox {
    mkdirSync(dataDir, { recursive: true });
    const file = join(dataDir, OUTBOX_FILE);
    try {
      return Outbox.openFile(file, opts);
    } catch (err) {
      if (!isCorruption(err)) throw err;
      const movedTo = moveAside(file, opts.now ?? Date.now);
      const fresh = Outbox.openFile(file, opts);
      const salvaged = fresh.salvage(movedTo);
      fresh.replacedTotal++;
      fresh.stmts.setCounter.run('replaced', fresh.replacedTotal);
      fresh.replacement = { movedTo, reason: (err as Error).message, salvaged };
      return fresh;
    }
  }

  private static openFile(file: string, opts: OutboxOptions): Outbox {
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      const check = db.pragma('quick_check', { simple: true }) as string;
      if (check !== 'ok') throw new OutboxCorruptError(`quick_check: ${check}`);
      db.exec(SCHEMA);
      const columns = db.prepare("SELECT name FROM pragma_table_info('entries')").pluck().all() as string[];
      if (!columns.includes('held')) db.exec(HELD_COLUMN);
      db.exec(HELD_INDEX);
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

  /** Damaged outbox files set aside and replaced, ever (persisted, salvaged across replacements). */
  get replaced(): number {
    return this.replacedTotal;
  }

  /**
   * A new reading id for a device: `${deviceId}-${prefix}-${counter}`, the
   * prefix random per outbox. The counter is persisted with the next commit; an
   * id handed out for a reading that is never committed may be handed out
   * again, which is harmless.
   */
  nextReadingId(deviceId: string): string {
    this.nextCounter++;
    const suffix = `-${this.idPrefix}-${this.nextCounter}`;
    // Ids are at most 64 characters (SPEC §3); the suffix alone is unique, so a long device id is shortened.
    return `${deviceId.slice(0, 64 - suffix.length)}${suffix}`;
  }

  /** Called after every commit that added entries to send (the uplink wakes up). */
  onEnqueued(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Called for every refusal from the hub (the local alarm looks at falls and SOS). */
  onRejected(listener: (r: Rejection) => void): void {
    this.rejectListeners.push(listener);
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
        const r = this.stmts.insert.run(e.deviceId, e.readingId, e.type, PROTECTED_TYPES.has(e.type) ? 1 : 0, e.body, e.held ? 1 : 0);
        out.push(r.changes === 1 ? 'queued' : 'duplicate');
        seqs.push(r.changes === 1 ? Number(r.lastInsertRowid) : null);
        this.depthNow += r.changes;
        while (this.depthNow > this.opts.maxReadings) {
          const victim = this.nextVictim();
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

  /** The next `limit` entries after `afterSeq` that may be sent (not held), oldest first. */
  peek(afterSeq: number, limit: number): OutboxEntry[] {
    return this.stmts.after.all(afterSeq, limit) as OutboxEntry[];
  }

  /** Every fall and SOS still waiting for the hub, oldest first (the local alarm, at start). */
  protectedEntries(): OutboxEntry[] {
    return this.stmts.protectedEntries.all() as OutboxEntry[];
  }

  /** Whether any reading is held for want of a set clock. */
  hasHeld(): boolean {
    return this.stmts.anyHeld.get() !== undefined;
  }

  /** The held readings, oldest first. */
  held(): OutboxEntry[] {
    return this.stmts.held.all() as OutboxEntry[];
  }

  /**
   * Releases held readings with their stamped bodies, in one transaction. They
   * move to the end of the queue (a new `seq`), so a connection whose cursor is
   * already past their old place still sends them.
   */
  release(stamped: ReadonlyArray<{ seq: number; body: string }>): void {
    if (stamped.length === 0) return;
    this.db.transaction(() => {
      for (const { seq, body } of stamped) {
        const row = this.stmts.heldRow.get(seq) as
          { device_id: string; reading_id: string; type: string; protected: number } | undefined;
        if (!row) continue;
        this.stmts.deleteSeq.run(seq);
        this.stmts.insert.run(row.device_id, row.reading_id, row.type, row.protected, body, 0);
      }
    })();
    for (const l of this.listeners) l();
  }

  /** Removes entries the hub acknowledged (by seq; already-removed ones are ignored). */
  ack(seqs: readonly number[]): void {
    this.db.transaction(() => {
      for (const s of seqs) this.depthNow -= this.stmts.deleteSeq.run(s).changes;
    })();
  }

  /**
   * Removes a reading the hub refused (when it names one), counts the refusal,
   * and tells the listeners. Returns the entry removed, if it was still here.
   */
  reject(deviceId: string | null, readingId: string | undefined, code?: string): OutboxEntry | undefined {
    const entry = this.db.transaction(() => {
      let removed: OutboxEntry | undefined;
      if (deviceId !== null && readingId !== undefined) {
        removed = this.stmts.get.get(deviceId, readingId) as OutboxEntry | undefined;
        this.depthNow -= this.stmts.deleteReading.run(deviceId, readingId).changes;
      }
      this.rejectedTotal++;
      this.stmts.setCounter.run('rejected', this.rejectedTotal);
      return removed;
    })();
    for (const l of this.rejectListeners) l({ deviceId, readingId, code, entry });
    return entry;
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

  /** The next reading the bound drops: the oldest heartbeat, else the oldest motion, else the oldest unprotected. */
  private nextVictim(): number | undefined {
    for (const type of DROPPED_FIRST) {
      const seq = this.stmts.oldestOfType.get(type) as number | null;
      if (seq !== null) return seq;
    }
    return this.stmts.oldestDroppable.get() as number | undefined;
  }

  /**
   * Copies what can still be read from a damaged outbox (entries in order,
   * saved states, totals) into this fresh one. Best effort: reading stops at
   * the first damaged page; entries whose body is not JSON are skipped.
   */
  private salvage(file: string): number {
    let copied = 0;
    let old: Database.Database;
    try {
      old = new Database(file, { fileMustExist: true });
    } catch {
      return 0;
    }
    const tryEach = (sql: string, each: (row: Record<string, unknown>) => void) => {
      try {
        for (const row of old.prepare(sql).iterate() as Iterable<Record<string, unknown>>) each(row);
      } catch {
        // The damaged part: keep what was read before it.
      }
    };
    try {
      this.db.transaction(() => {
        tryEach('SELECT * FROM entries ORDER BY seq', (row) => {
          if (typeof row.body !== 'string' || typeof row.type !== 'string' || typeof row.device_id !== 'string' || typeof row.reading_id !== 'string') return;
          try {
            JSON.parse(row.body);
          } catch {
            return;
          }
          const r = this.stmts.insert.run(row.device_id, row.reading_id, row.type, PROTECTED_TYPES.has(row.type) ? 1 : 0, row.body, row.held === 1 ? 1 : 0);
          copied += r.changes;
        });
        tryEach('SELECT key, value FROM state', (row) => {
          if (typeof row.key === 'string' && row.key !== 'idPrefix' && typeof row.value === 'string') this.stmts.setState.run(row.key, row.value);
        });
        tryEach("SELECT name, value FROM counters WHERE name IN ('dropped', 'rejected', 'replaced')", (row) => {
          if (typeof row.name === 'string' && typeof row.value === 'number') this.stmts.setCounter.run(row.name, row.value);
        });
      })();
    } finally {
      old.close();
    }
    this.depthNow = this.stmts.count.get() as number;
    this.droppedTotal = this.counter('dropped') ?? 0;
    this.rejectedTotal = this.counter('rejected') ?? 0;
    this.replacedTotal = this.counter('replaced') ?? 0;
    return copied;
  }

  private counter(name: string): number | undefined {
    return this.stmts.getCounter.get(name) as number | undefined;
  }
}

class OutboxCorruptError extends Error {}

/** A file SQLite cannot read as a database, or a damaged one. */
function isCorruption(err: unknown): boolean {
  if (err instanceof OutboxCorruptError) return true;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'));
}

/** Renames the outbox and its WAL files to `…corrupt-<time>` (never over an earlier one); returns the new path. */
function moveAside(file: string, now: () => number): string {
  const stamp = new Date(now()).toISOString().replace(/[:.]/g, '-');
  let target = `${file}.corrupt-${stamp}`;
  for (let n = 2; existsSync(target); n++) target = `${file}.corrupt-${stamp}-${n}`;
  renameSync(file, target);
  for (const suffix of ['-wal', '-shm']) {
    if (existsSync(file + suffix)) renameSync(file + suffix, target + suffix);
  }
  return target;
}

function randomPrefix(): string {
  let s = '';
  for (let i = 0; i < PREFIX_LENGTH; i++) s += PREFIX_ALPHABET[randomInt(PREFIX_ALPHABET.length)];
  return s;
}
