/**
 * A big store for the restart part (bench/restart.ts): a district's directory
 * (homes, one resident each, a kit of five devices, a gateway, their MQTT
 * identities and last known status), days of readings journaled as the hub
 * journals them, and alerts with their history, incidents and stream events,
 * written straight into a store that a hub created and migrated itself (so
 * the schema, indexes and triggers are exactly the hub's). The way
 * bench/connections.ts writes its bulk devices, at the scale of a journal.
 *
 * Readings, in time order (seq follows received_at, as with the hub's one
 * writer): every device's heartbeat at its type's interval (fall sensor, SOS
 * button, motion sensor every 300 s; cuff and glucose meter every 12 h), two
 * blood pressures and two glucose readings per resident a day, a motion event
 * per home every 30 min, phases random; falls, SOS and abnormal measurements
 * only as the readings of the alerts they raised. Columns as INSERT_READING writes them:
 * values in stored units as JSON, `received_at` a little after `ts`,
 * `stream_seq` numbered for the streamed types (blood_pressure, glucose, fall,
 * sos) from the same counter as the events table. Each reading-rule alert
 * (bp, glucose, battery, fall, SOS) comes with the reading that raised it.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { DEVICE_TYPE_DEFINITIONS, type DeviceType } from '../devices/deviceTypes.js';
import type { ReadingType } from '../devices/readingSchema.js';
import { Rng } from '../devices/simulators/prng.js';
import type { Reading } from '../devices/validateReading.js';
import { claimDeadline, keyFor } from '../server/alerts/alertEngine.js';
import { presentAlertEvent } from '../server/alerts/alertPresenter.js';
import type { Alert } from '../server/alerts/alertStore.js';
import { DEFAULT_RULE_CONFIG } from '../server/rules/ruleConfig.js';
import { evaluateReading } from '../server/rules/readingRules.js';
import { deviceOffline, gatewayOffline } from '../server/rules/timeRules.js';
import type { RuleMatch } from '../server/rules/types.js';
import { INSERT_READING } from '../server/store/sqliteReadingStore.js';

/** One bed's kit: the resident's four devices and the home's motion sensor (readings without a resident). */
export const HOME_KIT: ReadonlyArray<{ suffix: string; type: DeviceType; resident: boolean }> = [
  { suffix: 'bp', type: 'bp_cuff', resident: true },
  { suffix: 'gl', type: 'glucose_meter', resident: true },
  { suffix: 'fs', type: 'fall_sensor', resident: true },
  { suffix: 'sos', type: 'sos_button', resident: true },
  { suffix: 'mo', type: 'motion_sensor', resident: false },
];
const KIT_BP = 0;
const KIT_GL = 1;
const KIT_FS = 2;
const KIT_SOS = 3;
const KIT_MO = 4;

export const bigHomeId = (h: number) => `rs-h-${String(h).padStart(6, '0')}`;
export const bigResidentId = (h: number) => `${bigHomeId(h)}-r`;
export const bigDeviceId = (h: number, kit: number) => `${bigHomeId(h)}-${HOME_KIT[kit]!.suffix}`;
export const bigGatewayId = (h: number) => `${bigHomeId(h)}-gw`;

const MEASURE_SECONDS = 43_200;
const MOTION_SECONDS = 1_800;
/** Rows per transaction. */
const CHUNK = 100_000;
/** The hub's default ANXIN_EVENT_RETENTION_HOURS: older events have been pruned (stream_pruned says how far). */
const EVENT_RETENTION_MS = 48 * 3600_000;
const OPERATOR_FALLBACK = 'bench-operator';

export interface BigStoreParams {
  /** Journal rows to write (readings). */
  rows: number;
  /** Devices; homes = devices / 5. */
  devices: number;
  /** Unresolved alerts at the end. */
  openAlerts: number;
  /** Resolved alerts per million readings (spread over the period). */
  resolvedPerMillion: number;
  /** The MQTT secret hash every bulk device and gateway shares (as the hub stores it). */
  secretHash: string;
  /** Who acknowledges and resolves the alerts (an operator of the store). */
  operator?: string;
  /** The period ends here (epoch ms). */
  now: number;
  seed: string;
}

