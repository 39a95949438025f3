/**
 * The operator's queue: unresolved alerts, grouped by incident (SPEC §5:
 * alerts of one home within 10 minutes are one incident, handled once), most
 * urgent first: an incident with an unclaimed critical alert before anything
 * else, then by severity, then oldest first.
 *
 * Two forms of one order: `buildQueue`, a pure function over alerts (the
 * reference), and `QueueIndex`, the same order kept up to date alert by alert
 * for a console that holds thousands of unresolved alerts (a district's
 * network outage: every gateway silent at once). There an event costs a
 * binary search and a splice instead of a rebuild and re-sort of everything,
 * and the counts and the alarm are kept as running totals.
 */
// The extension lets the node-side unit tests (root tsconfig, NodeNext) import this file too.
import { SEVERITY_ORDER, type Alert, type Severity } from './types.js';

export interface Incident {
  id: string;
  homeId: string;
  /** Its unresolved alerts, most severe first, then the ones still to claim, then oldest. */
  alerts: Alert[];
  severity: Severity;
  /** Someone still has to claim one of its alerts. */
  unclaimed: boolean;
  createdAt: string;
}

const ms = (iso: string) => Date.parse(iso);
const SEVERITIES: Severity[] = ['critical', 'urgent', 'warning', 'info'];

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

/** An incident with its sort key: `rank` (higher first), then `since` (older first), then id. */
interface Entry {
  inc: Incident;
  rank: number;
  since: number;
}

/** Unclaimed critical (8) over severity (2 × 0–3) over unclaimed (1): the queue's order as one number. */
function entryOf(id: string, alerts: Alert[]): Entry {
  alerts.sort(alertOrder);
  const top = alerts.reduce((m, a) => (SEVERITY_ORDER[a.severity] > SEVERITY_ORDER[m] ? a.severity : m), 'info' as Severity);
  const unclaimed = alerts.some((a) => a.state === 'open');
  const createdAt = alerts.reduce((m, a) => (ms(a.createdAt) < ms(m) ? a.createdAt : m), alerts[0]!.createdAt);
  return {
    inc: { id, homeId: alerts[0]!.homeId, alerts, severity: top, unclaimed, createdAt },
    rank: (top === 'critical' && unclaimed ? 8 : 0) + SEVERITY_ORDER[top] * 2 + (unclaimed ? 1 : 0),
    since: ms(createdAt),
  };
}

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const compareEntries = (a: Entry, b: Entry) => b.rank - a.rank || a.since - b.since || byId(a.inc.id, b.inc.id);

