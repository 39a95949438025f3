/**
 * Connection-scale benchmark (issue 7, item 2): the real hub (`server/index.ts`
 * in its own process) holding 10k, 50k and 100k concurrent MQTT 3.1.1 device
 * connections, one fresh hub per level. Per level: connect time and rate, the
 * hub's RSS and V8 heap before and after (memory per connection), its CPU while
 * the connections sit idle, and QoS 1 heartbeats (every device one per
 * `--heartbeat-seconds`, phases spread evenly) with their PUBACK latency.
 *
 * The clients are `connectionClients.ts` processes (raw sockets, no mqtt.js),
 * each connection bound to its own 127.1.x.y source address. File limits are
 * raised on this process with prlimit(1), so the hub and the clients inherit them.
 *
 * Provisioning: importing 100k devices through the API would take minutes of
 * JSON and directory checks, so the bulk devices are written straight into a
 * copy of a provisioned store, all sharing one secret, stored hashed as the
 * hub stores a device secret (server/auth/secrets.ts). A cold reconnect storm
 * of devices imported through the API, each with its own secret, is measured
 * separately ("cold sign-in").
 */
import Database from 'better-sqlite3';
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TOPIC_PREFIX } from '../devices/topics.js';
import { hashSecret } from '../server/auth/secrets.js';
import { freePort } from '../test/helpers/process.js';
import type { BenchOutcome, BenchPart, Flags } from './benchPart.js';
import {
  CONNECTION_HOME_KIT, connectionDeviceId, connectionHomeId,
  type FromSwarm, type SwarmConnect, type SwarmConnected, type SwarmResult, type ToSwarm,
} from './connectionClients.js';
import { InspectorSession } from './inspector.js';
import { fleet, fleetDocument, provisionHub, scrapeMetrics, startHub, type HubTarget, type ProvisionedHub } from './ingestTargets.js';
import type { LoadDevice } from './loadGenerator.js';
import { cpuMeter, killChild, readRssBytes, summarizeLatency, windowCpuMeter } from './procStats.js';