export interface BigStoreFigures {
  homes: number;
  devices: number;
  gateways: number;
  residents: number;
  readings: number;
  readingsByType: Record<string, number>;
  /** How long the journal covers, at the kit's rate. */
  periodHours: number;
  readingsPerDay: number;
  openAlerts: number;
  resolvedAlerts: number;
  /** Events kept (the last 48 h); older ones counted as pruned. */
  events: number;
  seconds: number;
}

/** Readings per second the district journals (heartbeats, measurements, motion; the alerts' readings are few). */
export function readingsPerSecond(homes: number): number {
  let perHome = 0;
  for (const d of HOME_KIT) perHome += 1 / DEVICE_TYPE_DEFINITIONS[d.type].heartbeatSeconds;
  perHome += 2 / MEASURE_SECONDS + 1 / MOTION_SECONDS;
  return homes * perHome;
}

/** What a stream of periodic readings is: a device's heartbeats, or its measurements. */
const HEARTBEAT = 0;
const BLOOD_PRESSURE = 1;
const GLUCOSE = 2;
const MOTION = 3;
const PREFIX = ['hb', 'bp', 'gl', 'mo'];
const TYPE_OF: ReadingType[] = ['heartbeat', 'blood_pressure', 'glucose', 'motion'];

/** What an alert of each rule is raised from, in proportion (time rules without a reading). */
const ALERT_MIX: ReadonlyArray<[string, number]> = [
  ['bp', 30], ['glucose', 12], ['battery', 15], ['device_offline', 20], ['gateway_offline', 10], ['fall', 8], ['sos', 5],
];

interface PlannedAlert {
  at: number;
  open: boolean;
}

interface PendingEvent {
  at: number;
  type: 'alert.created' | 'alert.updated';
  alert: Alert;
  reason: string;
}

/**
 * Fills `file` (a store the hub created, migrated and stopped cleanly). Returns what it wrote.
 * `progress` is called about every million rows.
 */
