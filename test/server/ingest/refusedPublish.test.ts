/**
 * A refused publish (audit D7), through real MQTT clients against a real hub
 * and its SQLite file: it is acknowledged only once its refusals are kept (so
 * it counts against the sender's window like an accepted one), a gateway
 * publish of 500 refused readings writes its payload once, not 500 times,
 * and the admin API still lists every refusal with that payload.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { collect, connectClient, exampleDocument, secretOf, startTestHub, type ImportAnswer, type TestHub } from '../../helpers/hub.js';

const T = 'anxin/v1/homes/wh-0001/devices';
let t: TestHub;
let answer: ImportAnswer;
let gateway: MqttClient;

beforeAll(async () => {
  t = await startTestHub({ config: { sync: 'full', refusalLimit: 1000 } });
  answer = await t.importDoc(exampleDocument());
  gateway = await connectClient(t.mqttUrl, 'gw-0001', secretOf(answer, 'gw-0001'));
});

afterAll(async () => {
  gateway?.end(true);
  await t?.destroy();
});

type Listed = { seq: number; clientId: string; topic: string; code: string; field: string | null; readingId: string | null; detail: string; payload: string | null };

async function listRefusals(query: string): Promise<Listed[]> {
  const res = await t.hub.http.inject({ url: `/api/v1/refusals${query}`, headers: { authorization: `Bearer ${await t.adminToken()}` } });
  expect(res.statusCode).toBe(200);
  return (res.json() as { refusals: Listed[] }).refusals;
}

/** Bytes of the SQLite file as committed (WAL included), read through the hub's own connection. */
function storeBytes(): number {
  const db = t.hub.ctx.db;
  return (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
}

/** A gateway's backlog its cuff measured for a resident of another home: every reading refused. */
function refusedBatch(tag: string, n: number): string {
  const ts = Date.now();
  return JSON.stringify(Array.from({ length: n }, (_, k) => ({
    type: 'blood_pressure', id: `${tag}-${k}`, ts, systolic: 131, diastolic: 82, unit: 'mmHg', residentId: 'r-0009', note: 'x'.repeat(40),
  })));
}

it('acknowledges a refused publish only once its refusals are kept', async () => {
  // Another connection holds the store's write lock: nothing the hub writes is durable until it lets go.
  const blocker = new Database(join(t.dataDir, 'anxin.sqlite'));
  blocker.pragma('busy_timeout = 5000');
  blocker.exec('BEGIN IMMEDIATE');
  const acked: string[] = [];
  const all = Promise.all(Array.from({ length: 100 }, (_, i) => new Promise<void>((resolve, reject) => {
    const id = `held-${i}`;
    gateway.publish(`${T}/bp-0001/telemetry`, JSON.stringify({ type: 'blood_pressure', id, ts: Date.now(), systolic: 999, diastolic: 80, unit: 'mmHg' }), { qos: 1 }, (err) => {
      if (err) return reject(err);
      acked.push(id);
      resolve();
    });
  })));
  try {
    await new Promise((r) => setTimeout(r, 1500));
    // Refused, not yet kept: not acknowledged either (it used to be at once).
    expect(acked).toEqual([]);
  } finally {
    blocker.exec('ROLLBACK');
    blocker.close();
  }
  await all;
  // Once they are kept, all of them, each with its refusal in the store.
  const kept = t.hub.ctx.db.prepare("SELECT count(*) FROM refusals WHERE reading_id LIKE 'held-%'").pluck().get();
  expect(kept).toBe(100);
  expect(gateway.connected).toBe(true);
});

it('writes a gateway publish\'s payload once, and lists each of its refusals with it', async () => {
  const rejects = await collect(gateway, `${T}/+/rejects`);
  const payload = refusedBatch('once', 500);
  expect(payload.length).toBeGreaterThan(4096);
  const before = storeBytes();
  await gateway.publishAsync(`${T}/bp-0001/telemetry`, payload, { qos: 1 });
  const grown = storeBytes() - before;

  // Every refusal answered on rejects, and kept.
  const heard = await rejects.next(500, 10_000);
  expect(heard.every((m) => m.body.error === 'unknown_resident')).toBe(true);
  const listed = (await listRefusals('?limit=1000&code=unknown_resident')).filter((r) => r.readingId?.startsWith('once-'));
  expect(listed).toHaveLength(500);
  expect(new Set(listed.map((r) => r.readingId)).size).toBe(500);
  for (const r of listed) {
    expect(r).toMatchObject({ clientId: 'gw-0001', topic: `${T}/bp-0001/telemetry`, code: 'unknown_resident', field: 'residentId' });
    expect(r.payload).toBe(payload.slice(0, 4096));
  }
  // 500 rows of ~150 bytes and one copy of the payload: tens of KiB. Written once per refusal it was 2 MiB.
  expect(grown).toBeLessThan(256 * 1024);
});

it('keeps the newest refusals within the row limit, and no payload that none of them refers to', async () => {
  const limit = t.hub.ctx.config.refusalLimit;
  // Enough refusals to be pruned twice over, in publishes of 50.
  for (let i = 0; i < Math.ceil((2 * limit) / 50); i++) await gateway.publishAsync(`${T}/bp-0001/telemetry`, refusedBatch(`prune${i}`, 50), { qos: 1 });
  const db = t.hub.ctx.db;
  const kept = db.prepare('SELECT count(*) FROM refusals').pluck().get() as number;
  expect(kept).toBeGreaterThanOrEqual(limit);
  expect(kept).toBeLessThanOrEqual(limit + 100);
  const orphans = db.prepare('SELECT count(*) FROM refusal_payloads p WHERE NOT EXISTS (SELECT 1 FROM refusals r WHERE r.payload_id = p.id)').pluck().get() as number;
  expect(orphans).toBe(0);
  // Each kept refusal still has its publish's payload.
  const newest = (await listRefusals('?limit=50'))[0]!;
  expect(newest.payload).toContain('"residentId":"r-0009"');
}, 120_000);

it('acknowledges a refused status once kept, under the topic it was sent to', async () => {
  await gateway.publishAsync(`${T}/bp-0001/status`, 'online', { qos: 1 });
  const [kept] = await listRefusals('?limit=1&code=invalid_json');
  expect(kept).toMatchObject({ clientId: 'gw-0001', topic: `${T}/bp-0001/status`, payload: 'online' });
  expect(gateway.connected).toBe(true);
});
