/**
 * Whether the embedded store is writing. When writes fail for a reason of the
 * machine (disk full, an I/O error, a read-only file system, the writer thread
 * gone) every device is refused its PUBACK and keeps its readings, which is
 * right, but no alert can be raised either: the monitoring center must hear it
 * from the hub's health, not from a resident. `/readyz` answers 503 while the
 * store fails, and metrics count each failure by kind. A failure of one job
 * (a constraint, a bug in one request) is not the store failing.
 */

/** SQLite's result codes and messages (better-sqlite3 keeps the code; the writer thread passes messages) for the machine's faults. */
const FAULT = /SQLITE_(FULL|IOERR|READONLY|CORRUPT|CANTOPEN|NOMEM|NOTADB)|database or disk is full|disk I\/O error|readonly database|database disk image is malformed|unable to open database|out of memory|writer thread/i;

export function isStoreFault(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return FAULT.test(typeof code === 'string' ? `${code} ${err.message}` : err.message);
}

export type StoreState = { failing: false } | { failing: true; since: number; error: string };

export class StoreHealth {
  private failingSince: number | null = null;
  private lastError = '';

  constructor(private readonly now: () => number = Date.now) {}

  /** A write failed; answers whether it was a fault of the store (else of one job). */
  failed(err: Error): boolean {
    if (!isStoreFault(err)) return false;
    this.failingSince ??= this.now();
    this.lastError = err.message;
    return true;
  }

  /** A batch committed: the store writes again. */
  committed(): void {
    this.failingSince = null;
  }

  state(): StoreState {
    return this.failingSince === null ? { failing: false } : { failing: true, since: this.failingSince, error: this.lastError };
  }
}
