/**
 * InfluxDB 2.x store, at the HTTP level. No real InfluxDB 2.x server can run
 * here (only the 1.x Debian package is available), so these tests put a
 * loopback HTTP endpoint where the server would be and check what the real
 * `@influxdata/influxdb-client` sends: the write path with org, bucket and
 * precision, the token, the line protocol (gzip-decoded), the Flux queries;
 * and that canned annotated-CSV answers in the server's format are read back
 * right. The real hub and MQTT feed it; failures and refusals are scripted.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Influx2ReadingStore } from '../../../server/store/influx2ReadingStore.js';
import { connectClient, exampleDocument, publishAcked, secretOf, startTestHub, type TestHub } from '../../helpers/hub.js';

const TOKEN = 'test-token-0123456789';
const T = 'anxin/v1/homes/wh-0001/devices';

interface Seen { method: string; path: string; params: URLSearchParams; headers: IncomingMessage['headers']; body: string }

/** The stand-in for InfluxDB 2.x: records requests; answers writes with scripted statuses, queries with canned CSV. */
class FakeInflux2 {
  readonly seen: Seen[] = [];
  writeStatuses: number[] = [];
  csv = '';
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        const url = new URL(req.url!, 'http://x');
        this.seen.push({ method: req.method!, path: url.pathname, params: url.searchParams, headers: req.headers, body });
        if (url.pathname === '/api/v2/write') {
          const status = this.writeStatuses.shift() ?? 204;
          res.writeHead(status, { 'content-type': 'application/json' }).end(status === 204 ? '' : JSON.stringify({ code: 'unavailable', message: `scripted ${status}` }));
        } else if (url.pathname === '/api/v2/query') {
          res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8' }).end(this.csv);
        } else {
          res.writeHead(404).end();
        }
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  writes(): Seen[] {
    return this.seen.filter((s) => s.path === '/api/v2/write');
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** Line protocol → {measurement, tags, fields, time}: enough for what the hub writes (quoted strings may hold spaces and commas). */
function parseLine(line: string) {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\') { cur += c + line[++i]; continue; }
    if (c === '"') quoted = !quoted;
    if (c === ' ' && !quoted) { parts.push(cur); cur = ''; continue; }
    cur += c;
  }
  parts.push(cur);
  const [series, fieldSet, time] = parts as [string, string, string];
  const [measurement, ...tagPairs] = series.split(',');
  const fields: Record<string, unknown> = {};
  for (const pair of fieldSet.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g)!) {
    const [k, v] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
    fields[k] = v.startsWith('"') ? JSON.parse(v) : v === 'T' || v === 'true' ? true : v === 'F' || v === 'false' ? false : Number(v);
  }
  return { measurement, tags: Object.fromEntries(tagPairs.map((p) => p.split('='))), fields, time };
}

/** Annotated CSV as InfluxDB 2.x answers a query: typed columns after `result` and `table`, '' for a missing value. */
function annotatedCsv(columns: Array<[name: string, type: string]>, rows: Array<Record<string, string | number | boolean>>): string {
  const cell = (r: Record<string, string | number | boolean>, n: string) => String(r[n] ?? '');
  return [
    `#datatype,string,long,${columns.map(([, t]) => t).join(',')}`,
    `#group,false,false,${columns.map(() => 'false').join(',')}`,
    `#default,_result,,${columns.map(() => '').join(',')}`,
    `,result,table,${columns.map(([n]) => n).join(',')}`,
    ...rows.map((r) => `,${cell(r, 'result')},${r.table ?? 0},${columns.map(([n]) => cell(r, n)).join(',')}`),
    '', '',
  ].join('\r\n');
}

let fake: FakeInflux2;
let hub: TestHub;
let gateway: MqttClient;
const ts = Math.floor(Date.now() / 1000) * 1000 - 3600_000 + 7;

beforeAll(async () => {
  fake = new FakeInflux2();
  await fake.start();
  hub = await startTestHub({ config: { influxUrl: fake.url, influxOrg: 'anxin-org', influxBucket: 'anxin', influxToken: TOKEN, influxFlushMs: 50 } });
  gateway = await connectClient(hub.mqttUrl, 'gw-0001', secretOf(await hub.importDoc(exampleDocument()), 'gw-0001'));
});

afterAll(async () => {
  gateway?.end(true);
  await hub?.destroy();
  await fake?.close();
});

