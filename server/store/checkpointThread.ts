/**
 * The store's checkpointer thread: its own SQLite connection copying
 * committed pages from the WAL back into the database file (a PASSIVE
 * checkpoint: it never blocks a writer or a reader), every `intervalMs`.
 *
 * Without it, SQLite checkpoints inside whichever commit finds the WAL past
 * `wal_autocheckpoint` pages: the writer thread's, every few group commits,
 * so one batch in four or five waited for thousands of page copies and an
 * fsync of the database file, and every hot index page written in those
 * batches was copied once per checkpoint. Here the copying runs beside the
 * writer, and a page written by many commits between two checkpoints is
 * copied once. The writer's own autocheckpoint stays on at a far larger size
 * (see checkpointer.ts): it bounds the WAL under continuous load, and if this
 * thread dies.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openThreadConnection, type SyncMode } from './sqliteDb.js';

export interface CheckpointThreadData {
  file: string;
  sync: SyncMode;
  intervalMs: number;
}

/** What the thread reports after a checkpoint that failed (it goes on trying). */
export interface CheckpointFailure {
  error: string;
}

function start(): void {
  const port = parentPort;
  if (!port) throw new Error('checkpointThread.ts runs as a worker thread');
  const { file, sync, intervalMs } = workerData as CheckpointThreadData;
  const db = openThreadConnection(file, sync, 0);
  let failing = false;
  const timer = setInterval(() => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
      failing = false;
    } catch (err) {
      // Reported once per run of failures; the writer's autocheckpoint still bounds the WAL.
      if (!failing) port.postMessage({ error: (err as Error).message } satisfies CheckpointFailure);
      failing = true;
    }
  }, intervalMs);
  port.on('message', (m: 'close') => {
    if (m !== 'close') return;
    clearInterval(timer);
    db.close();
    port.close();
  });
}

start();
