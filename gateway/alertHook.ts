/**
 * Home feedback (SPEC §2 `alerts`): every alert state change the hub sends to
 * the home goes to the installer's hook, e.g. a speaker saying "the call
 * center has been told" or "the ambulance is coming".
 *
 * The hub sends each unresolved alert again, as it stands, whenever the
 * gateway subscribes (after every reconnect), so that a change made while the
 * uplink was down still reaches the home. What the home already heard is not
 * said again: the hook runs when an alert's state, severity, title or message
 * differs from the last one run for it, and never for a message older than
 * that one.
 *
 * The hook gets the hub's sentence for the resident (`message`, SPEC §2:
 * "the doctor will call", "the ambulance is coming") in both languages: the
 * state alone says `escalated` for a doctor and for 120 alike. An escalated
 * alert's message also names its `escalationTarget` (`doctor`, `emergency`):
 * `ANXIN_ALERT_ESCALATION_TARGET`, set only when the message carries one.
 */
import type { GatewayContext } from './gatewayContext.js';

/** Alerts whose last announcement is remembered; the oldest are forgotten first. */
const REMEMBERED = 10_000;

interface Heard {
  /** The message's `ts` (the alert's last update), epoch ms; NaN when it had none. */
  ts: number;
  /** What the home was told: state, severity, title and message. */
  said: string;
}

export class AlertHook {
  /** Alert messages received (for tests and the log). */
  received = 0;
  /** Messages not passed to the hook: the home had already heard them. */
  repeated = 0;
  private readonly heard = new Map<string, Heard>();

  constructor(private readonly ctx: GatewayContext) {}

  handle(alert: Record<string, unknown>): void {
    this.received++;
    const text = (k: string) => (typeof alert[k] === 'string' || typeof alert[k] === 'number' ? String(alert[k]) : '');
    const alertId = text('alertId');
    if (this.alreadyHeard(alertId, alert)) {
      this.repeated++;
      this.ctx.log.debug({ alertId, state: text('state') }, 'alert update already announced');
      return;
    }
    // The title may name a measurement: it stays out of the info log.
    this.ctx.log.info({ alertId, severity: text('severity'), state: text('state') }, 'alert update from the hub');
    const hook = this.ctx.config.alertHook;
    if (!hook) return;
    const message = sentences(alert.message);
    this.ctx.run('alertHook', hook, {
      ANXIN_ALERT_ID: alertId,
      ANXIN_ALERT_SEVERITY: text('severity'),
      ANXIN_ALERT_STATE: text('state'),
      ANXIN_ALERT_TITLE: text('title'),
      ANXIN_ALERT_TS: text('ts'),
      ANXIN_ALERT_MESSAGE: message['zh-CN'],
      ANXIN_ALERT_MESSAGE_EN: message.en,
      ...(text('escalationTarget') !== '' && { ANXIN_ALERT_ESCALATION_TARGET: text('escalationTarget') }),
    });
  }

  /** Whether the home heard this already (and, if not, remembers that it now has). */
  private alreadyHeard(alertId: string, alert: Record<string, unknown>): boolean {
    if (alertId === '') return false;
    const ts = typeof alert.ts === 'string' || typeof alert.ts === 'number' ? new Date(alert.ts).getTime() : NaN;
    const said = JSON.stringify([alert.state, alert.severity, alert.title, alert.message]);
    const last = this.heard.get(alertId);
    if (last && (said === last.said || ts < last.ts)) {
      if (ts > last.ts) last.ts = ts;
      return true;
    }
    this.heard.delete(alertId); // re-inserted last: the map forgets the alerts longest unchanged first
    this.heard.set(alertId, { ts, said });
    if (this.heard.size > REMEMBERED) this.heard.delete(this.heard.keys().next().value!);
    return false;
  }
}

/** The hub's `message` `{"zh-CN", "en"}`; a language missing or not a string is empty. */
function sentences(message: unknown): { 'zh-CN': string; en: string } {
  const m = (typeof message === 'object' && message !== null ? message : {}) as Record<string, unknown>;
  const pick = (lang: string) => {
    const v = m[lang];
    return typeof v === 'string' ? v : '';
  };
  return { 'zh-CN': pick('zh-CN'), en: pick('en') };
}
