/**
 * Group commit: writes queued during one turn of the event loop are committed
 * together in one SQLite transaction, and each caller is told only after that
 * commit. This is what lets a PUBACK mean "durable" without one fsync per
 * reading.
 *
 * Two kinds of job share one queue, and run strictly in queue order:
 *
 * - **Direct jobs** (`enqueue`, `run`) get the connection and run inside the
 *   transaction on the event loop: they may read their own writes. The API's
 *   actions, the time rules and the importer's kind of work.
 * - **Recorded jobs** (`enqueueRecorded`, `runRecorded`) write only through
 *   `statement(sql).run(…)` and read nothing back from their writes. Their
 *   JavaScript (validation is done; the rules judge, events are built) runs
 *   on the event loop, but the statements are only recorded, and a batch of
 *   them is written by the writer thread (writerThread.ts) on its own
 *   connection, while the event loop parses the next publishes. This is the
 *   ingest's path: SQLite's own work (b-trees, WAL, fsync) is more than half
 *   of a reading's cost. A third thread (checkpointer.ts) copies the WAL
 *   back into the database file, so the writer's commits do not.
 *
 * A batch takes at most `maxBatch` jobs and, after its first job, at most
 * `maxBatchWeight` of weight (a recorded job's weight is what its caller says
 * it costs: the readings store gives its number of readings). What is
 * recorded in one turn of the event loop is bounded by that, not by how much
 * is queued: a queue of 2,000 gateway publishes of 500 readings would
 * otherwise be one batch of a million readings, seconds of recording.
 *
 * Two batches at most in flight: while the writer thread writes one, the
 * next is recorded and waits at the thread, so neither side idles. A recorded
 * job reads the store (committed batches) and memory (the engine's open
 * alerts, which include the batches in flight); listeners keep what each
 * batch queued (events to push, effects to run) in a bucket of their own
 * (`PerBatch`) until that batch commits. A failed job leaves memory ahead of
 * the store: nothing more is recorded until the batches in flight are done,
 * then listeners re-read the store (`resync`). Direct jobs wait until no
 * batch is in flight. Without a writer thread (`thread: false`, tests and
 * tools) recorded jobs are written on the event loop, one batch at a time,
 * with the same order and outcomes.
 */
import type Database from 'better-sqlite3';
import type { Worker } from 'node:worker_threads';
import { writeBatch } from './batchWriter.js';
import { Checkpointer, WAL_CAP_PAGES } from './checkpointer.js';
import { syncModeOf, type Db } from './sqliteDb.js';
import { startTsWorker } from './tsWorker.js';
import type { WriterBatch, WriterReply, WriterThreadData } from './writerThread.js';

export type Work<T> = (db: Db) => T;
export type RecordedWork<T> = () => T;
export type Done<T> = (err: Error | null, result?: T) => void;

/** A write statement that a recorded job may use; on a direct job it runs at once. */
export interface WriteStatement {
  run(...params: unknown[]): void;
}

interface Job {
  work: (db: Db) => unknown;
  done: Done<unknown>;
  recorded: boolean;
  weight: number;
}

/**
 * Default most weight in one batch after its first job: 10–60 ms of recording
 * on the event loop (~10 µs a normal reading, ~60 µs one that updates an
 * alert), and above the batches the benchmarks' single-reading publishes form
 * (~500–800), so those are not cut. With gateways replaying, 1,000 and 2,000
 * gave the same throughput; 1,000 halved the PUBACK latency of a device
 * queued behind them (docs/scaling.md "Gateways replaying at once").
 */
export const MAX_BATCH_WEIGHT = 1000;

export interface GroupCommitOptions {
  /** Most jobs in one transaction; more wait for the next one. */
  maxBatch?: number;
  /** Most weight in one transaction after its first job (see `enqueueRecorded`); default MAX_BATCH_WEIGHT. */
  maxBatchWeight?: number;
  /** Called after every commit with its duration and size, for metrics. */
  onCommit?: (seconds: number, jobs: number) => void;
  onError?: (err: Error) => void;
  /** Write recorded jobs on a writer thread (the hub does); default false. */
  thread?: boolean;
}

