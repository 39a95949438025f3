/**
 * Tells a doctor that an alert was escalated to them (SPEC §5), through every
 * channel they have: a signed webhook when they registered a URL and the hub
 * has a webhook secret, SMS when they have a phone, and the log otherwise.
 * Delivery, retries and receipts belong to the durable `DeliveryQueue`.
 */
import type { Channel, Notification } from '../notify/notifier.js';
import type { DeliveryQueue } from '../notify/deliveryQueue.js';
import type { Db } from '../store/sqliteDb.js';
import type { Alert } from './alertStore.js';
import type { AlertNotifier } from './alertService.js';

export class EscalationNotifier implements AlertNotifier {
  constructor(
    private readonly db: Db,
    private readonly queue: DeliveryQueue,
    private readonly channels: ReadonlySet<Channel>,
  ) {}

  doctorEscalated(alert: Alert, doctor: string): void {
    const user = this.db.prepare('SELECT username, name, phone, webhook_url AS webhookUrl FROM users WHERE username = ?').get(doctor) as
      { username: string; name: string | null; phone: string | null; webhookUrl: string | null } | undefined;
    if (!user) return;
    const resident = alert.residentId
      ? (this.db.prepare('SELECT name FROM residents WHERE id = ?').get(alert.residentId) as { name: string } | undefined)?.name
      : undefined;
    const who = resident ?? alert.homeId;
    const base: Omit<Notification, 'id'> = {
      alertId: alert.id,
      recipient: { username: user.username, name: user.name, ...(user.phone && { phone: user.phone }), ...(user.webhookUrl && { webhookUrl: user.webhookUrl }) },
      kind: 'escalation.doctor',
      title: { 'zh-CN': `${who}：${alert.title['zh-CN']}`, en: `${who}: ${alert.title.en}` },
      body: {
        'zh-CN': `呼叫中心已将此预警转给您（${severityZh[alert.severity]}）。请在安心平台查看并处理。`,
        en: `The call center escalated this ${alert.severity} alert to you. Please review it in Anxin.`,
      },
      payload: { alertId: alert.id, residentId: alert.residentId, homeId: alert.homeId, rule: alert.rule, severity: alert.severity, escalatedAt: alert.escalatedAt },
    };
    const wanted: Channel[] = [];
    if (user.webhookUrl && this.channels.has('webhook')) wanted.push('webhook');
    if (user.phone && this.channels.has('sms')) wanted.push('sms');
    if (wanted.length === 0) wanted.push('log');
    // One notification per channel; the id is the idempotency key across retries and restarts.
    for (const channel of wanted) this.queue.enqueue({ ...base, id: `${alert.id}.${alert.escalatedAt}.${channel}` }, channel);
  }
}

const severityZh: Record<Alert['severity'], string> = { critical: '危急', urgent: '紧急', warning: '关注', info: '提示' };
