/**
 * How readings are laid out in InfluxDB, shared by the 1.x and 2.x stores (no
 * client library here: only the stores import one).
 *
 * - One measurement per reading type (`blood_pressure`, `glucose`, …).
 * - Tags `home`, `resident`, `device` only: their cardinality is bounded by the
 *   directory (a resident-less reading, e.g. from an unbound fall sensor, has no
 *   `resident` tag). Everything unbounded is a field.
 * - Fields: the reading's values in stored units (numbers always as floats, so
 *   `120` and `120.5` never conflict), plus `reading_id` (the device's id of
 *   the reading) and `received_at` (epoch ms the hub accepted it).
 * - Time: the measurement time at millisecond precision.
 *
 * A point is keyed by measurement + tag set + time, so writing a reading again
 * overwrites the same point: replays are idempotent. Two *different* readings
 * of one device in the same millisecond would collide; the later one (by
 * journal seq) is written at that millisecond plus `tiebreak` nanoseconds
 * (1, 2, …), in a separate nanosecond-precision write. Queries at ms epoch read
 * both back at the same millisecond. The tiebreak is derived from the journal,
 * never from arrival order, so a replay puts every reading on the same point.
 */
import type { ReadingType } from '../../devices/readingSchema.js';
import type { JournalReading, ReadingWindow, StoredReading, WindowStats } from './types.js';

export const TAG_KEYS = ['home', 'resident', 'device'] as const;
export const ID_FIELD = 'reading_id';
export const RECEIVED_FIELD = 'received_at';

/**
 * Retention (README "InfluxDB"). Raw points are kept 400 days: the hub accepts
 * readings up to 365 days old (SPEC §3), so no accepted reading falls outside
 * the raw policy when it is written, and a year of raw vitals is what a family
 * doctor reviews. Hourly rollups (min/mean/max of every numeric value, count)
 * are kept 10 years for long-term trends. 1.x: retention policies and
 * continuous queries created on start; 2.x: buckets and a task (README).
 */
export const RETENTION = {
  raw: { name: 'anxin_raw', duration: '400d', shardDuration: '7d' },
  hourly: { name: 'anxin_1h', duration: '3650d', shardDuration: '30d' },
  /** The hourly rollup recomputes the last day every hour, so readings up to a day late are in it. */
  resampleFor: '1d',
} as const;

/** Largest nanosecond offset; more same-millisecond readings of one series than this would overwrite. */
const MAX_TIEBREAK = 999_999;

export interface InfluxPoint {
  measurement: ReadingType;
  tags: Record<string, string>;
  fields: Record<string, number | string | boolean>;
  /** Integer time in the unit of `precision`, as a string (ns exceeds 2^53). Named as the 1.x client's point field. */
  timestamp: string;
  precision: 'ms' | 'ns';
}

export function toPoint(r: JournalReading): InfluxPoint {
  const tags: Record<string, string> = { home: r.homeId, device: r.deviceId };
  if (r.residentId !== null) tags.resident = r.residentId;
  const fields: Record<string, number | string | boolean> = Object.assign({}, r.values);
  fields[ID_FIELD] = r.id;
  fields[RECEIVED_FIELD] = r.receivedAt;
  if (r.tiebreak === 0) return { measurement: r.type, tags, fields, timestamp: String(r.ts), precision: 'ms' };
  const ns = String(Math.min(r.tiebreak, MAX_TIEBREAK)).padStart(6, '0');
  return { measurement: r.type, tags, fields, timestamp: `${r.ts}${ns}`, precision: 'ns' };
}

const RESERVED = new Set<string>([...TAG_KEYS, ID_FIELD, RECEIVED_FIELD, 'time']);

/** One row of a query (tags and fields by name, `time` in epoch ms) back to a reading; nulls are absent values. */
export function fromRow(type: ReadingType, row: Record<string, unknown>, time: number): StoredReading {
  const values: StoredReading['values'] = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === null || v === undefined || RESERVED.has(k)) continue;
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') values[k] = v;
  }
  return {
    deviceId: String(row.device),
    id: String(row[ID_FIELD]),
    homeId: String(row.home),
    residentId: typeof row.resident === 'string' && row.resident !== '' ? row.resident : null,
    type,
    ts: time,
    receivedAt: Number(row[RECEIVED_FIELD]),
    values,
  };
}

/** Oldest first; within a millisecond, by device then id, so every store answers in the same order. */
export function byTime(a: StoredReading, b: StoredReading): number {
  return a.ts - b.ts || a.deviceId.localeCompare(b.deviceId) || a.id.localeCompare(b.id);
}

/** Accumulates min/mean/max/count cells into windows aligned to `everyMs` (stores answer in different shapes). */
export class WindowBuilder {
  private readonly windows = new Map<number, ReadingWindow>();

  constructor(private readonly everyMs: number) {}

  private at(time: number): ReadingWindow {
    const start = Math.floor(time / this.everyMs) * this.everyMs;
    let w = this.windows.get(start);
    if (!w) this.windows.set(start, (w = { start, count: 0, values: {} }));
    return w;
  }

  count(time: number, n: number): void {
    this.at(time).count += n;
  }

  stat(time: number, field: string, which: keyof WindowStats, value: number): void {
    const w = this.at(time);
    const s = (w.values[field] ??= { min: value, mean: value, max: value });
    s[which] = value;
  }

  /** Windows with readings, oldest first. */
  build(): ReadingWindow[] {
    return [...this.windows.values()].filter((w) => w.count > 0).sort((a, b) => a.start - b.start);
  }
}
