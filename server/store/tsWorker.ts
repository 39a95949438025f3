/**
 * Starts a worker thread whose code is TypeScript, through tsx's loader
 * registered inside the thread: a worker does not inherit the parent's
 * `--import tsx` hooks on Node 20. Unreferenced: a hub that stops closes its
 * threads; a test that forgets to does not hang.
 */
import { Worker } from 'node:worker_threads';

export function startTsWorker(entry: URL, workerData: unknown): Worker {
  const worker = new Worker(
    `import { register } from 'tsx/esm/api'; register(); await import(${JSON.stringify(entry.href)});`,
    { eval: true, workerData, stdout: false, stderr: false },
  );
  worker.unref();
  return worker;
}
