/**
 * Decides when the gateway republishes its retained `gateway/status` (SPEC §2):
 * on every connect, and when the outbox changed notably — emptied, started
 * filling, moved by a quarter (at least 100 readings), or a reading was dropped
 * or refused — at most once per `minIntervalMs`, so a backlog flush of
 * thousands of readings publishes a handful of statuses, not thousands.
 *
 * The throttle measures time with a monotonic clock (`performance.now()`): the
 * wall clock of a home box is stepped by NTP (an hour back after a wrong RTC),
 * and a throttle on it would publish nothing until the clock caught up. Even an
 * injected clock that goes back never makes it wait longer than the interval.
 */

/** `gateway/status` as this gateway publishes it; `outboxDropped` and `rejected` extend SPEC §2. */
export interface GatewayStatus {
  online: true;
  outboxDepth: number;
  version: string;
  /** Readings dropped by the outbox bound, ever (0 = none lost). */
  outboxDropped: number;
  /** Readings the hub refused, ever. */
  rejected: number;
}

export function isNotable(last: GatewayStatus | null, next: GatewayStatus): boolean {
  if (!last) return true;
  if (next.outboxDropped !== last.outboxDropped || next.rejected !== last.rejected) return true;
  if ((last.outboxDepth === 0) !== (next.outboxDepth === 0)) return true;
  return Math.abs(next.outboxDepth - last.outboxDepth) >= Math.max(100, last.outboxDepth * 0.25);
}

export class StatusReporter {
  private last: GatewayStatus | null = null;
  private lastAt = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly publish: (status: GatewayStatus) => void,
    private readonly current: () => GatewayStatus,
    private readonly minIntervalMs = 2000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Publishes the current status now (on connect). */
  reportNow(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.last = this.current();
    this.lastAt = this.now();
    this.publish(this.last);
  }

  /** Something that the status shows changed; publish if notable, throttled. */
  changed(): void {
    if (this.timer || !isNotable(this.last, this.current())) return;
    const wait = Math.min(this.minIntervalMs, this.lastAt + this.minIntervalMs - this.now());
    if (wait <= 0) {
      this.reportNow();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.reportNow();
    }, wait);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
