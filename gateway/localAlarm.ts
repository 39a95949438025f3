/**
 * The local alarm of SPEC §8: a fall or SOS that the hub cannot be told about
 * raises the installer's hook (a speaker, a phone dial-out) at once, while the
 * uplink keeps retrying. "Cannot be told" is any of:
 *
 * - `hub_unreachable`: the uplink is down when the reading is accepted (or,
 *   after a restart, still not connected a moment after start);
 * - `not_acknowledged`: connected, but the reading is still in the outbox
 *   `unackedSeconds` later (the hub is stuck);
 * - `refused`: the hub answered it on `rejects` (any code: a wrong clock makes
 *   `ts_too_old`/`ts_future`, a device missing from the hub `unknown_device`);
 *   the reading is gone for good, so the home must hear it here;
 * - `store_failed`: the gateway could not even commit it (disk full, I/O error);
 * - `clock_unset`: the gateway's own clock is not set, so the reading is held
 *   until it is (see `intake.ts`).
 *
 * At most once per reading within a process. The memory is not kept on disk on
 * purpose: after a restart, every fall or SOS still in the outbox is looked at
 * again (`start`), so a fall left unacknowledged by a crash alarms once more
 * rather than never.
 */
import { performance } from 'node:perf_hooks';
import type { GatewayContext } from './gatewayContext.js';
import { PROTECTED_TYPES, type OutboxEntry, type Rejection } from './outbox.js';

export interface AlarmReading {
  deviceId: string;
  id: string;
  type: string;
  /** When it happened; absent when the gateway's clock was not set. */
  ts?: string | number;
}

export type AlarmReason = 'hub_unreachable' | 'not_acknowledged' | 'refused' | 'store_failed' | 'clock_unset';

export interface LocalAlarmHooks {
  /** Whether the uplink is connected right now. */
  hubReachable: () => boolean;
}

const REMEMBERED = 10_000;

/**
 * After a restart the uplink is given this long to connect before a fall or SOS
 * left in the outbox counts as "hub unreachable" (a reachable hub answers in
 * milliseconds; a hub that refuses the connection fails as fast).
 */
export const STARTUP_GRACE_MS = 2000;

/** A refusal without an id concerns the falls and SOS of its device committed this recently. */
const WHOLE_PUBLISH_REFUSAL_MS = 10 * 60_000;

export class LocalAlarm {
  private readonly raised = new Set<string>();
  /** Falls and SOS seen (newest last) with when (monotonic ms), so a refusal can be recognised after the entry left the outbox. */
  private readonly watched = new Map<string, { r: AlarmReading; at: number }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  /** Hooks run (for status and tests). */
  count = 0;

  constructor(private readonly ctx: GatewayContext, private readonly hooks: LocalAlarmHooks) {}

