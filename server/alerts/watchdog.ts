/**
 * The time-based rules (SPEC §4): silence of devices and gateways, no motion
 * in a home, scheduled measurements that did not come, and claim deadlines.
 * Driven by one injectable clock: the hub ticks it on a timer, tests call
 * `tick(now)` with a fake time. Conditions that end clear their alerts: an
 * `info` alert resolves itself, a more severe one is marked "condition cleared"
 * for the operator to close.
 */
import type { Logger } from 'pino';
import { DEVICE_TYPE_DEFINITIONS, isDeviceType } from '../../devices/deviceTypes.js';
import type { ReadingType } from '../../devices/readingSchema.js';
import type { Reading } from '../../devices/validateReading.js';
import type { HubEvents } from '../events.js';
import { ThrottledLog } from '../logThrottle.js';
import type { EventLog } from '../realtime/eventLog.js';
import type { RuleConfig } from '../rules/ruleConfig.js';
import { addDays, localDate, minutesOfDay, zonedInstant } from '../rules/localTime.js';
import { deviceOffline, gatewayOffline, noActivity, readingMissed } from '../rules/timeRules.js';
import { SEVERITY_RANK, type RuleMatch } from '../rules/types.js';
import type { ClientKind, DirectoryStore } from '../store/directoryStore.js';
import type { GroupCommit } from '../store/groupCommit.js';
import type { Db } from '../store/sqliteDb.js';
import type { AlertEngine } from './alertEngine.js';
import type { Alert, AlertStore } from './alertStore.js';

export interface WatchdogDeps {
  db: Db;
  writer: GroupCommit;
  engine: AlertEngine;
  alerts: AlertStore;
  events: EventLog;
  directory: DirectoryStore;
  config: RuleConfig;
  tz: string;
  log: Logger;
  now: () => number;
  /** Called when an alert becomes overdue, after commit (notify every signed-in operator again). */
  onOverdue?: (alertId: string) => void;
}

export class Watchdog {
  private readonly lastSeen = new Map<string, number>();
  private readonly lastMotion = new Map<string, number | null>();
  /**
   * Gateway id → when its offline episode began. By gateway, not by home: a home whose gateway is
   * replaced starts afresh, judged by the new one (never connected, counted from its provisioning);
   * the old one's episode, and its disconnect or last will, no longer speak for the home.
   */
  private readonly gatewayOfflineSince = new Map<string, number>();
  /** `${residentId}|${type}` → measurement time of the latest reading. */
  private readonly lastMeasured = new Map<string, number | null>();
  /** Who was heard since the last tick, with what their client_status row needs if they have none yet. */
  private readonly dirtySeen = new Map<string, { kind: ClientKind; homeId: string }>();
  private readonly startedAt: number;
  /** Every connect and disconnect while the disk is full: one line per 10 s, not one each. */
  private readonly statusNotRecorded: ThrottledLog;
  private readonly lastSeenStmt;
  private readonly motionStmt;
  private readonly measuredStmt;

  constructor(private readonly deps: WatchdogDeps) {
    this.statusNotRecorded = new ThrottledLog(deps.log, 'error', 'status event not recorded');
    // An upsert: a device heard only through its gateway (the gateway publishes its readings, the
    // device no status of its own) has no row until now, and without one it would be "never
    // connected" after the next restart. Such a device is not `connected` itself (the default).
    this.lastSeenStmt = deps.writer.statement(`
      INSERT INTO client_status (client_id, kind, home_id, last_seen_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (client_id) DO UPDATE SET last_seen_at = excluded.last_seen_at`);
    this.startedAt = deps.now();
    // A row exists only once a client was heard (its connection, a status, or readings through its gateway): one without a persisted
    // last-seen time (heard just before a crash) still was, which decides "offline" over "never connected".
    for (const r of deps.db.prepare('SELECT client_id, kind, home_id, coalesce(last_seen_at, connected_at, status_at, disconnected_at, 0) AS last_seen_at, online, connected FROM client_status').all() as Array<Record<string, number | string | null>>) {
      this.lastSeen.set(r.client_id as string, r.last_seen_at as number);
      if (r.kind === 'gateway' && (r.online === 0 || r.connected === 0)) {
        // Not connected to this hub yet (the store marks every client disconnected at start):
        // count from now. The hub heard nobody while it was down, so its downtime is not the
        // gateway's silence; counting from the old disconnect or status time (kept across
        // reconnects, absent after a crash) raised gateway_offline for every home at the
        // first tick after any restart longer than 10 minutes, before gateways could reconnect.
        // An alert open before the restart stays open.
        // (A replaced gateway's row stays: homes() drops its episode, the home's gateway is another.)
        this.gatewayOfflineSince.set(r.client_id as string, this.startedAt);
      }
    }
    // A home's last motion and a resident's last measurement of a type are read when first needed, one
    // index probe each (migration 14; readings_resident_type_ts), not by scanning the journal at start:
    // at 30 M rows those two scans held the hub's start 4 s warm, 21 s cold (bench/restart.ts).
    this.motionStmt = deps.db.prepare<[string], number | null>("SELECT max(ts) FROM readings WHERE type = 'motion' AND home_id = ?").pluck();
    this.measuredStmt = deps.db.prepare<[string, string], number | null>('SELECT max(ts) FROM readings WHERE resident_id = ? AND type = ?').pluck();
  }

