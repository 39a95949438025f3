/**
 * The local alarm of SPEC §8: a fall or SOS that the hub cannot be told about
 * right now raises the installer's hook (a speaker, a phone dial-out) at once,
 * while the uplink keeps retrying. "Cannot be told" is the uplink being down
 * when the reading is accepted, or (connected but the hub not answering) the
 * reading still unacknowledged `unackedSeconds` later. At most once per reading.
 */
import type { GatewayContext } from './gatewayContext.js';
import { PROTECTED_TYPES } from './outbox.js';

export interface AlarmReading {
  deviceId: string;
  id: string;
  type: string;
  ts: string | number;
}

export interface LocalAlarmHooks {
  /** Whether the uplink is connected right now. */
  hubReachable: () => boolean;
}

const REMEMBERED = 10_000;

export class LocalAlarm {
  private readonly raised = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  /** Hooks run (for status and tests). */
  count = 0;

  constructor(private readonly ctx: GatewayContext, private readonly hooks: LocalAlarmHooks) {}

  start(): void {
    this.stopped = false;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Called for every reading newly committed to the outbox. */
  consider(r: AlarmReading): void {
    if (this.stopped || !PROTECTED_TYPES.has(r.type)) return;
    if (!this.hooks.hubReachable()) {
      this.raise(r, 'hub_unreachable');
      return;
    }
    const config = this.ctx.config.localAlarm;
    if (!config) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.ctx.outbox.has(r.deviceId, r.id)) this.raise(r, 'not_acknowledged');
    }, config.unackedSeconds * 1000);
    timer.unref();
    this.timers.add(timer);
  }

  private raise(r: AlarmReading, reason: string): void {
    const key = `${r.deviceId}\u0000${r.id}`;
    if (this.raised.has(key)) return;
    this.raised.add(key);
    if (this.raised.size > REMEMBERED) this.raised.delete(this.raised.values().next().value!);
    const { log, run } = this.ctx;
    const config = this.ctx.config.localAlarm;
    log.warn({ deviceId: r.deviceId, readingId: r.id, type: r.type, reason }, 'local alarm: the hub has not been told');
    if (!config) {
      log.error('no localAlarm command is configured; nobody in the home was alerted');
      return;
    }
    this.count++;
    const ts = typeof r.ts === 'number' ? new Date(r.ts).toISOString() : r.ts;
    run('localAlarm', config, { ANXIN_ALARM_DEVICE: r.deviceId, ANXIN_ALARM_TYPE: r.type, ANXIN_ALARM_TS: ts, ANXIN_ALARM_ID: r.id, ANXIN_ALARM_REASON: reason });
  }
}
