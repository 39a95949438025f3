/**
 * What a district's bulk import (SPEC §6) costs the homes already monitored:
 * a hub, one device publishing QoS 1 readings every few milliseconds, and an
 * admin importing `homes` new homes (each like SPEC §6's example: two
 * residents, a gateway, five devices), then the same document again
 * (unchanged: nothing to write, no secret issued). For each import: how long
 * it took (the admin's POST, answer included) and the longest any reading
 * waited for its PUBACK meanwhile (the ingest's stall), against the longest
 * wait while no import ran. One fresh hub per size.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { httpJson, spawnHub, type HubProcess } from '../test/helpers/process.js';
import type { BenchOutcome, BenchPart, Flags } from './benchPart.js';
import { killChild } from './procStats.js';

interface Params {
  sizes: number[];
  /** Milliseconds between two readings of the publishing device. */
  everyMs: number;
}

/** Publish → PUBACK waits of a steady device, read per window. */
class SteadyDevice {
  private waits: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private published = 0;
  private acked = 0;
  private failed: Error | null = null;

  constructor(private readonly client: MqttClient, private readonly topic: string) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => {
      const sent = performance.now();
      const reading = { type: 'blood_pressure', id: `st-${++this.published}`, ts: Date.now(), systolic: 126, diastolic: 80, unit: 'mmHg' };
      this.client.publish(this.topic, JSON.stringify(reading), { qos: 1 }, (err) => {
        if (err) this.failed = err;
        this.acked++;
        this.waits.push(performance.now() - sent);
      });
    }, everyMs);
  }

  /** The waits since the last call, once every reading published so far is acknowledged. */
  async window(): Promise<{ longestMs: number; p99Ms: number }> {
    const published = this.published;
    for (const until = Date.now() + 60_000; this.acked < published; await new Promise((r) => setTimeout(r, 5))) {
      if (Date.now() > until) throw new Error(`${published - this.acked} readings never acknowledged`);
    }
    if (this.failed) throw this.failed;
    const waits = this.waits.sort((a, b) => a - b);
    this.waits = [];
    return { longestMs: waits.at(-1) ?? 0, p99Ms: waits[Math.floor(waits.length * 0.99)] ?? 0 };
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.client.endAsync();
  }
}

/** `n` homes shaped like SPEC §6's example, under one doctor. */
function district(n: number, doctor: string): object {
  const pad = (i: number) => String(i).padStart(5, '0');
  return {
    homes: Array.from({ length: n }, (_, i) => {
      const s = pad(i);
      return {
        id: `imp-h-${s}`, address: `benchmark home ${s}`, phone: '+86 631 555 0101',
        residents: [
          { id: `imp-r-${s}-a`, name: '王秀英', birthYear: 1941, sex: 'F', conditions: ['hypertension'], doctor,
            contacts: [{ name: '王强', relation: 'son', phone: '+86 138 0000 0001' }], targets: { bp_high: { systolic: 170 } } },
          { id: `imp-r-${s}-b`, name: '李建国', birthYear: 1939, sex: 'M', doctor },
        ],
        gateway: { id: `imp-gw-${s}` },
        devices: [
          { id: `imp-bp-${s}`, type: 'bp_cuff', resident: `imp-r-${s}-a` },
          { id: `imp-glu-${s}`, type: 'glucose_meter', resident: `imp-r-${s}-a` },
          { id: `imp-fall-${s}`, type: 'fall_sensor', heartbeatSeconds: 300 },
          { id: `imp-sos-${s}`, type: 'sos_button', resident: `imp-r-${s}-b` },
          { id: `imp-pir-${s}`, type: 'motion_sensor' },
        ],
      };
    }),
    users: [{ username: doctor, role: 'doctor', name: '李医生' }],
  };
}

interface ImportFigures { homes: number; credentials: number; seconds: number; longestMs: number; p99Ms: number }