/**
 * Listeners around each batch: work that keeps memory in step with the store
 * (the alert engine's open-alert index) or that must happen only once data is
 * durable (pushing events to screens). Batches complete in the order they
 * begin, so a listener keeps a FIFO of per-batch buckets (see PerBatch).
 */
export interface CommitHooks {
  /** A batch begins: open a bucket for what its jobs queue. */
  begin?: () => void;
  /** The oldest open batch committed, before its jobs' callbacks run. */
  committed?: () => void;
  /** The oldest open batch was not written at all; drop its bucket. */
  rolledBack?: () => void;
  /** While recording: where this listener's newest bucket stands (before and after each job). */
  mark?: () => number;
  /** A job of the oldest open batch failed: drop what it queued, between two marks. */
  discard?: (from: number, to: number) => void;
  /** Jobs failed after changing memory: re-read the store. Called when no batch is open. */
  resync?: () => void;
}

/**
 * A listener's per-batch buckets: `begin` opens one, jobs add to the newest,
 * `settle` takes the oldest when its batch completes.
 */
export class PerBatch<T> {
  private readonly buckets: T[][] = [];

  begin(): void {
    this.buckets.push([]);
  }

  /** The newest bucket (the batch being recorded or run). */
  get current(): T[] {
    if (this.buckets.length === 0) this.buckets.push([]);
    return this.buckets[this.buckets.length - 1]!;
  }

  mark(): number {
    return this.current.length;
  }

  /** Drops items queued after `mark` in the newest bucket (a savepoint rolled back). */
  truncate(mark: number): void {
    this.current.length = mark;
  }

  discardOldest(from: number, to: number): void {
    this.buckets[0]?.splice(from, to - from);
  }

  /** The oldest bucket, removed. */
  settle(): T[] {
    return this.buckets.shift() ?? [];
  }
}

/** The recording of one batch: the ops to write and each job's outcome so far. */
interface Recording {
  jobs: Job[];
  ops: unknown[];
  jobEnds: number[];
  results: unknown[];
  /** Errors thrown while recording, by job. */
  errors: Array<Error | null>;
  /** Per marking hook (GroupCommit.marking), flat: job j's marks before and after it at 2j and 2j + 1. */
  marks: number[][];
}

export class GroupCommit {
  private queue: Job[] = [];
  private readonly hooks: CommitHooks[] = [];
  /** The hooks with `mark`: asked before and after every recorded job, so kept apart from the rest. */
  private readonly marking: CommitHooks[] = [];
  private scheduled = false;
  private closed = false;
  private readonly maxBatch: number;
  private readonly maxBatchWeight: number;
  /** Statement text by id, and its prepared form on this connection (for direct jobs). */
  private readonly sqls: string[] = [];
  private readonly prepared: Array<ReturnType<Db['prepare']> | undefined> = [];
  /** The ops of the recorded job running now; null when not recording. */
  private recordingOps: unknown[] | null = null;
  private readonly thread: WriterThread | null;
  /** Checkpoints the WAL beside the writer thread (checkpointThread.ts); with the thread only. */
  private readonly checkpointer: Checkpointer | null;
  /** Batches sent to the writer thread, oldest first. */
  private readonly inFlight: Recording[] = [];
  private readonly maxInFlight: number;
  /** A job failed after changing memory: listeners re-read the store once nothing is in flight. */
  private needsResync = false;
  private idleWaiters: Array<() => void> = [];
  private totalChangesStmt: Database.Statement<[], number> | undefined;

  constructor(private readonly db: Db, private readonly opts: GroupCommitOptions = {}) {
    this.maxBatch = opts.maxBatch ?? 2000;
    this.maxBatchWeight = opts.maxBatchWeight ?? MAX_BATCH_WEIGHT;
    this.thread = opts.thread ? new WriterThread(db, (reply) => this.written(reply), (err) => this.threadFailed(err)) : null;
    this.maxInFlight = this.thread ? 2 : 1;
    if (this.thread) {
      // This connection commits direct jobs: it must not checkpoint every 1,000 pages either.
      db.pragma(`wal_autocheckpoint = ${WAL_CAP_PAGES}`);
      this.checkpointer = new Checkpointer(db, (err) => this.opts.onError?.(err));
    } else {
      this.checkpointer = null;
    }
  }

