/**
 * The store's writer thread: its own SQLite connection, running the writes
 * the group commit recorded on the event loop (see groupCommit.ts). It knows
 * nothing of readings or alerts: it prepares the statements it is sent and
 * runs a batch of jobs in one transaction, so the event loop goes on parsing
 * and judging the next readings while SQLite writes and fsyncs these.
 *
 * A batch is all or nothing per job: when the one transaction fails, it is
 * retried with one savepoint per job, so one bad job fails alone.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

/** What the event loop sends: new statements, then jobs as flat [statement, params] pairs. */
export interface WriterBatch {
  id: number;
  /** Statements first used since the previous batch; their ids continue the thread's list. */
  sqls: string[];
  /**
   * JSON of a flat array: statement id, params array, statement id, params
   * array, … (one string: far cheaper to post than the nested arrays).
   */
  ops: string;
  /** Where each job's ops end in `ops` (exclusive), one per job. */
  jobEnds: number[];
}

export interface WriterReply {
  id: number;
  /** Seconds the transaction (and its fsync) took. */
  seconds: number;
  /** Jobs that were not written, by index, with the reason. Empty when all committed. */
  failed: Array<[job: number, message: string]>;
}

export interface WriterThreadData {
  file: string;
  sync: 'FULL' | 'NORMAL';
}

type Statement = Database.Statement;

function start(): void {
  const port = parentPort;
  if (!port) throw new Error('writerThread.ts runs as a worker thread');
  const { file, sync } = workerData as WriterThreadData;
  const db = new Database(file, { fileMustExist: true });
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${sync}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const statements: Statement[] = [];

  const runJob = (ops: unknown[], from: number, to: number) => {
    for (let i = from; i < to; i += 2) statements[ops[i] as number]!.run(...(ops[i + 1] as unknown[]));
  };
  const all = db.transaction((ops: unknown[]) => runJob(ops, 0, ops.length));
  const oneJob = db.transaction((ops: unknown[], from: number, to: number) => runJob(ops, from, to));
  const jobByJob = db.transaction((ops: unknown[], jobEnds: number[], failed: WriterReply['failed']) => {
    let from = 0;
    jobEnds.forEach((end, job) => {
      try {
        oneJob(ops, from, end); // nested: a savepoint
      } catch (err) {
        failed.push([job, (err as Error).message]);
      }
      from = end;
    });
  });

  const prepare = (sql: string): Statement => {
    try {
      return db.prepare(sql);
    } catch (err) {
      // Keeps the ids in step; every job that uses it fails with the reason.
      return { run: () => { throw err; } } as unknown as Statement;
    }
  };

  port.on('message', (b: WriterBatch | 'close') => {
    if (b === 'close') {
      db.close();
      port.close();
      return;
    }
    const started = process.hrtime.bigint();
    const failed: WriterReply['failed'] = [];
    for (const sql of b.sqls) statements.push(prepare(sql));
    const ops = JSON.parse(b.ops) as unknown[];
    try {
      all(ops);
    } catch {
      try {
        jobByJob(ops, b.jobEnds, failed);
      } catch (err) {
        // The commit itself failed (disk full, I/O error): nothing of this batch is written.
        failed.length = 0;
        b.jobEnds.forEach((_, job) => failed.push([job, (err as Error).message]));
      }
    }
    const reply: WriterReply = { id: b.id, seconds: Number(process.hrtime.bigint() - started) / 1e9, failed };
    port.postMessage(reply);
  });
}

start();