export function fillBigStore(file: string, p: BigStoreParams, progress: (rows: number) => void = () => {}): BigStoreFigures {
  const t0 = performance.now();
  const rng = new Rng(p.seed);
  const homes = Math.ceil(p.devices / HOME_KIT.length);
  const operator = p.operator ?? OPERATOR_FALLBACK;
  const perSecond = readingsPerSecond(homes);
  const endSec = Math.floor(p.now / 1000) - 1;
  const startSec = endSec - Math.ceil(p.rows / perSecond);
  const provisionedAt = (startSec - 30 * 86_400) * 1000;

  const db = new Database(file, { fileMustExist: true });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.pragma('foreign_keys = ON');
  // The hot leaves of the (device, reading id) and (resident, type, ts) indexes stay cached.
  db.pragma('cache_size = -1048576');
  db.pragma('wal_autocheckpoint = 10000');
  try {
    writeDirectory(db, homes, p.secretHash, provisionedAt, rng.fork('directory'));

    const insert = db.prepare(INSERT_READING);
    const insertAlert = db.prepare(`INSERT INTO alerts (id, dedupe_key, home_id, resident_id, device_id, rule, severity, state, title, explanation, late, count,
      last_reading, incident_id, created_at, updated_at, claim_deadline, overdue_at, condition_cleared_at, assignee, acknowledged_at, escalation_target,
      escalated_to, escalated_at, doctor_acknowledged_at, resolved_at, outcome) VALUES (${Array(27).fill('?').join(', ')})`);
    const insertIncident = db.prepare('INSERT INTO incidents (id, home_id, opened_at, last_alert_at) VALUES (?, ?, ?, ?)');
    const insertHistory = db.prepare('INSERT INTO alert_history (alert_id, at, actor, action, from_state, to_state, note, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    const insertLink = db.prepare('INSERT OR IGNORE INTO alert_readings (alert_id, device_id, reading_id) VALUES (?, ?, ?)');
    const insertEvent = db.prepare('INSERT INTO events (seq, at, type, home_id, resident_id, data) VALUES (?, ?, ?, ?, ?, ?)');

    // The periodic streams, bucketed by second within their period.
    const streamDevice: string[] = [];
    const streamHome: string[] = [];
    const streamResident: Array<string | null> = [];
    const streamKind: number[] = [];
    const streamDeviceIndex: number[] = [];
    /** Per stream: a number that varies battery, rssi and values between devices. */
    const streamSalt: number[] = [];
    const byPeriod = new Map<number, number[][]>();
    const addStream = (h: number, kit: number, kind: number, period: number) => {
      const k = streamDevice.length;
      streamDevice.push(bigDeviceId(h, kit));
      streamDeviceIndex.push(h * HOME_KIT.length + kit);
      streamHome.push(bigHomeId(h));
      streamResident.push(HOME_KIT[kit]!.resident ? bigResidentId(h) : null);
      streamKind.push(kind);
      streamSalt.push(rng.int(0, 1_000_000));
      let buckets = byPeriod.get(period);
      if (!buckets) byPeriod.set(period, (buckets = Array.from({ length: period }, () => [])));
      buckets[rng.int(0, period - 1)]!.push(k);
    };
    for (let h = 0; h < homes; h++) {
      HOME_KIT.forEach((d, kit) => addStream(h, kit, HEARTBEAT, DEVICE_TYPE_DEFINITIONS[d.type].heartbeatSeconds));
      addStream(h, KIT_BP, BLOOD_PRESSURE, MEASURE_SECONDS);
      addStream(h, KIT_GL, GLUCOSE, MEASURE_SECONDS);
      addStream(h, KIT_MO, MOTION, MOTION_SECONDS);
    }
    const periods = [...byPeriod].map(([period, buckets]) => ({ period, buckets }));

    // Alerts: when each is raised (the open ones mostly in the last day, as a call center leaves them).
    const resolvedCount = Math.round((p.rows / 1e6) * p.resolvedPerMillion);
    const startMs = startSec * 1000;
    const endMs = endSec * 1000;
    const planned: PlannedAlert[] = [];
    for (let i = 0; i < resolvedCount; i++) planned.push({ at: Math.floor(rng.between(startMs, Math.max(startMs + 1, endMs - 3 * 3600_000))), open: false });
    for (let i = 0; i < p.openAlerts; i++) planned.push({ at: Math.floor(rng.between(Math.max(startMs, endMs - 24 * 3600_000), endMs - 60_000)), open: true });
    planned.sort((a, b) => a.at - b.at);
    const openKeys = new Set<string>();
    const pendingEvents: PendingEvent[] = [];

    let seq = 0; // the stream's counter: readings' stream_seq and events' seq
    let prunedThrough = 0;
    let events = 0;
    let rows = 0;
    let inChunk = 0;
    let nextProgress = 1_000_000;
    const byType: Record<string, number> = {};
    const lastHeard = new Float64Array(homes * HOME_KIT.length);
    const begin = () => db.exec('BEGIN');
    const commitIfFull = () => {
      if (inChunk < CHUNK) return;
      db.exec('COMMIT');
      inChunk = 0;
      begin();
      if (rows >= nextProgress) {
        progress(rows);
        nextProgress += 1_000_000;
      }
    };
    const journal = (r: Reading, vals: string) => {
      const streamed = r.type === 'blood_pressure' || r.type === 'glucose' || r.type === 'fall' || r.type === 'sos';
      insert.run(r.deviceId, r.id, r.homeId, r.residentId, r.type, r.ts, r.receivedAt, vals, streamed ? ++seq : null);
      byType[r.type] = (byType[r.type] ?? 0) + 1;
      rows += 1;
      inChunk += 1;
    };
    const writeEvent = (e: PendingEvent) => {
      const s = ++seq;
      if (e.at < endMs - EVENT_RETENTION_MS) {
        prunedThrough = s;
        return;
      }
      const data = JSON.stringify({ ...presentAlertEvent(e.alert), reason: e.reason });
      insertEvent.run(s, e.at, e.type, e.alert.homeId, e.alert.residentId, data);
      events += 1;
    };
    const flushEvents = (untilMs: number) => {
      while (pendingEvents.length > 0 && pendingEvents[0]!.at <= untilMs) writeEvent(pendingEvents.shift()!);
    };
    const queueEvent = (e: PendingEvent) => {
      let i = pendingEvents.length;
      while (i > 0 && pendingEvents[i - 1]!.at > e.at) i--;
      pendingEvents.splice(i, 0, e);
    };

    /** Raises one alert at `at` (its reading journaled first, as the ingest does), with its lifecycle to the end. */
    const raise = (plan: PlannedAlert) => {
      const at = plan.at;
      let match: RuleMatch | null = null;
      let reading: Reading | null = null;
      let scope: { homeId: string; residentId: string | null; deviceId: string | null } | null = null;
      let key = '';
      for (let attempt = 0; attempt < 100; attempt++) {
        const h = rng.int(0, homes - 1);
        const what = pick(rng, ALERT_MIX);
        const homeId = bigHomeId(h);
        const residentId = bigResidentId(h);
        const readingOf = (kit: number, type: ReadingType, id: string, values: Record<string, number | string | boolean>): Reading => ({
          deviceId: bigDeviceId(h, kit), id, homeId, residentId: HOME_KIT[kit]!.resident ? residentId : null, type,
          ts: at - rng.int(20, 400), receivedAt: at, values,
        });
        const rid = (prefix: string) => `${prefix}-${at.toString(36)}`;
        reading = null;
        if (what === 'bp') {
          const severe = rng.chance(0.25);
          reading = readingOf(KIT_BP, 'blood_pressure', rid('bp'), { systolic: severe ? rng.int(180, 200) : rng.int(160, 178), diastolic: severe ? rng.int(100, 125) : rng.int(95, 108), pulse: rng.int(60, 95) });
        } else if (what === 'glucose') {
          reading = readingOf(KIT_GL, 'glucose', rid('gl'), rng.chance(0.5) ? { value: rng.int(170, 260) / 10, context: 'after_meal' } : { value: rng.int(25, 37) / 10, context: 'fasting' });
        } else if (what === 'battery') {
          const kit = rng.int(0, HOME_KIT.length - 1);
          reading = readingOf(kit, 'heartbeat', rid('hb'), { battery: rng.int(3, 14), rssi: -rng.int(45, 90) });
        } else if (what === 'fall') {
          reading = readingOf(KIT_FS, 'fall', rid('fa'), { confidence: rng.int(80, 99) / 100, location: pick(rng, [['bathroom', 3], ['bedroom', 2], ['living_room', 1]]) });
        } else if (what === 'sos') {
          reading = readingOf(KIT_SOS, 'sos', rid('so'), { location: 'bedroom' });
        }
        if (reading) {
          match = evaluateReading(reading, DEFAULT_RULE_CONFIG, undefined, at);
          if (!match) continue;
          scope = { homeId, residentId: reading.residentId, deviceId: reading.deviceId };
          key = keyFor(reading, match);
        } else if (what === 'device_offline') {
          const kit = rng.int(0, HOME_KIT.length - 1);
          const type = HOME_KIT[kit]!.type;
          const interval = DEVICE_TYPE_DEFINITIONS[type].heartbeatSeconds * 1000;
          match = deviceOffline({ deviceType: type, heartbeatSeconds: null, lastSeenAt: at - 3 * interval - rng.int(0, 600_000), now: at }, DEFAULT_RULE_CONFIG);
          scope = { homeId, residentId: HOME_KIT[kit]!.resident ? residentId : null, deviceId: bigDeviceId(h, kit) };
          key = `device:${scope.deviceId}:device_offline`;
        } else {
          match = gatewayOffline({ offlineSince: at - rng.int(600_000, 3_600_000), now: at }, DEFAULT_RULE_CONFIG);
          scope = { homeId, residentId: null, deviceId: null };
          key = `home:${homeId}:gateway_offline`;
        }
        if (match && !(plan.open && openKeys.has(key))) break;
        match = null;
      }
      if (!match || !scope) throw new Error('could not place an alert');
      if (reading) journal(reading, JSON.stringify(reading.values));
      const incidentId = `in-${at.toString(36)}${randomBytes(5).toString('hex')}`;
      insertIncident.run(incidentId, scope.homeId, at, at);
      let alert: Alert = {
        id: `al-${at.toString(36)}${randomBytes(5).toString('hex')}`, dedupeKey: key, homeId: scope.homeId, residentId: scope.residentId, deviceId: scope.deviceId,
        rule: match.rule, severity: match.severity, state: 'open', title: match.title, explanation: match.explanation, late: !!match.late, count: 1,
        lastReading: reading && { deviceId: reading.deviceId, id: reading.id, type: reading.type, ts: reading.ts, values: reading.values },
        incidentId, createdAt: at, updatedAt: at, claimDeadline: claimDeadline(DEFAULT_RULE_CONFIG, match.severity, at), overdueAt: null,
        conditionClearedAt: null, assignee: null, acknowledgedAt: null, escalationTarget: null, escalatedTo: null, escalatedAt: null,
        doctorAcknowledgedAt: null, resolvedAt: null, outcome: null,
      };
      const history: Array<[number, string, string, string | null, string, string | null]> = [
        [at, 'system', 'created', null, 'open', JSON.stringify({ rule: match.rule, severity: match.severity, late: !!match.late })],
      ];
      queueEvent({ at, type: 'alert.created', alert, reason: 'created' });
      // What a call center does with it: most claimed in minutes, some escalated, the resolved ones closed.
      const roll = rng.float();
      const ackAt = at + rng.int(30_000, 600_000);
      if ((!plan.open || roll > 0.3) && ackAt < endMs) {
        alert = { ...alert, state: 'acknowledged', assignee: operator, acknowledgedAt: ackAt, updatedAt: ackAt, claimDeadline: null };
        history.push([ackAt, operator, 'acknowledged', 'open', 'acknowledged', null]);
        queueEvent({ at: ackAt, type: 'alert.updated', alert, reason: 'acknowledged' });
        if (roll > 0.85 && (match.severity === 'critical' || match.severity === 'urgent')) {
          const escAt = ackAt + rng.int(10_000, 120_000);
          alert = { ...alert, state: 'escalated', escalationTarget: 'emergency', escalatedAt: escAt, updatedAt: escAt };
          history.push([escAt, operator, 'escalated.emergency', 'acknowledged', 'escalated', null]);
          queueEvent({ at: escAt, type: 'alert.updated', alert, reason: 'escalated.emergency' });
        }
        if (!plan.open) {
          const doneAt = Math.min(endMs - 1, alert.updatedAt + rng.int(300_000, 3_600_000));
          alert = { ...alert, state: 'resolved', resolvedAt: doneAt, updatedAt: doneAt, outcome: rng.chance(0.8) ? 'handled' : 'false_alarm', claimDeadline: null };
          history.push([doneAt, operator, 'resolved', history.at(-1)![4], 'resolved', null]);
          queueEvent({ at: doneAt, type: 'alert.updated', alert, reason: 'resolved' });
        }
      } else if (alert.claimDeadline !== null && alert.claimDeadline < endMs) {
        // Left open past its claim deadline: the hub marked it overdue then.
        const overdueAt = alert.claimDeadline;
        alert = { ...alert, overdueAt, updatedAt: overdueAt };
        history.push([overdueAt, 'system', 'overdue', 'open', 'open', null]);
      }
      if (plan.open) openKeys.add(key);
      insertAlert.run(
        alert.id, alert.dedupeKey, alert.homeId, alert.residentId, alert.deviceId, alert.rule, alert.severity, alert.state,
        JSON.stringify(alert.title), JSON.stringify(alert.explanation), alert.late ? 1 : 0, alert.count, alert.lastReading && JSON.stringify(alert.lastReading),
        alert.incidentId, alert.createdAt, alert.updatedAt, alert.claimDeadline, alert.overdueAt, alert.conditionClearedAt, alert.assignee,
        alert.acknowledgedAt, alert.escalationTarget, alert.escalatedTo, alert.escalatedAt, alert.doctorAcknowledgedAt, alert.resolvedAt, alert.outcome,
      );
      for (const [hAt, actor, action, from, to, detail] of history) insertHistory.run(alert.id, hAt, actor, action, from, to, null, detail);
      if (reading) insertLink.run(alert.id, reading.deviceId, reading.id);
    };

    let nextAlert = 0;
    begin();
    outer: for (let s = startSec; ; s++) {
      const secondMs = s * 1000;
      // Received in order within the second (seq follows received_at); measured a little before.
      let within = 0;
      for (const { period, buckets } of periods) {
        const due = buckets[s % period]!;
        for (let i = 0; i < due.length; i++) {
          if (rows >= p.rows) break outer;
          const k = due[i]!;
          const salt = streamSalt[k]!;
          const receivedAt = secondMs + (within = Math.min(999, within + 1 + ((salt + s) & 7)));
          const ts = receivedAt - 30 - ((salt ^ s) & 255);
          const kind = streamKind[k]!;
          const type = TYPE_OF[kind]!;
          let vals: string;
          if (kind === HEARTBEAT) {
            // Battery slowly down from 100 to 20 and changed, per device; rssi per device and a little noise.
            const battery = 100 - Math.floor(((salt + s / 3600) % 800) / 10);
            vals = `{"battery":${battery},"rssi":${-45 - (salt % 40) - (s & 3)}}`;
            lastHeard[streamDeviceIndex[k]!] = receivedAt;
          } else if (kind === BLOOD_PRESSURE) {
            const sys = 108 + ((salt + s) % 32);
            vals = `{"systolic":${sys},"diastolic":${62 + ((salt + (s >> 3)) % 26)},"pulse":${58 + ((salt + (s >> 5)) % 34)}}`;
          } else if (kind === GLUCOSE) {
            vals = `{"value":${(45 + ((salt + s) % 60)) / 10},"context":"${(s / MEASURE_SECONDS) & 1 ? 'after_meal' : 'fasting'}"}`;
          } else {
            vals = `{"location":"${['bedroom', 'living_room', 'kitchen', 'bathroom'][(salt + s) & 3]}"}`;
          }
          const streamed = kind === BLOOD_PRESSURE || kind === GLUCOSE;
          insert.run(streamDevice[k], `${PREFIX[kind]}-${ts.toString(36)}`, streamHome[k], streamResident[k], type, ts, receivedAt, vals, streamed ? ++seq : null);
          byType[type] = (byType[type] ?? 0) + 1;
          rows += 1;
          inChunk += 1;
        }
      }
      while (nextAlert < planned.length && planned[nextAlert]!.at < secondMs + 1000 && rows < p.rows) raise(planned[nextAlert++]!);
      flushEvents(secondMs + 999);
      commitIfFull();
      if (s > endSec + 86_400 * 3650) throw new Error('the kit journals too few readings to reach --rows');
    }
    // What the period did not reach (the row budget ran out first) is raised at its end.
    while (nextAlert < planned.length) raise({ ...planned[nextAlert++]!, at: endMs - 1 });
    flushEvents(Infinity);
    if (prunedThrough > 0) db.prepare('UPDATE stream_pruned SET through_seq = max(through_seq, ?) WHERE id = 1').run(prunedThrough);
    writeClientStatus(db, homes, lastHeard, endMs);
    db.exec('COMMIT');
    db.pragma('wal_checkpoint(TRUNCATE)');
    return {
      homes, devices: homes * HOME_KIT.length, gateways: homes, residents: homes, readings: rows, readingsByType: byType,
      periodHours: (endSec - startSec) / 3600, readingsPerDay: perSecond * 86_400,
      openAlerts: p.openAlerts, resolvedAlerts: resolvedCount, events, seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    db.close();
  }
}

function pick<T>(rng: Rng, weighted: ReadonlyArray<readonly [T, number]>): T {
  const total = weighted.reduce((s, [, w]) => s + w, 0);
  let x = rng.float() * total;
  for (const [v, w] of weighted) if ((x -= w) < 0) return v;
  return weighted.at(-1)![0];
}

/** Homes, residents, gateways, devices and their MQTT identities, as the import writes them (one transaction). */
function writeDirectory(db: Database.Database, homes: number, secretHash: string, at: number, rng: Rng): void {
  const home = db.prepare('INSERT INTO homes (id, address, phone, access, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)');
  const resident = db.prepare(`INSERT INTO residents (id, home_id, name, birth_year, sex, doctor, conditions, contacts, targets, schedule, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, NULL, ?, ?, '{}', '[]', ?, ?)`);
  const gateway = db.prepare('INSERT INTO gateways (id, home_id, created_at, updated_at) VALUES (?, ?, ?, ?)');
  const device = db.prepare('INSERT INTO devices (id, home_id, type, resident_id, heartbeat_seconds, created_at, updated_at) VALUES (?, ?, ?, ?, NULL, ?, ?)');
  const credential = db.prepare('INSERT INTO mqtt_credentials (username, kind, home_id, secret_hash, created_at, rotated_at) VALUES (?, ?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (let h = 0; h < homes; h++) {
      const id = bigHomeId(h);
      home.run(id, `${1 + (h % 40)}号楼 ${1 + (h % 6)}单元 ${100 + (h % 30)}室, 幸福街道 ${Math.floor(h / 1200) + 1}社区`, `0571${String(80_000_000 + h)}`, '门禁密码 #1234', at, at);
      const contacts = JSON.stringify([{ name: `家属 ${h}`, relation: '女儿', phone: `139${String(10_000_000 + h).padStart(8, '0')}` }]);
      const conditions = JSON.stringify(rng.chance(0.6) ? ['hypertension'] : rng.chance(0.5) ? ['diabetes'] : []);
      resident.run(bigResidentId(h), id, `居民 ${h}`, rng.int(1930, 1958), rng.chance(0.55) ? 'F' : 'M', conditions, contacts, at, at);
      gateway.run(bigGatewayId(h), id, at, at);
      credential.run(bigGatewayId(h), 'gateway', id, secretHash, at, at);
      HOME_KIT.forEach((d, kit) => {
        device.run(bigDeviceId(h, kit), id, d.type, d.resident ? bigResidentId(h) : null, at, at);
        credential.run(bigDeviceId(h, kit), 'device', id, secretHash, at, at);
      });
    }
  })();
}

/**
 * Every device's and gateway's last known status (client_status), as a hub that
 * ran until `endMs` leaves it: heard at its last heartbeat, retained status online.
 */
function writeClientStatus(db: Database.Database, homes: number, lastHeard: Float64Array, endMs: number): void {
  const status = db.prepare(`INSERT INTO client_status (client_id, kind, home_id, online, status_at, battery, rssi, firmware, outbox_depth, version,
    connected, connected_at, disconnected_at, last_seen_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
    ON CONFLICT (client_id) DO NOTHING`);
  const connectedAt = endMs - 5 * 86_400_000;
  for (let h = 0; h < homes; h++) {
    const homeId = bigHomeId(h);
    status.run(bigGatewayId(h), 'gateway', homeId, connectedAt, null, null, null, 0, '1.4.2', connectedAt, endMs, endMs - 1000);
    HOME_KIT.forEach((_, kit) => {
      const heard = lastHeard[h * HOME_KIT.length + kit] || null;
      status.run(bigDeviceId(h, kit), 'device', homeId, connectedAt, 80, -60, '2.1.0', null, null, connectedAt, endMs, heard);
    });
  }
}
