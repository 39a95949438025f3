/**
 * The readings API over InfluxDB 1.x and the journal (server/store/
 * forwardedReadingQueries.ts), against a real `influxd` behind a proxy that
 * can fail writes while reads go through, and a real hub: an acknowledged
 * reading never goes missing from the readings or their windows, whether
 * InfluxDB refused it for good, the forwarder is behind, or InfluxDB hangs.
 *
 * The database's raw policy is shortened to one hour before the hub starts (the
 * hub leaves an existing policy as it is), so a reading three hours old is
 * refused for good: "partial write: points beyond retention policy dropped=1".
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SqliteReadingStore } from '../../../server/store/sqliteReadingStore.js';
import { connectClient, exampleDocument, login, publishAcked, secretOf, startTestHub, tempDataDir, type TestHub } from '../../helpers/hub.js';
import { influxQuery, startInflux, type InfluxServer } from '../../helpers/influx.js';

const DB = 'anxin_gaps';
const T = 'anxin/v1/homes/wh-0001/devices';
const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const now = Date.now();
/** A hung InfluxDB must not hold a readings request longer than this (the query timeout, 3 s, and some slack; writes wait 30 s). */
const PROMPT_MS = 5000;

let influx: InfluxServer;
let proxy: Server;
let failWrites = false;
let dataDir: string;
let hub: TestHub;
let gateway: MqttClient;
let doctorPassword: string;
let gatewaySecret: string;
let token: string;

