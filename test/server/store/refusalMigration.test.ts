/**
 * Migration 15 keeps a refused publish's payload once (audit D7), on a store
 * written by migrations 1–14 the old way (the payload copied on every refused
 * reading of a publish): every refusal is kept, the admin lists each with the
 * same payload as before, each publish's payload is stored once, and new
 * refusals are recorded and pruned on the upgraded store as on a new one.
 */
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { GroupCommit } from '../../../server/store/groupCommit.js';
import { MIGRATIONS } from '../../../server/store/migrations.js';
import { RefusalStore, type RefusalRecord } from '../../../server/store/refusalStore.js';
import { configure, migrate, type Db } from '../../../server/store/sqliteDb.js';

let db: Db | undefined;
afterEach(() => db?.close());

const T = 'anxin/v1/homes/wh-0001/devices';
const batch = JSON.stringify(Array.from({ length: 40 }, (_, k) => ({ type: 'blood_pressure', id: `g-${k}`, ts: 1, systolic: 420, diastolic: 80, unit: 'mmHg' }))).slice(0, 4096);

/** A store as a hub before migration 15 left it, with refusals recorded the old way. */
function storeAtVersion14(): Db {
  const d = new Database(':memory:');
  configure(d, 'normal');
  for (let v = 0; v < 14; v++) {
    d.transaction(() => {
      d.exec(MIGRATIONS[v]!);
      d.pragma(`user_version = ${v + 1}`);
    })();
  }
  const insert = d.prepare('INSERT INTO refusals (at, client_id, topic, code, field, reading_id, detail, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  // A gateway publish of 40 refused readings: its payload on each of the 40 rows.
  for (let k = 0; k < 40; k++) insert.run(1000, 'gw-0001', `${T}/bp-0001/telemetry`, 'out_of_range', 'systolic', `g-${k}`, 'systolic 420 mmHg is outside 40–300', batch);
  // Broken JSON from a cuff, twice the same bytes in two publishes; a refusal of a topic; a last will's refusal without a client.
  insert.run(2000, 'bp-0002', `${T}/bp-0002/telemetry`, 'invalid_json', null, null, 'not JSON', '{"type":"blood_pressure",');
  insert.run(3000, 'bp-0002', `${T}/bp-0002/telemetry`, 'invalid_json', null, null, 'not JSON', '{"type":"blood_pressure",');
  insert.run(3500, 'bp-0002', 'anxin/v1/homes/wh-0009/devices/bp-0002/telemetry', 'topic_not_allowed', null, null, 'home wh-0009 is not this device\'s home', '{}');
  insert.run(4000, null, `${T}/fall-0001/status`, 'invalid_json', null, null, 'status must be a JSON object', null);
  // The same gateway publish again later (its outbox resent it): its own refusals, same payload.
  for (let k = 0; k < 3; k++) insert.run(5000, 'gw-0001', `${T}/bp-0001/telemetry`, 'out_of_range', 'systolic', `g-${k}`, 'systolic 420 mmHg is outside 40–300', batch);
  return d;
}

/** What the admin API listed before the upgrade: every row with its own payload. */
function listedBefore(d: Db): RefusalRecord[] {
  return (d.prepare('SELECT * FROM refusals ORDER BY seq DESC').all() as Array<Record<string, unknown>>).map((r) => ({
    seq: r.seq as number, at: r.at as number, clientId: r.client_id as string | null, topic: r.topic as string, code: r.code as string,
    field: r.field as string | null, readingId: r.reading_id as string | null, detail: r.detail as string, payload: r.payload as string | null,
  }));
}

it('keeps every refusal with its payload, and each publish\'s payload once', () => {
  db = storeAtVersion14();
  const before = listedBefore(db);
  expect(before).toHaveLength(47);

  migrate(db);

  expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
  const store = new RefusalStore(db, new GroupCommit(db), 10_000);
  expect(store.list({ limit: 1000 })).toEqual(before);
  // One payload per publish (the cuff's two identical publishes are two publishes), none for the one without.
  expect(db.prepare('SELECT count(*) FROM refusal_payloads').pluck().get()).toBe(5);
  expect(db.prepare('SELECT sum(length(payload)) FROM refusal_payloads').pluck().get()).toBe(2 * batch.length + 2 * 25 + 2);
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  expect(db.prepare("SELECT name FROM sqlite_temp_schema WHERE type = 'table'").all()).toEqual([]);
});

it('records and prunes new refusals on an upgraded store, keeping what is still referred to', async () => {
  db = storeAtVersion14();
  migrate(db);
  const writer = new GroupCommit(db);
  const store = new RefusalStore(db, writer, 100);
  const recorded = (i: number, n: number) => new Promise<void>((resolve, reject) => store.record(
    10_000 + i, 'gw-0001', `${T}/bp-0001/telemetry`,
    Array.from({ length: n }, (_, k) => ({ id: `new-${i}-${k}`, code: 'unknown_resident', field: 'residentId', detail: 'resident r-0009 does not live in home wh-0001' })),
    Buffer.from(`[{"publish":${i}}]`), (err) => (err ? reject(err) : resolve()),
  ));
  await recorded(0, 30);
  // Not yet pruned: the old refusals are all there, with their payloads.
  expect(store.list({ limit: 1000 })).toHaveLength(77);
  for (let i = 1; i <= 10; i++) await recorded(i, 30);

  const kept = store.list({ limit: 1000 });
  expect(kept.length).toBeGreaterThanOrEqual(100);
  expect(kept.length).toBeLessThanOrEqual(200);
  expect(kept[0]).toMatchObject({ clientId: 'gw-0001', readingId: 'new-10-29', payload: '[{"publish":10}]' });
  for (const r of kept) expect(r.payload).toBe(`[{"publish":${Number(r.readingId!.split('-')[1])}}]`);
  // Only the payloads of the publishes still kept.
  const payloads = db.prepare('SELECT payload FROM refusal_payloads ORDER BY id').pluck().all();
  expect(payloads).toEqual([...new Set(kept.map((r) => r.payload)).values()].reverse());
  await writer.close();
});