  /** When the home's motion sensors last saw someone (null: never). */
  private motionAt(homeId: string): number | null {
    let at = this.lastMotion.get(homeId);
    if (at === undefined) this.lastMotion.set(homeId, (at = this.motionStmt.get(homeId) ?? null));
    return at;
  }

  /** When the resident last measured `type` (null: never). */
  private measuredAt(residentId: string, type: string): number | null {
    const key = `${residentId}|${type}`;
    let at = this.lastMeasured.get(key);
    if (at === undefined) this.lastMeasured.set(key, (at = this.measuredStmt.get(residentId, type) ?? null));
    return at;
  }

  /** Inside the readings' transaction: note who was heard, and clear what their arrival ends. */
  onReadingsStored(readings: readonly Reading[]): void {
    // Per reading, on the ingest's path: keys of alerts to clear are built only while some alert of that rule is open.
    const missed = this.deps.engine.hasOpen('reading_missed');
    for (const r of readings) {
      this.seen(r.deviceId, r.receivedAt, 'device', r.homeId);
      // Loaded first: an older reading (a meter syncing its memory) must not replace a newer stored time.
      if (r.type === 'motion') {
        this.lastMotion.set(r.homeId, Math.max(this.motionAt(r.homeId) ?? 0, r.ts));
        if (this.deps.engine.hasOpen('no_activity')) this.clear(`home:${r.homeId}:no_activity`, r.receivedAt);
      }
      if (r.residentId) {
        if (r.ts > (this.measuredAt(r.residentId, r.type) ?? 0)) this.lastMeasured.set(`${r.residentId}|${r.type}`, r.ts);
        if (missed && !this.stillMissed(r.residentId, r.type, r.receivedAt)) this.clear(missedKey(r.residentId, r.type), r.receivedAt);
      }
    }
  }

  /** A status message, last will, connect or disconnect (outside any transaction). */
  onStatus(s: HubEvents['device.status']): void {
    // Recorded: writes only through statements, so it rides in the ingest's batches.
    this.deps.writer.enqueueRecorded(() => {
      this.deps.events.append('device.status', s.at, { homeId: s.homeId, residentId: null }, {
        clientId: s.clientId, kind: s.kind, homeId: s.homeId, online: s.online, at: new Date(s.at).toISOString(), source: s.source,
      });
      if (s.online) this.seen(s.clientId, s.at, s.kind, s.homeId);
      // A replaced gateway is no longer the home's: its forced disconnect or last will after the
      // replacement says nothing about the home, nor would a late "online" of it clear the home's alert.
      if (s.kind !== 'gateway' || this.deps.directory.gateway(s.clientId)?.homeId !== s.homeId) return;
      if (s.online) {
        this.gatewayOfflineSince.delete(s.clientId);
        this.clear(`home:${s.homeId}:gateway_offline`, s.at);
      } else if (!this.gatewayOfflineSince.has(s.clientId)) {
        this.gatewayOfflineSince.set(s.clientId, s.at);
      }
    }, (err) => { if (err) this.statusNotRecorded.write({ err, clientId: s.clientId }); });
  }

  /** Evaluates every time-based rule and claim deadline as of `now`. */
  tick(now = this.deps.now()): Promise<void> {
    return this.deps.writer.run(() => {
      this.deadlines(now);
      this.devices(now);
      this.homes(now);
      this.schedules(now);
      this.persistLastSeen();
    });
  }

  private seen(clientId: string, at: number, kind: ClientKind, homeId: string): void {
    if (at <= (this.lastSeen.get(clientId) ?? 0)) return;
    this.lastSeen.set(clientId, at);
    this.dirtySeen.set(clientId, { kind, homeId });
    if (this.deps.engine.hasOpen('device_offline')) this.clear(`device:${clientId}:device_offline`, at);
  }

