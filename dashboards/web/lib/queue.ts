/**
 * The operator's queue, as pure functions over alerts: unresolved alerts,
 * grouped by incident (SPEC §5: alerts of one home within 10 minutes are one
 * incident, handled once), most urgent first: an incident with an unclaimed
 * critical alert before anything else, then by severity, then oldest first.
 */
import { SEVERITY_ORDER, type Alert, type Severity } from './types';

export interface Incident {
  id: string;
  homeId: string;
  alerts: Alert[];
  severity: Severity;
  /** Someone still has to claim one of its alerts. */
  unclaimed: boolean;
  overdue: boolean;
  createdAt: string;
}

const ms = (iso: string) => Date.parse(iso);

/** Past its claim deadline and still open (the hub sets `overdue`; the clock may get there first). */
export function isOverdue(a: Alert, now: number): boolean {
  return a.state === 'open' && (a.overdue || (a.claimDeadline !== null && ms(a.claimDeadline) <= now));
}

/** Within an incident: most severe first, then the ones still to claim, then oldest. */
function alertOrder(a: Alert, b: Alert): number {
  return (
    SEVERITY_ORDER[b.severity] - SEVERITY_ORDER[a.severity] ||
    Number(b.state === 'open') - Number(a.state === 'open') ||
    ms(a.createdAt) - ms(b.createdAt)
  );
}

export function buildQueue(alerts: Iterable<Alert>, now: number): Incident[] {
  const byIncident = new Map<string, Alert[]>();
  for (const a of alerts) {
    if (a.state === 'resolved') continue;
    const list = byIncident.get(a.incidentId);
    if (list) list.push(a);
    else byIncident.set(a.incidentId, [a]);
  }
  const incidents: Incident[] = [...byIncident.entries()].map(([id, list]) => {
    list.sort(alertOrder);
    const top = list.reduce((m, a) => (SEVERITY_ORDER[a.severity] > SEVERITY_ORDER[m] ? a.severity : m), 'info' as Severity);
    return {
      id,
      homeId: list[0]!.homeId,
      alerts: list,
      severity: top,
      unclaimed: list.some((a) => a.state === 'open'),
      overdue: list.some((a) => isOverdue(a, now)),
      createdAt: list.reduce((m, a) => (ms(a.createdAt) < ms(m) ? a.createdAt : m), list[0]!.createdAt),
    };
  });
  return incidents.sort((a, b) =>
    Number(b.severity === 'critical' && b.unclaimed) - Number(a.severity === 'critical' && a.unclaimed) ||
    SEVERITY_ORDER[b.severity] - SEVERITY_ORDER[a.severity] ||
    Number(b.unclaimed) - Number(a.unclaimed) ||
    ms(a.createdAt) - ms(b.createdAt));
}

/** The queue flattened in display order (keyboard selection walks this). */
export function queueOrder(incidents: Incident[]): Alert[] {
  return incidents.flatMap((i) => i.alerts);
}

/**
 * Keeps the newer of two versions of an alert (REST snapshots and stream
 * events race). An event that does not say how the doctor delivery stands
 * (`delivery` absent) keeps what the older version said of the same escalation.
 */
export function newer(current: Alert | undefined, next: Alert): Alert {
  if (!current) return next;
  if (ms(next.updatedAt) < ms(current.updatedAt)) return current;
  const kept = current.escalation?.delivery;
  if (next.escalation && next.escalation.delivery === undefined && kept !== undefined && current.escalation?.at === next.escalation.at) {
    return { ...next, escalation: { ...next.escalation, delivery: kept } };
  }
  return next;
}

/**
 * The escalated doctor could not be told (no channel reached them) and no
 * operator has acknowledged it yet: the call center must phone the doctor.
 */
export function doctorUnreached(a: Alert): boolean {
  const d = a.escalation?.target === 'doctor' && a.state === 'escalated' ? a.escalation.delivery : null;
  return d?.state === 'failed' && d.acknowledgedAt === null;
}

/** Open alerts per severity. */
export function openBySeverity(alerts: Iterable<Alert>): Record<Severity, number> {
  const out: Record<Severity, number> = { critical: 0, urgent: 0, warning: 0, info: 0 };
  for (const a of alerts) if (a.state !== 'resolved') out[a.severity] += 1;
  return out;
}

/**
 * Should the alarm sound: a critical alert nobody has claimed, any alert
 * whose claim deadline passed unclaimed (SPEC §5: overdue, every operator is
 * told again; an urgent one 10 minutes on), or an escalation whose doctor
 * nobody could tell, until an operator acknowledges it (they phone the doctor).
 */
export function needsAlarm(alerts: Iterable<Alert>, now: number): boolean {
  for (const a of alerts) if ((a.state === 'open' && (a.severity === 'critical' || isOverdue(a, now))) || doctorUnreached(a)) return true;
  return false;
}
