/**
 * The `log` channel: records that someone would have been told, for hubs with
 * no webhook or SMS configured and for development. Logs ids and the kind
 * only; title and body carry vitals and stay out of the log.
 */
import type { Logger } from 'pino';
import type { DeliveryResult, Notification, Notifier } from './notifier.js';

export class LogNotifier implements Notifier {
  readonly channel = 'log' as const;

  constructor(private readonly log: Logger) {}

  async send(n: Notification): Promise<DeliveryResult> {
    this.log.info({ notificationId: n.id, alertId: n.alertId, kind: n.kind, recipient: n.recipient.username }, 'notification (log channel)');
    return { ok: true, detail: 'logged', retryable: false };
  }
}
