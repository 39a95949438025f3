/**
 * Outward JSON of alerts, shared by the REST API and the live stream, and the
 * words the home hears on its `alerts` topic (SPEC §2, §5–6).
 */
import type { Text } from '../rules/types.js';
import type { Alert, HistoryEntry } from './alertStore.js';

export type Lang = 'zh-CN' | 'en';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * Whether the doctor an alert was escalated to has been told (SPEC §5). Not a
 * column of the alert: the alert service works it out from the delivery queue
 * and the alert's history, and attaches it to the alerts it hands out.
 */
export interface EscalationDelivery {
  /** `failed`: every channel failed or none could reach the doctor; the call center must phone them. */
  state: 'pending' | 'delivered' | 'failed';
  /** Log-safe, English: why the doctor was not reached (failed only). */
  reason: string | null;
  /** What the call center is told, in both languages (failed only). */
  message: Text | null;
  /** An operator saw that the doctor was not reached (the console's alarm stops). */
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
}

/** An alert as the alert service hands it out: with its doctor delivery, when it is known. */
export type AlertWithDelivery = Alert & { escalationDelivery?: EscalationDelivery | null };

/**
 * `escalation.delivery`: absent when this message does not know it (an event
 * of a change made elsewhere; screens keep what they had), null when there is
 * nothing to deliver (not escalated to a doctor).
 */
function presentDelivery(a: AlertWithDelivery) {
  if (a.escalationDelivery === undefined) return {};
  const d = a.escalationTarget === 'doctor' ? a.escalationDelivery : null;
  return { delivery: d ? { state: d.state, reason: d.reason, message: d.message, acknowledgedAt: iso(d.acknowledgedAt), acknowledgedBy: d.acknowledgedBy } : null };
}

/** The alert as the API shows it; `title` in the reader's language, `titles` in both. */
export function presentAlert(a: AlertWithDelivery, lang: Lang = 'zh-CN') {
  return {
    id: a.id,
    homeId: a.homeId,
    residentId: a.residentId,
    deviceId: a.deviceId,
    rule: a.rule,
    severity: a.severity,
    state: a.state,
    title: a.title[lang],
    titles: a.title,
    explanation: a.explanation,
    late: a.late,
    count: a.count,
    lastReading: a.lastReading ? { ...a.lastReading, ts: iso(a.lastReading.ts) } : null,
    incidentId: a.incidentId,
    createdAt: iso(a.createdAt)!,
    updatedAt: iso(a.updatedAt)!,
    claimDeadline: iso(a.claimDeadline),
    overdue: a.overdueAt !== null && a.state === 'open',
    overdueAt: iso(a.overdueAt),
    conditionCleared: a.conditionClearedAt !== null,
    assignee: a.assignee,
    acknowledgedAt: iso(a.acknowledgedAt),
    escalation: a.escalationTarget
      ? { target: a.escalationTarget, to: a.escalatedTo, at: iso(a.escalatedAt), doctorAcknowledgedAt: iso(a.doctorAcknowledgedAt), ...presentDelivery(a) }
      : null,
    resolvedAt: iso(a.resolvedAt),
    outcome: a.outcome,
  };
}

/** Stream events carry both languages; each screen picks its own. */
export function presentAlertEvent(a: AlertWithDelivery) {
  return presentAlert(a, 'zh-CN');
}

export function presentHistory(h: HistoryEntry) {
  return { ...h, at: iso(h.at)! };
}

/** What the home is told, so the resident hears that help is coming. */
const HOME_MESSAGES: Record<string, Text> = {
  open: { 'zh-CN': '呼叫中心已收到，请稍候', en: 'The call center has been told' },
  acknowledged: { 'zh-CN': '坐席已接手，马上与您联系', en: 'An operator is on it and will call you' },
  'escalated.doctor': { 'zh-CN': '已通知您的家庭医生，医生会联系您', en: 'Your family doctor has been told and will call' },
  'escalated.emergency': { 'zh-CN': '已呼叫120急救，救护车正在赶来', en: 'Emergency rescue (120) is on the way' },
  resolved: { 'zh-CN': '已处理完毕', en: 'Handled' },
};

export function homeFeedback(a: Alert) {
  const key = a.state === 'escalated' ? `escalated.${a.escalationTarget}` : a.state;
  return {
    alertId: a.id,
    severity: a.severity,
    state: a.state,
    title: a.title['zh-CN'],
    titles: a.title,
    message: HOME_MESSAGES[key] ?? HOME_MESSAGES.open,
    // Which help is coming, for a home's speaker to choose its words (the gateway's ANXIN_ALERT_ESCALATION_TARGET).
    ...(a.state === 'escalated' && a.escalationTarget && { escalationTarget: a.escalationTarget }),
    ts: new Date(a.updatedAt).toISOString(),
  };
}
