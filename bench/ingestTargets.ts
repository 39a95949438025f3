/**
 * The two things the ingest benchmark loads: a bare aedes broker (the
 * pass-through baseline) and the real hub. Each runs as its own child process
 * on loopback so its RSS and CPU time can be read from /proc, and each is torn
 * down completely before the next starts.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { Topics } from '../devices/topics.js';
import { httpJson, NODE_FLAGS, spawnHub } from '../test/helpers/process.js';
import type { LoadDevice, LoadResult } from './loadGenerator.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOPICS = new Topics();

export type Figure = number | string | boolean;

/** A broker under test, with the hooks the measurement calls at each phase. */
export interface IngestTarget {
  pid: number;
  mqttUrl: string;
  devices: LoadDevice[];
  /** The exit code or signal once the process has died on its own, else null. */
  died(): number | string | null;
  output(): string;
  windowOpened(): Promise<void>;
  /** The window has closed and nothing new is being published; the generator has not drained yet. */
  windowClosed(): Promise<void>;
  /** Target-specific checks once the generator has finished; `problems` fail the run. */
  verify(load: LoadResult): Promise<{ figures: Record<string, Figure>; problems: string[] }>;
  close(): Promise<void>;
}

/** `devices` bp cuffs, `perHome` to a home, each home with one resident (bound to its cuffs) and a gateway. */
export function fleet(devices: number, perHome: number): LoadDevice[] {
  const pad = (i: number) => String(i).padStart(4, '0');
  return Array.from({ length: devices }, (_, i) => ({ id: `bench-bp-${pad(i)}`, homeId: `bench-h-${pad(Math.floor(i / perHome))}` }));
}

/**
 * The import document (SPEC §6) that provisions `fleet(...)`: one resident per home
 * sharing its cuffs, or with `residentPerDevice` one resident per cuff (the alerts part).
 */
export function fleetDocument(devices: LoadDevice[], opts: { residentPerDevice?: boolean; users?: object[] } = {}): object {
  const homes = new Map<string, LoadDevice[]>();
  for (const d of devices) homes.set(d.homeId, [...(homes.get(d.homeId) ?? []), d]);
  const residentOf = (d: LoadDevice) => (opts.residentPerDevice ? `${d.id}-r` : `${d.homeId}-r`);
  return {
    homes: [...homes].map(([homeId, ds]) => ({
      id: homeId,
      address: `benchmark home ${homeId}`,
      residents: opts.residentPerDevice
        ? ds.map((d) => ({ id: residentOf(d), name: `resident of ${d.id}` }))
        : [{ id: `${homeId}-r`, name: `resident of ${homeId}` }],
      ...(!opts.residentPerDevice && { gateway: { id: `${homeId}-gw` } }),
      devices: ds.map((d) => ({ id: d.id, type: 'bp_cuff', resident: residentOf(d) })),
    })),
    users: opts.users ?? [],
  };
}

/**
 * The baseline: `bench/bareBroker.ts` plus one QoS 1 subscriber on every
 * telemetry topic, so the broker does the routing a real consumer would cost.
 */
export async function startBareBroker(devices: LoadDevice[]): Promise<IngestTarget> {
  // The same V8 flags as the hub (npm start), so the comparison is of brokers, not settings.
  const child = spawn(process.execPath, [...NODE_FLAGS, '--import', 'tsx', 'bench/bareBroker.ts', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr.on('data', (d) => (out += d));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bare broker not ready in 15 s:\n${out}`)), 15_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /ready (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`bare broker exited (${code}):\n${out}`)));
  });
  const exited = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
  const mqttUrl = `mqtt://127.0.0.1:${port}`;

  return passThroughTarget({
    pid: child.pid!, mqttUrl, devices,
    died: () => child.exitCode ?? child.signalCode,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      }
    },
  });
}

/**
 * A pass-through broker (bare aedes, mosquitto) as an `IngestTarget`: one QoS 1
 * subscriber on every telemetry topic in this process, counting what it gets
 * (in the window and in all); `verify` waits for it to have every PUBACKed message.
 */
