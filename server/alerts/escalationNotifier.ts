/**
 * Tells a doctor that an alert was escalated to them (SPEC §5), through every
 * channel they have: a signed webhook when they registered a URL and the hub
 * has a webhook secret, SMS when they have a phone. What they registered but
 * the hub cannot use, or nothing at all, goes to the `log` channel, which
 * delivers to nobody and says why. Delivery, retries and receipts belong to the
 * durable `DeliveryQueue`; this class turns its outcomes into whether the
 * doctor was reached, so the call center can phone a doctor who was not.
 */
import type { Channel, Notification } from '../notify/notifier.js';
import type { DeliveryQueue, DeliveryStatus, SettledDelivery } from '../notify/deliveryQueue.js';
import type { Text } from '../rules/types.js';
import type { Db } from '../store/sqliteDb.js';
import type { EscalationDelivery } from './alertPresenter.js';
import type { Alert } from './alertStore.js';
import type { AlertNotifier } from './alertService.js';

/** What the doctor delivery of an escalation comes to, before anyone acknowledged it. */
export type DoctorDelivery = Pick<EscalationDelivery, 'state' | 'reason' | 'message'>;

/** Who acts on the outcome: the alert service records it on the alert. */
export interface EscalationOutcomes {
  doctorReached(alertId: string, escalatedAt: number, doctor: string, channel: Channel): void;
  doctorUnreachable(alertId: string, escalatedAt: number, doctor: string, delivery: DoctorDelivery): void;
}

type Attempted = DeliveryStatus & { recipient: Notification['recipient'] };

export class EscalationNotifier implements AlertNotifier {
  private outcomes: EscalationOutcomes | null = null;

  constructor(
    private readonly db: Db,
    private readonly queue: DeliveryQueue,
    private readonly channels: ReadonlySet<Channel>,
  ) {}

  /** Where outcomes go (set once the alert service exists: it depends on this notifier). */
  reportTo(outcomes: EscalationOutcomes): void {
    this.outcomes = outcomes;
  }

  doctorEscalated(alert: Alert, doctor: string, handedOverFrom: string | null = null): void {
    const user = this.db.prepare('SELECT username, name, phone, webhook_url AS webhookUrl FROM users WHERE username = ?').get(doctor) as
      { username: string; name: string | null; phone: string | null; webhookUrl: string | null } | undefined;
    const resident = alert.residentId
      ? (this.db.prepare('SELECT name FROM residents WHERE id = ?').get(alert.residentId) as { name: string } | undefined)?.name
      : undefined;
    const who = resident ?? alert.homeId;
    const base: Omit<Notification, 'id'> = {
      alertId: alert.id,
      recipient: user
        ? { username: user.username, name: user.name, ...(user.phone && { phone: user.phone }), ...(user.webhookUrl && { webhookUrl: user.webhookUrl }) }
        : { username: doctor, name: null },
      kind: 'escalation.doctor',
      title: { 'zh-CN': `${who}：${alert.title['zh-CN']}`, en: `${who}: ${alert.title.en}` },
      // A hand-over says whose it was: the new doctor may call a colleague who already knows the case.
      body: handedOverFrom
        ? {
          'zh-CN': `此预警原已转给 ${handedOverFrom}，管理员已将患者转由您负责（${severityZh[alert.severity]}）。请在安心平台查看并处理。`,
          en: `This ${alert.severity} alert was escalated to ${handedOverFrom}; an admin moved the patient to you. Please review it in Anxin.`,
        }
        : {
          'zh-CN': `呼叫中心已将此预警转给您（${severityZh[alert.severity]}）。请在安心平台查看并处理。`,
          en: `The call center escalated this ${alert.severity} alert to you. Please review it in Anxin.`,
        },
      payload: {
        alertId: alert.id, residentId: alert.residentId, homeId: alert.homeId, rule: alert.rule, severity: alert.severity, escalatedAt: alert.escalatedAt,
        ...(handedOverFrom && { handedOverFrom }),
      },
    };
    const wanted: Channel[] = [];
    if (user?.webhookUrl && this.channels.has('webhook')) wanted.push('webhook');
    if (user?.phone && this.channels.has('sms')) wanted.push('sms');
    // Something registered that this hub cannot use (a webhook without a secret) is said, not skipped.
    const unusable = (user?.webhookUrl && !this.channels.has('webhook')) || (user?.phone && !this.channels.has('sms'));
    if (wanted.length === 0 || unusable) wanted.push('log');
    // One notification per channel; the id is the idempotency key across retries and restarts.
    for (const channel of wanted) this.queue.enqueue({ ...base, id: `${escalationKey(alert.id, alert.escalatedAt)}.${channel}` }, channel);
  }

