/**
 * Overload (D3): many gateways replay their outboxes at once, each with a deep
 * window of 500-reading publishes, while a fall sensor sends single readings.
 * The hub's memory stays bounded, it keeps answering /readyz, the fall
 * sensor's PUBACKs are not queued behind the backlog, and every PUBACKed
 * reading is in the file after a kill -9 in the middle of it.
 *
 * A real hub process (spawnHub), real MQTT clients over loopback. Before the
 * fix (readings in flight bounded per client by publishes only) this load
 * took the hub past 1 GiB and the fall sensor's PUBACKs several seconds.
 */
import Database from 'better-sqlite3';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDataDir } from '../../helpers/hub.js';
import { httpJson, spawnHub, type HubProcess } from '../../helpers/process.js';

const ADMIN_PASSWORD = 'overload-admin-password-1';
const GATEWAYS = 100;
/** Publishes each gateway keeps in flight (mqtt.js sends the next as a PUBACK comes back). */
const WINDOW = 16;
const BATCH = 500;
const LOAD_MS = 15_000;
const CANARY_EVERY_MS = 100;

const pad = (i: number) => String(i + 1).padStart(4, '0');
const telemetry = (home: string, device: string) => `anxin/v1/homes/${home}/devices/${device}/telemetry`;

function fleet() {
  return {
    homes: Array.from({ length: GATEWAYS }, (_, i) => ({
      id: `ov-${pad(i)}`, address: `overload ${i}`, phone: '+86 631 555 0101',
      residents: [{ id: `ovr-${pad(i)}`, name: `R${i}`, birthYear: 1941, sex: 'F', conditions: [], doctor: 'dr-ov', contacts: [] }],
      gateway: { id: `ovgw-${pad(i)}` },
      devices: [
        { id: `ovbp-${pad(i)}`, type: 'bp_cuff', resident: `ovr-${pad(i)}` },
        ...(i === 0 ? [{ id: 'ovfall-0001', type: 'fall_sensor', heartbeatSeconds: 300 }] : []),
      ],
    })),
    users: [{ username: 'dr-ov', role: 'doctor', name: 'Dr' }],
  };
}

