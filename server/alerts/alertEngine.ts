/**
 * The rules engine's stateful half: it feeds readings and the passing of time
 * to the pure rules, and turns their matches into alerts.
 *
 * No duplicate alerts, by construction: every evaluation runs synchronously
 * inside a group-commit job, and jobs run one after another on the one event
 * loop, so the check "is there an unresolved alert for this resident and rule?"
 * (this engine's memory of open alerts, `open`) and the write that follows can
 * never interleave with another reading's (unlike a read-then-write across an
 * await; cf. ThingsBoard's duplicate-alarm race). A reading, its alert and the
 * event announcing it are written in one transaction (the writer thread's, for
 * the ingest's recorded jobs), so they are durable together.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Reading } from '../../devices/validateReading.js';
import type { Topics } from '../../devices/topics.js';
import type { EventLog } from '../realtime/eventLog.js';
import { evaluateReading, ruleInputs, topRank } from '../rules/readingRules.js';
import type { RuleConfig } from '../rules/ruleConfig.js';
import { claimDeadlineMs } from '../rules/ruleConfig.js';
import { bpTrend } from '../rules/trendRules.js';
import { SEVERITY_RANK, type RuleMatch, type Severity, type Targets, type Thresholds } from '../rules/types.js';
import type { DirectoryStore } from '../store/directoryStore.js';
import { PerBatch, type GroupCommit } from '../store/groupCommit.js';
import type { Db } from '../store/sqliteDb.js';
import type { Alert, AlertReadingRef, AlertStore } from './alertStore.js';
import { presentAlertEvent, homeFeedback } from './alertPresenter.js';

export interface AlertEngineDeps {
  db: Db;
  writer: GroupCommit;
  alerts: AlertStore;
  events: EventLog;
  directory: DirectoryStore;
  topics: Topics;
  config: RuleConfig;
  log: Logger;
  /** Publishes to the home's `alerts` topic (SPEC §2), after commit. */
  publishToHome: (topic: string, payload: object) => void;
  now: () => number;
}

/** High readings kept per resident for bp_trend (it needs 3 in 7 days). */
const TREND_KEEP = 64;

/** Reading types whose arrival is pushed to screens as a `reading` event. */
const STREAMED_TYPES = new Set(['blood_pressure', 'glucose', 'fall', 'sos']);

/**
 * The `reading` event of a new reading, if its type is streamed: numbered and
 * queued here, recorded by the reading itself (SqliteReadingStore.streamWith).
 */
export function streamReading(events: EventLog, r: Reading): number | null {
  if (!STREAMED_TYPES.has(r.type)) return null;
  return events.reserve('reading', r.receivedAt, { homeId: r.homeId, residentId: r.residentId }, readingEventData, r);
}

/** What a screen is sent of a new reading; EventLog.since builds the same from the row on replay. */
function readingEventData(r: Reading): Record<string, unknown> {
  return { deviceId: r.deviceId, id: r.id, residentId: r.residentId, homeId: r.homeId, type: r.type, ts: new Date(r.ts).toISOString(), values: r.values };
}

export type AlertScope = { homeId: string; residentId: string | null; deviceId: string | null };

/** How the latest alert of a dedupe key ended, for time rules deciding whether to raise again. */
export type ResolvedMark = Pick<Alert, 'severity' | 'createdAt' | 'resolvedAt' | 'conditionClearedAt'>;

/** Rules judged on the passing of time (the watchdog's), whose conditions last across ticks. */
const TIME_RULES: ReadonlySet<string> = new Set(['device_offline', 'gateway_offline', 'no_activity', 'reading_missed']);

/** Unresolved alerts by dedupe key, and how many of each rule (so a caller can skip building keys that cannot match). */
class OpenAlerts {
  private readonly byKey = new Map<string, Alert>();
  private readonly perRule = new Map<string, number>();

  get(key: string): Alert | undefined {
    return this.byKey.get(key);
  }

  set(key: string, a: Alert): void {
    const before = this.byKey.get(key);
    if (before) this.count(before.rule, -1);
    this.count(a.rule, 1);
    this.byKey.set(key, a);
  }

  delete(key: string): void {
    const before = this.byKey.get(key);
    if (!before) return;
    this.count(before.rule, -1);
    this.byKey.delete(key);
  }

  clear(): void {
    this.byKey.clear();
    this.perRule.clear();
  }

  values(): IterableIterator<Alert> {
    return this.byKey.values();
  }

  hasRule(rule: string): boolean {
    return (this.perRule.get(rule) ?? 0) > 0;
  }