/** Passes everything to influxd, or answers every write 500 (a full cache: reads still work). */
function startProxy(upstream: URL): Promise<Server> {
  const server = createServer((req, res) => {
    if (failWrites && req.url!.startsWith('/write')) {
      req.resume();
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"engine: cache-max-memory-size exceeded"}');
      return;
    }
    const up = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function startHub(): Promise<void> {
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  hub = await startTestHub({ dataDir, config: { influxUrl: url, influxDb: DB, influxFlushMs: 50 } });
}

async function api(url: string): Promise<{ ms: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const started = Date.now();
  const res = await hub.hub.http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  expect(res.statusCode, res.body).toBe(200);
  return { ms: Date.now() - started, body: res.json() };
}

const ids = async (type: string) => ((await api(`/api/v1/residents/r-0001/readings?type=${type}`)).body.readings as Array<{ id: string }>).map((r) => r.id);
const windowsUrl = (type: string) => `/api/v1/residents/r-0001/readings?type=${type}&every=auto&from=${now - 90 * DAY}&to=${now + MIN}`;
const windowCount = async (type: string) => ((await api(windowsUrl(type))).body.windows as Array<{ count: number }>).reduce((n, w) => n + w.count, 0);

const glucose = (id: string, ts: number, value: number) => ({ type: 'glucose', id, ts, value, unit: 'mmol/L', context: 'fasting' });
const forwarder = () => hub.hub.ctx.timeSeries!.forwarder;
const journal = () => hub.hub.ctx.readings as SqliteReadingStore;

async function waitUntil(ok: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  influx = await startInflux();
  await influxQuery(influx.url, DB, `CREATE DATABASE ${DB}; CREATE RETENTION POLICY anxin_raw ON ${DB} DURATION 1h REPLICATION 1 DEFAULT`);
  proxy = await startProxy(new URL(influx.url));
  dataDir = tempDataDir();
  await startHub();
  const answer = await hub.importDoc(exampleDocument());
  doctorPassword = answer.users.find((u) => u.username === 'dr-li')!.password;
  token = await login(hub.hub, 'dr-li', doctorPassword);
  gatewaySecret = secretOf(answer, 'gw-0001');
  gateway = await connectClient(hub.mqttUrl, 'gw-0001', gatewaySecret);
}, 60_000);

afterAll(async () => {
  gateway?.end(true);
  await hub?.stop();
  proxy?.close();
  await influx?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('readings from InfluxDB with the journal filling in', () => {
  it('keeps a reading InfluxDB refused for good in the readings and their windows, across a restart, without duplicates', async () => {
    const bp = (id: string, ts: number, systolic: number) => ({ type: 'blood_pressure', id, ts, systolic, diastolic: 80, unit: 'mmHg' });
    // One publish, so one batch and one request: InfluxDB keeps two points and refuses the old one.
    await publishAcked(gateway, `${T}/bp-0001/telemetry`, [bp('bp-new-1', now - 10 * MIN, 121), bp('bp-old', now - 3 * 60 * MIN, 150), bp('bp-new-2', now - 9 * MIN, 122)]);
    expect(await forwarder().drained(15_000)).toBe(true);
    const metrics = (await hub.hub.http.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^anxin_influx_points_refused_total 1$/m);
    const [inInflux] = await influxQuery(influx.url, DB, 'SELECT reading_id FROM "anxin_raw"."blood_pressure"');
    expect(inInflux!.map((r) => r.reading_id)).toEqual(['bp-new-1', 'bp-new-2']);

    expect(await ids('blood_pressure')).toEqual(['bp-old', 'bp-new-1', 'bp-new-2']);
    expect(await windowCount('blood_pressure')).toBe(3); // the refused range's kept readings are not counted twice

    // The refused seqs are saved with the cursor: after a restart the reading is still there.
    gateway.end(true);
    await hub.stop();
    await startHub();
    token = await login(hub.hub, 'dr-li', doctorPassword);
    expect(await ids('blood_pressure')).toEqual(['bp-old', 'bp-new-1', 'bp-new-2']);
    expect(await windowCount('blood_pressure')).toBe(3);
    gateway = await connectClient(hub.mqttUrl, 'gw-0001', gatewaySecret);
  }, 60_000);

  it('answers windows from the journal while the forwarder is behind, and from InfluxDB once it caught up', async () => {
    await publishAcked(gateway, `${T}/glu-0001/telemetry`, [glucose('g-1', now - 30 * MIN, 6.1), glucose('g-2', now - 29 * MIN, 6.3)]);
    expect(await forwarder().drained(15_000)).toBe(true);
    // InfluxDB answers reads but fails writes: acknowledged readings pile up after the cursor.
    failWrites = true;
    try {
      await publishAcked(gateway, `${T}/glu-0001/telemetry`, [glucose('g-3', now - 20 * MIN, 7.0), glucose('g-4', now - 19 * MIN, 7.2)]);
      await publishAcked(gateway, `${T}/glu-0001/telemetry`, glucose('g-5', now - 5 * MIN, 8.4));
      await waitUntil(() => forwarder().state() === 'retrying' && forwarder().lag() === 3, 'the forwarder failing, 3 behind');
      const lagging = await api(windowsUrl('glucose'));
      expect(lagging.body.every).toBe('1h');
      expect(lagging.body.windows.reduce((n: number, w: { count: number }) => n + w.count, 0)).toBe(5);
      const exact = await journal().aggregate({ residentId: 'r-0001', type: 'glucose', from: now - 90 * DAY, to: now + MIN, everyMs: 3600_000 });
      expect(lagging.body.windows.map((w: { start: string; count: number; values: unknown }) => ({ ...w, start: Date.parse(w.start) }))).toEqual(exact);
    } finally {
      failWrites = false;
    }

    expect(await forwarder().drained(20_000)).toBe(true);
    const fromJournal = vi.spyOn(journal(), 'aggregate');
    try {
      const caughtUp = await api(windowsUrl('glucose'));
      expect(fromJournal).not.toHaveBeenCalled(); // InfluxDB holds them all: it answers
      expect(caughtUp.body.windows.reduce((n: number, w: { count: number }) => n + w.count, 0)).toBe(5);
      const store = await hub.hub.ctx.timeSeries!.store.aggregate({ residentId: 'r-0001', type: 'glucose', from: now - 90 * DAY, to: now + MIN, everyMs: 3600_000 });
      expect(caughtUp.body.windows.map((w: { start: string; count: number }) => [Date.parse(w.start), w.count])).toEqual(store.map((w) => [w.start, w.count]));
    } finally {
      fromJournal.mockRestore();
    }
  }, 60_000);

  it('answers from the journal within the query timeout while InfluxDB hangs (stopped: connections accepted, nothing answered)', async () => {
    const pid = influx.pid()!;
    process.kill(pid, 'SIGSTOP');
    try {
      await publishAcked(gateway, `${T}/glu-0001/telemetry`, glucose('g-hung', now - 2 * MIN, 9.9));
      const readings = await api('/api/v1/residents/r-0001/readings?type=glucose');
      expect(readings.body.readings.map((r: { id: string }) => r.id)).toEqual(['g-1', 'g-2', 'g-3', 'g-4', 'g-5', 'g-hung']);
      expect(readings.ms).toBeLessThan(PROMPT_MS);
      // The unconfirmed reading sends these windows to the journal at once…
      const windows = await api(windowsUrl('glucose'));
      expect(windows.body.windows.reduce((n: number, w: { count: number }) => n + w.count, 0)).toBe(6);
      // …a range InfluxDB holds entirely is asked of InfluxDB, which answers nothing: the journal does, after the timeout.
      const confirmed = await api(`/api/v1/residents/r-0001/readings?type=glucose&every=auto&from=${now - 90 * DAY}&to=${now - 10 * MIN}`);
      expect(confirmed.body.windows.reduce((n: number, w: { count: number }) => n + w.count, 0)).toBe(4);
      expect(confirmed.ms).toBeLessThan(PROMPT_MS);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(await forwarder().drained(40_000)).toBe(true);
  }, 90_000);
});