  addHooks(hooks: CommitHooks): void {
    this.hooks.push(hooks);
    if (hooks.mark) this.marking.push(hooks);
  }

  get pending(): number {
    return this.queue.length;
  }

  /**
   * A write a job may issue; recorded during a recorded job, executed at once
   * during a direct one. Create statements once (in a constructor), not per job.
   */
  statement(sql: string): WriteStatement {
    const id = this.sqls.push(sql) - 1;
    return { run: (...params: unknown[]) => this.exec(id, params) };
  }

  /** Queues `work` for the next transaction; `done` runs after it is committed (or failed). */
  enqueue<T>(work: Work<T>, done: Done<T>): void {
    this.push({ work, done: done as Done<unknown>, recorded: false, weight: 1 });
  }

  /**
   * Queues a job that writes only through `statement(…)` (see the file comment).
   * `weight`: what it costs to record and write, in readings (default 1); a batch
   * holds at most `maxBatchWeight` after its first job.
   */
  enqueueRecorded<T>(work: RecordedWork<T>, done: Done<T>, weight = 1): void {
    this.push({ work, done: done as Done<unknown>, recorded: true, weight });
  }

  run<T>(work: Work<T>): Promise<T> {
    return new Promise((resolve, reject) => this.enqueue(work, (err, result) => (err ? reject(err) : resolve(result as T))));
  }

  runRecorded<T>(work: RecordedWork<T>): Promise<T> {
    return new Promise((resolve, reject) => this.enqueueRecorded(work, (err, result) => (err ? reject(err) : resolve(result as T))));
  }

  /**
   * Runs `fn` so that, if it throws, none of its writes happen: a savepoint in
   * a direct job, a cut of the recording in a recorded one. Rethrows.
   */
  savepoint<T>(fn: () => T): T {
    const ops = this.recordingOps;
    if (!ops) return this.db.transaction(fn)();
    const mark = ops.length;
    try {
      return fn();
    } catch (err) {
      ops.length = mark;
      throw err;
    }
  }