  private count(rule: string, by: number): void {
    this.perRule.set(rule, (this.perRule.get(rule) ?? 0) + by);
  }
}

export class AlertEngine {
  /** Unresolved alerts by dedupe key: the engine's whole memory of "what is open". */
  private readonly open = new OpenAlerts();
  /** Time-rule dedupe key → how its latest resolved alert ended. */
  private readonly resolved = new Map<string, ResolvedMark>();
  /** Effects to run once each open batch commits (home feedback, notifications). */
  private readonly afterCommit = new PerBatch<() => void>();
  /** While judging (see judge): how to undo each change made to memory, newest last. */
  private undo: Array<() => void> | null = null;
  private readonly trendStmt;
  /** Per resident: readings at or above the bp_trend threshold in the window (see highReadings). */
  private readonly trendWindows = new Map<string, { threshold: number; newest: number; entries: Array<{ ts: number; systolic: number }> }>();

  constructor(private readonly deps: AlertEngineDeps) {
    this.trendStmt = deps.db.prepare(
      `SELECT ts, json_extract(vals, '$.systolic') AS systolic FROM readings
       WHERE resident_id = ? AND type = 'blood_pressure' AND ts >= ? AND json_extract(vals, '$.systolic') >= ? ORDER BY ts`,
    );
    deps.writer.addHooks({
      begin: () => this.afterCommit.begin(),
      committed: () => this.runAfterCommit(this.afterCommit.settle()),
      rolledBack: () => void this.afterCommit.settle(),
      mark: () => this.afterCommit.mark(),
      discard: (from, to) => this.afterCommit.discardOldest(from, to),
      // Jobs failed after changing memory: re-read what did commit (nothing is in flight then).
      resync: () => this.reload(),
    });
    this.reload();
  }

  /** Rebuilds the index of unresolved alerts from the store. */
  reload(): void {
    this.trendWindows.clear();
    this.open.clear();
    for (const a of this.deps.alerts.unresolved()) this.open.set(a.dedupeKey, a);
    this.resolved.clear();
    for (const [key, mark] of this.deps.alerts.latestResolved([...TIME_RULES])) this.resolved.set(key, mark);
  }

  /** How the latest resolved alert of a time-rule key ended, if there was one. */
  lastResolved(key: string): ResolvedMark | undefined {
    return this.resolved.get(key);
  }

  unresolved(): Alert[] {
    return [...this.open.values()];
  }

  openByKey(key: string): Alert | undefined {
    return this.open.get(key);
  }

  /** Whether any alert of `rule` is unresolved (cheap: lets callers skip building dedupe keys). */
  hasOpen(rule: string): boolean {
    return this.open.hasRule(rule);
  }

  findOpen(id: string): Alert | undefined {
    for (const a of this.open.values()) if (a.id === id) return a;
    return undefined;
  }

  /**
   * Evaluates freshly stored readings. Runs inside the readings' own
   * transaction (see SqliteReadingStore.onStored), so the alert is durable
   * exactly when the reading is.
   */
  onReadingsStored(readings: readonly Reading[]): void {
    for (const r of readings) {
      const match = this.evaluate(r);
      if (match) this.raiseOrAttach(keyFor(r, match), match, { homeId: r.homeId, residentId: r.residentId, deviceId: r.deviceId }, refOf(r), r.receivedAt);
    }
  }

  private evaluate(r: Reading): RuleMatch | null {
    const { config, directory } = this.deps;
    const targets = (r.residentId ? directory.residentInfo(r.residentId)?.targets : undefined) as Targets | undefined;
    const match = evaluateReading(r, config, targets, r.receivedAt);
    const systolic = r.values.systolic;
    if (r.type !== 'blood_pressure' || r.residentId === null || typeof systolic !== 'number') return match;
    const [t, ctx] = ruleInputs(config, 'bp_trend', targets);
    if (systolic < (t.systolic ?? Infinity)) return match;
    const recent = this.highReadings(r.residentId, r.ts, systolic, t);
    // As in evaluateReading: the trend replaces a match only if more severe; if it cannot be, it is not judged.
    if (match && topRank(ctx) <= SEVERITY_RANK[match.severity]) return match;
    const trend = bpTrend(recent, r.ts, t, ctx);
    if (!trend) return match;
    return !match || SEVERITY_RANK[trend.severity] > SEVERITY_RANK[match.severity] ? trend : match;
  }

