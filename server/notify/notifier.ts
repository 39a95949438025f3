/**
 * The boundary between the alert service and the people it tells (SPEC §5):
 * doctors on escalation, operators when an alert is overdue. One file per
 * channel implements `Notifier`; `DeliveryQueue` owns retries, so a notifier
 * makes exactly one attempt per `send` and only says whether a retry can help.
 */
import type { Text } from '../rules/types.js';

export const CHANNELS = ['webhook', 'sms', 'log'] as const;
export type Channel = (typeof CHANNELS)[number];

/** Why someone is told; receivers switch on it, so add kinds, never rename them. */
export type NotificationKind =
  | 'escalation.doctor'
  | 'escalation.emergency'
  | 'alert.overdue'
  | 'alert.created'
  | 'alert.resolved';

export interface Recipient {
  username: string;
  name: string | null;
  /** E.164 preferred, e.g. `+86 138 0000 0001`; needed by the SMS channel. */
  phone?: string;
  /** https URL the webhook channel POSTs to. */
  webhookUrl?: string;
}

export interface Notification {
  /**
   * Unique per recipient and channel; the idempotency key. The queue stores it
   * once and webhooks send it as `X-Anxin-Delivery`, so receivers can drop
   * repeats (a retry after a lost 2xx is indistinguishable from a first send).
   */
  id: string;
  alertId: string;
  recipient: Recipient;
  kind: NotificationKind;
  /** Short, shown as a headline; may carry vitals, so never log it. */
  title: Text;
  body: Text;
  /** Machine-readable details for the receiver (alert id, rule, severity, links). */
  payload: object;
}

export interface DeliveryResult {
  ok: boolean;
  /** HTTP status, when there was one. */
  status?: number;
  /** Short, log-safe explanation: no health content, no secrets. */
  detail: string;
  /** True when the same request may succeed later (5xx, 408, 429, timeout, network). */
  retryable: boolean;
  /** The receiver asked to wait at least this long (HTTP `Retry-After`). */
  retryAfterMs?: number;
  /**
   * Nobody can be reached on this channel at all: no address registered, or
   * only a development stand-in behind it (the `log` channel, the logging SMS
   * provider). Final like a non-retryable failure, and never a delivery: the
   * queue records it as `undeliverable`, so the call center is told.
   */
  undeliverable?: boolean;
}

export interface Notifier {
  readonly channel: Channel;
  /**
   * Makes one delivery attempt. Resolves with the outcome and does not throw
   * for delivery failures; `signal` aborts the attempt (the queue is stopping).
   */
  send(n: Notification, signal?: AbortSignal): Promise<DeliveryResult>;
}
