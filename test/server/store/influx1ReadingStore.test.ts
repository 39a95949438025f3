/**
 * InfluxDB 1.x as the production time-series store, against a real `influxd`
 * (test/helpers/influx.ts) and a real hub: readings published over MQTT land
 * in InfluxDB exactly (measurement, tags, fields, timestamps), the readings API
 * answers from it (windows too), retention policies and continuous queries are
 * set up on start, the hourly rollup is right, and an InfluxDB outage does not
 * take the readings API down.
 */
import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Influx1ReadingStore } from '../../../server/store/influx1ReadingStore.js';
import type { SqliteReadingStore } from '../../../server/store/sqliteReadingStore.js';
import type { JournalReading, StoredReading } from '../../../server/store/types.js';
import { connectClient, exampleDocument, login, publishAcked, secretOf, startTestHub, type TestHub } from '../../helpers/hub.js';
import { influxQuery, startInflux, type InfluxServer } from '../../helpers/influx.js';

const DB = 'anxin_test';
const T = 'anxin/v1/homes/wh-0001/devices';
const HOUR = 3600_000;

let influx: InfluxServer;
let hub: TestHub;
let gateway: MqttClient;
let token: string;
const now = Date.now();
const at = (hoursAgo: number) => Math.floor((now - hoursAgo * HOUR) / 1000) * 1000 + 123;

/** Every type, units converted, strings and booleans, a resident-less device, two readings in one millisecond, and a late one. */
const PUBLISHED: Array<[device: string, reading: Record<string, unknown>]> = [
  ['bp-0001', { type: 'blood_pressure', id: 'bp-1', ts: at(5), systolic: 128, diastolic: 82, pulse: 71, unit: 'mmHg' }],
  ['bp-0001', { type: 'blood_pressure', id: 'bp-2', ts: new Date(at(4)).toISOString(), systolic: 17.3, diastolic: 10.6, map: 12.8, unit: 'kPa', irregularPulse: true }],
  ['bp-0001', { type: 'blood_pressure', id: 'bp-3', ts: at(3), systolic: 141, diastolic: 91, unit: 'mmHg' }],
  ['bp-0001', { type: 'blood_pressure', id: 'bp-4', ts: at(3), systolic: 139, diastolic: 88, pulse: 80, unit: 'mmHg', clockUnreliable: true }],
  ['bp-0001', { type: 'blood_pressure', id: 'bp-late', ts: at(72), systolic: 150, diastolic: 95, unit: 'mmHg' }],
  ['glu-0001', { type: 'glucose', id: 'g-1', ts: at(5), value: 6.2, unit: 'mmol/L', context: 'fasting' }],
  ['glu-0001', { type: 'glucose', id: 'g-2', ts: at(2), value: 180, unit: 'mg/dL', context: 'after_meal' }],
  ['fall-0001', { type: 'fall', id: 'f-1', ts: at(1), confidence: 0.93, location: 'bathroom', recovered: true }],
  ['fall-0001', { type: 'heartbeat', id: 'hb-1', ts: at(1), battery: 88, rssi: -61 }],
  ['sos-0001', { type: 'sos', id: 's-1', ts: at(1), location: 'bedroom' }],
  ['pir-0001', { type: 'motion', id: 'm-1', ts: at(1), location: 'living room' }],
];

async function api(url: string): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await hub.hub.http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  return { status: res.statusCode, body: res.json() };
}

/** The journal's rows, as a time-series point would carry them. */
function journal(): StoredReading[] {
  const rows = hub.hub.ctx.db.prepare('SELECT * FROM readings ORDER BY seq').all() as Array<Record<string, string | number | null>>;
  return rows.map((r) => ({
    deviceId: r.device_id as string, id: r.reading_id as string, homeId: r.home_id as string, residentId: r.resident_id as string | null,
    type: r.type as StoredReading['type'], ts: r.ts as number, receivedAt: r.received_at as number, values: JSON.parse(r.vals as string),
  }));
}

const sortKey = (r: { deviceId: string; id: string }) => `${r.deviceId}/${r.id}`;
const sorted = <T extends { deviceId: string; id: string }>(xs: T[]) => [...xs].sort((a, b) => sortKey(a).localeCompare(sortKey(b)));

