/**
 * The store's writer thread: its own SQLite connection, running the writes
 * the group commit recorded on the event loop (see groupCommit.ts). It knows
 * nothing of readings or alerts: it prepares the statements it is sent and
 * runs a batch of jobs in one transaction (batchWriter.ts), so the event loop
 * goes on parsing and judging the next readings while SQLite writes and
 * fsyncs these.
 */
import type Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { writeBatch, type FailedJobs } from './batchWriter.js';
import { openThreadConnection, type SyncMode } from './sqliteDb.js';

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
  failed: FailedJobs;
}

export interface WriterThreadData {
  file: string;
  sync: SyncMode;
  /** The connection's `wal_autocheckpoint`: large, a checkpointer thread does the copying (checkpointer.ts). */
  autocheckpointPages: number;
}

type Statement = Database.Statement;

function start(): void {
  const port = parentPort;
  if (!port) throw new Error('writerThread.ts runs as a worker thread');
  const { file, sync, autocheckpointPages } = workerData as WriterThreadData;
  const db = openThreadConnection(file, sync, autocheckpointPages);
  const statements: Statement[] = [];

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
    for (const sql of b.sqls) statements.push(prepare(sql));
    const failed = writeBatch(db, (id) => statements[id]!, JSON.parse(b.ops) as unknown[], b.jobEnds);
    const reply: WriterReply = { id: b.id, seconds: Number(process.hrtime.bigint() - started) / 1e9, failed };
    port.postMessage(reply);
  });
}

start();
