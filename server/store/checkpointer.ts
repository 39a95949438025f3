/**
 * The handle of the store's checkpointer thread (checkpointThread.ts), used
 * when a writer thread does the ingest's writes (GroupCommit, `thread: true`).
 */
import type { Worker } from 'node:worker_threads';
import type { CheckpointFailure, CheckpointThreadData } from './checkpointThread.js';
import { syncModeOf, type Db } from './sqliteDb.js';
import { startTsWorker } from './tsWorker.js';

/**
 * How often the thread checkpoints, and so the most a commit passing the cap
 * below has left to copy. 25 ms against 100 ms, four saturating ingest runs
 * each, alternated: the same throughput (46,000/s on average for both), PUBACK
 * p99 31.1 vs 33.7 ms on average (28.9–32.7 vs 32.5–35.4 ms).
 */
const INTERVAL_MS = 25;
/**
 * `wal_autocheckpoint` of the connections that commit (the writer thread's and
 * the event loop's) while the checkpointer runs: 64 MiB of 4 KiB pages. The WAL
 * starts over from its beginning only when a write begins with every frame
 * already copied, which a passive checkpoint beside a never-idle writer rarely
 * achieves: under saturating load the WAL file grows to this size, and the
 * commit that passes it copies what the thread has not yet (at most
 * INTERVAL_MS of writes), after which the WAL wraps (measured: 65–69 MiB through a 60 s run at
 * ~38,000 readings/s). If the thread dies, commits checkpoint at this size alone.
 */
export const WAL_CAP_PAGES = 16_384;

export class Checkpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private running = true;

  constructor(db: Db, onError: (err: Error) => void) {
    const data: CheckpointThreadData = { file: db.name, sync: syncModeOf(db), intervalMs: INTERVAL_MS };
    this.worker = startTsWorker(new URL('./checkpointThread.ts', import.meta.url), data);
    this.worker.on('message', (m: CheckpointFailure) => onError(new Error(`WAL checkpoint failed: ${m.error}`)));
    this.worker.on('error', (err) => onError(new Error(`checkpointer thread failed: ${err.message}`)));
    this.exited = new Promise((resolve) => this.worker.once('exit', (code) => {
      if (this.running && code !== 0) onError(new Error(`checkpointer thread exited with code ${code}`));
      this.running = false;
      resolve();
    }));
  }

  async close(): Promise<void> {
    if (this.running) this.worker.postMessage('close');
    this.running = false;
    await this.exited;
  }
}
