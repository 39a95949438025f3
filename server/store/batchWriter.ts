/**
 * Writes a group commit's recorded batch (see groupCommit.ts) on one
 * connection: the writer thread's, or the event loop's when there is no
 * thread. All jobs in one transaction; when that fails, again with one
 * savepoint per job, so one bad job fails alone.
 */
import type Database from 'better-sqlite3';

/** Jobs that were not written, by index, with the reason. */
export type FailedJobs = Array<[job: number, message: string]>;

/**
 * `ops` is flat: statement id, params array, statement id, params array, …;
 * `jobEnds[j]` is where job j's ops end (exclusive).
 */
export function writeBatch(db: Database.Database, statement: (id: number) => Database.Statement, ops: unknown[], jobEnds: number[]): FailedJobs {
  const runJob = (from: number, to: number) => {
    for (let i = from; i < to; i += 2) statement(ops[i] as number).run(...(ops[i + 1] as unknown[]));
  };
  const failed: FailedJobs = [];
  try {
    db.transaction(() => runJob(0, ops.length))();
    return failed;
  } catch {
    // retried job by job below
  }
  try {
    db.transaction(() => {
      let from = 0;
      jobEnds.forEach((end, job) => {
        try {
          db.transaction(() => runJob(from, end))(); // nested: a savepoint
        } catch (err) {
          failed.push([job, (err as Error).message]);
        }
        from = end;
      });
    })();
  } catch (err) {
    // The commit itself failed (disk full, I/O error): nothing of this batch is written.
    failed.length = 0;
    jobEnds.forEach((_, job) => failed.push([job, (err as Error).message]));
  }
  return failed;
}
