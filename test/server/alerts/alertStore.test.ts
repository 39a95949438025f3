/**
 * AlertStore on a real SQLite file, through the group commit's writer thread:
 * a change that leaves the key columns alone is written as an UPDATE of only
 * the columns that changed, and the row must still read back as the alert
 * the engine holds in memory, version after version.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlertStore, type Alert } from '../../../server/alerts/alertStore.js';
import { GroupCommit } from '../../../server/store/groupCommit.js';
import { openDatabase, type Db } from '../../../server/store/sqliteDb.js';

let dir: string;
let db: Db;
let writer: GroupCommit;
let store: AlertStore;
const statements: string[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'anxin-alertstore-'));
  db = openDatabase(dir);
  db.exec(`INSERT INTO homes (id, address, created_at, updated_at) VALUES ('h-1', 'somewhere', 0, 0);
           INSERT INTO incidents (id, home_id, opened_at, last_alert_at) VALUES ('in-1', 'h-1', 0, 0)`);
  writer = new GroupCommit(db, { thread: true });
  // What the writer thread is asked to run: the statements the store registers, in order.
  const register = writer.statement.bind(writer);
  writer.statement = (sql: string) => {
    statements.push(sql.replace(/\s+/g, ' '));
    return register(sql);
  };
  store = new AlertStore(db, writer);
});

afterEach(async () => {
  await writer.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  statements.length = 0;
});

const T0 = Date.parse('2025-03-10T01:00:00Z');
const created: Alert = {
  id: 'al-1', dedupeKey: 'resident:r-1:bp_high', homeId: 'h-1', residentId: 'r-1', deviceId: 'bp-1', rule: 'bp_high',
  severity: 'warning', state: 'open', title: { 'zh-CN': '血压偏高 150/95', en: 'High blood pressure 150/95' },
  explanation: { 'zh-CN': '收缩压 ≥ 140', en: 'systolic ≥ 140' }, late: false, count: 1,
  lastReading: { deviceId: 'bp-1', id: 'rd-1', type: 'blood_pressure', ts: T0, values: { systolic: 150, diastolic: 95 } },
  incidentId: 'in-1', createdAt: T0, updatedAt: T0, claimDeadline: null, overdueAt: null, conditionClearedAt: null,
  assignee: null, acknowledgedAt: null, escalationTarget: null, escalatedTo: null, escalatedAt: null,
  doctorAcknowledgedAt: null, resolvedAt: null, outcome: null,
};

/** Saves `next` over `stored` in a recorded job (as the ingest's rules do) and reads the row back once committed. */
async function save(next: Alert, stored?: Alert): Promise<Alert | null> {
  await writer.runRecorded(() => store.save(next, stored));
  return store.get(next.id);
}

describe('AlertStore.save', () => {
  it('inserts a new alert, then writes only what changed, and the row always reads back as the alert in memory', async () => {
    expect(await save(created)).toEqual(created);

    // A reading attached: count, time and latest reading change.
    const attached: Alert = {
      ...created, count: 2, updatedAt: T0 + 1000,
      lastReading: { deviceId: 'bp-1', id: 'rd-2', type: 'blood_pressure', ts: T0 + 1000, values: { systolic: 152, diastolic: 96 } },
    };
    expect(await save(attached, created)).toEqual(attached);
    expect(statements.at(-1)).toBe('UPDATE alerts SET count = ?, last_reading = ?, updated_at = ? WHERE id = ?');

    // Severity raised: title and explanation too, and a claim deadline; still no key column.
    const raised: Alert = {
      ...attached, count: 3, updatedAt: T0 + 2000, severity: 'critical', claimDeadline: T0 + 62_000,
      title: { 'zh-CN': '血压危象 185/121', en: 'Hypertensive crisis 185/121' }, explanation: { 'zh-CN': '≥ 180', en: '≥ 180' },
    };
    expect(await save(raised, attached)).toEqual(raised);

    // Nothing changed: nothing is written, and the row is as it was.
    const before = statements.length;
    expect(await save({ ...raised }, raised)).toEqual(raised);
    expect(statements).toHaveLength(before);

    // A state change touches indexed columns: the whole row is written again.
    const acknowledged: Alert = { ...raised, state: 'acknowledged', assignee: 'op-zhang', acknowledgedAt: T0 + 3000, claimDeadline: null, updatedAt: T0 + 3000 };
    expect(await save(acknowledged, raised)).toEqual(acknowledged);
    expect(store.unresolved()).toEqual([acknowledged]);

    const resolved: Alert = { ...acknowledged, state: 'resolved', resolvedAt: T0 + 4000, outcome: 'handled', updatedAt: T0 + 4000 };
    expect(await save(resolved, acknowledged)).toEqual(resolved);
    expect(store.unresolved()).toEqual([]);
  });

  it('writes the whole row when the version given as stored is another alert', async () => {
    await save(created);
    const other: Alert = { ...created, id: 'al-2', dedupeKey: 'resident:r-1:pulse_abnormal', rule: 'pulse_abnormal', count: 7, updatedAt: T0 + 5000 };
    expect(await save(other, created)).toEqual(other);
    expect(await store.get('al-1')).toEqual(created);
  });
});