async function measureSize(homes: number, p: Params, problems: string[]): Promise<{ idle: number; imports: Array<ImportFigures & { label: string }> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'anxin-bench-import-'));
  const adminPassword = randomBytes(18).toString('base64url');
  let hub: HubProcess | undefined;
  try {
    hub = await spawnHub({ ANXIN_DATA_DIR: dataDir, ANXIN_ADMIN_PASSWORD: adminPassword, ANXIN_SYNC: 'normal' });
    const login = await httpJson(`${hub.httpUrl}/api/v1/auth/login`, { body: { username: 'admin', password: adminPassword } });
    const token = login.body.token as string;
    const post = async (doc: object) => {
      const t0 = performance.now();
      const res = await httpJson(`${hub!.httpUrl}/api/v1/import`, { token, body: doc });
      if (res.status !== 200) throw new Error(`import refused: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
      return { seconds: (performance.now() - t0) / 1000, credentials: (res.body.credentials as unknown[]).length };
    };
    const seed = await httpJson(`${hub.httpUrl}/api/v1/import`, {
      token, body: { homes: [{ id: 'steady-h', address: 'the steady home', residents: [{ id: 'steady-r', name: '张桂芳' }], devices: [{ id: 'steady-bp', type: 'bp_cuff', resident: 'steady-r' }] }] },
    });
    const secret = (seed.body.credentials as Array<{ username: string; password: string }>).find((c) => c.username === 'steady-bp')!.password;
    const client = await mqtt.connectAsync(hub.mqttUrl, { username: 'steady-bp', password: secret, clientId: 'steady-bp', protocolVersion: 5, reconnectPeriod: 0 });
    const device = new SteadyDevice(client, 'anxin/v1/homes/steady-h/devices/steady-bp/telemetry');
    device.start(p.everyMs);

    await new Promise((r) => setTimeout(r, 1000));
    await device.window(); // warm-up
    await new Promise((r) => setTimeout(r, 2000));
    const idle = (await device.window()).longestMs;
    const doc = district(homes, 'dr-bench');
    const imports: Array<ImportFigures & { label: string }> = [];
    for (const label of ['new', 'unchanged']) {
      await new Promise((r) => setTimeout(r, 500));
      await device.window();
      const { seconds, credentials } = await post(doc);
      const w = await device.window();
      imports.push({ label, homes, credentials, seconds, longestMs: w.longestMs, p99Ms: w.p99Ms });
    }
    if (imports[1]!.credentials !== 0) problems.push(`re-importing the same ${homes} homes issued ${imports[1]!.credentials} secrets`);
    await device.stop();
    return { idle, imports };
  } finally {
    if (hub) await killChild(hub.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export const importStallPart: BenchPart = {
  name: 'import',
  describe: 'a bulk import of N homes while a device publishes: import duration and the longest PUBACK wait',
  flags: { homes: '2000', large: '10000', every: '5 (ms between readings)' },
  plan(flags: Flags) {
    const sizes = [flags.integer('homes', 2000, 1, 20_000), flags.integer('large', 10_000, 0, 20_000)].filter((n) => n > 0);
    const p: Params = { sizes, everyMs: flags.integer('every', 5, 1, 1000) };
    return async (): Promise<BenchOutcome> => {
      const problems: string[] = [];
      const rows: string[][] = [];
      const record: Record<string, unknown> = { everyMs: p.everyMs, sizes: {} };
      for (const homes of p.sizes) {
        const { idle, imports } = await measureSize(homes, p, problems);
        (record.sizes as Record<string, unknown>)[homes] = { idleLongestMs: idle, imports };
        for (const f of imports) {
          rows.push([`${homes} homes, ${f.label}`, f.seconds.toFixed(2), String(f.credentials), f.longestMs.toFixed(0), f.p99Ms.toFixed(0), idle.toFixed(0)]);
        }
      }
      return {
        record,
        table: { columns: ['import', 'seconds', 'secrets', 'longest PUBACK ms', 'p99 ms', 'idle longest ms'], rows },
        notes: [`one device publishing a QoS 1 reading every ${p.everyMs} ms; each home: 2 residents, a gateway, 5 devices; ANXIN_SYNC=normal`],
        problems,
      };
    };
  },
};