  /**
   * Commits what is queued. With a writer thread, recorded batches complete
   * later; `drain()` waits for them. Called by the scheduler and on shutdown.
   */
  flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const recorded = this.queue[0]!.recorded;
      if (this.inFlight.length >= (recorded ? this.maxInFlight : 1)) break;
      if (this.needsResync) {
        if (this.inFlight.length > 0) break;
        this.needsResync = false;
        this.runHooks('resync');
      }
      let n = 1;
      let weight = this.queue[0]!.weight;
      for (; n < this.queue.length && n < this.maxBatch; n++) {
        const next = this.queue[n]!;
        if (next.recorded !== recorded || weight + next.weight > this.maxBatchWeight) break;
        weight += next.weight;
      }
      const batch = this.queue.splice(0, n);
      if (recorded) this.commitRecorded(batch);
      else this.commit(batch);
    }
    if (this.idle) this.wakeIdle();
  }

  private get idle(): boolean {
    return this.queue.length === 0 && this.inFlight.length === 0;
  }

  /** Resolves once everything queued before (and while) waiting is committed. */
  drain(): Promise<void> {
    this.flush();
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Commits what is queued, refuses further work, and stops the writer thread. */
  async close(): Promise<void> {
    this.flush();
    this.closed = true;
    await this.drain();
    await this.thread?.close();
    await this.checkpointer?.close();
  }

  private push(job: Job): void {
    if (this.closed) {
      job.done(new Error('store is closed'));
      return;
    }
    this.queue.push(job);
    this.schedule();
  }

  /** Flushes in the event loop's next check phase (after this turn's I/O), once however often asked. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private exec(id: number, params: unknown[]): void {
    if (this.recordingOps) {
      this.recordingOps.push(id, params);
      return;
    }
    const stmt = (this.prepared[id] ??= this.db.prepare(this.sqls[id]!));
    stmt.run(...params);
  }

  // ---- direct jobs ----

  private commit(batch: Job[]): void {
    const started = process.hrtime.bigint();
    this.runHooks('begin');
    let results: unknown[];
    try {
      results = this.db.transaction(() => batch.map((job) => job.work(this.db)))();
    } catch (err) {
      // One failing job must not take the others down: retry each on its own.
      this.opts.onError?.(err as Error);
      this.rolledBack();
      for (const job of batch) this.commitOne(job);
      return;
    }
    this.opts.onCommit?.(Number(process.hrtime.bigint() - started) / 1e9, batch.length);
    this.runHooks('committed');
    for (let i = 0; i < batch.length; i++) this.tell(batch[i]!, null, results[i]);
  }

  private commitOne(job: Job): void {
    this.runHooks('begin');
    let result: unknown;
    try {
      result = this.db.transaction(() => job.work(this.db))();
    } catch (err) {
      this.rolledBack();
      this.tell(job, err as Error);
      return;
    }
    this.runHooks('committed');
    this.tell(job, null, result);
  }

  /** A direct batch rolled back (nothing in flight): listeners drop it and re-read the store at once. */
  private rolledBack(): void {
    this.runHooks('rolledBack');
    this.needsResync = false;
    this.runHooks('resync');
  }

  // ---- recorded jobs ----

  private commitRecorded(batch: Job[]): void {
    const changesBefore = this.totalChanges();
    this.runHooks('begin');
    // One read transaction for the batch's reads (dedupe checks, rule windows): one snapshot, one WAL lookup.
    const own = !this.db.inTransaction;
    if (own) this.db.exec('BEGIN');
    let rec: Recording;
    try {
      rec = this.record(batch);
    } finally {
      if (own) this.db.exec('COMMIT');
    }
    if (this.totalChanges() !== changesBefore) {
      // A bug, not a runtime condition: such a write escaped the batch's transaction and ordering.
      this.opts.onError?.(new Error('a recorded job wrote through the connection instead of statement(); its writes were not part of the group commit'));
    }
    if (this.thread?.usable && (rec.ops.length > 0 || this.inFlight.length > 0)) {
      // (An empty batch still queues behind those in flight: batches complete in order.)
      this.inFlight.push(rec);
      this.thread.send(rec.ops, rec.jobEnds, this.sqls);
      // The thread has its copy: let the params die young rather than be kept (and promoted) until the commit.
      rec.ops = [];
      return;
    }
    this.finishRecorded(rec, rec.ops.length > 0 ? this.writeHere(rec) : { id: 0, seconds: 0, failed: [] });
  }

  /** Runs each job's JavaScript, collecting the writes it issues. */
  private record(batch: Job[]): Recording {
    const marking = this.marking;
    const marks = marking.map((): number[] => []);
    const rec: Recording = { jobs: batch, ops: [], jobEnds: [], results: [], errors: [], marks };
    for (const job of batch) {
      // Flat numbers, no arrays per job: this runs for every publish.
      for (let i = 0; i < marking.length; i++) marks[i]!.push(marking[i]!.mark!());
      const start = rec.ops.length;
      this.recordingOps = rec.ops;
      try {
        rec.results.push(job.work(this.db));
        rec.errors.push(null);
      } catch (err) {
        rec.ops.length = start;
        rec.results.push(undefined);
        rec.errors.push(err as Error);
      } finally {
        this.recordingOps = null;
      }
      rec.jobEnds.push(rec.ops.length);
      for (let i = 0; i < marking.length; i++) marks[i]!.push(marking[i]!.mark!());
    }
    return rec;
  }

  /** Writes a recording on this connection (no writer thread), as the thread would. */
  private writeHere(rec: Recording): WriterReply {
    const started = process.hrtime.bigint();
    const failed = writeBatch(this.db, (id) => (this.prepared[id] ??= this.db.prepare(this.sqls[id]!)), rec.ops, rec.jobEnds);
    return { id: 0, seconds: Number(process.hrtime.bigint() - started) / 1e9, failed };
  }

  private written(reply: WriterReply): void {
    const rec = this.inFlight.shift();
    if (!rec) return;
    this.finishRecorded(rec, reply);
    // Not at once: Node delivers a worker's messages in one loop while they keep coming
    // (up to 1,000), so recording the next batch here, when the thread writes faster than
    // the event loop records, would serve nothing else (HTTP, timers) for seconds.
    this.schedule();
  }

  /** The writer thread died: what it was writing is unknown, so re-read the store; go on without it. */
  private threadFailed(err: Error): void {
    this.opts.onError?.(err);
    // Each batch either committed before the thread died or not at all; its callers hear "failed"
    // and resend, and the dedupe answers for what did commit.
    for (const rec of this.inFlight.splice(0)) {
      this.finishRecorded(rec, { id: 0, seconds: 0, failed: rec.jobs.map((_, i) => [i, `writer thread failed: ${err.message}`]) });
    }
    this.flush();
  }

  private finishRecorded(rec: Recording, reply: WriterReply): void {
    const errors = [...rec.errors];
    for (const [job, message] of reply.failed) errors[job] ??= new Error(message);
    const failedJobs = errors.flatMap((e, i) => (e ? [i] : []));
    if (failedJobs.length > 0) {
      this.opts.onError?.(errors[failedJobs[0]!]!);
      this.needsResync = true;
    }
    if (failedJobs.length > 0 && failedJobs.length === rec.jobs.length) {
      this.runHooks('rolledBack');
    } else {
      this.marking.forEach((h, i) => {
        const marks = rec.marks[i]!;
        for (const job of [...failedJobs].reverse()) h.discard?.(marks[2 * job]!, marks[2 * job + 1]!);
      });
      this.opts.onCommit?.(reply.seconds, rec.jobs.length);
      this.runHooks('committed');
    }
    rec.jobs.forEach((job, i) => this.tell(job, errors[i] ?? null, errors[i] ? undefined : rec.results[i]));
  }

  // ----

  private totalChanges(): number {
    this.totalChangesStmt ??= this.db.prepare<[], number>('SELECT total_changes()').pluck();
    return this.totalChangesStmt.get() as number;
  }

  /** A caller's callback that throws must not stall the queue or hide other callers' results. */
  private tell(job: Job, err: Error | null, result?: unknown): void {
    try {
      job.done(err, result);
    } catch (cbErr) {
      this.opts.onError?.(cbErr as Error);
    }
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private runHooks(which: 'begin' | 'committed' | 'rolledBack' | 'resync'): void {
    for (const h of this.hooks) {
      try {
        h[which]?.();
      } catch (err) {
        this.opts.onError?.(err as Error);
      }
    }
  }
}

/** The writer thread's handle (writerThread.ts). */
class WriterThread {
  private readonly worker: Worker;
  private sentSqls = 0;
  private nextId = 1;
  private dead = false;
  private readonly exited: Promise<void>;

  constructor(db: Db, onReply: (reply: WriterReply) => void, onFailure: (err: Error) => void) {
    const data: WriterThreadData = {
      file: db.name, sync: syncModeOf(db), autocheckpointPages: WAL_CAP_PAGES,
    };
    this.worker = startTsWorker(new URL('./writerThread.ts', import.meta.url), data);
    this.worker.on('message', onReply);
    this.worker.on('error', (err) => {
      this.dead = true;
      onFailure(err);
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', (code) => {
      if (!this.dead && code !== 0) {
        this.dead = true;
        onFailure(new Error(`writer thread exited with code ${code}`));
      }
      this.dead = true;
      resolve();
    }));
  }

  get usable(): boolean {
    return !this.dead;
  }

  send(ops: unknown[], jobEnds: number[], sqls: string[]): void {
    // The ops as they are (structured clone), not as JSON: once a batch holds one character outside
    // Latin-1 (an alert's Chinese title), V8 builds the JSON as a two-byte string, and stringifying
    // the batch cost the event loop ~1.2 µs a reading against ~0.35 µs to clone it (Node 20; the
    // thread reads a clone back faster than it parses the JSON, too). The thread also binds what
    // the event loop binds without one: JSON dropped a named parameter left undefined (the job
    // failed: "Missing named parameter") and made ±Infinity null.
    const batch: WriterBatch = { id: this.nextId++, sqls: sqls.slice(this.sentSqls), ops, jobEnds };
    this.sentSqls = sqls.length;
    try {
      this.worker.postMessage(batch);
    } catch {
      // A param the clone refuses (a function, a symbol: a job's bug) must not take the hub down:
      // as JSON it is null, as before, and the thread writes or fails that job like any other.
      this.worker.postMessage({ ...batch, ops: JSON.parse(JSON.stringify(ops)) as unknown[] });
    }
  }

  async close(): Promise<void> {
    if (!this.dead) this.worker.postMessage('close');
    await this.exited;
  }
}
