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