export function buildQueue(alerts: Iterable<Alert>): Incident[] {
  const byIncident = new Map<string, Alert[]>();
  for (const a of alerts) {
    if (a.state === 'resolved') continue;
    const list = byIncident.get(a.incidentId);
    if (list) list.push(a);
    else byIncident.set(a.incidentId, [a]);
  }
  return [...byIncident].map(([id, list]) => entryOf(id, list)).sort(compareEntries).map((e) => e.inc);
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

/** Unresolved alerts counted by severity and by rule (what a summary of the undrawn says). */
export interface Tally {
  alerts: number;
  bySeverity: Record<Severity, number>;
  byRule: Map<string, number>;
}

export const emptyTally = (): Tally => ({ alerts: 0, bySeverity: { critical: 0, urgent: 0, warning: 0, info: 0 }, byRule: new Map() });

function count(t: Tally, a: Alert, by: 1 | -1): void {
  t.alerts += by;
  t.bySeverity[a.severity] += by;
  const n = (t.byRule.get(a.rule) ?? 0) + by;
  if (n === 0) t.byRule.delete(a.rule);
  else t.byRule.set(a.rule, n);
}

/** Counts `alerts` (the unresolved ones), e.g. the overdue rows a panel does not draw. */
export function tally(alerts: Iterable<Alert>): Tally {
  const t = emptyTally();
  for (const a of alerts) if (a.state !== 'resolved') count(t, a, 1);
  return t;
}

/** The severities of a tally that have any, most severe first. */
export function severitiesOf(t: Tally): Array<[Severity, number]> {
  return SEVERITIES.filter((s) => t.bySeverity[s] > 0).map((s) => [s, t.bySeverity[s]]);
}

/** The rule most of a tally's alerts are of, when it is at least half of them (a flood names its cause). */
export function dominantRule(t: Tally): [string, number] | null {
  let best: [string, number] | null = null;
  for (const [rule, n] of t.byRule) if (!best || n > best[1]) best = [rule, n];
  return best && best[1] * 2 >= t.alerts ? best : null;
}

/** An ordered array kept sorted by insertion at the binary-searched place; items are unique under `cmp`. */
class SortedList<T> {
  readonly items: T[] = [];

  constructor(private readonly cmp: (a: T, b: T) => number) {}

  /** The first place whose item does not sort before `x`. */
  private lowerBound(x: T): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cmp(this.items[mid]!, x) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(x: T): void {
    this.items.splice(this.lowerBound(x), 0, x);
  }

  indexOf(x: T): number {
    const i = this.lowerBound(x);
    return this.items[i] === x ? i : -1;
  }

  remove(x: T): void {
    const i = this.indexOf(x);
    if (i >= 0) this.items.splice(i, 1);
  }
}

interface Deadline {
  at: number;
  id: string;
}

/** What the console draws of the queue (QueueIndex.view). */
export interface QueueView {
  /** The first incidents in queue order. */
  drawn: Incident[];
  /** The selected alert's incident when it is further down than the drawn ones, with its place (0-based). */
  pinned: { incident: Incident; position: number } | null;
  /** The unresolved alerts held and not drawn. */
  hidden: Tally;
}

/**
 * The queue of `buildQueue`, kept up to date alert by alert, with running
 * counts: open alerts per severity, and what the alarm depends on (open
 * critical alerts, alerts the hub marked overdue, unreached doctors, and the
 * claim deadlines still to come, in order), so neither an event nor the
 * console's per-second clock walks every alert.
 */
export class QueueIndex {
  /** Every alert held, the resolved ones too (the detail of a selection just resolved). */
  readonly alerts = new Map<string, Alert>();
  /** Unresolved alerts per incident id. */
  private readonly members = new Map<string, Map<string, Alert>>();
  private readonly entries = new Map<string, Entry>();
  private readonly order = new SortedList<Entry>(compareEntries);
  /** Open alerts' claim deadlines, earliest first (those the hub has not yet marked overdue). */
  private readonly deadlines = new Map<string, Deadline>();
  private readonly deadlineOrder = new SortedList<Deadline>((a, b) => a.at - b.at || byId(a.id, b.id));
  private readonly counts = emptyTally();
  private openCritical = 0;
  private markedOverdue = 0;
  private unreached = 0;

  /** Unresolved alerts held. */
  get size(): number {
    return this.counts.alerts;
  }

  /** Unresolved alerts held, per severity. */
  get bySeverity(): Record<Severity, number> {
    return { ...this.counts.bySeverity };
  }

  /** Escalations whose doctor nobody could tell, not yet acknowledged by an operator. */
  get doctorUnreached(): number {
    return this.unreached;
  }

  /** Merges one alert (the newer version wins, see `newer`); false when nothing changed. */
  apply(a: Alert): boolean {
    const prev = this.alerts.get(a.id);
    const next = newer(prev, a);
    if (next === prev) return false;
    this.alerts.set(next.id, next);
    if (prev) this.leave(prev);
    this.join(next);
    if (prev && prev.incidentId !== next.incidentId) this.reposition(prev.incidentId);
    this.reposition(next.incidentId);
    return true;
  }

  /** A snapshot: merges `list` and drops every alert held that is in neither `list` nor `keep`. */
  replace(list: Alert[], keep: ReadonlySet<string>): void {
    const incoming = new Set(list.map((a) => a.id));
    for (const [id, a] of this.alerts) {
      if (keep.has(id) || incoming.has(id)) continue;
      this.alerts.delete(id);
      this.leave(a);
      this.reposition(a.incidentId);
    }
    for (const a of list) this.apply(a);
  }

  /** `needsAlarm` over every alert held, from the running counts. */
  alarm(now: number): boolean {
    return this.openCritical > 0 || this.unreached > 0 || this.markedOverdue > 0 || (this.deadlineOrder.items[0]?.at ?? Infinity) <= now;
  }

  /** The whole queue, in order. */
  incidents(): Incident[] {
    return this.order.items.map((e) => e.inc);
  }

  /** The first `limit` incidents, the selected alert's if further down, and a tally of the rest. */
  view(limit: number, selectedId: string | null): QueueView {
    const drawn = this.order.items.slice(0, limit).map((e) => e.inc);
    const hidden: Tally = { alerts: this.counts.alerts, bySeverity: { ...this.counts.bySeverity }, byRule: new Map(this.counts.byRule) };
    let pinned: QueueView['pinned'] = null;
    const selected = selectedId ? this.alerts.get(selectedId) : undefined;
    const entry = selected && selected.state !== 'resolved' ? this.entries.get(selected.incidentId) : undefined;
    const position = entry ? this.order.indexOf(entry) : -1;
    if (entry && position >= limit) pinned = { incident: entry.inc, position };
    for (const inc of pinned ? [...drawn, pinned.incident] : drawn) for (const a of inc.alerts) count(hidden, a, -1);
    return { drawn, pinned, hidden };
  }

  /** Counts an alert in (its new version). */
  private join(a: Alert): void {
    if (a.state === 'resolved') return;
    let members = this.members.get(a.incidentId);
    if (!members) this.members.set(a.incidentId, (members = new Map()));
    members.set(a.id, a);
    count(this.counts, a, 1);
    this.flags(a, 1);
  }

  /** Counts an alert out (its old version). */
  private leave(a: Alert): void {
    if (a.state === 'resolved') return;
    this.members.get(a.incidentId)?.delete(a.id);
    count(this.counts, a, -1);
    this.flags(a, -1);
  }

  private flags(a: Alert, by: 1 | -1): void {
    if (a.state === 'open' && a.severity === 'critical') this.openCritical += by;
    if (a.state === 'open' && a.overdue) this.markedOverdue += by;
    if (doctorUnreached(a)) this.unreached += by;
    if (by < 0) {
      const d = this.deadlines.get(a.id);
      if (d) {
        this.deadlineOrder.remove(d);
        this.deadlines.delete(a.id);
      }
    } else if (a.state === 'open' && !a.overdue && a.claimDeadline !== null) {
      const d = { at: ms(a.claimDeadline), id: a.id };
      this.deadlines.set(a.id, d);
      this.deadlineOrder.insert(d);
    }
  }

  /** Takes an incident out of the order and puts it back where its alerts now place it (or leaves it out). */
  private reposition(incidentId: string): void {
    const old = this.entries.get(incidentId);
    if (old) {
      this.order.remove(old);
      this.entries.delete(incidentId);
    }
    const members = this.members.get(incidentId);
    if (!members || members.size === 0) {
      this.members.delete(incidentId);
      return;
    }
    const entry = entryOf(incidentId, [...members.values()]);
    this.entries.set(incidentId, entry);
    this.order.insert(entry);
  }
}