  private deadlines(now: number): void {
    for (const a of this.deps.engine.unresolved()) {
      if (a.state !== 'open' || a.claimDeadline === null || a.overdueAt !== null || a.claimDeadline > now) continue;
      const next = { ...a, overdueAt: now, updatedAt: now };
      this.history(a.id, now, 'overdue', a.state, { deadline: new Date(a.claimDeadline).toISOString() });
      this.deps.engine.store(next, 'overdue', false);
      if (this.deps.onOverdue) this.deps.engine.onCommitted(() => this.deps.onOverdue!(a.id));
    }
  }

  private devices(now: number): void {
    for (const d of this.deps.directory.allDevices().values()) {
      // Silence counts only while this hub listens (see the constructor), not before its start, and
      // for a device never heard from, from when it was provisioned: enrolling one must not find it silent.
      const heardAt = this.lastSeen.get(d.id);
      const lastSeenAt = Math.max(heardAt ?? d.createdAt, this.startedAt);
      // A device's own interval, else its type's default (a cuff is off between uses; a fall sensor is not).
      const heartbeatSeconds = d.heartbeatSeconds ?? (isDeviceType(d.type) ? DEVICE_TYPE_DEFINITIONS[d.type].heartbeatSeconds : null);
      const neverConnected = heardAt === undefined ? { provisionedAt: d.createdAt, tz: this.deps.tz } : undefined;
      const match = deviceOffline({ deviceType: d.type, heartbeatSeconds, lastSeenAt, now, neverConnected }, this.deps.config);
      if (match) this.raise(`device:${d.id}:device_offline`, match, { homeId: d.homeId, residentId: d.residentId, deviceId: d.id }, now, lastSeenAt);
    }
  }

  private homes(now: number): void {
    const gateways = this.deps.directory.allGateways();
    for (const [gatewayId, since] of this.gatewayOfflineSince) {
      const homeId = gateways.get(gatewayId)?.homeId;
      if (homeId === undefined) {
        // Replaced: its home is judged by its new gateway now (below). An alert open for the home stays open.
        this.gatewayOfflineSince.delete(gatewayId);
        continue;
      }
      const match = gatewayOffline({ offlineSince: since, now }, this.deps.config);
      if (match) this.raise(`home:${homeId}:gateway_offline`, match, { homeId, residentId: null, deviceId: null }, now, since);
    }
    // A gateway provisioned but never heard from leaves its home as unheard as one gone offline
    // (installer never came, wrong secret, dead on arrival, a replacement never installed). Counted
    // from its provisioning, or this hub's start, like any silence.
    for (const gw of gateways.values()) {
      if (this.lastSeen.has(gw.id) || this.gatewayOfflineSince.has(gw.id)) continue;
      const since = Math.max(gw.createdAt, this.startedAt);
      const match = gatewayOffline({ offlineSince: since, now, neverConnected: { provisionedAt: gw.createdAt, tz: this.deps.tz } }, this.deps.config);
      // An alert raised before this gateway was provisioned was about the one it replaced: a person
      // resolving that one after the swap has not seen this one's silence.
      if (match) this.raise(`home:${gw.homeId}:gateway_offline`, match, { homeId: gw.homeId, residentId: null, deviceId: null }, now, since, gw.createdAt);
    }
    // Motion that gateways kept while the hub was down arrives when they reconnect and replay their
    // outboxes: until they have had that time (gateway_offline's), the hub's downtime is not the home's stillness.
    if (now < this.startedAt + this.deps.config.rules.gateway_offline.minutes * 60_000) return;
    // Home → when its first motion sensor was provisioned: a home enrolled while the hub runs is not still since the hub's start.
    const watchedSince = new Map<string, number>();
    for (const d of this.deps.directory.allDevices().values()) {
      if (d.type === 'motion_sensor') watchedSince.set(d.homeId, Math.min(watchedSince.get(d.homeId) ?? Infinity, d.createdAt));
    }
    for (const [homeId, provisionedAt] of watchedSince) {
      const lastMotionAt = this.motionAt(homeId) ?? Math.max(provisionedAt, this.startedAt);
      const match = noActivity({ lastMotionAt, now, tz: this.deps.tz }, this.deps.config);
      if (match) this.raise(`home:${homeId}:no_activity`, match, { homeId, residentId: null, deviceId: null }, now, lastMotionAt);
    }
  }