beforeAll(async () => {
  influx = await startInflux();
  hub = await startTestHub({ config: { influxUrl: influx.url, influxDb: DB, influxFlushMs: 50 } });
  const answer = await hub.importDoc(exampleDocument());
  token = await login(hub.hub, 'dr-li', answer.users.find((u) => u.username === 'dr-li')!.password);
  gateway = await connectClient(hub.mqttUrl, 'gw-0001', secretOf(answer, 'gw-0001'));
  for (const [device, reading] of PUBLISHED) await publishAcked(gateway, `${T}/${device}/telemetry`, reading);
  expect(await hub.hub.ctx.timeSeries!.forwarder.drained(15_000)).toBe(true);
});

afterAll(async () => {
  gateway?.end(true);
  await hub?.destroy();
  await influx?.stop();
});

describe('InfluxDB 1.x store', () => {
  it('holds every reading published over MQTT exactly: measurement, tags, fields, millisecond timestamps', async () => {
    const stored = journal();
    expect(stored).toHaveLength(PUBLISHED.length);
    const measurements = ['blood_pressure', 'glucose', 'fall', 'heartbeat', 'sos', 'motion'];
    const results = await influxQuery(influx.url, DB, measurements.map((m) => `SELECT * FROM "anxin_raw"."${m}"`).join('; '));
    const points = results.flat().map((p) => {
      const { _measurement, time, home, resident, device, reading_id, received_at, ...fields } = p;
      const values = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null));
      return { deviceId: String(device), id: String(reading_id), homeId: home, residentId: resident ?? null, type: _measurement, ts: time, receivedAt: received_at, values };
    });
    expect(sorted(points)).toEqual(sorted(stored));
    // Tags are exactly home, resident and device (bounded); everything else is a field.
    const [tagKeys] = await influxQuery(influx.url, DB, 'SHOW TAG KEYS FROM "blood_pressure"');
    expect(tagKeys!.map((t) => t.tagKey).sort()).toEqual(['device', 'home', 'resident']);
    // The resident-less fall sensor's points carry no resident tag.
    expect(points.filter((p) => p.deviceId === 'fall-0001').map((p) => p.residentId)).toEqual([null, null]);
  });

  it('keeps two readings of one device in the same millisecond as two points, both at that millisecond', async () => {
    const [rows] = await influxQuery(influx.url, DB, `SELECT reading_id, systolic FROM "anxin_raw"."blood_pressure" WHERE time >= ${at(3)}ms AND time < ${at(3) + 1}ms`);
    expect(rows!.map((r) => [r.time, r.reading_id, r.systolic])).toEqual([[at(3), 'bp-3', 141], [at(3), 'bp-4', 139]]);
  });

  it('answers the readings API from InfluxDB, as the journal would', async () => {
    const fromInflux = await hub.hub.ctx.timeSeries!.store.query({ residentId: 'r-0001' });
    const fromJournal = await hub.hub.ctx.readings.query({ residentId: 'r-0001' });
    expect(fromInflux).toHaveLength(8); // the heartbeat is of the resident-less fall sensor
    expect(sorted(fromInflux)).toEqual(sorted(fromJournal));
    const res = await api(`/api/v1/residents/r-0001/readings?type=blood_pressure&from=${at(4)}&to=${at(3)}`);
    expect(res.status).toBe(200);
    expect(res.body.readings.map((r: { id: string }) => r.id).sort()).toEqual(['bp-2', 'bp-3', 'bp-4']);
    const bp2 = res.body.readings.find((r: { id: string }) => r.id === 'bp-2');
    expect(bp2).toMatchObject({ deviceId: 'bp-0001', residentId: 'r-0001', type: 'blood_pressure', ts: new Date(at(4)).toISOString() });
    expect(bp2.values).toEqual(fromJournal.find((r) => r.id === 'bp-2')!.values);
    const limited = await api('/api/v1/residents/r-0001/readings?limit=2');
    expect(limited.body.readings.map((r: { id: string }) => r.id)).toEqual(['bp-late', 'bp-1']);
  });

  it('aggregates long ranges into windows with min, mean and max, equal to the journal’s', async () => {
    const from = now - 90 * 24 * HOUR;
    const res = await api(`/api/v1/residents/r-0001/readings?type=blood_pressure&every=auto&from=${from}&to=${now}`);
    expect(res.status).toBe(200);
    expect(res.body.every).toBe('1h');
    const journalWindows = await (hub.hub.ctx.readings as SqliteReadingStore).aggregate({ residentId: 'r-0001', type: 'blood_pressure', from, to: now, everyMs: HOUR });
    expect(res.body.windows).toHaveLength(4);
    expect(res.body.windows.map((w: { start: string }) => Date.parse(w.start))).toEqual(journalWindows.map((w) => w.start));
    res.body.windows.forEach((w: { count: number; values: Record<string, { min: number; mean: number; max: number }> }, i: number) => {
      expect(w.count).toBe(journalWindows[i]!.count);
      for (const [field, s] of Object.entries(journalWindows[i]!.values)) {
        expect(w.values[field]!.min).toBeCloseTo(s.min, 9);
        expect(w.values[field]!.mean).toBeCloseTo(s.mean, 9);
        expect(w.values[field]!.max).toBeCloseTo(s.max, 9);
      }
    });
    const same = res.body.windows.find((w: { count: number }) => w.count === 2);
    expect(same.values.systolic).toEqual({ min: 139, mean: 140, max: 141 });
    expect((await api('/api/v1/residents/r-0001/readings?every=1h')).status).toBe(400); // needs a type
    expect((await api(`/api/v1/residents/r-0001/readings?type=glucose&every=1m&from=${from}&to=${now}`)).status).toBe(400); // too many windows
  });

  it('creates the retention policies and continuous queries on start', async () => {
    const [policies] = await influxQuery(influx.url, DB, `SHOW RETENTION POLICIES ON "${DB}"`);
    expect(policies).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: 'anxin_raw', duration: '9600h0m0s', default: true }),
      expect.objectContaining({ name: 'anxin_1h', duration: '87600h0m0s', default: false }),
    ]));
    const [cqs] = await influxQuery(influx.url, DB, 'SHOW CONTINUOUS QUERIES');
    const ours = cqs!.filter((q) => q._measurement === DB);
    expect(ours.map((q) => q.name).sort()).toEqual(['blood_pressure', 'fall', 'glucose', 'heartbeat', 'motion', 'sos'].map((t) => `anxin_1h_v1_${t}`));
    for (const q of ours) {
      expect(q.query).toContain('RESAMPLE EVERY 1h FOR 1d');
      expect(q.query).toMatch(/INTO anxin_test\.anxin_1h\.\w+ FROM anxin_test\.anxin_raw\.\w+ GROUP BY time\(1h\), \*/);
    }
  });

  it('rolls readings up per hour (late ones right after they are written), as the continuous queries do', async () => {
    // The late reading (3 days old, beyond the queries' 1-day resample window) was rolled up by the forwarder's write.
    const [late] = await influxQuery(influx.url, DB, `SELECT * FROM "anxin_1h"."blood_pressure" WHERE time >= ${at(72) - HOUR}ms AND time <= ${at(72)}ms`);
    expect(late).toEqual([expect.objectContaining({ device: 'bp-0001', resident: 'r-0001', count: 1, systolic_min: 150, systolic_mean: 150, systolic_max: 150 })]);
    // The continuous queries' statement over the last hours, run now rather than at the next hour.
    const store = hub.hub.ctx.timeSeries!.store as unknown as { backfill(from: number, to: number): Promise<void> };
    await store.backfill(now - 6 * HOUR, now);
    const [rows] = await influxQuery(influx.url, DB, `SELECT * FROM "anxin_1h"."blood_pressure" WHERE time >= ${at(3) - HOUR}ms AND time <= ${at(3)}ms`);
    expect(rows).toEqual([expect.objectContaining({ count: 2, systolic_min: 139, systolic_mean: 140, systolic_max: 141, pulse_min: 80, pulse_max: 80 })]);
  });

  it('answers from the journal while InfluxDB is down, and counts the fallback', async () => {
    await influx.kill();
    try {
      const res = await api('/api/v1/residents/r-0001/readings?type=glucose');
      expect(res.status).toBe(200);
      expect(res.body.readings.map((r: { id: string }) => r.id)).toEqual(['g-1', 'g-2']);
      const metrics = await hub.hub.http.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toMatch(/^anxin_influx_query_fallbacks_total [1-9]/m);
      expect(metrics.body).toMatch(/^anxin_influx_points_written_total 11$/m);
      expect(metrics.body).toMatch(/^anxin_influx_lag_readings 0$/m);
      expect(metrics.body).toMatch(/^anxin_alerts_open\{[^}]*severity="critical"[^}]*\} [1-9]/m); // the SOS
      expect(metrics.body).toMatch(/^anxin_influx_forwarder_up 1$/m);
      // Readiness reports InfluxDB without depending on it: the hub still accepts readings.
      const ready = await hub.hub.http.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json().checks.influx).toEqual({ state: 'forwarding', lag: 0 });
    } finally {
      await influx.restart();
    }
  });

  it('runs every InfluxQL query of the Grafana dashboards on the real server, and finds every metric they chart', async () => {
    const metrics = (await hub.hub.http.inject({ method: 'GET', url: '/metrics' })).body;
    const exposed = new Set([...metrics.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const fill = (q: string) => q.replaceAll('$timeFilter', 'time > now() - 30d').replaceAll('$__interval', '1h').replaceAll('$home', 'wh-0001').replaceAll('$resident', 'r-0001');
    for (const file of ['anxin-resident-vitals.json', 'anxin-operations.json']) {
      const dash = JSON.parse(readFileSync(new URL(`../../../dashboards/grafana/${file}`, import.meta.url), 'utf8'));
      const vars = dash.templating.list as Array<{ type: string; query: unknown; datasource?: { type: string } }>;
      expect(vars.filter((v) => v.type === 'datasource').length).toBeGreaterThan(0);
      for (const v of vars.filter((x) => x.datasource?.type === 'influxdb')) {
        const [values] = await influxQuery(influx.url, DB, fill(v.query as string));
        expect(values!.length, `${file} variable ${v.query}`).toBeGreaterThan(0);
      }
      for (const panel of dash.panels as Array<{ title: string; targets: Array<{ datasource: { type: string }; query?: string; expr?: string }> }>) {
        for (const t of panel.targets) {
          if (t.datasource.type === 'influxdb') {
            const results = await influxQuery(influx.url, DB, fill(t.query!));
            expect(results.flat().length, `${file}: ${panel.title}`).toBeGreaterThan(0);
          } else {
            for (const [name] of t.expr!.matchAll(/anxin_\w+/g)) expect(exposed, `${file}: ${panel.title}`).toContain(name.replace(/_bucket$/, ''));
          }
        }
      }
    }
  });
});

