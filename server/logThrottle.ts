/**
 * A log line that can repeat at the rate of the traffic (a refused reading, a
 * failed write while the disk is full) is bounded: the first of a quiet spell
 * is logged as it comes, the rest of each window are counted, and one line at
 * the window's end says how many were left out, with the latest one's fields.
 * The events themselves stay counted in full by their metrics; the log is for
 * a person reading it, and must still be readable (and must not fill the disk
 * it is complaining about).
 */
import type { Logger } from 'pino';

export class ThrottledLog {
  private windowEndsAt = -Infinity;
  private leftOut = 0;
  private latest: object = {};
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly log: Logger,
    private readonly level: 'warn' | 'error',
    private readonly msg: string,
    private readonly everyMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  write(fields: object): void {
    const t = this.now();
    if (t >= this.windowEndsAt) {
      this.windowEndsAt = t + this.everyMs;
      this.log[this.level](fields, this.msg);
      return;
    }
    this.leftOut += 1;
    this.latest = fields;
    this.timer ??= setTimeout(() => this.flush(), Math.max(0, this.windowEndsAt - t)).unref();
  }

  /** Logs what the window left out, if anything (also on shutdown). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.leftOut === 0) return;
    const n = this.leftOut;
    this.leftOut = 0;
    // The summary opens a window of its own: a steady flood gives one line per window.
    this.windowEndsAt = this.now() + this.everyMs;
    this.log[this.level]({ ...this.latest, leftOut: n }, `${this.msg} (${n} more like it in the last ${Math.round(this.everyMs / 1000)} s, not logged one by one)`);
  }
}