  /**
   * Looks at every fall and SOS still in the outbox (left by a crash, a kill -9,
   * a power cut or a clean stop): each alarms if the uplink has not connected
   * within `STARTUP_GRACE_MS`, else if it is not acknowledged `unackedSeconds`
   * after start. Call before the uplink starts.
   */
  start(): void {
    this.stopped = false;
    const pending = this.ctx.outbox.protectedEntries().map(toAlarmReading);
    if (pending.length === 0) return;
    this.ctx.log.warn({ count: pending.length }, 'falls or SOS from before the restart are not acknowledged yet');
    const unackedMs = (this.ctx.config.localAlarm?.unackedSeconds ?? Infinity) * 1000;
    const grace = Math.min(STARTUP_GRACE_MS, unackedMs);
    for (const r of pending) {
      this.remember(r);
      this.after(grace, () => {
        if (!this.ctx.outbox.has(r.deviceId, r.id)) return;
        if (!this.hooks.hubReachable()) this.raise(r, 'hub_unreachable');
        else this.armUnacked(r, unackedMs - grace);
      });
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Called for every reading newly committed to the outbox. */
  consider(r: AlarmReading): void {
    if (this.stopped || !PROTECTED_TYPES.has(r.type)) return;
    this.remember(r);
    if (!this.hooks.hubReachable()) {
      this.raise(r, 'hub_unreachable');
      return;
    }
    const config = this.ctx.config.localAlarm;
    if (config) this.armUnacked(r, config.unackedSeconds * 1000);
  }

  /** A fall or SOS that will not reach the hub for now (not stored, clock not set): alarm at once. */
  alarmNow(r: AlarmReading, reason: AlarmReason): void {
    if (this.stopped || !PROTECTED_TYPES.has(r.type)) return;
    this.raise(r, reason);
  }

  /**
   * The hub refused a reading: if it was a fall or SOS, it will never be stored,
   * so alarm. A refusal without an id refuses the whole publish (the device is
   * not enrolled, the topic not allowed), so every fall or SOS of that device
   * sent lately counts as refused. (The PUBACK of a refused publish may arrive
   * before the refusal, so the outbox alone cannot say what it carried.)
   */
  refused(rejection: Rejection): void {
    const { deviceId, readingId, code, entry } = rejection;
    if (this.stopped || deviceId === null) return;
    let hit: AlarmReading[];
    if (readingId !== undefined) {
      const r = this.watched.get(key(deviceId, readingId))?.r ?? (entry ? toAlarmReading(entry) : undefined);
      hit = r ? [r] : [];
    } else {
      const since = performance.now() - WHOLE_PUBLISH_REFUSAL_MS;
      hit = [...this.watched.values()].filter((w) => w.r.deviceId === deviceId && w.at >= since).map((w) => w.r);
    }
    for (const r of hit) {
      if (!PROTECTED_TYPES.has(r.type)) continue;
      this.ctx.log.error({ deviceId, readingId: r.id, type: r.type, code }, 'the hub refused a fall or SOS; it will not be stored');
      this.raise(r, 'refused');
    }
  }

  private armUnacked(r: AlarmReading, ms: number): void {
    if (!Number.isFinite(ms)) return;
    this.after(ms, () => {
      if (this.ctx.outbox.has(r.deviceId, r.id)) this.raise(r, 'not_acknowledged');
    });
  }

  private after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) fn();
    }, Math.max(0, ms));
    timer.unref();
    this.timers.add(timer);
  }

  private remember(r: AlarmReading): void {
    const k = key(r.deviceId, r.id);
    this.watched.delete(k);
    this.watched.set(k, { r, at: performance.now() });
    if (this.watched.size > REMEMBERED) this.watched.delete(this.watched.keys().next().value!);
  }

  private raise(r: AlarmReading, reason: AlarmReason): void {
    const k = key(r.deviceId, r.id);
    if (this.raised.has(k)) return;
    this.raised.add(k);
    if (this.raised.size > REMEMBERED) this.raised.delete(this.raised.values().next().value!);
    const { log, run } = this.ctx;
    const config = this.ctx.config.localAlarm;
    // Not reaching the hub while connected means something is wrong with the gateway or the hub, not the network.
    const level = reason === 'hub_unreachable' || reason === 'not_acknowledged' ? 'warn' : 'error';
    log[level]({ deviceId: r.deviceId, readingId: r.id, type: r.type, reason }, 'local alarm: the hub has not been told');
    if (!config) {
      log.error('no localAlarm command is configured; nobody in the home was alerted');
      return;
    }
    this.count++;
    const ts = typeof r.ts === 'number' ? (Number.isFinite(new Date(r.ts).getTime()) ? new Date(r.ts).toISOString() : '') : (r.ts ?? '');
    run('localAlarm', config, { ANXIN_ALARM_DEVICE: r.deviceId, ANXIN_ALARM_TYPE: r.type, ANXIN_ALARM_TS: ts, ANXIN_ALARM_ID: r.id, ANXIN_ALARM_REASON: reason });
  }
}

function key(deviceId: string, readingId: string): string {
  return `${deviceId}\u0000${readingId}`;
}

function toAlarmReading(e: OutboxEntry): AlarmReading {
  let ts: string | number | undefined;
  try {
    const body = JSON.parse(e.body) as { ts?: unknown };
    if (typeof body.ts === 'string' || typeof body.ts === 'number') ts = body.ts;
  } catch {
    // A body that does not parse still names the device and the reading.
  }
  return { deviceId: e.deviceId, id: e.readingId, type: e.type, ...(ts !== undefined && { ts }) };
}