describe('InfluxDB 1.x store, beside other databases and with awkward text', () => {
  const storeOn = (database: string) => new Influx1ReadingStore({ version: 1, url: new URL(influx.url), database }, pino({ level: 'silent' }));
  const V1 = ['blood_pressure', 'fall', 'glucose', 'heartbeat', 'motion', 'sos'].map((t) => `anxin_1h_v1_${t}`);
  const oldCq = (db: string) => `CREATE DATABASE ${db}; CREATE CONTINUOUS QUERY anxin_1h_v0_glucose ON ${db} BEGIN ` +
    `SELECT count(reading_id) AS count INTO ${db}.autogen.g FROM ${db}.autogen.glucose GROUP BY time(1h), * END`;
  const reading = (seq: number, r: Partial<JournalReading>): JournalReading => ({
    seq, homeId: 'wh-0009', deviceId: 'sos-0009', residentId: 'r-0009', id: `x${seq}`, type: 'sos', ts: now - HOUR + seq, receivedAt: now, values: {}, tiebreak: 0, ...r,
  });

  it('creates its continuous queries in a second database on the server, and drops old versions in its own only', async () => {
    await influxQuery(influx.url, 'anxin_other', oldCq('anxin_other'));
    await influxQuery(influx.url, 'anxin_second', oldCq('anxin_second'));
    await storeOn('anxin_second').prepare(); // the hub's database (DB) has its queries already
    // One series per database; a database without queries has no `values`.
    const res = await fetch(`${influx.url}/query?q=${encodeURIComponent('SHOW CONTINUOUS QUERIES')}`);
    const { results } = (await res.json()) as { results: Array<{ series: Array<{ name: string; values?: string[][] }> }> };
    const of = (db: string) => (results[0]!.series.find((s) => s.name === db)?.values ?? []).map(([name]) => name).sort();
    expect(of('anxin_second')).toEqual(V1);
    expect(of(DB)).toEqual(V1);
    expect(of('anxin_other')).toEqual(['anxin_1h_v0_glucose']); // another database's, even of an old version, is not ours
    const glucose = results[0]!.series.find((s) => s.name === 'anxin_second')?.values?.find(([name]) => name === 'anxin_1h_v1_glucose');
    expect(glucose?.[1]).toContain('INTO anxin_second.anxin_1h.glucose');
  });

  it('writes text fields exactly as they are: backslashes, quotes, newlines, commas', async () => {
    const store = storeOn('anxin_text');
    await store.prepare();
    const texts = ["a\\'b", "\\'\\'", 'q"uote', '\\"', 'new\nline', 'trail\\', '\\\\', 'uni-血压-🙂', 'a,b c=d', "plain'"];
    const batch = texts.map((t, i) => reading(i + 1, { id: t, values: { location: t } }));
    // Numbers as floats, a boolean, and a same-millisecond reading written at nanosecond precision.
    batch.push(reading(20, { type: 'blood_pressure', deviceId: 'bp-0009', id: 'bp\\\'1', ts: now - HOUR, values: { systolic: 120, diastolic: 80, irregularPulse: true } }));
    batch.push(reading(21, { type: 'blood_pressure', deviceId: 'bp-0009', id: 'bp\\\'2', ts: now - HOUR, values: { systolic: 121.5, diastolic: 81 }, tiebreak: 1 }));
    expect(await store.write(batch)).toEqual({ refused: 0 });
    const back = await store.query({ residentId: 'r-0009' });
    expect(back.filter((r) => r.type === 'sos').map((r) => [r.id, r.values.location])).toEqual(texts.map((t) => [t, t]));
    expect(back.filter((r) => r.type === 'blood_pressure').map((r) => [r.id, r.ts, r.values])).toEqual([
      ['bp\\\'1', now - HOUR, { systolic: 120, diastolic: 80, irregularPulse: true }],
      ['bp\\\'2', now - HOUR, { systolic: 121.5, diastolic: 81 }],
    ]);
    const [fields] = await influxQuery(influx.url, 'anxin_text', 'SHOW FIELD KEYS FROM "anxin_raw"."blood_pressure"');
    expect(Object.fromEntries(fields!.map((f) => [f.fieldKey, f.fieldType]))).toEqual({
      systolic: 'float', diastolic: 'float', irregularPulse: 'boolean', reading_id: 'string', received_at: 'float',
    });
    const [tags] = await influxQuery(influx.url, 'anxin_text', 'SHOW TAG KEYS FROM "anxin_raw"."sos"');
    expect(tags!.map((t) => t.tagKey).sort()).toEqual(['device', 'home', 'resident']);
  });

  it('lists every home and resident in the vitals dashboard, whatever devices they have', async () => {
    const store = storeOn('anxin_vars');
    await store.prepare();
    await store.write([
      reading(1, { homeId: 'wh-0001', residentId: 'r-bp', deviceId: 'bp-1', type: 'blood_pressure', values: { systolic: 130, diastolic: 80 } }),
      reading(2, { homeId: 'wh-0002', residentId: 'r-diabetic', deviceId: 'glu-2', type: 'glucose', values: { value: 9.1 } }), // a glucose meter only
      reading(3, { homeId: 'wh-0003', residentId: null, deviceId: 'fall-3', type: 'fall', values: { confidence: 0.9 } }), // a fall sensor only
    ]);
    const dash = JSON.parse(readFileSync(new URL('../../../dashboards/grafana/anxin-resident-vitals.json', import.meta.url), 'utf8'));
    const variable = Object.fromEntries((dash.templating.list as Array<{ name: string; query: unknown }>).map((v) => [v.name, v.query as string]));
    const [homes] = await influxQuery(influx.url, 'anxin_vars', variable.home!);
    expect([...new Set(homes!.map((h) => h.value))].sort()).toEqual(['wh-0001', 'wh-0002', 'wh-0003']);
    const [residents] = await influxQuery(influx.url, 'anxin_vars', variable.resident!.replace('$home', 'wh-0002'));
    expect(residents!.map((r) => r.value)).toEqual(['r-diabetic']);
  });
});
