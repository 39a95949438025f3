/**
 * The journal retention with InfluxDB configured (server/store/
 * journalRetention.ts), against a real `influxd` and a real hub with a fake
 * clock: an old heartbeat is pruned only once InfluxDB has confirmed it, and
 * never when InfluxDB refused it for good (the readings API then reads it
 * from the journal).
 *
 * The database's raw policy is shortened to one hour before the hub starts
 * (the hub leaves an existing policy as it is), so a heartbeat measured three
 * hours ago is refused for good.
 */
import { rmSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectClient, exampleDocument, login, publishAcked, secretOf, startTestHub, tempDataDir, type TestHub } from '../../helpers/hub.js';
import { influxQuery, startInflux, type InfluxServer } from '../../helpers/influx.js';
import { FakeClock, MANUAL_TICKS, MINUTE, telemetry } from '../alerts/helpers.js';

const DB = 'anxin_retention';
const DAY = 24 * 60 * MINUTE;
const clock = new FakeClock(Date.now());

let influx: InfluxServer;
let dataDir: string;
let hub: TestHub;
let gateway: MqttClient;
let doctorPassword: string;

const heartbeats = (prefix: string, n: number, ts: number) => Array.from({ length: n }, (_, k) => ({ type: 'heartbeat', id: `${prefix}-${k}`, ts }));
const forwarder = () => hub.hub.ctx.timeSeries!.forwarder;
const idsOf = (deviceId: string) => hub.hub.ctx.db.prepare('SELECT reading_id FROM readings WHERE device_id = ? ORDER BY seq').pluck().all(deviceId) as string[];

async function residentHeartbeats(): Promise<string[]> {
  const token = await login(hub.hub, 'dr-li', doctorPassword);
  const res = await hub.hub.http.inject({ method: 'GET', url: '/api/v1/residents/r-0001/readings?type=heartbeat', headers: { authorization: `Bearer ${token}` } });
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { readings: Array<{ id: string }> }).readings.map((r) => r.id);
}

async function metric(series: string): Promise<number | undefined> {
  const body = (await hub.hub.http.inject({ method: 'GET', url: '/metrics' })).body;
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  influx = await startInflux();
  await influxQuery(influx.url, DB, `CREATE DATABASE ${DB}; CREATE RETENTION POLICY anxin_raw ON ${DB} DURATION 1h REPLICATION 1 DEFAULT`);
  dataDir = tempDataDir();
  hub = await startTestHub({
    dataDir, now: clock.now, config: { ...MANUAL_TICKS, influxUrl: influx.url, influxDb: DB, influxFlushMs: 50, heartbeatRetentionDays: 7 },
  });
  const answer = await hub.importDoc(exampleDocument());
  doctorPassword = answer.users.find((u) => u.username === 'dr-li')!.password;
  gateway = await connectClient(hub.mqttUrl, 'gw-0001', secretOf(answer, 'gw-0001'));
}, 60_000);

afterAll(async () => {
  gateway?.end(true);
  await hub?.stop();
  await influx?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

it('prunes an old heartbeat only once InfluxDB confirmed it, and never one InfluxDB refused', async () => {
  const t0 = clock.now();
  // Confirmed by InfluxDB.
  await publishAcked(gateway, telemetry('wh-0001', 'fall-0001'), heartbeats('a', 5, t0 - MINUTE));
  expect(await forwarder().drained(15_000)).toBe(true);
  // Refused for good (older than the one-hour policy): the journal is their only copy.
  await publishAcked(gateway, telemetry('wh-0001', 'bp-0001'), heartbeats('b', 3, t0 - 3 * 60 * MINUTE));
  expect(await forwarder().drained(15_000)).toBe(true);
  expect(await metric('anxin_influx_points_refused_total')).toBe(3);
  // Not confirmed: InfluxDB is down.
  await influx.kill();
  await publishAcked(gateway, telemetry('wh-0001', 'fall-0001'), heartbeats('c', 4, t0 - MINUTE));

  clock.advance(8 * DAY);
  // r-0001's newest heartbeat, and the journal's newest row.
  await publishAcked(gateway, telemetry('wh-0001', 'bp-0001'), heartbeats('d', 1, Date.now()));
  const [held] = await hub.hub.retention.pass();
  expect(held).toMatchObject({ policy: 'heartbeat', pruned: 5, waitingForInflux: true });
  expect(idsOf('fall-0001')).toEqual(['c-0', 'c-1', 'c-2', 'c-3']);
  expect(await metric('anxin_journal_retention_behind_seconds{policy="heartbeat"}')).toBe(DAY / 1000); // received on day 0, kept past day 1
  expect(await residentHeartbeats()).toEqual(['b-0', 'b-1', 'b-2', 'd-0']);

  await influx.restart();
  expect(await forwarder().drained(60_000)).toBe(true);
  const [confirmed] = await hub.hub.retention.pass();
  expect(confirmed).toMatchObject({ policy: 'heartbeat', pruned: 4, waitingForInflux: false });
  expect(idsOf('fall-0001')).toEqual([]);
  // The refused ones stay, and the readings API still shows them beside what InfluxDB holds.
  expect(idsOf('bp-0001')).toEqual(['b-0', 'b-1', 'b-2', 'd-0']);
  expect(await residentHeartbeats()).toEqual(['b-0', 'b-1', 'b-2', 'd-0']);
  expect(await metric('anxin_journal_rows_pruned_total{policy="heartbeat"}')).toBe(9);
  expect(await metric('anxin_journal_retention_behind_seconds{policy="heartbeat"}')).toBe(0);
}, 90_000);
