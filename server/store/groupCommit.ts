/**
 * Group commit: writes queued during one turn of the event loop are committed
 * together in one SQLite transaction, and each caller is told only after that
 * commit. This is what lets a PUBACK mean "durable" without one fsync per
 * reading.
 */
import type { Db } from './sqliteDb.js';

export type Work<T> = (db: Db) => T;
export type Done<T> = (err: Error | null, result?: T) => void;

interface Job {
  work: Work<unknown>;
  done: Done<unknown>;
}

export interface GroupCommitOptions {
  /** Most jobs in one transaction; more wait for the next one. */
  maxBatch?: number;
  /** Called after every commit with its duration and size, for metrics. */
  onCommit?: (seconds: number, jobs: number) => void;
  onError?: (err: Error) => void;
}

export class GroupCommit {
  private queue: Job[] = [];
  private scheduled = false;
  private closed = false;
  private readonly maxBatch: number;

  constructor(private readonly db: Db, private readonly opts: GroupCommitOptions = {}) {
    this.maxBatch = opts.maxBatch ?? 2000;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Queues `work` for the next transaction; `done` runs after it is committed (or failed). */
  enqueue<T>(work: Work<T>, done: Done<T>): void {
    if (this.closed) {
      done(new Error('store is closed'));
      return;
    }
    this.queue.push({ work, done: done as Done<unknown> });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  run<T>(work: Work<T>): Promise<T> {
    return new Promise((resolve, reject) => this.enqueue(work, (err, result) => (err ? reject(err) : resolve(result as T))));
  }

  /** Commits everything queued now. Called by the scheduler and on shutdown. */
  flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.commit(batch);
    }
  }

  /** Flushes what is queued and refuses further work. */
  close(): void {
    this.flush();
    this.closed = true;
  }

  private commit(batch: Job[]): void {
    const started = process.hrtime.bigint();
    let results: unknown[];
    try {
      results = this.db.transaction(() => batch.map((job) => job.work(this.db)))();
    } catch (err) {
      // One failing job must not take the others down: retry each on its own.
      this.opts.onError?.(err as Error);
      for (const job of batch) this.commitOne(job);
      return;
    }
    this.opts.onCommit?.(Number(process.hrtime.bigint() - started) / 1e9, batch.length);
    for (let i = 0; i < batch.length; i++) batch[i]!.done(null, results[i]);
  }

  private commitOne(job: Job): void {
    let result: unknown;
    try {
      result = this.db.transaction(() => job.work(this.db))();
    } catch (err) {
      job.done(err as Error);
      return;
    }
    job.done(null, result);
  }
}