/** The bar: 100k connections at ≤ 16 KiB each. */
export const TARGET_BYTES_PER_CONNECTION = 16 * 1024;
export const LEVELS = [10_000, 50_000, 100_000];
/** Connections per source address; one address has `ip_local_port_range` (~28k) ports. */
const PER_ADDRESS = 5000;
const FILE_LIMIT = 1 << 20;
/** Descriptors a process keeps for other things than connections (store, listeners, inspector, IPC). */
const FD_RESERVE = 300;
/** Devices imported through the API with real secrets, for the cold sign-in measurement. */
const COLD_DEVICES = 128;
const SCRIPT = fileURLToPath(new URL('./connectionClients.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MiB = 1024 * 1024;

interface ConnectionParams {
  max: number;
  processes: number;
  seconds: number;
  idleSeconds: number;
  heartbeatSeconds: number;
  keepaliveSeconds: number;
  maxPending: number;
  sync: 'full' | 'normal';
  /** Heap snapshots before and after connecting, and a CPU profile of the idle window, into bench/results/. */
  profile: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Machine set-up and provisioning

/** The hard open-file limit of this process (`Max open files` of /proc/self/limits). */
function hardFileLimit(): number {
  const m = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m?.[1] === 'unlimited' ? Infinity : Number(m?.[1]);
}

/**
 * Raises this process's open-file limit (children inherit it; Node raises its
 * soft limit to the hard one at start). Needs CAP_SYS_RESOURCE: root in a
 * container without it cannot go past the hard limit it was given, and then
 * the hub, one process, cannot hold more connections than that.
 */
function raiseFileLimit(): { limit: number; refused: string | null } {
  const nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8'));
  const wanted = Math.min(FILE_LIMIT, nrOpen);
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${wanted}:${wanted}`], { stdio: 'pipe' });
    return { limit: wanted, refused: null };
  } catch (err) {
    const message = ((err as { stderr?: Buffer }).stderr?.toString() ?? (err as Error).message).trim();
    return { limit: hardFileLimit(), refused: message };
  }
}

/**
 * The store every level starts from: the cold devices imported through the
 * API (their own secrets), then `max` bulk devices written directly, four to
 * a home with one resident, sharing `secret`.
 */
async function provision(max: number, sync: 'full' | 'normal', secret: string): Promise<{ template: ProvisionedHub; cold: LoadDevice[]; bulkSeconds: number }> {
  const cold = fleet(COLD_DEVICES, CONNECTION_HOME_KIT.length);
  const template = await provisionHub(fleetDocument(cold), sync);
  const t0 = performance.now();
  const db = new Database(join(template.dataDir, 'anxin.sqlite'));
  try {
    const hash = await hashSecret(secret, 'device');
    const now = Date.now();
    const home = db.prepare("INSERT INTO homes (id, address, phone, access, created_at, updated_at) VALUES (?, 'connections bench', NULL, NULL, ?, ?)");
    const resident = db.prepare(`INSERT INTO residents (id, home_id, name, birth_year, sex, doctor, conditions, contacts, targets, schedule, created_at, updated_at)
      VALUES (?, ?, 'resident', NULL, NULL, NULL, '[]', '[]', '{}', '[]', ?, ?)`);
    const device = db.prepare('INSERT INTO devices (id, home_id, type, resident_id, heartbeat_seconds, created_at, updated_at) VALUES (?, ?, ?, ?, NULL, ?, ?)');
    const credential = db.prepare("INSERT INTO mqtt_credentials (username, kind, home_id, secret_hash, created_at, rotated_at) VALUES (?, 'device', ?, ?, ?, ?)");
    db.transaction(() => {
      for (let i = 0; i < max; i++) {
        const homeId = connectionHomeId(i);
        const kit = i % CONNECTION_HOME_KIT.length;
        if (kit === 0) {
          home.run(homeId, now, now);
          resident.run(`${homeId}-r`, homeId, now, now);
        }
        device.run(connectionDeviceId(i), homeId, CONNECTION_HOME_KIT[kit], `${homeId}-r`, now, now);
        credential.run(connectionDeviceId(i), homeId, hash, now, now);
      }
    })();
  } finally {
    db.close();
  }
  const bulkSeconds = (performance.now() - t0) / 1000;
  const secrets = new Map(template.secrets);
  for (let i = 0; i < max; i++) secrets.set(connectionDeviceId(i), secret);
  return { template: { ...template, secrets }, cold: cold.map((d) => ({ ...d, password: template.secrets.get(d.id)! })), bulkSeconds };
}

// ---------------------------------------------------------------------------------------------
// The hub's V8 heap, through the inspector

/**
 * The hub's DevTools-protocol session (bench/inspector.ts; started with `--inspect`), to
 * collect garbage before memory is read, so the heap figures are live objects
 * and not whatever the last collection left, and to take heap snapshots.
 */
class HubInspector {
  private chunks: string[] | null = null;

  private constructor(private readonly session: InspectorSession) {
    session.on('HeapProfiler.addHeapSnapshotChunk', (p) => this.chunks?.push((p as { chunk: string }).chunk));
  }

  static async open(port: number): Promise<HubInspector> {
    return new HubInspector(await InspectorSession.open(port));
  }

  call(method: string, params: object = {}): Promise<unknown> {
    return this.session.call(method, params);
  }

  collectGarbage(): Promise<unknown> {
    return this.call('HeapProfiler.collectGarbage');
  }

  async heapSnapshot(file: string): Promise<void> {
    this.chunks = [];
    await this.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    writeFileSync(file, this.chunks.join(''));
    this.chunks = null;
  }

  close(): void {
    this.session.close();
  }
}

/** The hub's memory after a full collection: RSS from /proc, heap and external memory from /metrics. */
async function hubMemory(hub: HubTarget, inspector: HubInspector): Promise<{ rss: number; heapUsed: number; external: number; connectedGauge: number }> {
  await inspector.collectGarbage();
  await sleep(200);
  const m = await scrapeMetrics(hub.httpUrl);
  return {
    rss: readRssBytes(hub.pid),
    heapUsed: m.get('anxin_nodejs_heap_size_used_bytes') ?? NaN,
    external: m.get('anxin_nodejs_external_memory_bytes') ?? NaN,
    connectedGauge: m.get('anxin_mqtt_connected_clients') ?? NaN,
  };
}

// ---------------------------------------------------------------------------------------------
// The client processes

class Swarm {
  private readonly handlers = new Set<(m: FromSwarm) => void>();
  private failure: Error | null = null;
  private stderr = '';

  constructor(private readonly child: ChildProcess) {
    child.stderr!.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    child.on('message', (m: FromSwarm) => {
      if (m.ev === 'failed') this.failure ??= new Error(`client process: ${m.message}`);
      for (const h of this.handlers) h(m);
    });
    child.on('exit', (code, signal) => {
      this.failure ??= new Error(`client process exited (${code ?? signal}):\n${this.stderr}`);
      for (const h of this.handlers) h({ ev: 'failed', message: this.failure.message });
    });
  }

  static start(): Swarm {
    // 'advanced' IPC carries the Float64Arrays as they are.
    return new Swarm(fork(SCRIPT, [], { cwd: ROOT, execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'pipe', 'ipc'] }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  send(m: ToSwarm): void {
    if (this.failure) throw this.failure;
    this.child.send(m);
  }

  /** Sends `m` and waits for the event `ev` (or the process's failure). */
  ask<E extends FromSwarm['ev']>(m: ToSwarm, ev: E): Promise<Extract<FromSwarm, { ev: E }>> {
    return new Promise((resolve, reject) => {
      const h = (r: FromSwarm) => {
        if (r.ev !== ev && r.ev !== 'failed') return;
        this.handlers.delete(h);
        if (r.ev === 'failed') reject(this.failure ?? new Error(r.message));
        else resolve(r as Extract<FromSwarm, { ev: E }>);
      };
      this.handlers.add(h);
      try {
        this.send(m);
      } catch (err) {
        this.handlers.delete(h);
        reject(err as Error);
      }
    });
  }

  async kill(): Promise<void> {
    await killChild(this.child);
  }
}

function mergeConnected(parts: SwarmConnected[]): { connected: number; failures: Record<string, number>; connackUs: Float64Array } {
  const failures: Record<string, number> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p.failures)) failures[k] = (failures[k] ?? 0) + v;
  const connackUs = new Float64Array(parts.reduce((n, p) => n + p.connackUs.length, 0));
  let at = 0;
  for (const p of parts) {
    connackUs.set(p.connackUs, at);
    at += p.connackUs.length;
  }
  return { connected: parts.reduce((n, p) => n + p.connected, 0), failures, connackUs };
}

// ---------------------------------------------------------------------------------------------
// One level

interface LevelFigures {
  target: number;
  connected: number;
  failures: Record<string, number>;
  connectSeconds: number;
  connectPerSecond: number;
  connackP50Ms: number;
  connackP99Ms: number;
  hubRssBeforeMiB: number;
  hubRssConnectedMiB: number;
  hubRssAfterHeartbeatsMiB: number;
  bytesPerConnection: number;
  heapBytesPerConnection: number;
  externalBytesPerConnection: number;
  connectedGauge: number;
  idleCoreShare: number;
  heartbeatCoreShare: number;
  heartbeats: Omit<SwarmResult, 'ev' | 'latencyUs'> & { p50Ms: number; p99Ms: number; maxMs: number; perSecond: number };
  clientsRssMiB: number;
  machineOthersCoreShare: number;
}

async function runLevel(n: number, p: ConnectionParams, template: ProvisionedHub, secret: string, fileLimit: number, problems: string[]): Promise<LevelFigures> {
  const inspectPort = await freePort();
  const hub = await startHub([], p.sync, { from: template, env: { NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort}` } });
  const swarms: Swarm[] = [];
  let inspector: HubInspector | undefined;
  try {
    inspector = await HubInspector.open(inspectPort);
    await sleep(2000);
    const before = await hubMemory(hub, inspector);
    const results = (name: string) => fileURLToPath(new URL(`./results/connections-${n}-${name}`, import.meta.url));
    if (p.profile) await inspector.heapSnapshot(results('before.heapsnapshot'));
    const port = Number(new URL(hub.mqttUrl).port);
    const per = Math.ceil(n / Math.max(p.processes, Math.ceil(n / (fileLimit - FD_RESERVE))));
    for (let first = 0; first < n; first += per) swarms.push(Swarm.start());
    const t0 = performance.now();
    const parts = await Promise.all(swarms.map((s, k) => {
      const first = k * per;
      const msg: SwarmConnect = {
        cmd: 'connect', host: '127.0.0.1', port, first, count: Math.min(per, n - first), total: n, perAddress: PER_ADDRESS,
        password: secret, keepaliveSeconds: p.keepaliveSeconds, maxPending: Math.max(1, Math.floor(p.maxPending / swarms.length)),
        connectTimeoutMs: 30_000, topicPrefix: DEFAULT_TOPIC_PREFIX,
      };
      return s.ask(msg, 'connected');
    }));
    const connectSeconds = (performance.now() - t0) / 1000;
    const c = mergeConnected(parts);
    const connack = summarizeLatency(c.connackUs);
    // Connection records and their events are written by group commit: let them land.
    await sleep(3000);
    const connected = await hubMemory(hub, inspector);
    if (p.profile) {
      await inspector.heapSnapshot(results('connected.heapsnapshot'));
      await sleep(2000);
      await inspector.call('Profiler.enable');
      await inspector.call('Profiler.start');
    }

    const idle = cpuMeter(hub.pid);
    await sleep(p.idleSeconds * 1000);
    const idleCoreShare = idle.stop().coreShare;
    if (p.profile) writeFileSync(results('idle.cpuprofile'), JSON.stringify((await inspector.call('Profiler.stop') as { profile: object }).profile));

    const window = windowCpuMeter(hub.pid);
    const clientCpu = swarms.map((s) => cpuMeter(s.pid));
    for (const s of swarms) s.send({ cmd: 'go', heartbeatSeconds: p.heartbeatSeconds });
    await sleep(p.seconds * 1000);
    await Promise.all(swarms.map((s) => s.ask({ cmd: 'stop' }, 'stopped')));
    const cpu = window.stop(clientCpu.reduce((sum, m) => sum + m.stop().coreShare, 0));
    const finished = await Promise.all(swarms.map((s) => s.ask({ cmd: 'finish', drainMs: 10_000 }, 'result')));
    const after = await hubMemory(hub, inspector);
    const clientsRss = swarms.reduce((sum, s) => sum + readRssBytes(s.pid), 0);

    const sum = (k: 'published' | 'acked' | 'unacked' | 'skipped' | 'pings' | 'closedEarly') => finished.reduce((t, r) => t + r[k], 0);
    const latency = summarizeLatency(Float64Array.from(finished.flatMap((r) => [...r.latencyUs])));
    const died = hub.died();
    if (died !== null) problems.push(`${n}: the hub died (${died}):\n${hub.output().slice(-2000)}`);
    if (sum('unacked') > 0) problems.push(`${n}: ${sum('unacked')} heartbeats still unacknowledged 10 s after the window`);
    const perConn = (a: number, b: number) => (c.connected > 0 ? (b - a) / c.connected : NaN);
    return {
      target: n,
      connected: c.connected,
      failures: c.failures,
      connectSeconds,
      connectPerSecond: c.connected / connectSeconds,
      connackP50Ms: connack.p50Ms,
      connackP99Ms: connack.p99Ms,
      hubRssBeforeMiB: before.rss / MiB,
      hubRssConnectedMiB: connected.rss / MiB,
      hubRssAfterHeartbeatsMiB: after.rss / MiB,
      bytesPerConnection: perConn(before.rss, connected.rss),
      heapBytesPerConnection: perConn(before.heapUsed, connected.heapUsed),
      externalBytesPerConnection: perConn(before.external, connected.external),
      connectedGauge: connected.connectedGauge,
      idleCoreShare,
      heartbeatCoreShare: cpu.brokerCoreShare,
      heartbeats: {
        published: sum('published'), acked: sum('acked'), unacked: sum('unacked'), skipped: sum('skipped'), pings: sum('pings'), closedEarly: sum('closedEarly'),
        p50Ms: latency.p50Ms, p99Ms: latency.p99Ms, maxMs: latency.maxMs, perSecond: sum('acked') / p.seconds,
      },
      clientsRssMiB: clientsRss / MiB,
      machineOthersCoreShare: cpu.othersCoreShare,
    };
  } finally {
    inspector?.close();
    await Promise.all(swarms.map((s) => s.kill()));
    await hub.close();
  }
}

