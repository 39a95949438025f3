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
  /** A flat array: statement id, params array, statement id, params array, … */
  ops: unknown[];
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

/** The writer connection's page cache, KiB (see `start`). */
const WRITER_CACHE_KIB = 32 * 1024;

function start(): void {
  const port = parentPort;
  if (!port) throw new Error('writerThread.ts runs as a worker thread');
  const { file, sync, autocheckpointPages } = workerData as WriterThreadData;
  const db = openThreadConnection(file, sync, autocheckpointPages);
  // Every batch inserts into the readings' indexes at one place per device and per resident: with
  // hundreds of them, those pages outgrow SQLite's default 2 MiB page cache, and each batch read
  // back from the WAL and the file pages that an earlier one had written. This connection makes
  // nearly every write, so its cache stays valid from one commit to the next (another connection's
  // write, rare under load, empties it). Pages are kept only once used: 32 MiB is the most.
  db.pragma(`cache_size = -${WRITER_CACHE_KIB}`);
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
    const failed = writeBatch(db, (id) => statements[id]!, b.ops, b.jobEnds);
    const reply: WriterReply = { id: b.id, seconds: Number(process.hrtime.bigint() - started) / 1e9, failed };
    port.postMessage(reply);
  });
}

start();
