/**
 * The `log` channel: what the hub falls back to when a recipient has no
 * channel it can use. It logs ids and the kind only (title and body carry
 * vitals), and answers `undeliverable`, naming why: a log line reaches nobody,
 * so it must never count as telling a person (the audit found escalations
 * recorded `delivered` to doctors nobody had told).
 */
import type { Logger } from 'pino';
import type { DeliveryResult, Notification, Notifier, Recipient } from './notifier.js';

export class LogNotifier implements Notifier {
  readonly channel = 'log' as const;

  constructor(private readonly log: Logger) {}

  async send(n: Notification): Promise<DeliveryResult> {
    const detail = whyNoChannel(n.recipient);
    this.log.warn({ notificationId: n.id, alertId: n.alertId, kind: n.kind, recipient: n.recipient.username, detail }, 'notification not sent: log channel only');
    return { ok: false, detail, retryable: false, undeliverable: true };
  }
}

/** Why a recipient ended up on the log channel: what they registered that the hub cannot use, or nothing. */
export function whyNoChannel(r: Recipient): string {
  if (r.webhookUrl) return `a webhook is registered for ${r.username} but the hub has no webhook secret (ANXIN_WEBHOOK_SECRET)`;
  if (r.phone) return `a phone is registered for ${r.username} but the hub has no SMS channel`;
  return `no phone or webhook registered for ${r.username}`;
}