/** The real cost of first sign-ins: devices imported through the API, each with its own secret, connecting at once to a fresh hub. */
async function coldSignIn(template: ProvisionedHub, cold: LoadDevice[], p: ConnectionParams): Promise<{ devices: number; connected: number; seconds: number; perSecond: number; hubCoreShare: number }> {
  const hub = await startHub([], p.sync, { from: template });
  const swarm = Swarm.start();
  try {
    const cpu = cpuMeter(hub.pid);
    const r = await swarm.ask({
      cmd: 'connect', host: '127.0.0.1', port: Number(new URL(hub.mqttUrl).port), first: 0, count: cold.length, total: cold.length, perAddress: PER_ADDRESS,
      password: '', passwords: cold.map((d) => d.password!), ids: cold.map((d) => ({ id: d.id, homeId: d.homeId })),
      keepaliveSeconds: p.keepaliveSeconds, maxPending: cold.length, connectTimeoutMs: 60_000, topicPrefix: DEFAULT_TOPIC_PREFIX,
    }, 'connected');
    const used = cpu.stop();
    return { devices: cold.length, connected: r.connected, seconds: r.ms / 1000, perSecond: r.connected / (r.ms / 1000), hubCoreShare: used.coreShare };
  } finally {
    await swarm.kill();
    await hub.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The part

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const k = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));