  /**
   * A resident's recent readings at or above the trend threshold, this one
   * included: loaded from the journal once (SQL filters them), then kept in
   * memory and pruned, so judging a trend costs no query per reading.
   */
  private highReadings(residentId: string, ts: number, systolic: number, t: Thresholds): Array<{ ts: number; systolic: number }> {
    const windowMs = (t.windowDays ?? 7) * 24 * 3600_000;
    const threshold = t.systolic!;
    let w = this.trendWindows.get(residentId);
    if (this.undo) {
      // Below, a window is only appended to or replaced by new arrays (never changed in place otherwise).
      const before = w && { threshold: w.threshold, newest: w.newest, entries: w.entries, length: w.entries.length };
      this.undo.push(() => {
        if (!before) return void this.trendWindows.delete(residentId);
        before.entries.length = before.length;
        this.trendWindows.set(residentId, { threshold: before.threshold, newest: before.newest, entries: before.entries });
      });
    }
    if (!w || w.threshold !== threshold) {
      // The store holds every committed reading; this one is still being written (a recorded job).
      // Readings of the same batch before it loaded the window when they were judged, or were below it.
      const entries = this.trendStmt.all(residentId, ts - windowMs, threshold) as Array<{ ts: number; systolic: number }>;
      entries.push({ ts, systolic });
      w = { threshold, newest: entries.reduce((m, e) => Math.max(m, e.ts), ts), entries };
      this.trendWindows.set(residentId, w);
    } else {
      w.entries.push({ ts, systolic });
      w.newest = Math.max(w.newest, ts);
    }
    // Bounded: what a later reading can still count (the window before the newest measurement),
    // and the newest half of TREND_KEEP of those (trimmed in steps), far more than a trend needs.
    if (w.entries.length > TREND_KEEP) {
      const from = w.newest - windowMs;
      w.entries = w.entries.filter((e) => e.ts >= from).sort((a, b) => a.ts - b.ts).slice(-TREND_KEEP / 2);
    }
    return w.entries;
  }

  /**
   * Opens an alert for `key`, or attaches to the unresolved one: count and
   * latest reading update, severity may rise and never silently falls.
   * Call only inside a group-commit job.
   */
  raiseOrAttach(key: string, match: RuleMatch, scope: AlertScope, reading: AlertReadingRef | null, at: number): Alert {
    const { alerts, config } = this.deps;
    const existing = this.open.get(key);
    if (existing) {
      const next: Alert = {
        ...existing, count: existing.count + 1, updatedAt: at,
        // The latest measured: a reading replayed from a backlog attaches, but is not the latest value.
        lastReading: reading && (!existing.lastReading || reading.ts >= existing.lastReading.ts) ? reading : existing.lastReading,
        // About the past only while every reading of it is: a timely one makes it current.
        late: existing.late && !!match.late,
      };
      let raised = false;
      if (SEVERITY_RANK[match.severity] > SEVERITY_RANK[existing.severity]) {
        raised = true;
        Object.assign(next, { severity: match.severity, title: match.title, explanation: match.explanation });
        const deadline = claimDeadline(config, match.severity, at);
        if (existing.state === 'open' && deadline !== null) next.claimDeadline = Math.min(existing.claimDeadline ?? Infinity, deadline);
        if (deadline !== null && reclaims(existing)) {
          // Claimed at a lower severity (a fall the resident got up from, a pulse of 45 sent to the doctor):
          // the new severity has its own claim window, so the alert is back in front of the call center,
          // with the alarm, the deadline and the overdue that an alert raised at this severity has.
          Object.assign(next, { state: 'open', claimDeadline: deadline, overdueAt: null });
        }
        alerts.appendHistory(existing.id, { at, actor: 'system', action: 'severity.raised', fromState: existing.state, toState: next.state, note: null, detail: { from: existing.severity, to: match.severity } });
      }
      if (existing.conditionClearedAt !== null) next.conditionClearedAt = null;
      if (reading) alerts.linkReading(existing.id, reading.deviceId, reading.id);
      this.store(next, raised ? 'severity.raised' : 'attached', raised);
      return next;
    }
    const id = newId('al');
    const alert: Alert = {
      id, dedupeKey: key, homeId: scope.homeId, residentId: scope.residentId, deviceId: scope.deviceId,
      rule: match.rule, severity: match.severity, state: 'open', title: match.title, explanation: match.explanation,
      late: !!match.late, count: 1, lastReading: reading,
      incidentId: this.incidentFor(scope.homeId, at),
      createdAt: at, updatedAt: at, claimDeadline: claimDeadline(config, match.severity, at), overdueAt: null, conditionClearedAt: null,
      assignee: null, acknowledgedAt: null, escalationTarget: null, escalatedTo: null, escalatedAt: null,
      doctorAcknowledgedAt: null, resolvedAt: null, outcome: null,
    };
    this.store(alert, 'created', true);
    alerts.appendHistory(id, { at, actor: 'system', action: 'created', fromState: null, toState: 'open', note: null, detail: { rule: match.rule, severity: match.severity, late: !!match.late } });
    if (reading) alerts.linkReading(id, reading.deviceId, reading.id);
    return alert;
  }

