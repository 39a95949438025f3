/**
 * Gathers what the 120 hand-off summary needs for one alert: the resident, the
 * home (address, door/key access), and the latest vitals of each kind.
 */
import type { ReadingType } from '../../devices/readingSchema.js';
import { handoffSummary, type HandoffSummary } from '../notify/handoffSummary.js';
import type { DirectoryStore } from '../store/directoryStore.js';
import type { Db } from '../store/sqliteDb.js';
import type { Alert } from './alertStore.js';

export function buildHandoff(db: Db, directory: DirectoryStore, alert: Alert, now: number, tz: string): HandoffSummary | null {
  const home = directory.home(alert.homeId);
  const resident = alert.residentId ? directory.resident(alert.residentId) : directory.residents({ homeId: alert.homeId })[0] ?? null;
  if (!home || !resident) return null;
  const latestVitals = (db.prepare(
    `SELECT type, ts, vals FROM readings WHERE seq IN (
       SELECT max(seq) FROM readings WHERE resident_id = ? AND type IN ('blood_pressure', 'glucose') GROUP BY type)`,
  ).all(resident.id) as Array<{ type: ReadingType; ts: number; vals: string }>).map((r) => ({ type: r.type, ts: r.ts, values: JSON.parse(r.vals) }));
  // When the event began, for "how long has she been on the floor": the earliest attached
  // reading, not `lastReading` (the latest of an alert that readings kept attaching to).
  const first = db.prepare(
    `SELECT min(r.ts) AS ts FROM alert_readings ar JOIN readings r ON r.device_id = ar.device_id AND r.reading_id = ar.reading_id WHERE ar.alert_id = ?`,
  ).get(alert.id) as { ts: number | null };
  const firstReadingAt = first.ts ?? alert.lastReading?.ts;
  return handoffSummary({
    resident: { ...resident, age: resident.birthYear === null ? null : new Date(now).getUTCFullYear() - resident.birthYear },
    home,
    alert: { rule: alert.rule, severity: alert.severity, title: alert.title, createdAt: alert.createdAt, ...(firstReadingAt !== undefined && { firstReadingAt }), count: alert.count },
    latestVitals,
    now,
    tz,
  });
}