export async function passThroughTarget(b: {
  pid: number; mqttUrl: string; devices: LoadDevice[];
  died(): number | string | null; output(): string; stop(): Promise<void>;
}): Promise<IngestTarget> {
  let subscriber: mqtt.MqttClient;
  try {
    subscriber = await mqtt.connectAsync(b.mqttUrl, { clientId: 'bench-subscriber', protocolVersion: 4, reconnectPeriod: 0 });
    await subscriber.subscribeAsync(TOPICS.telemetry('+', '+'), { qos: 1 });
  } catch (err) {
    await b.stop();
    throw err;
  }
  let received = 0;
  let receivedInWindow = 0;
  let inWindow = false;
  subscriber.on('message', () => {
    received += 1;
    if (inWindow) receivedInWindow += 1;
  });
  return {
    pid: b.pid,
    mqttUrl: b.mqttUrl,
    devices: b.devices,
    died: b.died,
    output: b.output,
    async windowOpened() {
      inWindow = true;
    },
    async windowClosed() {
      inWindow = false;
    },
    async verify(load) {
      // Deliveries to the subscriber may trail the PUBACKs a little.
      const until = Date.now() + 5000;
      while (received < load.totalAcks && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      const problems = received < load.totalAcks ? [`the subscriber received ${received} of ${load.totalAcks} acknowledged messages`] : [];
      return { figures: { subscriberReceived: received, subscriberReceivedInWindow: receivedInWindow }, problems };
    },
    async close() {
      await subscriber.endAsync(true);
      await b.stop();
    },
  };
}

/** The hub's environment for a benchmark: `npm start`'s, with the connection limiter opened wide. */
function hubEnv(dataDir: string, adminPassword: string, sync: 'full' | 'normal', extra: Record<string, string> = {}): Record<string, string> {
  return {
    ANXIN_DATA_DIR: dataDir,
    ANXIN_ADMIN_PASSWORD: adminPassword,
    ANXIN_LOG_LEVEL: 'warn',
    ANXIN_SYNC: sync,
    ANXIN_MQTT_CONNECT_BURST: '100000',
    ANXIN_MQTT_CONNECT_PER_SECOND: '100000',
    ...extra,
  };
}

/** Signs in as admin and imports `document`; returns the secrets and first passwords it issued. */
async function importDocument(httpUrl: string, adminPassword: string, document: object): Promise<{ secrets: Map<string, string>; passwords: Map<string, string> }> {
  const login = await httpJson(`${httpUrl}/api/v1/auth/login`, { body: { username: 'admin', password: adminPassword } });
  if (login.status !== 200) throw new Error(`admin sign-in failed: ${login.status} ${JSON.stringify(login.body)}`);
  const imported = await httpJson(`${httpUrl}/api/v1/import`, { token: login.body.token, body: document });
  if (imported.status !== 200) throw new Error(`import failed: ${imported.status} ${JSON.stringify(imported.body)}`);
  type Issued = Array<{ username: string; password: string }>;
  return {
    secrets: new Map((imported.body.credentials as Issued).map((c) => [c.username, c.password])),
    passwords: new Map((imported.body.users as Issued).map((u) => [u.username, u.password])),
  };
}

function withSecrets(devices: LoadDevice[], secrets: Map<string, string>): LoadDevice[] {
  return devices.map((d) => {
    const password = secrets.get(d.id);
    if (password === undefined) throw new Error(`the import issued no secret for ${d.id}`);
    return { ...d, password };
  });
}

/**
 * A data dir provisioned once (a hub started, `document` imported, the hub
 * stopped cleanly), for `startHub` to copy: the import hashes every device
 * secret with scrypt, which for hundreds of devices takes longer than a
 * measurement, so a part that starts several hubs pays it once.
 */
export interface ProvisionedHub {
  dataDir: string;
  adminPassword: string;
  /** MQTT secret per device and gateway id, as the import issued them. */
  secrets: Map<string, string>;
  /** First password per imported user. */
  passwords: Map<string, string>;
  /** Seconds the import took (hub start not included). */
  importSeconds: number;
  remove(): void;
}

export async function provisionHub(document: object, sync: 'full' | 'normal'): Promise<ProvisionedHub> {
  const dataDir = mkdtempSync(join(tmpdir(), 'anxin-bench-template-'));
  const remove = () => rmSync(dataDir, { recursive: true, force: true });
  const adminPassword = randomBytes(18).toString('base64url');
  let hub;
  try {
    hub = await spawnHub(hubEnv(dataDir, adminPassword, sync));
  } catch (err) {
    remove();
    throw err;
  }
  try {
    const t0 = performance.now();
    const issued = await importDocument(hub.httpUrl, adminPassword, document);
    const importSeconds = (performance.now() - t0) / 1000;
    // SIGTERM: the hub commits, closes the store and exits 0, leaving a consistent file to copy.
    hub.child.kill('SIGTERM');
    const code = await hub.exited;
    if (code !== 0) throw new Error(`the provisioning hub exited with ${code} on SIGTERM:\n${hub.output().slice(-4000)}`);
    return { dataDir, adminPassword, ...issued, importSeconds, remove };
  } catch (err) {
    if (hub.child.exitCode === null && hub.child.signalCode === null) hub.child.kill('SIGKILL');
    await hub.exited;
    remove();
    throw err;
  }
}

/** The hub under test, with its HTTP address for sign-in, the stream and /metrics. */
export interface HubTarget extends IngestTarget {
  httpUrl: string;
}

export interface StartHubOptions {
  /** Added to the hub's environment, e.g. `ANXIN_BENCH_NO_RULES=1`. */
  env?: Record<string, string>;
  /** Start on a copy of this data dir instead of importing `fleetDocument(devices)`; `devices` must be in it. */
  from?: ProvisionedHub;
  /** Tables whose rows `verify` counts too (figures `<table>Rows`), e.g. to show what the rules wrote. */
  countRows?: string[];
}

/**
 * The hub as `npm start` runs it, on a fresh data dir, with the connection
 * limiter opened wide (a hundred clients connecting from one loopback address
 * at once would otherwise be refused, as they should be in production).
 */
export async function startHub(devices: LoadDevice[], sync: 'full' | 'normal', opts: StartHubOptions = {}): Promise<HubTarget> {
  const dataDir = mkdtempSync(join(tmpdir(), 'anxin-bench-'));
  const adminPassword = opts.from?.adminPassword ?? randomBytes(18).toString('base64url');
  let hub;
  try {
    if (opts.from) cpSync(opts.from.dataDir, dataDir, { recursive: true });
    hub = await spawnHub(hubEnv(dataDir, adminPassword, sync, opts.env));
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const { child } = hub;
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await hub.exited;
  };
  try {
    const secrets = opts.from?.secrets ?? (await importDocument(hub.httpUrl, adminPassword, fleetDocument(devices))).secrets;
    devices = withSecrets(devices, secrets);
  } catch (err) {
    await kill();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }

  let killedByUs = false;
  let atOpen: Map<string, number> | null = null;
  let storeFigures: Record<string, Figure> = {};
  let windowStart = 0;
  return {
    pid: child.pid!,
    mqttUrl: hub.mqttUrl,
    httpUrl: hub.httpUrl,
    devices,
    died: () => (killedByUs ? null : child.exitCode ?? child.signalCode),
    output: hub.output,
    async windowOpened() {
      windowStart = performance.now();
      atOpen = await scrapeMetrics(hub.httpUrl);
    },
    async windowClosed() {
      // The hub's own view of its store over the window, to tell where its time goes.
      const atClose = await scrapeMetrics(hub.httpUrl).catch(() => null);
      if (atOpen && atClose) storeFigures = storeFiguresBetween(atOpen, atClose, (performance.now() - windowStart) / 1000);
      // Killed while hundreds of publishes are still in flight, like a crash:
      // every PUBACK that got out must then already be in the file.
      killedByUs = true;
      await kill();
    },
    async verify(load) {
      const db = new Database(join(dataDir, 'anxin.sqlite'), { readonly: true, fileMustExist: true });
      try {
        const { n } = db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number };
        const problems = n < load.totalAcks ? [`only ${n} readings stored for ${load.totalAcks} PUBACKs: acknowledged readings were lost`] : [];
        const rows = Object.fromEntries((opts.countRows ?? []).map((t) => [`${t}Rows`, (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n]));
        return { figures: { storedRows: n, acked: load.totalAcks, durable: n >= load.totalAcks, ...rows, ...storeFigures }, problems };
      } finally {
        db.close();
      }
    },
    async close() {
      await kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Sums of every series of each metric in a Prometheus text exposition, labels ignored. */
export async function scrapeMetrics(httpUrl: string): Promise<Map<string, number>> {
  const res = await fetch(`${httpUrl}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  const sums = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (m) sums.set(m[1]!, (sums.get(m[1]!) ?? 0) + Number(m[2]));
  }
  return sums;
}

/** Group commits over the window: how many, how big, how long, and how much of the hub's one thread they held. */
export function storeFiguresBetween(before: Map<string, number>, after: Map<string, number>, seconds: number): Record<string, Figure> {
  const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
  const commits = delta('anxin_store_commit_seconds_count');
  const commitSeconds = delta('anxin_store_commit_seconds_sum');
  const ingested = delta('anxin_ingest_latency_seconds_count');
  return {
    commitsPerSecond: commits / seconds,
    jobsPerCommit: commits > 0 ? delta('anxin_store_commit_jobs_sum') / commits : 0,
    commitMeanMs: commits > 0 ? (commitSeconds / commits) * 1000 : 0,
    /** The ingest's transactions (including fsync) keep the writer thread busy this share of the window (off the event loop). */
    commitShareOfWindow: commitSeconds / seconds,
    ingestMeanMs: ingested > 0 ? (delta('anxin_ingest_latency_seconds_sum') / ingested) * 1000 : 0,
    // With InfluxDB configured (the hubinflux part): what the forwarder confirmed, and how far behind it was at the close.
    ...(after.has('anxin_influx_lag_readings') && {
      influxWritten: after.get('anxin_influx_points_written_total') ?? 0,
      influxWrittenPerSecond: delta('anxin_influx_points_written_total') / seconds,
      influxLag: after.get('anxin_influx_lag_readings')!,
    }),
  };
}