  private schedules(now: number): void {
    for (const [residentId, info] of this.deps.directory.allResidentInfos()) {
      for (const schedule of info.schedule) {
        const lastReadingAt = this.measuredAt(residentId, schedule.type);
        const match = readingMissed({ schedule: { type: schedule.type as ReadingType, time: schedule.time }, lastReadingAt, now, tz: this.deps.tz, since: info.createdAt }, this.deps.config);
        if (match) this.raise(missedKey(residentId, schedule.type), match, { homeId: info.homeId, residentId, deviceId: null }, now, this.latestMissedSlot(schedule.time, now));
      }
    }
  }

  /**
   * Raises once per episode of a condition (`episodeStart`: when the silence
   * began, or the missed slot's time); while it lasts, later ticks leave its
   * alert alone unless severity rises. That holds after a person resolved the
   * alert with the condition still on ("technician booked", "reminder call
   * made"): raising it again at the next tick would undo what they did. A new
   * episode (the device heard and silent again, the next day's slot missed)
   * or a worse severity raises anew. A resolved alert raised before
   * `concernsSince` was about something else (a replaced gateway) and does not
   * hold this episode back.
   */
  private raise(key: string, match: RuleMatch, scope: { homeId: string; residentId: string | null; deviceId: string | null }, now: number, episodeStart: number, concernsSince = -Infinity): void {
    const rank = SEVERITY_RANK[match.severity];
    const open = this.deps.engine.openByKey(key);
    if (open && open.conditionClearedAt === null && rank <= SEVERITY_RANK[open.severity]) return;
    const last = open ? undefined : this.deps.engine.lastResolved(key);
    if (last && last.conditionClearedAt === null && last.resolvedAt !== null && episodeStart <= last.resolvedAt && last.createdAt >= concernsSince && rank <= SEVERITY_RANK[last.severity]) return;
    this.deps.engine.raiseOrAttach(key, match, scope, null, now);
  }

  /**
   * Whether a resident's scheduled measurement of `type` is still missed at
   * `now`, with the readings so far: one synced from a meter's memory, measured
   * before the missed day, does not end the reminder (it would be raised again
   * at the next tick).
   */
  private stillMissed(residentId: string, type: string, now: number): boolean {
    const info = this.deps.directory.residentInfo(residentId);
    const schedule = info?.schedule.find((s) => s.type === type);
    if (!info || !schedule) return false;
    const lastReadingAt = this.measuredAt(residentId, type);
    return readingMissed({ schedule: { type: type as ReadingType, time: schedule.time }, lastReadingAt, now, tz: this.deps.tz, since: info.createdAt }, this.deps.config) !== null;
  }

  /** The time of the latest daily slot at `time` whose grace has run out by `now`. */
  private latestMissedSlot(time: string, now: number): number {
    const { tz, config } = this.deps;
    const today = localDate(now, tz);
    const slot = zonedInstant(today, minutesOfDay(time), tz);
    return slot + config.rules.reading_missed.graceHours * 3_600_000 <= now ? slot : zonedInstant(addDays(today, -1), minutesOfDay(time), tz);
  }

  /** The condition behind an alert has ended. Call inside a group-commit job. */
  private clear(key: string, at: number): void {
    const a: Alert | undefined = this.deps.engine.openByKey(key);
    if (!a || a.conditionClearedAt !== null) return;
    if (a.severity === 'info' && a.state === 'open') {
      this.history(a.id, at, 'resolved', 'resolved', { reason: 'condition cleared' }, a.state);
      this.deps.engine.store({ ...a, state: 'resolved', outcome: 'recovered', resolvedAt: at, conditionClearedAt: at, updatedAt: at, claimDeadline: null }, 'resolved', true);
      return;
    }
    this.history(a.id, at, 'condition.cleared', a.state, null);
    this.deps.engine.store({ ...a, conditionClearedAt: at, updatedAt: at }, 'condition.cleared', false);
  }

  private history(alertId: string, at: number, action: string, to: Alert['state'], detail: Record<string, unknown> | null, from?: Alert['state']): void {
    this.deps.alerts.appendHistory(alertId, { at, actor: 'system', action, fromState: from ?? to, toState: to, note: null, detail });
  }

  private persistLastSeen(): void {
    if (this.dirtySeen.size === 0) return;
    for (const [id, { kind, homeId }] of this.dirtySeen) this.lastSeenStmt.run(id, kind, homeId, this.lastSeen.get(id)!);
    this.dirtySeen.clear();
  }
}

/** One reading_missed alert per resident and scheduled measurement type. */
function missedKey(residentId: string, type: string): string {
  return `resident:${residentId}:reading_missed:${type}`;
}