describe('InfluxDB 2.x store (HTTP level, loopback endpoint: no 2.x server here)', () => {
  it('writes line protocol to /api/v2/write with org, bucket, ms precision and the token; a same-millisecond reading at ns precision', async () => {
    await publishAcked(gateway, `${T}/bp-0001/telemetry`, [
      { type: 'blood_pressure', id: 'bp-1', ts, systolic: 17.3, diastolic: 10.6, unit: 'kPa', irregularPulse: true },
      { type: 'blood_pressure', id: 'bp-2', ts, systolic: 141, diastolic: 91, pulse: 77, unit: 'mmHg' },
    ]);
    await publishAcked(gateway, `${T}/glu-0001/telemetry`, { type: 'glucose', id: 'g-1', ts: ts + 5, value: 6.2, unit: 'mmol/L', context: 'fasting' });
    await publishAcked(gateway, `${T}/pir-0001/telemetry`, { type: 'motion', id: 'm-1', ts: ts + 9, location: 'living room, "north"' });
    expect(await hub.hub.ctx.timeSeries!.forwarder.drained(10_000)).toBe(true);

    const writes = fake.writes();
    for (const w of writes) {
      expect(w.method).toBe('POST');
      expect(w.headers.authorization).toBe(`Token ${TOKEN}`);
      expect(w.params.get('org')).toBe('anxin-org');
      expect(w.params.get('bucket')).toBe('anxin');
    }
    const lines = writes.flatMap((w) => w.body.split('\n').filter(Boolean).map((l) => ({ precision: w.params.get('precision'), ...parseLine(l) })));
    const journal = hub.hub.ctx.db.prepare('SELECT reading_id, received_at, vals FROM readings ORDER BY seq').all() as Array<{ reading_id: string; received_at: number; vals: string }>;
    const receivedAt = Object.fromEntries(journal.map((r) => [r.reading_id, r.received_at]));
    const kpa = JSON.parse(journal[0]!.vals) as { systolic: number; diastolic: number };
    expect([kpa.systolic, kpa.diastolic].map((v) => Math.round(v * 1000) / 1000)).toEqual([129.761, 79.507]); // 17.3 and 10.6 kPa
    expect(lines.sort((a, b) => String(a.fields.reading_id).localeCompare(String(b.fields.reading_id)))).toEqual([
      {
        precision: 'ms', measurement: 'blood_pressure', tags: { device: 'bp-0001', home: 'wh-0001', resident: 'r-0001' }, time: String(ts),
        fields: { systolic: kpa.systolic, diastolic: kpa.diastolic, irregularPulse: true, sourceUnit: 'kPa', reading_id: 'bp-1', received_at: receivedAt['bp-1'] },
      },
      {
        precision: 'ns', measurement: 'blood_pressure', tags: { device: 'bp-0001', home: 'wh-0001', resident: 'r-0001' }, time: `${ts}000001`,
        fields: { systolic: 141, diastolic: 91, pulse: 77, reading_id: 'bp-2', received_at: receivedAt['bp-2'] },
      },
      {
        precision: 'ms', measurement: 'glucose', tags: { device: 'glu-0001', home: 'wh-0001', resident: 'r-0001' }, time: String(ts + 5),
        fields: { value: 6.2, context: 'fasting', reading_id: 'g-1', received_at: receivedAt['g-1'] },
      },
      {
        precision: 'ms', measurement: 'motion', tags: { device: 'pir-0001', home: 'wh-0001' }, time: String(ts + 9),
        fields: { location: 'living room, "north"', reading_id: 'm-1', received_at: receivedAt['m-1'] },
      },
    ]);
  });

  it('retries a failing server with backoff without moving the cursor, then writes each reading once', async () => {
    const forwarder = hub.hub.ctx.timeSeries!.forwarder;
    const before = fake.writes().length;
    const cursor = forwarder.cursor;
    fake.writeStatuses = [503, 503, 500];
    await publishAcked(gateway, `${T}/bp-0001/telemetry`, { type: 'blood_pressure', id: 'bp-3', ts: ts + 60_000, systolic: 120, diastolic: 80, unit: 'mmHg' });
    expect(await forwarder.drained(10_000)).toBe(true);
    const attempts = fake.writes().slice(before);
    expect(attempts).toHaveLength(4);
    expect(new Set(attempts.map((a) => a.body)).size).toBe(1); // the same batch, again
    expect(forwarder.cursor).toBe(cursor + 1);
  });

  it('moves on past points the server refuses for good (422: outside the bucket’s retention), counting them', async () => {
    fake.writeStatuses = [422];
    await publishAcked(gateway, `${T}/bp-0001/telemetry`, { type: 'blood_pressure', id: 'bp-4', ts: ts + 120_000, systolic: 121, diastolic: 80, unit: 'mmHg' });
    expect(await hub.hub.ctx.timeSeries!.forwarder.drained(10_000)).toBe(true);
    const metrics = await hub.hub.http.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/^anxin_influx_points_refused_total 1$/m);
  });

  it('reads readings back with a Flux query for the resident, type and range, from annotated CSV', async () => {
    const store = new Influx2ReadingStore({ version: 2, url: new URL(fake.url), org: 'anxin-org', bucket: 'anxin', token: TOKEN }, pino({ level: 'silent' }));
    fake.csv = annotatedCsv(
      [['_start', 'dateTime:RFC3339'], ['_stop', 'dateTime:RFC3339'], ['_time', 'dateTime:RFC3339'], ['_measurement', 'string'], ['device', 'string'],
        ['home', 'string'], ['resident', 'string'], ['diastolic', 'double'], ['irregularPulse', 'boolean'], ['pulse', 'double'], ['reading_id', 'string'],
        ['received_at', 'double'], ['sourceUnit', 'string'], ['systolic', 'double']],
      [
        { _start: '2023-11-14T00:00:00Z', _stop: '2023-11-15T00:00:00Z', _time: '2023-11-14T22:13:20.123Z', _measurement: 'blood_pressure', device: 'bp-0001', home: 'wh-0001', resident: 'r-0001', diastolic: 79.5, irregularPulse: true, reading_id: 'bp-1', received_at: 1699999999999, sourceUnit: 'kPa', systolic: 129.76 },
        { _start: '2023-11-14T00:00:00Z', _stop: '2023-11-15T00:00:00Z', _time: '2023-11-14T22:13:20.123000001Z', _measurement: 'blood_pressure', device: 'bp-0001', home: 'wh-0001', resident: 'r-0001', diastolic: 91, pulse: 77, reading_id: 'bp-2', received_at: 1700000000000, systolic: 141 },
      ],
    );
    const from = Date.parse('2023-11-14T00:00:00Z');
    const readings = await store.query({ residentId: 'r-0001', type: 'blood_pressure', from, to: from + 86_400_000 - 1, limit: 50 });
    expect(readings).toEqual([
      { deviceId: 'bp-0001', id: 'bp-1', homeId: 'wh-0001', residentId: 'r-0001', type: 'blood_pressure', ts: 1700000000123, receivedAt: 1699999999999, values: { diastolic: 79.5, irregularPulse: true, sourceUnit: 'kPa', systolic: 129.76 } },
      { deviceId: 'bp-0001', id: 'bp-2', homeId: 'wh-0001', residentId: 'r-0001', type: 'blood_pressure', ts: 1700000000123, receivedAt: 1700000000000, values: { diastolic: 91, pulse: 77, systolic: 141 } },
    ]);
    const q = fake.seen.at(-1)!;
    expect(q.path).toBe('/api/v2/query');
    expect(q.params.get('org')).toBe('anxin-org');
    expect(q.headers.authorization).toBe(`Token ${TOKEN}`);
    const { query } = JSON.parse(q.body) as { query: string };
    expect(query).toContain('from(bucket: "anxin")');
    expect(query).toContain('range(start: 2023-11-14T00:00:00.000Z, stop: 2023-11-15T00:00:00.000Z)');
    expect(query).toContain('r._measurement == "blood_pressure" and r.resident == "r-0001"');
    expect(query).toContain('pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")');
    expect(query).toContain('limit(n: 50)');
  });

  it('aggregates with aggregateWindow: count of readings, min/mean/max per numeric value', async () => {
    const store = new Influx2ReadingStore({ version: 2, url: new URL(fake.url), org: 'anxin-org', bucket: 'anxin', token: TOKEN }, pino({ level: 'silent' }));
    const h = (n: number) => new Date(Date.parse('2023-11-14T00:00:00Z') + n * 3600_000).toISOString();
    fake.csv = annotatedCsv([['_time', 'dateTime:RFC3339'], ['_field', 'string'], ['_value', 'double']], [
      { result: 'count', _time: h(3), _field: 'reading_id', _value: 2 },
      { result: 'min', _time: h(3), _field: 'systolic', _value: 120 },
      { result: 'mean', _time: h(3), _field: 'systolic', _value: 130 },
      { result: 'max', _time: h(3), _field: 'systolic', _value: 140 },
      { result: 'count', _time: h(5), _field: 'reading_id', _value: 1 },
      { result: 'min', _time: h(5), _field: 'systolic', _value: 150 },
      { result: 'mean', _time: h(5), _field: 'systolic', _value: 150 },
      { result: 'max', _time: h(5), _field: 'systolic', _value: 150 },
    ]);
    const windows = await store.aggregate({ residentId: 'r-0001', type: 'blood_pressure', from: Date.parse(h(0)), to: Date.parse(h(24)), everyMs: 3600_000 });
    expect(windows).toEqual([
      { start: Date.parse(h(3)), count: 2, values: { systolic: { min: 120, mean: 130, max: 140 } } },
      { start: Date.parse(h(5)), count: 1, values: { systolic: { min: 150, mean: 150, max: 150 } } },
    ]);
    const { query } = JSON.parse(fake.seen.at(-1)!.body) as { query: string };
    expect(query).toContain('aggregateWindow(every: duration(v: "3600000ms"), fn: mean, createEmpty: false, timeSrc: "_start")');
    expect(query).toContain('set: ["systolic","diastolic","map","pulse"]');
  });
});
