/**
 * The forwarder thread: a JournalForwarder (journalForwarder.ts) with its own
 * read connection to the store and its own InfluxDB client, so that reading
 * the journal back and serialising points run beside the event loop, not on
 * it. It writes nothing to SQLite: each confirmed batch and each failure is
 * posted to the hub (ThreadedForwarder), which saves the cursor through the
 * group commit and keeps the metrics; its log lines are posted too, and logged
 * by the hub's logger.
 */
import { pino } from 'pino';
import { parentPort, workerData } from 'node:worker_threads';
import { JournalForwarder, type ConfirmedBatch, type ForwarderOutlet } from './journalForwarder.js';
import { openThreadConnection, type SyncMode } from './sqliteDb.js';
import { createInfluxStore, influxTarget, type InfluxSettings } from './influxTarget.js';

export interface ForwarderThreadData {
  file: string;
  sync: SyncMode;
  influx: InfluxSettings;
  /** The hub's cursor (it may be ahead of the saved one while a save waits for its commit). */
  cursor: number;
  batchSize: number;
  flushMs: number;
  logLevel: string;
}

/** From the hub. */
export type ToForwarder = { kind: 'journaled'; n: number } | { kind: 'wake' } | { kind: 'stop'; graceMs: number };

/** To the hub. `line` is a pino log line (JSON). */
export type FromForwarder =
  | ({ kind: 'confirmed' } & ConfirmedBatch)
  | { kind: 'failed' }
  | { kind: 'recovered' }
  | { kind: 'ready' }
  | { kind: 'log'; line: string }
  | { kind: 'started' }
  | { kind: 'stopped' };

async function start(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('forwarderThread.ts runs as a worker thread');
  const data = workerData as ForwarderThreadData;
  const post = (m: FromForwarder) => port.postMessage(m);
  const log = pino({ level: data.logLevel, base: undefined, timestamp: false }, { write: (line: string) => post({ kind: 'log', line }) });
  const db = openThreadConnection(data.file, data.sync, 0);
  const sink = await createInfluxStore(influxTarget(data.influx)!, log);
  const outlet: ForwarderOutlet = {
    confirmed: (b) => post({ kind: 'confirmed', ...b }),
    failed: () => post({ kind: 'failed' }),
    recovered: () => post({ kind: 'recovered' }),
    ready: () => post({ kind: 'ready' }),
  };
  const forwarder = new JournalForwarder({ db, sink, log, outlet, cursor: data.cursor, batchSize: data.batchSize, flushMs: data.flushMs });
  port.on('message', (m: ToForwarder) => {
    if (m.kind === 'journaled') forwarder.notify(m.n);
    else if (m.kind === 'wake') forwarder.wakeIfHealthy();
    else if (m.kind === 'stop') {
      void forwarder.stop(m.graceMs).finally(() => {
        db.close();
        post({ kind: 'stopped' });
        port.close();
      });
    }
  });
  post({ kind: 'started' });
  forwarder.start();
}

await start();
