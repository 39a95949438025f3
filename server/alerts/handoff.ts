/**
 * Gathers what the 120 hand-off summary needs for one alert: the resident (or,
 * not knowing which, every resident of the home), the home (address, door/key
 * access), and the newest vitals of each kind.
 */
import type { ReadingType } from '../../devices/readingSchema.js';
import { handoffSummary, type HandoffSummary } from '../notify/handoffSummary.js';
import type { DirectoryStore } from '../store/directoryStore.js';
import type { Db } from '../store/sqliteDb.js';
import type { Alert } from './alertStore.js';

/** What the hand-off lists as vitals. */
const VITALS: readonly ReadingType[] = ['blood_pressure', 'glucose'];

export function buildHandoff(db: Db, directory: DirectoryStore, alert: Alert, now: number, tz: string): HandoffSummary | null {
  const home = directory.home(alert.homeId);
  // An alert of the home that names nobody (an unbound fall sensor): every resident, unless there is only one.
  const named = alert.residentId ? directory.resident(alert.residentId) : null;
  const residents = named ? [named] : directory.residents({ homeId: alert.homeId });
  if (!home || residents.length === 0) return null;
  const identified = residents.length === 1;
  // The newest measured of each kind (a meter syncing its memory sends old readings late).
  const newest = db.prepare('SELECT ts, vals FROM readings WHERE resident_id = ? AND type = ? ORDER BY ts DESC, seq DESC LIMIT 1');
  const latestVitals = !identified ? [] : VITALS.flatMap((type) => {
    const r = newest.get(residents[0]!.id, type) as { ts: number; vals: string } | undefined;
    return r ? [{ type, ts: r.ts, values: JSON.parse(r.vals) as Record<string, number | string | boolean> }] : [];
  });
  // When the event began, for "how long has she been on the floor": the earliest attached
  // reading, not `lastReading` (the latest of an alert that readings kept attaching to).
  const first = db.prepare(
    `SELECT min(r.ts) AS ts FROM alert_readings ar JOIN readings r ON r.device_id = ar.device_id AND r.reading_id = ar.reading_id WHERE ar.alert_id = ?`,
  ).get(alert.id) as { ts: number | null };
  const firstReadingAt = first.ts ?? alert.lastReading?.ts;
  return handoffSummary({
    residents: residents.map((r) => ({ ...r, age: r.birthYear === null ? null : new Date(now).getUTCFullYear() - r.birthYear })),
    identified,
    home,
    alert: { rule: alert.rule, severity: alert.severity, title: alert.title, createdAt: alert.createdAt, ...(firstReadingAt !== undefined && { firstReadingAt }), count: alert.count },
    latestVitals,
    now,
    tz,
  });
}