  private incidentFor(homeId: string, at: number): string {
    const { alerts, config } = this.deps;
    if (this.undo) {
      const before = alerts.latestIncidentOf(homeId);
      this.undo.push(() => alerts.restoreLatestIncident(homeId, before));
    }
    return alerts.incidentFor(homeId, at, config.incidentWindowMinutes * 60_000, () => newId('in'));
  }

  /**
   * Saves a changed alert, logs its stream event, and (for changes the home
   * should hear about) queues the home feedback for after the commit.
   */
  store(alert: Alert, reason: string, tellHome: boolean): void {
    // The open index holds the latest version written (committed or in flight) of an unresolved alert.
    this.deps.alerts.save(alert, this.open.get(alert.dedupeKey));
    if (this.undo) {
      const key = alert.dedupeKey;
      const [open, resolved] = [this.open.get(key), this.resolved.get(key)];
      this.undo.push(() => {
        if (open) this.open.set(key, open);
        else this.open.delete(key);
        if (resolved) this.resolved.set(key, resolved);
        else this.resolved.delete(key);
      });
    }
    if (alert.state === 'resolved') {
      this.open.delete(alert.dedupeKey);
      if (TIME_RULES.has(alert.rule)) this.resolved.set(alert.dedupeKey, { severity: alert.severity, createdAt: alert.createdAt, resolvedAt: alert.resolvedAt, conditionClearedAt: alert.conditionClearedAt });
    } else {
      this.open.set(alert.dedupeKey, alert);
    }
    const type = reason === 'created' ? 'alert.created' : 'alert.updated';
    this.deps.events.append(type, alert.updatedAt, { homeId: alert.homeId, residentId: alert.residentId }, { ...presentAlertEvent(alert), reason });
    if (tellHome) {
      const topic = this.deps.topics.alerts(alert.homeId);
      const payload = homeFeedback(alert);
      this.afterCommit.current.push(() => this.deps.publishToHome(topic, payload));
    }
  }

  /**
   * Runs `fn` (judging readings) so that if it throws, none of its writes,
   * events, effects or changes to this engine's memory remain: a fault in the
   * rules must not refuse the readings themselves. Memory is put back from an
   * undo log, not re-read: the store does not hold the batches in flight yet.
   */
  judge<T>(fn: () => T): T {
    const effects = this.afterCommit.mark();
    const events = this.deps.events.mark();
    const undo: Array<() => void> = [];
    this.undo = undo;
    try {
      return this.deps.writer.savepoint(fn);
    } catch (err) {
      for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
      this.afterCommit.truncate(effects);
      this.deps.events.rollbackTo(events);
      throw err;
    } finally {
      this.undo = null;
    }
  }

  /** Runs `fn` once the current transaction has committed (notifications, MQTT). */
  onCommitted(fn: () => void): void {
    this.afterCommit.current.push(fn);
  }

  private runAfterCommit(work: Array<() => void>): void {
    for (const fn of work) {
      try {
        fn();
      } catch (err) {
        this.deps.log.error({ err }, 'after-commit effect failed');
      }
    }
  }
}

/** One unresolved alert per resident and rule (SPEC §4); home- or device-level when no resident. */
export function keyFor(r: Pick<Reading, 'residentId' | 'homeId' | 'deviceId'>, match: Pick<RuleMatch, 'rule'>): string {
  if (match.rule === 'battery_low' || match.rule === 'device_offline') return `device:${r.deviceId}:${match.rule}`;
  return r.residentId ? `resident:${r.residentId}:${match.rule}` : `home:${r.homeId}:${match.rule}`;
}

export function claimDeadline(config: RuleConfig, severity: Severity, at: number): number | null {
  const ms = claimDeadlineMs(config, severity);
  return ms === null ? null : at + ms;
}

export function newId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
}

function refOf(r: Reading): AlertReadingRef {
  return { deviceId: r.deviceId, id: r.id, type: r.type, ts: r.ts, values: r.values };
}

/**
 * Whether a rise in severity puts a claimed alert back to `open`: acknowledged,
 * or escalated to the doctor. Escalated to 120 it stays so: rescue is on the
 * way, the home has been told so, and the rise shows on every screen.
 */
function reclaims(a: Alert): boolean {
  return a.state === 'acknowledged' || (a.state === 'escalated' && a.escalationTarget === 'doctor');
}
