/**
 * Alerts, their append-only history and the readings attached to them, in the
 * embedded SQLite file. Synchronous on purpose: every write runs inside a
 * group-commit job of the alert engine, so a change and its history commit together.
 */
import type { Severity, Text, RuleId } from '../rules/types.js';
import type { GroupCommit, WriteStatement } from '../store/groupCommit.js';
import type Database from 'better-sqlite3';
import type { Db } from '../store/sqliteDb.js';
import type { AlertState, EscalationTarget, Outcome } from './lifecycle.js';

export interface AlertReadingRef {
  deviceId: string;
  id: string;
  type: string;
  ts: number;
  values: Record<string, number | string | boolean>;
}

export interface Alert {
  id: string;
  dedupeKey: string;
  homeId: string;
  residentId: string | null;
  deviceId: string | null;
  rule: RuleId;
  severity: Severity;
  state: AlertState;
  title: Text;
  explanation: Text;
  late: boolean;
  count: number;
  lastReading: AlertReadingRef | null;
  incidentId: string;
  createdAt: number;
  updatedAt: number;
  claimDeadline: number | null;
  overdueAt: number | null;
  conditionClearedAt: number | null;
  assignee: string | null;
  acknowledgedAt: number | null;
  escalationTarget: EscalationTarget | null;
  escalatedTo: string | null;
  escalatedAt: number | null;
  doctorAcknowledgedAt: number | null;
  resolvedAt: number | null;
  outcome: Outcome | null;
}

export interface HistoryEntry {
  seq: number;
  at: number;
  actor: string;
  action: string;
  fromState: AlertState | null;
  toState: AlertState | null;
  note: string | null;
  detail: Record<string, unknown> | null;
}

export interface AlertFilter {
  states?: AlertState[];
  severities?: Severity[];
  since?: number;
  residentIds?: string[];
  escalatedTo?: string;
  /** A doctor's view: alerts of these residents, or escalated to this user. */
  visibleTo?: { residentIds: readonly string[]; escalatedTo: string };
  limit?: number;
}

/** Most severe first. */
const SEVERITY_ORDER = "CASE severity WHEN 'critical' THEN 0 WHEN 'urgent' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END";

