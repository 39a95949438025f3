/**
 * Writes that never lose a reading, against a real `influxd` and a real hub:
 * InfluxDB is killed in the middle of a stream of 10,000 readings and
 * restarted; every reading must then be in InfluxDB exactly once (count, ids
 * and a checksum of every value and timestamp). A replay of the whole journal
 * (as after a crash between a write and the cursor update) adds nothing.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, publishAcked, secretOf, startTestHub, tempDataDir, type TestHub } from '../../helpers/hub.js';
import { influxQuery, startInflux, type InfluxServer } from '../../helpers/influx.js';

const DB = 'anxin_outage';
const HOME = 'wh-0100';
const DEVICES = ['bp-a', 'bp-b', 'bp-c', 'bp-d'];
const PER_PUBLISH = 100;
const PUBLISHES = 100; // 10,000 readings
const base = Date.now() - 2 * 3600_000;

const document = {
  homes: [{
    id: HOME, address: '威海市环翠区 outage test', residents: [{ id: 'r-0100', name: '李桂兰' }],
    gateway: { id: 'gw-0100' },
    devices: DEVICES.map((id) => ({ id, type: 'bp_cuff', resident: 'r-0100' })),
  }],
  users: [],
};

/** Reading k of a device: two readings share each millisecond, so the tiebreak is replayed too. */
function reading(device: string, k: number) {
  return { type: 'blood_pressure', id: `${device}-${k}`, ts: base + Math.floor(k / 2) * 1000 + DEVICES.indexOf(device), systolic: 100 + (k % 30), diastolic: 60 + (k % 20), pulse: 55 + (k % 40), unit: 'mmHg' };
}

function checksum(lines: string[]): string {
  return createHash('sha256').update([...lines].sort().join('\n')).digest('hex');
}

const expected: string[] = [];
let influx: InfluxServer;
let dataDir: string;
let hub: TestHub;
let gateway: MqttClient;

const startHub = () => startTestHub({ dataDir, config: { influxUrl: influx.url, influxDb: DB, influxBatchSize: 500, influxFlushMs: 50 } });

async function influxContents(): Promise<{ count: number; ids: number; sum: string }> {
  const results = await influxQuery(influx.url, DB,
    'SELECT count(reading_id) FROM "anxin_raw"."blood_pressure"; SELECT reading_id, systolic, diastolic, pulse FROM "anxin_raw"."blood_pressure" GROUP BY device');
  const count = results[0]?.[0];
  const rows = results[1] ?? [];
  const lines = rows.map((r) => `${r.device}|${r.reading_id}|${r.time}|${r.systolic}|${r.diastolic}|${r.pulse}`);
  return { count: Number(count?.count ?? 0), ids: new Set(rows.map((r) => r.reading_id)).size, sum: checksum(lines) };
}

async function metric(name: string): Promise<number> {
  const res = await hub.hub.http.inject({ method: 'GET', url: '/metrics' });
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(res.body)?.[1] ?? NaN);
}

beforeAll(async () => {
  influx = await startInflux();
  dataDir = tempDataDir();
  hub = await startHub();
  const answer = await hub.importDoc(document);
  gateway = await connectClient(hub.mqttUrl, 'gw-0100', secretOf(answer, 'gw-0100'));
});

afterAll(async () => {
  gateway?.end(true);
  await hub?.stop();
  await influx?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('forwarding the journal to InfluxDB 1.x', () => {
  it('loses nothing and duplicates nothing when InfluxDB is killed mid-stream of 10,000 readings and restarted', async () => {
    const acked: number[] = [];
    for (let i = 0; i < PUBLISHES; i++) {
      if (i === 30) await influx.kill();
      if (i === 70) await influx.restart();
      const device = DEVICES[i % DEVICES.length]!;
      const first = Math.floor(i / DEVICES.length) * PER_PUBLISH;
      const batch = Array.from({ length: PER_PUBLISH }, (_, j) => reading(device, first + j));
      const started = performance.now();
      await publishAcked(gateway, `anxin/v1/homes/${HOME}/devices/${device}/telemetry`, batch);
      acked.push(performance.now() - started);
      for (const r of batch) expected.push(`${device}|${r.id}|${r.ts}|${r.systolic}|${r.diastolic}|${r.pulse}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(expected).toHaveLength(10_000);
    // The ingest never waited for InfluxDB: its outage did not hold PUBACKs back.
    expect(Math.max(...acked)).toBeLessThan(2000);

    expect(await hub.hub.ctx.timeSeries!.forwarder.drained(60_000)).toBe(true);
    expect(await metric('anxin_influx_write_errors_total')).toBeGreaterThan(0); // the outage was felt
    expect(await metric('anxin_influx_lag_readings')).toBe(0);
    const contents = await influxContents();
    expect(contents).toEqual({ count: 10_000, ids: 10_000, sum: checksum(expected) });
  });

  it('replays the whole journal in order after a restart with a lost cursor, adding no duplicate', async () => {
    await hub.stop();
    // As if the hub had crashed after every write but before any cursor update.
    const db = new Database(join(dataDir, 'anxin.sqlite'));
    expect(db.prepare('UPDATE forward_cursors SET seq = 0').run().changes).toBe(1);
    db.close();
    hub = await startHub();
    expect(await hub.hub.ctx.timeSeries!.forwarder.drained(60_000)).toBe(true);
    expect(await metric('anxin_influx_points_written_total')).toBe(10_000);
    expect(await influxContents()).toEqual({ count: 10_000, ids: 10_000, sum: checksum(expected) });
  });
});
