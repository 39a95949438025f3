/**
 * Limits MQTT connection attempts: a token bucket per source address for every
 * attempt (aedes `preConnect`, flood protection), and a lock-out of one
 * username at one address after repeated failed sign-ins (`authenticate`).
 *
 * Failures lock out what failed, not its neighbours. Many devices share one
 * address (a carrier's NAT for 4G gateways, a site NAT, the reverse proxy in
 * front of `/mqtt`), so locking a whole address let one device looping with a
 * stale secret keep a correctly configured SOS pendant off the hub. Nor is a
 * username locked from every address: device ids are not secret, so that would
 * let anyone silence any device with ten bad sign-ins a minute, and it would
 * protect nothing, since a 192-bit hub-issued secret cannot be guessed
 * (server/auth/secrets.ts). What the lock-out is for is a misconfigured or
 * hostile client burning the hub's CPU on secret checks; the bucket already
 * bounds how often one address can try.
 */
export interface ConnectLimiterOptions {
  burst: number;
  perSecond: number;
  /** Failed sign-ins of one username from one address within `failureWindowMs` that lock it out there for the same window. */
  maxFailures?: number;
  failureWindowMs?: number;
  /**
   * (address, username) pairs whose failures are remembered at most; beyond,
   * the least recently failed is forgotten, so made-up usernames cannot grow
   * the table without bound (`sweep` forgets the quiet ones meanwhile).
   */
  maxTracked?: number;
  now?: () => number;
}

export type SignInVerdict = { ok: true } | { ok: false; reason: 'locked_out'; retryInMs: number };

interface Bucket {
  tokens: number;
  at: number;
}

interface Failures {
  times: number[];
  lockedUntil: number;
}

/** Only this much of a username keys its failures: ids are short, and a 64 KiB made-up one must not cost 64 KiB. */
const USERNAME_KEY_CHARS = 128;

export class ConnectLimiter {
  private readonly entries = new Map<string, Bucket>();
  /** By `address NUL username`, least recently failed first (a failure moves its pair to the end). */
  private readonly failures = new Map<string, Failures>();
  private readonly maxFailures: number;
  /** How long failures count, and how long a lock-out lasts. */
  readonly failureWindowMs: number;
  private readonly maxTracked: number;
  private readonly now: () => number;

  constructor(private readonly opts: ConnectLimiterOptions) {
    this.maxFailures = opts.maxFailures ?? 10;
    this.failureWindowMs = opts.failureWindowMs ?? 60_000;
    this.maxTracked = opts.maxTracked ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** Takes one attempt from the address's bucket; false when the address must wait. */
  attempt(address: string): { ok: true } | { ok: false; reason: 'rate_limited' } {
    const now = this.now();
    let e = this.entries.get(address);
    if (!e) {
      e = { tokens: this.opts.burst, at: now };
      this.entries.set(address, e);
    }
    e.tokens = Math.min(this.opts.burst, e.tokens + (Math.max(0, now - e.at) / 1000) * this.opts.perSecond);
    e.at = now;
    if (e.tokens < 1) return { ok: false, reason: 'rate_limited' };
    e.tokens -= 1;
    return { ok: true };
  }

  /** Whether `username` may try to sign in from `address` now; asked before its secret is checked. */
  signIn(address: string, username: string): SignInVerdict {
    const f = this.failures.get(key(address, username));
    const now = this.now();
    if (f && f.lockedUntil > now) return { ok: false, reason: 'locked_out', retryInMs: f.lockedUntil - now };
    return { ok: true };
  }

  /** Counts a failed sign-in; true when it locks the pair out. Refusals while locked are not failures, so a looping client is let try again after the window. */
  failure(address: string, username: string): boolean {
    const now = this.now();
    const k = key(address, username);
    const f = this.failures.get(k) ?? { times: [], lockedUntil: 0 };
    this.failures.delete(k);
    this.failures.set(k, f);
    if (this.failures.size > this.maxTracked) this.failures.delete(this.failures.keys().next().value!);
    f.times = f.times.filter((t) => t > now - this.failureWindowMs);
    f.times.push(now);
    if (f.times.length < this.maxFailures) return false;
    f.lockedUntil = now + this.failureWindowMs;
    f.times = [];
    return true;
  }

  /** A signed-in pair starts afresh: failures before the fix of its secret do not count towards a later lock-out. */
  success(address: string, username: string): void {
    this.failures.delete(key(address, username));
  }

  /** Drops addresses that have been quiet long enough to have a full bucket again, and pairs neither locked nor recently failed. */
  sweep(): void {
    const now = this.now();
    const idleMs = (this.opts.burst / this.opts.perSecond) * 1000;
    for (const [address, e] of this.entries) {
      if (e.at < now - idleMs) this.entries.delete(address);
    }
    for (const [k, f] of this.failures) {
      if (f.lockedUntil <= now && f.times.every((t) => t <= now - this.failureWindowMs)) this.failures.delete(k);
    }
  }
}

function key(address: string, username: string): string {
  return `${address}\0${username.slice(0, USERNAME_KEY_CHARS)}`;
}