/** The WHERE clause of a filter, with its named parameters; null when nothing can match. */
function whereOf(f: AlertFilter): { sql: string; params: Record<string, unknown> } | null {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  const inList = (column: string, prefix: string, values: readonly string[]) => {
    where.push(`${column} IN (${values.map((_, i) => `@${prefix}${i}`).join(', ')})`);
    values.forEach((v, i) => (params[`${prefix}${i}`] = v));
  };
  if (f.states?.length) inList('state', 's', f.states);
  if (f.severities?.length) inList('severity', 'v', f.severities);
  if (f.since !== undefined) {
    where.push('updated_at >= @since');
    params.since = f.since;
  }
  if (f.escalatedTo !== undefined) {
    where.push('escalated_to = @escalatedTo');
    params.escalatedTo = f.escalatedTo;
  }
  if (f.residentIds) {
    if (f.residentIds.length === 0) return null;
    inList('resident_id', 'r', f.residentIds);
  }
  if (f.visibleTo) {
    const ids = f.visibleTo.residentIds.map((v, i) => {
      params[`p${i}`] = v;
      return `@p${i}`;
    });
    params.visibleEscalatedTo = f.visibleTo.escalatedTo;
    where.push(`(${ids.length ? `resident_id IN (${ids.join(', ')}) OR ` : ''}escalated_to = @visibleEscalatedTo)`);
  }
  return { sql: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
}

const COLUMNS: Array<[keyof Alert, string, 'json' | 'bool' | 'plain']> = [
  ['id', 'id', 'plain'], ['dedupeKey', 'dedupe_key', 'plain'], ['homeId', 'home_id', 'plain'], ['residentId', 'resident_id', 'plain'],
  ['deviceId', 'device_id', 'plain'], ['rule', 'rule', 'plain'], ['severity', 'severity', 'plain'], ['state', 'state', 'plain'],
  ['title', 'title', 'json'], ['explanation', 'explanation', 'json'], ['late', 'late', 'bool'], ['count', 'count', 'plain'],
  ['lastReading', 'last_reading', 'json'], ['incidentId', 'incident_id', 'plain'], ['createdAt', 'created_at', 'plain'],
  ['updatedAt', 'updated_at', 'plain'], ['claimDeadline', 'claim_deadline', 'plain'], ['overdueAt', 'overdue_at', 'plain'],
  ['conditionClearedAt', 'condition_cleared_at', 'plain'], ['assignee', 'assignee', 'plain'], ['acknowledgedAt', 'acknowledged_at', 'plain'],
  ['escalationTarget', 'escalation_target', 'plain'], ['escalatedTo', 'escalated_to', 'plain'], ['escalatedAt', 'escalated_at', 'plain'],
  ['doctorAcknowledgedAt', 'doctor_acknowledged_at', 'plain'], ['resolvedAt', 'resolved_at', 'plain'], ['outcome', 'outcome', 'plain'],
];

/**
 * Columns an alert keeps for life, or that an index holds (migrations:
 * alerts_unresolved_key, alerts_state_created, alerts_created,
 * alerts_escalated_to). A change that leaves them alone — a reading attached,
 * a severity raised, a deadline passed — is written by an UPDATE of just the
 * columns that changed (see save): SQLite then rewrites the row and none of
 * the four indexes, so a group commit has fewer pages to write and fsync, and
 * the writer thread is sent a few values instead of the whole row.
 */
const KEY_COLUMNS: ReadonlyArray<keyof Alert> = ['id', 'dedupeKey', 'homeId', 'residentId', 'deviceId', 'rule', 'incidentId', 'createdAt', 'state', 'escalatedTo'];
const BODY_COLUMNS = COLUMNS.filter(([key]) => !KEY_COLUMNS.includes(key));

/** The alert's column values, in COLUMNS order (positional: what the writer thread is sent stays small). */
function toRow(a: Alert): unknown[] {
  return COLUMNS.map((column) => toColumn(a, column));
}

function toColumn(a: Alert, [key, , kind]: (typeof COLUMNS)[number]): unknown {
  const v = a[key];
  return kind === 'json' ? (v === null ? null : JSON.stringify(v)) : kind === 'bool' ? (v ? 1 : 0) : v;
}

function fromRow(r: Record<string, unknown>): Alert {
  const a: Record<string, unknown> = {};
  for (const [key, col, kind] of COLUMNS) {
    const v = r[col];
    a[key] = kind === 'json' ? (v === null ? null : JSON.parse(v as string)) : kind === 'bool' ? v === 1 : v;
  }
  return a as unknown as Alert;
}

export class AlertStore {
  private readonly upsertStmt;
  /** UPDATE statements by the set of body columns they write (a bit per BODY_COLUMNS entry). */
  private readonly updateStmts = new Map<number, WriteStatement>();
  private readonly historyStmt;
  private readonly linkStmt;

  private readonly incidentInsert;
  private readonly incidentTouch;
  /** Each home's latest incident, as far as this process wrote or read it (see incidentFor). */
  private readonly latestIncident = new Map<string, { id: string; lastAlertAt: number }>();

  /** Writes go through `writer` statements, so they may be part of a recorded job (the ingest's). */
  constructor(private readonly db: Db, private readonly writer: GroupCommit) {
    const cols = COLUMNS.map(([, c]) => c);
    this.upsertStmt = writer.statement(
      `INSERT INTO alerts (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})
       ON CONFLICT (id) DO UPDATE SET ${cols.filter((c) => c !== 'id').map((c) => `${c} = excluded.${c}`).join(', ')}`,
    );
    this.historyStmt = writer.statement(
      'INSERT INTO alert_history (alert_id, at, actor, action, from_state, to_state, note, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.linkStmt = writer.statement('INSERT OR IGNORE INTO alert_readings (alert_id, device_id, reading_id) VALUES (?, ?, ?)');
    this.incidentInsert = writer.statement('INSERT INTO incidents (id, home_id, opened_at, last_alert_at) VALUES (?, ?, ?, ?)');
    this.incidentTouch = writer.statement('UPDATE incidents SET last_alert_at = max(last_alert_at, ?) WHERE id = ?');
    // A failed batch may have taken back an incident this map remembers.
    writer.addHooks({ resync: () => this.latestIncident.clear() });
  }

  /**
   * Writes `alert`. With `stored` (the version the store holds now), a change
   * that leaves every key column alone writes only the columns that changed
   * (compared by identity: a field copied from `stored` is unchanged).
   */
  save(alert: Alert, stored?: Alert): void {
    if (!stored || KEY_COLUMNS.some((k) => stored[k] !== alert[k])) {
      this.upsertStmt.run(...toRow(alert));
      return;
    }
    let mask = 0;
    const values: unknown[] = [];
    BODY_COLUMNS.forEach((column, i) => {
      if (stored[column[0]] === alert[column[0]]) return;
      mask |= 1 << i;
      values.push(toColumn(alert, column));
    });
    if (mask === 0) return;
    let stmt = this.updateStmts.get(mask);
    if (!stmt) {
      const set = BODY_COLUMNS.filter((_, i) => mask & (1 << i)).map(([, c]) => `${c} = ?`);
      this.updateStmts.set(mask, (stmt = this.writer.statement(`UPDATE alerts SET ${set.join(', ')} WHERE id = ?`)));
    }
    stmt.run(...values, alert.id);
  }

  appendHistory(alertId: string, e: Omit<HistoryEntry, 'seq'>): void {
    this.historyStmt.run(alertId, e.at, e.actor, e.action, e.fromState, e.toState, e.note, e.detail ? JSON.stringify(e.detail) : null);
  }

  linkReading(alertId: string, deviceId: string, readingId: string): void {
    this.linkStmt.run(alertId, deviceId, readingId);
  }

  get(id: string): Alert | null {
    const r = this.db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? fromRow(r) : null;
  }

  /** Per dedupe key of these rules, how its most recently resolved alert ended. */
  latestResolved(rules: readonly string[]): Map<string, Pick<Alert, 'severity' | 'createdAt' | 'resolvedAt' | 'conditionClearedAt'>> {
    if (rules.length === 0) return new Map();
    // SQLite: the bare columns come from the row holding max(resolved_at).
    const rows = this.db.prepare(
      `SELECT dedupe_key, severity, created_at, max(resolved_at) AS resolved_at, condition_cleared_at FROM alerts
       WHERE state = 'resolved' AND rule IN (${rules.map(() => '?').join(', ')}) GROUP BY dedupe_key`,
    ).all(...rules) as Array<{ dedupe_key: string; severity: Alert['severity']; created_at: number; resolved_at: number | null; condition_cleared_at: number | null }>;
    return new Map(rows.map((r) => [r.dedupe_key, { severity: r.severity, createdAt: r.created_at, resolvedAt: r.resolved_at, conditionClearedAt: r.condition_cleared_at }]));
  }

  unresolved(): Alert[] {
    return (this.db.prepare("SELECT * FROM alerts WHERE state != 'resolved'").all() as Array<Record<string, unknown>>).map(fromRow);
  }

  /** A home's unresolved alerts, oldest first (an index lookup: alerts_unresolved_home). */
  unresolvedOfHome(homeId: string): Alert[] {
    // Prepared once: every gateway asks on every (re)subscribe, all of them after a hub restart.
    this.unresolvedOfHomeStmt ??= this.db.prepare("SELECT * FROM alerts WHERE state != 'resolved' AND home_id = ? ORDER BY created_at, id");
    return (this.unresolvedOfHomeStmt.all(homeId) as Array<Record<string, unknown>>).map(fromRow);
  }

  private unresolvedOfHomeStmt: Database.Statement | undefined;

  list(f: AlertFilter): Alert[] {
    const filter = whereOf(f);
    if (!filter) return [];
    // Unresolved alerts are a work queue: when more match than the limit, the most severe come first,
    // so a flood of info alerts (a district's network outage) cannot push an unclaimed SOS off the list;
    // within a severity the longest waiting come first, as on the console, so a cut list drops the
    // newest: what an operator works through first is never the part left out. History: newest first.
    const queue = f.states?.length && !f.states.includes('resolved');
    const order = queue ? `${SEVERITY_ORDER}, created_at, id` : 'created_at DESC';
    const sql = `SELECT * FROM alerts ${filter.sql} ORDER BY ${order} LIMIT @limit`;
    return (this.db.prepare(sql).all({ ...filter.params, limit: f.limit ?? 500 }) as Array<Record<string, unknown>>).map(fromRow);
  }

  /** How many alerts match `f` (its `limit` aside): what a list cut at its limit leaves out. */
  count(f: AlertFilter): number {
    const filter = whereOf(f);
    if (!filter) return 0;
    return (this.db.prepare(`SELECT count(*) AS n FROM alerts ${filter.sql}`).get(filter.params) as { n: number }).n;
  }

  history(alertId: string): HistoryEntry[] {
    return (this.db.prepare('SELECT * FROM alert_history WHERE alert_id = ? ORDER BY seq').all(alertId) as Array<Record<string, unknown>>).map((r) => ({
      seq: r.seq as number,
      at: r.at as number,
      actor: r.actor as string,
      action: r.action as string,
      fromState: r.from_state as AlertState | null,
      toState: r.to_state as AlertState | null,
      note: r.note as string | null,
      detail: r.detail ? (JSON.parse(r.detail as string) as Record<string, unknown>) : null,
    }));
  }

  /** The readings attached to an alert, newest first. */
  readings(alertId: string, limit = 200): AlertReadingRef[] {
    const rows = this.db.prepare(
      `SELECT r.device_id, r.reading_id, r.type, r.ts, r.vals FROM alert_readings ar
       JOIN readings r ON r.device_id = ar.device_id AND r.reading_id = ar.reading_id
       WHERE ar.alert_id = ? ORDER BY r.ts DESC LIMIT ?`,
    ).all(alertId, limit) as Array<Record<string, unknown>>;
    return rows.map((r) => ({ deviceId: r.device_id as string, id: r.reading_id as string, type: r.type as string, ts: r.ts as number, values: JSON.parse(r.vals as string) }));
  }

  /** What incidentFor remembers of a home, to put back when a savepoint is rolled back. */
  latestIncidentOf(homeId: string): { id: string; lastAlertAt: number } | undefined {
    return this.latestIncident.get(homeId);
  }

  restoreLatestIncident(homeId: string, latest: { id: string; lastAlertAt: number } | undefined): void {
    if (latest) this.latestIncident.set(homeId, latest);
    else this.latestIncident.delete(homeId);
  }

  /**
   * Joins the home's incident when its last alert was within `windowMs`, else
   * opens one. Remembers each home's latest incident, so alerts of one batch
   * (recorded, not yet in the store) join the incident the first of them opened.
   */
  incidentFor(homeId: string, at: number, windowMs: number, newId: () => string): string {
    let latest = this.latestIncident.get(homeId);
    if (!latest) {
      const row = this.db.prepare('SELECT id, last_alert_at FROM incidents WHERE home_id = ? ORDER BY last_alert_at DESC LIMIT 1')
        .get(homeId) as { id: string; last_alert_at: number } | undefined;
      if (row) latest = { id: row.id, lastAlertAt: row.last_alert_at };
    }
    if (latest && latest.lastAlertAt >= at - windowMs) {
      this.incidentTouch.run(at, latest.id);
      this.latestIncident.set(homeId, { id: latest.id, lastAlertAt: Math.max(latest.lastAlertAt, at) });
      return latest.id;
    }
    const id = newId();
    this.incidentInsert.run(id, homeId, at, at);
    this.latestIncident.set(homeId, { id, lastAlertAt: at });
    return id;
  }
}
