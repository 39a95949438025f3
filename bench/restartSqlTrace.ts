/**
 * Preloaded into a hub by the restart part's diagnostic run
 * (`node --import ./bench/restartSqlTrace.ts server/index.ts`), never in
 * production: times every SQLite call of the hub's main thread (statements'
 * run/get/all, exec, pragma) and appends those that took at least
 * ANXIN_BENCH_SQL_TRACE_MS (default 5) to the file ANXIN_BENCH_SQL_TRACE, one
 * JSON line each: when (ms since the process started), how long, the SQL and
 * the hub's call site (file:line, source-mapped by tsx).
 */
import Database from 'better-sqlite3';
import { appendFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const file = process.env.ANXIN_BENCH_SQL_TRACE;

export interface SqlTraceLine {
  /** Start, ms since the process started. */
  at: number;
  ms: number;
  method: string;
  sql: string;
  /** The first frames outside better-sqlite3 and this file, e.g. `server/alerts/watchdog.ts:82 (new Watchdog)`. */
  sites: string[];
}

if (file && isMainThread) {
  const minMs = Number(process.env.ANXIN_BENCH_SQL_TRACE_MS ?? 5);
  const root = new URL('..', import.meta.url).pathname;
  const sites = (): string[] => {
    const out: string[] = [];
    for (const line of (new Error().stack ?? '').split('\n').slice(1)) {
      if (line.includes('restartSqlTrace') || line.includes('node_modules') || line.includes('node:')) continue;
      const m = /at (?:(.*?) \()?(?:file:\/\/)?([^()]+):(\d+):\d+\)?$/.exec(line.trim());
      if (m) out.push(`${m[2]!.replace(root, '')}:${m[3]}${m[1] ? ` (${m[1]})` : ''}`);
      if (out.length === 3) break;
    }
    return out;
  };
  const record = (method: string, sql: string, started: number) => {
    const ms = performance.now() - started;
    if (ms < minMs) return;
    const line: SqlTraceLine = { at: started, ms, method, sql: sql.replace(/\s+/g, ' ').trim().slice(0, 400), sites: sites() };
    appendFileSync(file, JSON.stringify(line) + '\n');
  };
  const wrap = (proto: Record<string, unknown>, method: string, sqlOf: (self: unknown, args: unknown[]) => string) => {
    const original = proto[method] as (...args: unknown[]) => unknown;
    proto[method] = function (this: unknown, ...args: unknown[]) {
      const started = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        record(method, sqlOf(this, args), started);
      }
    };
  };
  const scratch = new Database(':memory:');
  const statementProto = Object.getPrototypeOf(scratch.prepare('SELECT 1')) as Record<string, unknown>;
  scratch.close();
  for (const m of ['run', 'get', 'all']) wrap(statementProto, m, (self) => (self as { source: string }).source);
  const databaseProto = Database.prototype as unknown as Record<string, unknown>;
  wrap(databaseProto, 'exec', (_self, args) => String(args[0]));
  wrap(databaseProto, 'pragma', (_self, args) => `PRAGMA ${String(args[0])}`);
}
