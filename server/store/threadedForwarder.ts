/**
 * The hub's side of the forwarder thread (forwarderThread.ts): starts it,
 * passes on the journal's commits, keeps the cursor and the metrics
 * (ForwardingRecord) from what it reports, logs its lines, and restarts it if
 * it dies. While the thread is down, readings wait in the journal as they do
 * while InfluxDB is down; the restarted thread resumes from the hub's cursor.
 */
import type { Worker } from 'node:worker_threads';
import type { Level, Logger } from 'pino';
import type { HubMetrics } from '../metrics.js';
import type { FromForwarder, ForwarderThreadData, ToForwarder } from './forwarderThread.js';
import type { GroupCommit } from './groupCommit.js';
import { describeTarget, influxTarget, type InfluxSettings } from './influxTarget.js';
import { ForwardingRecord, type Forwarder, type ForwardingState, type SeqRange } from './journalForwarder.js';
import { syncModeOf, type Db } from './sqliteDb.js';
import { startTsWorker } from './tsWorker.js';

export interface ThreadedForwarderOptions {
  /** The hub's connection (cursor and lag); the thread opens its own to the same file. */
  db: Db;
  writer: GroupCommit;
  /** Must name an InfluxDB (influxTarget is not null). */
  influx: InfluxSettings;
  log: Logger;
  metrics?: HubMetrics;
  /** The hub's clock, for the cursor's `updated_at`. The thread's store uses the system clock. */
  now?: () => number;
  batchSize?: number;
  flushMs?: number;
}

/** Delay before restarting a thread that died, doubling per death in a row (reset by a confirmed batch), ms. */
const RESTART_MS = 1000;
const MAX_RESTART_MS = 30_000;
/** How long `stop` waits past its grace for the thread to end before terminating it, ms. */
const EXIT_MARGIN_MS = 2000;

export class ThreadedForwarder implements Forwarder {
  private readonly record: ForwardingRecord;
  private worker: Worker | null = null;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;
  private deaths = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private current: ForwardingState = 'starting';
  private started: Promise<void> = Promise.resolve();
  private markStarted = () => {};

  constructor(private readonly o: ThreadedForwarderOptions) {
    const target = influxTarget(o.influx);
    if (!target) throw new Error('ThreadedForwarder needs an InfluxDB target');
    this.record = new ForwardingRecord({ db: o.db, writer: o.writer, target: describeTarget(target), log: o.log, metrics: o.metrics, now: o.now });
  }

  get cursor(): number {
    return this.record.cursor;
  }

  lag(): number {
    return this.record.lag();
  }

  refusedSeqs(): readonly SeqRange[] {
    return this.record.refusedSeqs();
  }

  state(): ForwardingState {
    return this.current;
  }

  private moveTo(state: ForwardingState): void {
    this.current = state;
    this.o.metrics?.influxForwarderUp.set(state === 'forwarding' || state === 'retrying' ? 1 : 0);
  }

  start(): void {
    if (this.worker || this.stopping) return;
    const { db, influx, log } = this.o;
    const data: ForwarderThreadData = {
      file: db.name, sync: syncModeOf(db), cursor: this.record.cursor, logLevel: log.level,
      // Only the InfluxDB settings: the rest of the configuration stays on the event loop.
      influx: { influxUrl: influx.influxUrl, influxDb: influx.influxDb, influxOrg: influx.influxOrg, influxBucket: influx.influxBucket, influxToken: influx.influxToken },
      batchSize: this.o.batchSize ?? 5000, flushMs: this.o.flushMs ?? 1000,
    };
    this.moveTo('starting');
    this.started = new Promise((resolve) => (this.markStarted = resolve));
    const worker = startTsWorker(new URL('./forwarderThread.ts', import.meta.url), data);
    this.worker = worker;
    worker.on('message', (m: FromForwarder) => this.received(worker, m));
    worker.on('error', (err) => log.error({ err }, 'the InfluxDB forwarder thread failed'));
    this.exited = new Promise((resolve) => worker.once('exit', (code) => {
      this.worker = null;
      this.moveTo(this.stopping ? 'stopped' : 'down');
      resolve();
      if (this.stopping) return;
      this.deaths += 1;
      const delay = Math.min(MAX_RESTART_MS, RESTART_MS * 2 ** Math.min(this.deaths - 1, 10));
      log.error({ code, restartInMs: delay, lag: this.lag() }, 'the InfluxDB forwarder thread stopped; readings wait in the journal until it restarts');
      this.o.metrics?.influxWriteErrors.inc();
      this.restartTimer = setTimeout(() => this.start(), delay).unref();
    }));
  }

  /**
   * Resolves once the thread has loaded its code, opened its connection and
   * begun forwarding (a thread takes up to a second to load; benchmarks time
   * the forwarding, not that). The state stays `starting` until InfluxDB
   * answers the thread's set-up.
   */
  ready(): Promise<void> {
    return this.started;
  }

  notify(n: number): void {
    this.post({ kind: 'journaled', n });
  }

  async drained(timeoutMs: number): Promise<boolean> {
    const target = this.record.lastSeq();
    const until = Date.now() + timeoutMs;
    while (this.record.cursor < target) {
      if (Date.now() > until || this.stopping) return false;
      this.post({ kind: 'wake' });
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  /**
   * Stops the thread after the write in flight (at most `graceMs`) and closes
   * its client. Batches it confirmed are recorded before this resolves, so the
   * hub saves their cursor before it closes the store.
   */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) {
      this.moveTo('stopped');
      return;
    }
    worker.postMessage({ kind: 'stop', graceMs } satisfies ToForwarder);
    const timer = setTimeout(() => void worker.terminate(), graceMs + EXIT_MARGIN_MS);
    await this.exited;
    clearTimeout(timer);
  }

  private post(m: ToForwarder): void {
    this.worker?.postMessage(m);
  }

  private received(worker: Worker, m: FromForwarder): void {
    switch (m.kind) {
      case 'confirmed':
        this.deaths = 0;
        this.moveTo('forwarding');
        this.record.confirmed(m);
        break;
      case 'failed':
        this.moveTo('retrying');
        this.record.failed();
        break;
      case 'recovered':
        this.moveTo('forwarding');
        this.record.recovered();
        break;
      case 'ready':
        this.moveTo('forwarding');
        break;
      case 'log': {
        const { level, msg, ...fields } = JSON.parse(m.line) as { level: number; msg?: string; [k: string]: unknown };
        const label = (this.o.log.levels.labels[level] ?? 'info') as Level;
        this.o.log[label](fields, msg);
        break;
      }
      case 'started':
        // Loaded, not forwarding: a hung InfluxDB may not answer the set-up for the whole write timeout.
        this.markStarted();
        break;
      case 'stopped':
        // Everything it posted before has been handled (one port, in order).
        void worker.terminate();
        break;
    }
  }
}
