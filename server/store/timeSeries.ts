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
import { createInfluxStore, influxTarget } from './influxTarget.js';
import type { Forwarder } from './journalForwarder.js';
import type { SqliteReadingStore } from './sqliteReadingStore.js';
import type { Db } from './sqliteDb.js';
import { ThreadedForwarder } from './threadedForwarder.js';
import type { ReadingQueryStore, TimeSeriesSink } from './types.js';

export interface TimeSeries {
  /** The readings API's source: the store, with the journal filling in and standing in. */
  queries: ReadingQueryStore;
  /** The time-series store itself (tests, operations). */
  store: TimeSeriesSink & ReadingQueryStore;
  /** Feeds the store from the journal, in a thread of its own (forwarderThread.ts). */
  forwarder: Forwarder;
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

/**
 * How long a readings query waits for InfluxDB before the journal answers
 * instead, ms. The forwarder's writes wait 30 s (a large batch on a busy
 * server); a chart must not: a hung InfluxDB (accepting connections,
 * answering nothing) held every readings request for those 30 s. One
 * resident's readings, or 90 days of hourly windows, take InfluxDB
 * milliseconds.
 */
export const QUERY_TIMEOUT_MS = 3000;

/** Starts forwarding when InfluxDB is configured; null otherwise. Never waits for InfluxDB to answer. */
export async function startTimeSeries(config: HubConfig, deps: TimeSeriesDeps): Promise<TimeSeries | null> {
  const target = influxTarget(config);
  if (!target) return null;
  const log = deps.log.child({ component: 'influx' });
  // This store answers the readings API; the forwarder thread writes through a client of its own.
  const store = await createInfluxStore(target, log, { now: deps.now, timeoutMs: QUERY_TIMEOUT_MS });
  const forwarder = new ThreadedForwarder({
    db: deps.db, writer: deps.writer, influx: config, log, metrics: deps.metrics,
    batchSize: config.influxBatchSize, flushMs: config.influxFlushMs, now: deps.now,
  });
  deps.readings.onJournaled((n) => forwarder.notify(n));
  forwarder.start();
  const queries = new ForwardedReadingQueries(store, deps.readings, forwarder, log, deps.metrics);
  return {
    queries, store, forwarder,
    async stop() {
      await forwarder.stop();
      await store.close();
    },
  };
}
