/**
 * Home feedback (SPEC §2 `alerts`): every alert state change the hub sends to
 * the home goes to the installer's hook, e.g. a speaker saying "the call
 * center has been told" or "the ambulance is coming".
 */
import type { GatewayContext } from './gatewayContext.js';

export class AlertHook {
  /** Alert messages received (for tests and the log). */
  received = 0;

  constructor(private readonly ctx: GatewayContext) {}

  handle(alert: Record<string, unknown>): void {
    this.received++;
    const text = (k: string) => (typeof alert[k] === 'string' || typeof alert[k] === 'number' ? String(alert[k]) : '');
    // The title may name a measurement: it stays out of the info log.
    this.ctx.log.info({ alertId: text('alertId'), severity: text('severity'), state: text('state') }, 'alert update from the hub');
    const hook = this.ctx.config.alertHook;
    if (!hook) return;
    this.ctx.run('alertHook', hook, {
      ANXIN_ALERT_ID: text('alertId'),
      ANXIN_ALERT_SEVERITY: text('severity'),
      ANXIN_ALERT_STATE: text('state'),
      ANXIN_ALERT_TITLE: text('title'),
      ANXIN_ALERT_TS: text('ts'),
    });
  }
}