  /** Whether the alert's current escalation reached its doctor; null when it is not escalated to a doctor. */
  doctorDelivery(alert: Alert): DoctorDelivery | null {
    if (alert.escalationTarget !== 'doctor' || alert.escalatedAt === null) return null;
    const prefix = `${escalationKey(alert.id, alert.escalatedAt)}.`;
    const sent = this.queue.ofAlert(alert.id).filter((n) => n.kind === 'escalation.doctor' && n.id.startsWith(prefix));
    return sent.length === 0 ? null : summarize(sent);
  }

  /** The queue's `onSettled`: the first delivery reached the doctor; the last failure of all means nobody did. */
  settled(s: SettledDelivery): void {
    if (s.kind !== 'escalation.doctor' || !this.outcomes) return;
    const key = s.id.slice(0, s.id.lastIndexOf('.'));
    const escalatedAt = Number(key.slice(s.alertId.length + 1));
    const sent = this.queue.ofAlert(s.alertId).filter((n) => n.kind === 'escalation.doctor' && n.id.startsWith(`${key}.`));
    if (s.outcome === 'delivered') {
      if (sent.filter((n) => n.state === 'delivered').length === 1) this.outcomes.doctorReached(s.alertId, escalatedAt, s.recipient.username, s.channel);
      return;
    }
    const delivery = summarize(sent);
    if (delivery.state === 'failed') this.outcomes.doctorUnreachable(s.alertId, escalatedAt, s.recipient.username, delivery);
  }
}

/** `<alert id>.<escalated at>`: what the notifications of one escalation share. */
function escalationKey(alertId: string, escalatedAt: number | null): string {
  return `${alertId}.${escalatedAt}`;
}

function summarize(sent: Attempted[]): DoctorDelivery {
  if (sent.some((n) => n.state === 'delivered')) return { state: 'delivered', reason: null, message: null };
  if (sent.some((n) => n.state === 'pending')) return { state: 'pending', reason: null, message: null };
  const name = sent[0]!.recipient.name ?? sent[0]!.recipient.username;
  const why = sent.map(failureText);
  return {
    state: 'failed',
    reason: sent.map((n) => `${n.channel}: ${n.detail ?? n.state}`).join('; '),
    message: {
      'zh-CN': `未能通知${name}：${why.map((w) => w['zh-CN']).join('；')}，请电话联系医生`,
      en: `${name} was not reached: ${why.map((w) => w.en).join('; ')}. Phone the doctor.`,
    },
  };
}

/** Why one channel reached nobody, in words for the call center. */
function failureText(n: Attempted): Text {
  const detail = n.detail ?? n.state;
  if (n.state === 'undeliverable' && n.channel === 'log') {
    if (n.recipient.webhookUrl) return { 'zh-CN': '已登记回调地址，但平台未配置回调密钥', en: 'a webhook is registered but the hub has no webhook secret' };
    if (n.recipient.phone) return { 'zh-CN': '已登记电话，但平台未配置短信通道', en: 'a phone is registered but the hub has no SMS channel' };
    return { 'zh-CN': '未登记电话或回调地址', en: 'no phone or webhook registered' };
  }
  if (n.state === 'undeliverable' && n.channel === 'sms') return { 'zh-CN': '未配置短信服务商', en: 'no SMS provider configured' };
  if (n.channel === 'sms') return { 'zh-CN': `短信发送失败（${detail}）`, en: `SMS failed (${detail})` };
  if (n.channel === 'webhook') return { 'zh-CN': `回调发送失败（${detail}）`, en: `webhook failed (${detail})` };
  return { 'zh-CN': `无法送达（${detail}）`, en: `undeliverable (${detail})` };
}

const severityZh: Record<Alert['severity'], string> = { critical: '危急', urgent: '紧急', warning: '关注', info: '提示' };
