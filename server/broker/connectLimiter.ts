/**
 * Limits MQTT connection attempts per source address (aedes `preConnect`): a
 * token bucket for every attempt, and a lock-out after repeated failed
 * sign-ins, so guessing secrets or a reconnect loop cannot flood the hub.
 */
export interface ConnectLimiterOptions {
  burst: number;
  perSecond: number;
  /** Failed sign-ins within `failureWindowMs` that lock an address out for the same window. */
  maxFailures?: number;
  failureWindowMs?: number;
  now?: () => number;
}

interface Entry {
  tokens: number;
  at: number;
  failures: number[];
  lockedUntil: number;
}

export class ConnectLimiter {
  private readonly entries = new Map<string, Entry>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: ConnectLimiterOptions) {
    this.maxFailures = opts.maxFailures ?? 10;
    this.windowMs = opts.failureWindowMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  /** Takes one attempt; false when the address must wait. */
  attempt(address: string): { ok: true } | { ok: false; reason: 'rate_limited' | 'locked_out' } {
    const now = this.now();
    const e = this.entry(address, now);
    if (e.lockedUntil > now) return { ok: false, reason: 'locked_out' };
    e.tokens = Math.min(this.opts.burst, e.tokens + ((now - e.at) / 1000) * this.opts.perSecond);
    e.at = now;
    if (e.tokens < 1) return { ok: false, reason: 'rate_limited' };
    e.tokens -= 1;
    return { ok: true };
  }

  failure(address: string): void {
    const now = this.now();
    const e = this.entry(address, now);
    e.failures = e.failures.filter((t) => t > now - this.windowMs);
    e.failures.push(now);
    if (e.failures.length >= this.maxFailures) {
      e.lockedUntil = now + this.windowMs;
      e.failures = [];
    }
  }

  /** Drops addresses that have been quiet long enough to have a full bucket again. */
  sweep(): void {
    const now = this.now();
    const idleMs = Math.max(this.windowMs, (this.opts.burst / this.opts.perSecond) * 1000);
    for (const [address, e] of this.entries) {
      if (e.at < now - idleMs && e.lockedUntil < now && e.failures.every((t) => t < now - this.windowMs)) this.entries.delete(address);
    }
  }

  private entry(address: string, now: number): Entry {
    let e = this.entries.get(address);
    if (!e) {
      e = { tokens: this.opts.burst, at: now, failures: [], lockedUntil: 0 };
      this.entries.set(address, e);
    }
    return e;
  }
}
