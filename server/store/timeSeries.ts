/**
 * Plugs InfluxDB in when it is configured (README "InfluxDB"): the 1.x or
 * 2.x store, the forwarder that feeds it from the readings journal, and the
 * readings API's view over both. Without `ANXIN_INFLUX_URL` nothing here runs
 * and no Influx client is even loaded (the stores are imported on demand).
 */
import type { Logger } from 'pino';
import type { HubConfig } from '../config.js';
import type { HubMetrics } from '../metrics.js';
import { ForwardedReadingQueries } from './forwardedReadingQueries.js';
import type { GroupCommit } from './groupCommit.js';
import { influxTarget } from './influxTarget.js';
import { JournalForwarder } from './journalForwarder.js';
import type { SqliteReadingStore } from './sqliteReadingStore.js';
import type { Db } from './sqliteDb.js';
import type { ReadingQueryStore, TimeSeriesSink } from './types.js';

export interface TimeSeries {
  /** The readings API's source: the store, with the journal filling in and standing in. */
  queries: ReadingQueryStore;
  /** The time-series store itself (tests, operations). */
  store: TimeSeriesSink & ReadingQueryStore;
  forwarder: JournalForwarder;
  stop(): Promise<void>;
}

export interface TimeSeriesDeps {
  db: Db;
  writer: GroupCommit;
  readings: SqliteReadingStore;
  metrics: HubMetrics;
  log: Logger;
  now?: () => number;
}

/** Starts forwarding when InfluxDB is configured; null otherwise. Never waits for InfluxDB to answer. */
export async function startTimeSeries(config: HubConfig, deps: TimeSeriesDeps): Promise<TimeSeries | null> {
  const target = influxTarget(config);
  if (!target) return null;
  const log = deps.log.child({ component: 'influx' });
  const store: TimeSeriesSink & ReadingQueryStore = target.version === 1
    ? new (await import('./influx1ReadingStore.js')).Influx1ReadingStore(target, log, deps.now)
    : new (await import('./influx2ReadingStore.js')).Influx2ReadingStore(target, log);
  const forwarder = new JournalForwarder({
    db: deps.db, writer: deps.writer, sink: store, log, metrics: deps.metrics,
    batchSize: config.influxBatchSize, flushMs: config.influxFlushMs, now: deps.now,
  });
  deps.readings.onJournaled((n) => forwarder.notify(n));
  forwarder.start();
  const queries = new ForwardedReadingQueries(store, deps.readings, () => forwarder.cursor, log, deps.metrics);
  return { queries, store, forwarder, stop: () => forwarder.stop() };
}
