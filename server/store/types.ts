/**
 * Contracts of the stores. The SQLite file is always there (accounts, directory,
 * dedupe keys, the durable reading journal); a time-series store such as
 * InfluxDB plugs in behind `ReadingStore`.
 */
import type { Reading } from '../../devices/validateReading.js';
import type { ReadingType } from '../../devices/readingSchema.js';

export interface ReadingQuery {
  residentId: string;
  type?: ReadingType;
  /** Inclusive bounds on measurement time, epoch ms. */
  from?: number;
  to?: number;
  limit?: number;
}

/** A stored reading as the API presents it. */
export interface StoredReading {
  deviceId: string;
  id: string;
  homeId: string;
  residentId: string | null;
  type: ReadingType;
  ts: number;
  receivedAt: number;
  values: Reading['values'];
}

export interface ReadingStore {
  /**
   * Stores readings durably. `done` is called once they are committed, with one
   * flag per reading: true when stored, false when `(deviceId, id)` was already
   * stored (a duplicate). Never calls back before the data is durable.
   */
  append(readings: readonly Reading[], done: (err: Error | null, stored?: boolean[]) => void): void;
  query(q: ReadingQuery): Promise<StoredReading[]>;
}

/** Numeric values of each type: what aggregation windows and rollups summarize. */
export const AGGREGATED_VALUES: Record<ReadingType, readonly string[]> = {
  blood_pressure: ['systolic', 'diastolic', 'map', 'pulse'],
  glucose: ['value'],
  fall: ['confidence'],
  sos: [],
  heartbeat: ['battery', 'rssi'],
  motion: [],
};

/** Min, mean and max of one numeric value over a window. */
export interface WindowStats {
  min: number;
  mean: number;
  max: number;
}

/** One aggregation window of a resident's readings of one type (the readings API's `every`). */
export interface ReadingWindow {
  /** Start of the window, epoch ms, aligned to multiples of `everyMs` since the epoch (UTC). */
  start: number;
  /** Readings measured in the window. */
  count: number;
  /** Numeric values by name (`systolic`, `value`…); a value no reading of the window had is absent. */
  values: Record<string, WindowStats>;
}

export interface ReadingWindowQuery {
  residentId: string;
  type: ReadingType;
  /** Inclusive bounds on measurement time, epoch ms. */
  from: number;
  to: number;
  everyMs: number;
}

/**
 * The read side of a reading store: what the readings API and the dashboards'
 * charts ask. The SQLite journal answers it always; a time-series store answers
 * it when configured.
 */
export interface ReadingQueryStore {
  query(q: ReadingQuery): Promise<StoredReading[]>;
  /** Windows with at least one reading, oldest first. */
  aggregate(q: ReadingWindowQuery): Promise<ReadingWindow[]>;
}

/** A reading as the journal hands it to a time-series store. */
export interface JournalReading extends Reading {
  /** Its position in the journal (`readings.seq`). */
  seq: number;
  /**
   * How many earlier readings (smaller seq) of the same series — type, home,
   * resident, device — share its millisecond: 0 for nearly all. A store whose
   * points are keyed by series and time uses it to keep both (see influxSchema.ts).
   */
  tiebreak: number;
}

/** What a time-series store did with one batch. */
export interface SinkWriteResult {
  /** Points the server refused for good (e.g. outside its retention, a type conflict): logged and counted, never retried. */
  refused: number;
  /** The server's reason for the refusal, when there was one. */
  refusal?: string;
}

/**
 * The write side of a time-series store, fed by the journal forwarder
 * (`journalForwarder.ts`). Writes must be idempotent: writing the same reading
 * again leaves one point, so a replay after a crash duplicates nothing.
 */
export interface TimeSeriesSink {
  /** Names the destination (kind, server, database); the forwarder keeps one cursor per target. */
  readonly target: string;
  /** Creates what the store needs (database, retention policies, continuous queries); idempotent. */
  prepare(): Promise<void>;
  /**
   * Resolves once the server confirmed the batch durable; rejects on anything
   * worth retrying (unreachable, 5xx, 429, auth, missing database).
   */
  write(batch: readonly JournalReading[]): Promise<SinkWriteResult>;
  close(): Promise<void>;
}
