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

/**
 * Listeners around each transaction: work that keeps memory in step with the
 * store (the alert engine's open-alert index) or that must happen only once
 * data is durable (pushing events to screens).
 */
export interface CommitHooks {
  /** After a transaction committed, before its jobs' callbacks run. */
  committed?: () => void;
  /** After a transaction rolled back; undo what the jobs did to memory. */
  rolledBack?: () => void;
}

export class GroupCommit {
  private queue: Job[] = [];
  private readonly hooks: CommitHooks[] = [];
  private scheduled = false;
  private closed = false;
  private readonly maxBatch: number;

  constructor(private readonly db: Db, private readonly opts: GroupCommitOptions = {}) {
    this.maxBatch = opts.maxBatch ?? 2000;
  }

  addHooks(hooks: CommitHooks): void {
    this.hooks.push(hooks);
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
      this.rolledBack();
      for (const job of batch) this.commitOne(job);
      return;
    }
    this.opts.onCommit?.(Number(process.hrtime.bigint() - started) / 1e9, batch.length);
    this.committed();
    for (let i = 0; i < batch.length; i++) this.tell(batch[i]!, null, results[i]);
  }

  private commitOne(job: Job): void {
    let result: unknown;
    try {
      result = this.db.transaction(() => job.work(this.db))();
    } catch (err) {
      this.rolledBack();
      this.tell(job, err as Error);
      return;
    }
    this.committed();
    this.tell(job, null, result);
  }

  /** A caller's callback that throws must not stall the queue or hide other callers' results. */
  private tell(job: Job, err: Error | null, result?: unknown): void {
    try {
      job.done(err, result);
    } catch (cbErr) {
      this.opts.onError?.(cbErr as Error);
    }
  }

  private committed(): void {
    this.runHooks('committed');
  }

  private rolledBack(): void {
    this.runHooks('rolledBack');
  }

  private runHooks(which: keyof CommitHooks): void {
    for (const h of this.hooks) {
      try {
        h[which]?.();
      } catch (err) {
        this.opts.onError?.(err as Error);
      }
    }
  }
}