function connect(url: string, user: string, secret: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { clientId: user, username: user, password: secret, reconnectPeriod: 0, connectTimeout: 10_000, keepalive: 600, protocolVersion: 4 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

const dirs: string[] = [];
const hubs: HubProcess[] = [];
afterAll(() => {
  for (const h of hubs) if (h.child.exitCode === null && h.child.signalCode === null) h.child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('ingest under overload', () => {
  it('stays bounded and responsive while gateways replay, serves a fall sensor promptly, and loses no PUBACKed reading to kill -9', async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const hub = await spawnHub({
      ANXIN_DATA_DIR: dataDir, ANXIN_ADMIN_PASSWORD: ADMIN_PASSWORD, ANXIN_SYNC: 'full',
      ANXIN_MQTT_CONNECT_BURST: '100000', ANXIN_MQTT_CONNECT_PER_SECOND: '100000',
    });
    hubs.push(hub);
    const pid = hub.child.pid!;
    const { body: session } = await httpJson(`${hub.httpUrl}/api/v1/auth/login`, { body: { username: 'admin', password: ADMIN_PASSWORD } });
    const { status, body: answer } = await httpJson(`${hub.httpUrl}/api/v1/import`, { token: session.token, body: fleet() });
    expect(status).toBe(200);
    const secret = (u: string) => (answer.credentials as Array<{ username: string; password: string }>).find((c) => c.username === u)!.password;

    const gateways = await Promise.all(Array.from({ length: GATEWAYS }, (_, i) => connect(hub.mqttUrl, `ovgw-${pad(i)}`, secret(`ovgw-${pad(i)}`))));
    const canary = await connect(hub.mqttUrl, 'ovfall-0001', secret('ovfall-0001'));
    for (const c of [...gateways, canary]) c.on('error', () => {});

    // Every gateway: WINDOW publishes of BATCH readings in flight, for as long as the load lasts.
    const ts = Date.now();
    let stop = false;
    const acked: number[][] = gateways.map(() => []); // per gateway, the first reading number of each PUBACKed publish
    const next = gateways.map(() => 0);
    const pump = (g: number) => {
      if (stop) return;
      const first = next[g]!;
      next[g] = first + BATCH;
      const items: string[] = [];
      for (let k = first; k < first + BATCH; k++) items.push(`{"type":"blood_pressure","id":"r${k}","ts":${ts},"systolic":130,"diastolic":80,"unit":"mmHg"}`);
      gateways[g]!.publish(telemetry(`ov-${pad(g)}`, `ovbp-${pad(g)}`), `[${items.join(',')}]`, { qos: 1 }, (err) => {
        if (err || stop) return;
        acked[g]!.push(first);
        setImmediate(() => pump(g));
      });
    };
    for (let g = 0; g < GATEWAYS; g++) for (let w = 0; w < WINDOW; w++) pump(g);

    // The fall sensor: one heartbeat every CANARY_EVERY_MS; its PUBACK latency is what a fall would see.
    const canaryLatency: number[] = [];
    const canaryAcked: string[] = [];
    let canarySent = 0;
    const canaryTimer = setInterval(() => {
      const id = `c${canarySent++}`;
      const t = performance.now();
      canary.publish(telemetry('ov-0001', 'ovfall-0001'), JSON.stringify({ type: 'heartbeat', id, ts: Date.now() }), { qos: 1 }, (err) => {
        if (err || stop) return;
        canaryLatency.push(performance.now() - t);
        canaryAcked.push(id);
      });
    }, CANARY_EVERY_MS);

    // Throughout: the hub's RSS and how long /readyz takes.
    const rss: number[] = [];
    const readyz: number[] = [];
    const started = Date.now();
    while (Date.now() - started < LOAD_MS) {
      await new Promise((r) => setTimeout(r, 250));
      rss.push(rssMiB(pid));
      const t = performance.now();
      try {
        const res = await fetch(`${hub.httpUrl}/readyz`, { signal: AbortSignal.timeout(5000) });
        await res.json();
        readyz.push(performance.now() - t);
      } catch {
        readyz.push(Infinity);
      }
    }

    // kill -9 in the middle of it.
    hub.child.kill('SIGKILL');
    stop = true;
    clearInterval(canaryTimer);
    expect(await hub.exited).toBe('SIGKILL');
    for (const c of [...gateways, canary]) c.end(true);

    const gatewayReadings = acked.reduce((n, a) => n + a.length * BATCH, 0);
    const summary = {
      gatewayReadingsAcked: gatewayReadings, canaryAcked: canaryAcked.length, canarySent,
      maxRssMiB: Math.round(Math.max(...rss)), maxReadyzMs: Math.round(Math.max(...readyz)),
      canaryP50Ms: Math.round(percentile(canaryLatency, 0.5)), canaryP99Ms: Math.round(percentile(canaryLatency, 0.99)),
    };
    console.log('overload', JSON.stringify(summary));

    // Bounded and responsive (soft: each one that fails is reported).
    expect.soft(summary.maxRssMiB, 'hub RSS, MiB').toBeLessThan(1024);
    expect.soft(summary.maxReadyzMs, '/readyz, ms').toBeLessThan(500);
    expect.soft(summary.canaryP99Ms, 'fall sensor PUBACK p99, ms').toBeLessThan(1000);
    expect.soft(canaryLatency.length, 'fall sensor PUBACKs').toBeGreaterThan(canarySent * 0.9);
    // Work got done, and no gateway was starved.
    expect.soft(gatewayReadings).toBeGreaterThan(100_000);
    expect.soft(acked.every((a) => a.length > 0)).toBe(true);

    // Every PUBACKed reading is in the file, counted by id.
    const db = new Database(join(dataDir, 'anxin.sqlite'), { readonly: true });
    try {
      const ids = db.prepare<[string], string>('SELECT reading_id FROM readings WHERE device_id = ?').pluck();
      const lost: string[] = [];
      acked.forEach((firsts, g) => {
        const stored = new Set(ids.all(`ovbp-${pad(g)}`));
        for (const first of firsts) for (let k = first; k < first + BATCH; k++) if (!stored.has(`r${k}`)) lost.push(`ovbp-${pad(g)}/r${k}`);
      });
      const canaryStored = new Set(ids.all('ovfall-0001'));
      for (const id of canaryAcked) if (!canaryStored.has(id)) lost.push(`ovfall-0001/${id}`);
      expect(lost.slice(0, 10)).toEqual([]);
      expect(lost).toHaveLength(0);
    } finally {
      db.close();
    }
  }, 90_000);
});