async function run(p: ConnectionParams): Promise<BenchOutcome> {
  const { limit: fileLimit, refused } = raiseFileLimit();
  const problems: string[] = [];
  // The hub also holds its store, HTTP listener and inspector open: leave it some descriptors.
  const feasible = Math.floor((fileLimit - FD_RESERVE) / 1000) * 1000;
  const wanted = [...new Set([...LEVELS.filter((l) => l < p.max), p.max])];
  const skipped = wanted.filter((l) => l > feasible);
  const levels = skipped.length === 0 ? wanted : [...wanted.filter((l) => l <= feasible), feasible];
  const secret = randomBytes(24).toString('base64url');
  const { template, cold, bulkSeconds } = await provision(p.max, p.sync, secret);
  const figures: LevelFigures[] = [];
  let coldFigures;
  try {
    for (const n of levels) {
      console.log(`  ${k(n)} connections …`);
      figures.push(await runLevel(n, p, template, secret, fileLimit, problems));
    }
    coldFigures = await coldSignIn(template, cold, p);
  } finally {
    template.remove();
  }

  const rows = figures.map((f) => [
    k(f.target),
    `${f.connected}`,
    `${Object.values(f.failures).reduce((a, b) => a + b, 0)}`,
    f1(f.connectSeconds),
    f.connectPerSecond.toFixed(0),
    f1(f.connackP99Ms),
    `${f1(f.hubRssBeforeMiB)} → ${f1(f.hubRssConnectedMiB)}`,
    f2(f.bytesPerConnection / 1024),
    f2(f.heapBytesPerConnection / 1024),
    `${(f.idleCoreShare * 100).toFixed(1)} %`,
    `${f.heartbeats.acked}/${f.heartbeats.published}`,
    f2(f.heartbeats.p50Ms),
    f2(f.heartbeats.p99Ms),
    `${(f.heartbeatCoreShare * 100).toFixed(1)} %`,
  ]);
  const top = figures.find((f) => f.target === Math.max(...levels));
  const notes = [
    refused
      ? `Open-file limit NOT raised (${refused}): hard limit ${fileLimit} per process, so one hub holds at most ~${fileLimit - FD_RESERVE} connections here`
        + (skipped.length > 0 ? `; ${skipped.map(k).join(', ')} NOT RUN, ${k(feasible)} instead. Run as root with CAP_SYS_RESOURCE for them.` : '.')
      : `Open-file limit raised to ${fileLimit}.`,
    `${cpus().length} cores; the hub and the client processes (≥ ${p.processes}) share them; ${PER_ADDRESS} connections per 127.1.x.y source address.`,
    `Each level: a fresh hub (ANXIN_SYNC=${p.sync}, connection limiter opened wide) on a store of ${k(p.max)} devices, ${CONNECTION_HOME_KIT.length} to a home; ≤ ${p.maxPending} handshakes in flight; MQTT 3.1.1, clean session, keepalive ${p.keepaliveSeconds} s.`,
    `Provisioning: the bulk devices were written into the store directly (${bulkSeconds.toFixed(1)} s) and share one secret, hashed as the hub hashes a device secret; every sign-in runs the hub's authenticate path.`,
    `Cold sign-in with real hashes (${coldFigures.devices} devices imported through the API, connecting at once): ${coldFigures.connected} in ${coldFigures.seconds.toFixed(2)} s = ${coldFigures.perSecond.toFixed(0)}/s, hub ${(coldFigures.hubCoreShare * 100).toFixed(0)} % of a core; at that rate a cold reconnect of ${k(p.max)} devices takes ${((p.max / coldFigures.perSecond) / 60).toFixed(0)} min.`,
    `Memory per connection = (hub RSS connected − RSS before) / connected, after a full GC through the inspector; heap/conn the same for V8's used heap. Idle CPU: the hub over ${p.idleSeconds} s with every connection open and silent.`,
    `Heartbeats: QoS 1 "heartbeat" readings (stored like any reading), each device one per ${p.heartbeatSeconds} s, phases spread evenly, over a ${p.seconds} s window; latency = PUBLISH → PUBACK at the client.`,
    top ? `Target ≤ ${TARGET_BYTES_PER_CONNECTION / 1024} KiB per connection at 100k: ${k(top.target)} connections measured ${f2(top.bytesPerConnection / 1024)} KiB each`
      + (top.target < 100_000 ? ' (100k not measured in this run).' : top.bytesPerConnection <= TARGET_BYTES_PER_CONNECTION ? ' (met).' : ' (not met).') : '',
    ...figures.filter((f) => f.connected < f.target).map((f) => `${k(f.target)}: ${f.target - f.connected} connections failed: ${JSON.stringify(f.failures)}`),
  ].filter(Boolean);
  return {
    record: { part: 'connections', at: new Date().toISOString(), params: p, fileLimit, fileLimitRefused: refused, skippedLevels: skipped, bulkProvisionSeconds: bulkSeconds, levels: figures, coldSignIn: coldFigures },
    table: {
      columns: ['conns', 'connected', 'failed', 'connect s', 'conn/s', 'connack p99 ms', 'hub RSS MiB', 'KiB/conn', 'heap KiB/conn', 'idle CPU', 'hb acked/sent', 'hb p50 ms', 'hb p99 ms', 'hb CPU'],
      rows,
    },
    notes,
    problems,
  };
}

export const connectionsPart: BenchPart = {
  name: 'connections',
  describe: 'hold 10k/50k/100k device connections on one hub: memory per connection, connect rate, heartbeat latency',
  flags: { max: '100000', processes: '4', seconds: '20', 'idle-seconds': '5', 'heartbeat-seconds': '60', keepalive: '120', 'max-pending': '400', sync: 'full', profile: '0' },
  plan(flags: Flags) {
    const p: ConnectionParams = {
      max: flags.integer('max', 100_000, 100, 200_000),
      processes: flags.integer('processes', 4, 1, 16),
      seconds: flags.integer('seconds', 20, 5, 120),
      idleSeconds: flags.integer('idle-seconds', 5, 1, 60),
      heartbeatSeconds: flags.integer('heartbeat-seconds', 60, 5, 600),
      keepaliveSeconds: flags.integer('keepalive', 120, 10, 3600),
      maxPending: flags.integer('max-pending', 400, 1, 5000),
      sync: flags.choice('sync', ['full', 'normal'] as const, 'full'),
      profile: flags.integer('profile', 0, 0, 1) === 1,
    };
    return () => run(p);
  },
};
