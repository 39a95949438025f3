/**
 * Restart benchmark: how long the hub takes to come back on a store of a given
 * size, i.e. how long after a crash or an upgrade no fall alarm reaches anyone.
 *
 * Per size (`--rows`, journal rows): a store built as bench/connections.ts
 * builds its bulk devices, straight in SQLite (bench/bigStore.ts), on a copy of
 * a store the hub created, migrated and provisioned itself (an operator and
 * probe homes imported through the API). Then, under the benchmark lock, the
 * hub (`server/index.ts` in its own process, `npm start`'s flags) is spawned on
 * it twice: cold (the page cache dropped first) and warm (right after). From
 * the spawn, with the clients polling every 10 ms:
 *
 * 1. `/readyz` answers 200 (and the hub's RSS at that moment);
 * 2. a probe device (its own secret, imported) gets its first MQTT CONNACK;
 * 3. its first QoS 1 reading (a heartbeat) is acknowledged (PUBACK);
 * 4. its abnormal blood pressure, sent right after, reaches an operator's
 *    console as `alert.created` on `/api/v1/stream`: the console reconnects
 *    with the session it had before the restart and resumes from the last
 *    event it had, as the operator page does.
 *
 * Then SIGTERM, and how long the hub takes to stop. With `--profile 1` a third,
 * warm start runs with `--cpu-prof` and bench/restartSqlTrace.ts preloaded and
 * is stopped at ready: the hub's functions by inclusive time and its SQLite
 * calls of ≥ 5 ms before ready, with their call sites (file:line).
 *
 * Stores go to `--dir` (default the system temp dir), one at a time, and are
 * deleted after their size is measured. Only the measured starts hold
 * `--lock` (flock(1); skipped when a process that started this one holds it
 * already, e.g. `flock /tmp/bench.lock npm run bench -- restart`); building a
 * store does not.
 */
import Database from 'better-sqlite3';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { Topics } from '../devices/topics.js';
import { hashSecret } from '../server/auth/secrets.js';
import { freePort, httpJson, NODE_FLAGS, spawnHub } from '../test/helpers/process.js';
import type { BenchOutcome, BenchPart, Flags } from './benchPart.js';
import { fillBigStore, type BigStoreFigures } from './bigStore.js';
import type { SqlTraceLine } from './restartSqlTrace.js';
import { fleet, fleetDocument } from './ingestTargets.js';
import type { LoadDevice } from './loadGenerator.js';
import { readRssBytes } from './procStats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const SQL_TRACE = fileURLToPath(new URL('./restartSqlTrace.ts', import.meta.url));
const OPERATOR = 'bench-operator';
/** Probe homes (a cuff bound to its resident): one per measured start of a store, so each start's abnormal reading opens a new alert. */
const PROBES = 2;
const POLL_MS = 10;
const MiB = 1024 * 1024;
const TOPICS = new Topics();
/** The largest store the part builds (~215 bytes a row: ~10 GB). */
const MAX_ROWS = 45_000_000;

interface RestartParams {
  rows: number[];
  devices: number;
  openAlerts: number;
  resolvedPerMillion: number;
  profile: boolean;
  lock: string | null;
  dir: string;
  timeoutSeconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// The store

interface Template {
  dataDir: string;
  adminPassword: string;
  /** The operator's session, opened before the "crash": a console reconnects with it. */
  token: string;
  probes: LoadDevice[];
  remove(): void;
}

/** The hub's environment: `npm start`'s, logging warnings only. */
function hubEnv(dataDir: string, adminPassword: string): Record<string, string> {
  return { ANXIN_DATA_DIR: dataDir, ANXIN_ADMIN_PASSWORD: adminPassword, ANXIN_LOG_LEVEL: 'warn', ANXIN_SYNC: 'full' };
}

/**
 * A store created, migrated and provisioned by the hub itself: the probe homes
 * and the operator imported through the API, the operator signed in. Stopped
 * with SIGTERM, so the file is consistent to copy.
 */
async function provisionTemplate(dir: string): Promise<Template> {
  const dataDir = mkdtempSync(join(dir, 'anxin-restart-template-'));
  const remove = () => rmSync(dataDir, { recursive: true, force: true });
  const adminPassword = randomBytes(18).toString('base64url');
  let hub;
  try {
    hub = await spawnHub(hubEnv(dataDir, adminPassword));
  } catch (err) {
    remove();
    throw err;
  }
  try {
    const devices = fleet(PROBES, 1);
    const admin = await httpJson(`${hub.httpUrl}/api/v1/auth/login`, { body: { username: 'admin', password: adminPassword } });
    if (admin.status !== 200) throw new Error(`admin sign-in failed: ${admin.status} ${JSON.stringify(admin.body)}`);
    const doc = fleetDocument(devices, { users: [{ username: OPERATOR, role: 'operator', name: 'restart bench operator' }] });
    const imported = await httpJson(`${hub.httpUrl}/api/v1/import`, { token: admin.body.token, body: doc });
    if (imported.status !== 200) throw new Error(`import failed: ${imported.status} ${JSON.stringify(imported.body)}`);
    type Issued = Array<{ username: string; password: string }>;
    const secrets = new Map((imported.body.credentials as Issued).map((c) => [c.username, c.password]));
    const password = (imported.body.users as Issued).find((u) => u.username === OPERATOR)?.password;
    const op = await httpJson(`${hub.httpUrl}/api/v1/auth/login`, { body: { username: OPERATOR, password } });
    if (op.status !== 200) throw new Error(`operator sign-in failed: ${op.status} ${JSON.stringify(op.body)}`);
    hub.child.kill('SIGTERM');
    const code = await hub.exited;
    if (code !== 0) throw new Error(`the provisioning hub exited with ${code} on SIGTERM:\n${hub.output().slice(-4000)}`);
    return { dataDir, adminPassword, token: op.body.token as string, probes: devices.map((d) => ({ ...d, password: secrets.get(d.id)! })), remove };
  } catch (err) {
    if (hub.child.exitCode === null && hub.child.signalCode === null) hub.child.kill('SIGKILL');
    await hub.exited;
    remove();
    throw err;
  }
}

/** Bytes of the store's files (the database, and a WAL if one is left). */
function storeBytes(dataDir: string): number {
  return readdirSync(dataDir).filter((f) => f.startsWith('anxin.sqlite')).reduce((n, f) => n + statSync(join(dataDir, f)).size, 0);
}

/** The last stream seq the store holds: where a console that was live before the restart resumes. */
function lastStreamSeq(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const max = (sql: string) => (db.prepare(sql).pluck().get() as number | null) ?? 0;
    return Math.max(max('SELECT max(seq) FROM events'), max('SELECT max(stream_seq) FROM readings WHERE stream_seq IS NOT NULL'));
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The machine: the benchmark lock, the page cache

/** Pids from this process up to init. */
function ancestors(): Set<number> {
  const pids = new Set<number>();
  let pid = process.pid;
  while (pid > 1 && !pids.has(pid)) {
    pids.add(pid);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  return pids;
}

/** Whether a process that started this one holds an flock on `path` (/proc/locks: `… FLOCK ADVISORY WRITE <pid> <maj>:<min>:<inode> …`). */
function heldByAncestor(path: string): boolean {
  if (!existsSync(path)) return false;
  const inode = statSync(path).ino;
  const mine = ancestors();
  return readFileSync('/proc/locks', 'utf8').split('\n').some((line) => {
    const f = line.trim().split(/\s+/);
    return f[1] === 'FLOCK' && mine.has(Number(f[4])) && Number(f[5]?.split(':')[2]) === inode;
  });
}

/** Takes the benchmark lock with flock(1) (a child holds it until `release`); waits for whoever has it. */
async function takeLock(path: string | null): Promise<{ release(): void; how: string }> {
  if (path === null) return { release: () => {}, how: 'no lock (--lock none)' };
  if (heldByAncestor(path)) return { release: () => {}, how: `${path} held by the command that started this run` };
  const holder = spawn('flock', [path, 'sh', '-c', 'echo locked; read _'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('locked')) resolve(); });
    holder.once('exit', (code) => reject(new Error(`flock ${path} exited with ${code}`)));
    holder.once('error', reject);
  });
  const waited = (performance.now() - t0) / 1000;
  return {
    release: () => holder.stdin!.end(),
    how: `${path} via flock(1)${waited > 1 ? ` (waited ${waited.toFixed(0)} s for it)` : ''}`,
  };
}

/**
 * Empties the page cache before a cold start: all of it (drop_caches) if this
 * process may, else the store's files only (posix_fadvise DONTNEED through dd).
 * Says which.
 */
function dropCaches(dataDir: string): string {
  execFileSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return 'echo 3 > /proc/sys/vm/drop_caches';
  } catch (err) {
    for (const f of readdirSync(dataDir).filter((n) => n.startsWith('anxin.sqlite'))) {
      execFileSync('dd', [`if=${join(dataDir, f)}`, 'iflag=nocache', 'count=0', 'status=none']);
    }
    return `drop_caches refused (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); the store's files evicted with posix_fadvise(DONTNEED) (dd iflag=nocache), the rest of the cache (node, node_modules) left warm`;
  }
}

/** Bytes of `file` in the page cache (fincore), or NaN when it cannot tell. */
function cachedBytes(file: string): number {
  try {
    return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file], { encoding: 'utf8' }).trim());
  } catch {
    return NaN;
  }
}

function peakRssBytes(pid: number): number {
  const kib = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return kib === undefined ? NaN : Number(kib) * 1024;
}

// ---------------------------------------------------------------------------------------------
// One start

interface StartFigures {
  run: 'cold' | 'warm' | 'diagnostic';
  /** From the spawn, ms. */
  readyMs: number;
  connackMs: number;
  pubackMs: number;
  /** The operator's console resumed (signed-in session, replay done). */
  streamMs: number;
  alertMs: number;
  /** Abnormal reading published → `alert.created` on the console. */
  publishToAlertMs: number;
  rssReadyBytes: number;
  peakRssReadyBytes: number;
  /** How much of the store file was in the page cache when the hub was ready (cold: what start-up read). */
  storeCachedAtReadyBytes: number;
  storeCachedBeforeBytes: number;
  /** SIGTERM → exit. */
  stopMs: number;
}

interface StartOptions {
  run: StartFigures['run'];
  probe: LoadDevice | null;
  /** The last stream seq in the store, read before the cache was dropped: where the console resumes. */
  resumeSeq: number;
  extraArgs?: string[];
  extraEnv?: Record<string, string>;
  timeoutMs: number;
}

/**
 * Spawns the hub on `dataDir` (as spawnHub does, with finer polling and no 30 s
 * cap) and times, from the spawn, ready / CONNACK / PUBACK / alert.created.
 * Without a probe: only ready, then SIGTERM (the diagnostic start).
 */
async function timedStart(dataDir: string, tpl: Template, o: StartOptions): Promise<StartFigures> {
  const [http, mqttPort] = [await freePort(), await freePort()];
  const httpUrl = `http://127.0.0.1:${http}`;
  const mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
  const file = join(dataDir, 'anxin.sqlite');
  const storeCachedBeforeBytes = cachedBytes(file);
  const runId = randomBytes(4).toString('hex');
  const abnormalId = `bp-${runId}`;

  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, [...NODE_FLAGS, '--import', 'tsx', ...(o.extraArgs ?? []), 'server/index.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...hubEnv(dataDir, tpl.adminPassword), ANXIN_HTTP_PORT: String(http), ANXIN_MQTT_PORT: String(mqttPort), ANXIN_HOST: '127.0.0.1', ...o.extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const since = () => performance.now() - t0;
  let out = '';
  child.stdout!.on('data', (d) => (out = (out + d).slice(-20_000)));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-20_000)));
  let died: string | null = null;
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => {
    died = String(code ?? signal);
    resolve(code ?? signal ?? -1);
  }));
  const deadline = t0 + o.timeoutMs;
  /** Set once the start is measured or has failed: every poll loop ends. */
  let over = false;
  /** Throws once the hub has died, the start has taken too long or is over. */
  const check = (what: string) => {
    if (over) throw new Error('the start is over');
    if (died !== null) throw new Error(`the hub exited (${died}) before ${what}:\n${out.slice(-4000)}`);
    if (performance.now() > deadline) throw new Error(`no ${what} within ${o.timeoutMs / 1000} s of the spawn:\n${out.slice(-4000)}`);
  };

  const ready = (async () => {
    for (;;) {
      check('/readyz answered ready');
      try {
        const res = await fetch(`${httpUrl}/readyz`, { signal: AbortSignal.timeout(10_000) });
        if (res.status === 200) {
          const ms = since();
          const figures = { ms, rss: readRssBytes(child.pid!), peak: peakRssBytes(child.pid!), cached: cachedBytes(file) };
          await res.arrayBuffer();
          return figures;
        }
        await res.arrayBuffer();
      } catch {
        // not listening yet
      }
      await sleep(POLL_MS);
    }
  })();

  let streamSocket: WebSocket | null = null;
  let device: mqtt.MqttClient | null = null;
  const cleanup = () => {
    streamSocket?.terminate();
    device?.end(true);
  };
  try {
    if (!o.probe) {
      const r = await ready;
      return await stop({ readyMs: r.ms, rss: r.rss, peak: r.peak, cached: r.cached });
    }
    const probe = o.probe;
    const topic = TOPICS.telemetry(probe.homeId, probe.id);

    // The operator's console: reconnects with its session and resumes from the last event it had.
    let alertAt = NaN;
    const streamOnce = () => new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/api/v1/stream`, { headers: { authorization: `Bearer ${tpl.token}` } });
      // A hub that takes the connection but never resumes it: try again.
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error('no hello/resumed within 30 s'));
      }, 30_000);
      ws.on('message', (raw: Buffer) => {
        const msg = JSON.parse(raw.toString()) as { type?: string; seq?: number; data?: { lastReading?: { id?: string } | null } };
        if (msg.type === 'hello') ws.send(JSON.stringify({ resume: o.resumeSeq }));
        else if (msg.type === 'resumed') {
          clearTimeout(timer);
          resolve(ws);
        }
        else if (msg.type === 'alert.created' && msg.data?.lastReading?.id === abnormalId && Number.isNaN(alertAt)) alertAt = since();
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      ws.once('close', (code) => {
        clearTimeout(timer);
        reject(new Error(`stream closed (${code})`));
      });
    });
    const stream = (async () => {
      for (;;) {
        check("the operator's stream");
        try {
          streamSocket = await streamOnce();
          return since();
        } catch {
          await sleep(POLL_MS);
        }
      }
    })();

    // The probe device: connects as soon as the hub listens, then a heartbeat, then an abnormal blood pressure.
    const connectOnce = () => new Promise<mqtt.MqttClient>((resolve, reject) => {
      const c = mqtt.connect(mqttUrl, { clientId: probe.id, username: probe.id, password: probe.password, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 60_000, clean: true });
      c.once('connect', () => resolve(c));
      c.once('error', (err) => {
        c.end(true);
        reject(err);
      });
      c.once('close', () => reject(new Error('closed before CONNACK')));
    });
    const probeRun = (async () => {
      let lastError = '';
      for (;;) {
        check(`the probe's CONNACK (last attempt: ${lastError})`);
        try {
          device = await connectOnce();
          break;
        } catch (err) {
          lastError = (err as Error).message;
          await sleep(POLL_MS);
        }
      }
      const connackMs = since();
      await device.publishAsync(topic, JSON.stringify({ type: 'heartbeat', id: `hb-${runId}`, ts: Date.now(), battery: 81, rssi: -58 }), { qos: 1 });
      const pubackMs = since();
      const sentMs = since();
      await device.publishAsync(topic, JSON.stringify({ type: 'blood_pressure', id: abnormalId, ts: Date.now(), systolic: 192, diastolic: 114, pulse: 96, unit: 'mmHg' }), { qos: 1 });
      return { connackMs, pubackMs, sentMs };
    })();

    const [r, p, streamMs] = await Promise.all([ready, probeRun, stream]);
    while (Number.isNaN(alertAt)) {
      check('alert.created on the stream');
      await sleep(POLL_MS);
    }
    return await stop({
      readyMs: r.ms, rss: r.rss, peak: r.peak, cached: r.cached,
      connackMs: p.connackMs, pubackMs: p.pubackMs, streamMs, alertMs: alertAt, publishToAlertMs: alertAt - p.sentMs,
    });
  } catch (err) {
    over = true;
    cleanup();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    throw err;
  }

  async function stop(f: { readyMs: number; rss: number; peak: number; cached: number; connackMs?: number; pubackMs?: number; streamMs?: number; alertMs?: number; publishToAlertMs?: number }): Promise<StartFigures> {
    over = true;
    cleanup();
    const s0 = performance.now();
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const code = await exited;
    clearTimeout(killer);
    if (code !== 0) throw new Error(`the hub exited with ${code} on SIGTERM:\n${out.slice(-4000)}`);
    return {
      run: o.run, readyMs: f.readyMs, connackMs: f.connackMs ?? NaN, pubackMs: f.pubackMs ?? NaN, streamMs: f.streamMs ?? NaN, alertMs: f.alertMs ?? NaN,
      publishToAlertMs: f.publishToAlertMs ?? NaN, rssReadyBytes: f.rss, peakRssReadyBytes: f.peak, storeCachedAtReadyBytes: f.cached,
      storeCachedBeforeBytes, stopMs: performance.now() - s0,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// The diagnostic start: CPU profile and slow SQLite calls

interface ProfileEntry {
  fn: string;
  /** File (relative to the repository) and line in tsx's output, which may differ from the source's. */
  where: string;
  inclusiveMs: number;
  selfMs: number;
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
}

/** The main thread's profile: functions of the hub (server/) by inclusive time, recursion counted once. */
export function summarizeProfile(profile: CpuProfile, top = 15): { server: ProfileEntry[]; self: ProfileEntry[]; totalMs: number } {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const keyOf = (n: CpuProfile['nodes'][number]) => {
    const where = n.callFrame.url ? `${n.callFrame.url.replace(/^file:\/\//, '').replace(ROOT, '')}:${n.callFrame.lineNumber + 1}` : '(native)';
    return `${n.callFrame.functionName || '(anonymous)'}\t${where}`;
  };
  const inclusive = new Map<string, number>();
  const selfByKey = new Map<string, number>();
  const children = new Set(profile.nodes.flatMap((n) => n.children ?? []));
  const walk = (id: number, onPath: Set<string>): number => {
    const n = byId.get(id)!;
    const key = keyOf(n);
    const mine = self.get(id) ?? 0;
    selfByKey.set(key, (selfByKey.get(key) ?? 0) + mine);
    const added = !onPath.has(key);
    if (added) onPath.add(key);
    let total = mine;
    for (const c of n.children ?? []) total += walk(c, onPath);
    if (added) {
      onPath.delete(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + total);
    }
    return total;
  };
  let totalMs = 0;
  for (const n of profile.nodes) if (!children.has(n.id)) totalMs += walk(n.id, new Set());
  const entry = (key: string): ProfileEntry => {
    const [fn, where] = key.split('\t') as [string, string];
    return { fn, where, inclusiveMs: inclusive.get(key) ?? 0, selfMs: selfByKey.get(key) ?? 0 };
  };
  const keys = [...new Set([...inclusive.keys(), ...selfByKey.keys()])];
  return {
    server: keys.filter((k) => k.includes('\tserver/')).map(entry).sort((a, b) => b.inclusiveMs - a.inclusiveMs).slice(0, top),
    self: keys.map(entry).sort((a, b) => b.selfMs - a.selfMs).slice(0, top),
    totalMs,
  };
}

interface Diagnosis {
  readyMs: number;
  profileFile: string;
  profile: ReturnType<typeof summarizeProfile>;
  sqlFile: string;
  /** SQLite calls of ≥ 5 ms before ready, slowest first. */
  slowSql: SqlTraceLine[];
}

/** A warm start with `--cpu-prof` and the SQL trace, stopped at ready. */
async function diagnose(dataDir: string, tpl: Template, rows: number, timeoutMs: number, resumeSeq: number): Promise<Diagnosis> {
  const profDir = mkdtempSync(join(tmpdir(), 'anxin-restart-prof-'));
  const sqlFile = join(profDir, 'sql.jsonl');
  try {
    const f = await timedStart(dataDir, tpl, {
      run: 'diagnostic', probe: null, timeoutMs, resumeSeq,
      extraArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--import', SQL_TRACE],
      extraEnv: { ANXIN_BENCH_SQL_TRACE: sqlFile, ANXIN_BENCH_SQL_TRACE_MS: '5' },
    });
    // One profile per thread; the main thread's is the one with the hub's start-up.
    const profiles = readdirSync(profDir).filter((n) => n.endsWith('.cpuprofile'));
    const main = profiles.find((n) => /\.0\.\d+\.cpuprofile$/.test(n)) ?? profiles[0];
    if (!main) throw new Error('the hub wrote no CPU profile');
    const profileFile = join(RESULTS_DIR, `restart-${rows}.cpuprofile`);
    mkdirSync(RESULTS_DIR, { recursive: true });
    copyFileSync(join(profDir, main), profileFile);
    const profile = summarizeProfile(JSON.parse(readFileSync(profileFile, 'utf8')) as CpuProfile);
    const lines = existsSync(sqlFile) ? readFileSync(sqlFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as SqlTraceLine) : [];
    const kept = join(RESULTS_DIR, `restart-${rows}-sql.jsonl`);
    writeFileSync(kept, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    // Before ready: the trace's clock starts with the process, a few ms after the spawn.
    const slowSql = lines.filter((l) => l.at <= f.readyMs).sort((a, b) => b.ms - a.ms);
    return { readyMs: f.readyMs, profileFile: profileFile.replace(ROOT, ''), profile, sqlFile: kept.replace(ROOT, ''), slowSql };
  } finally {
    rmSync(profDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The part

interface SizeResult {
  rows: number;
  fileBytes: number;
  store: BigStoreFigures;
  starts: StartFigures[];
  cacheMethod: string;
  lock: string;
  diagnosis?: Diagnosis;
}

const k = (n: number) => (n >= 1e6 ? `${+(n / 1e6).toFixed(1)}M` : n >= 1000 ? `${+(n / 1000).toFixed(1)}k` : String(n));
const s2 = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '—');
const gib = (b: number) => (b >= 1024 * MiB ? `${(b / 1024 / MiB).toFixed(2)} GiB` : `${(b / MiB).toFixed(0)} MiB`);

async function measureSize(rows: number, p: RestartParams, tpl: Template, secretHash: string, problems: string[]): Promise<SizeResult> {
  const dataDir = mkdtempSync(join(p.dir, 'anxin-restart-'));
  try {
    cpSync(tpl.dataDir, dataDir, { recursive: true });
    console.log(`  ${k(rows)} rows: building the store in ${dataDir} …`);
    let lastLog = performance.now();
    const store = fillBigStore(join(dataDir, 'anxin.sqlite'), {
      rows, devices: p.devices, openAlerts: p.openAlerts, resolvedPerMillion: p.resolvedPerMillion, secretHash, operator: OPERATOR, now: Date.now(), seed: `restart-${rows}`,
    }, (n) => {
      if (performance.now() - lastLog < 30_000) return;
      lastLog = performance.now();
      console.log(`    ${k(n)} rows …`);
    });
    const fileBytes = storeBytes(dataDir);
    console.log(`  ${k(rows)} rows: ${gib(fileBytes)} in ${store.seconds.toFixed(0)} s (${(store.readings / store.seconds).toFixed(0)} rows/s); waiting for the lock …`);
    const lock = await takeLock(p.lock);
    try {
      const starts: StartFigures[] = [];
      const file = join(dataDir, 'anxin.sqlite');
      const timeoutMs = p.timeoutSeconds * 1000;
      const resumeSeq = lastStreamSeq(file);
      const cacheMethod = dropCaches(dataDir);
      starts.push(await timedStart(dataDir, tpl, { run: 'cold', probe: tpl.probes[0]!, timeoutMs, resumeSeq }));
      console.log(`    cold: ready ${s2(starts[0]!.readyMs)} s, alert.created ${s2(starts[0]!.alertMs)} s`);
      starts.push(await timedStart(dataDir, tpl, { run: 'warm', probe: tpl.probes[1]!, timeoutMs, resumeSeq: lastStreamSeq(file) }));
      console.log(`    warm: ready ${s2(starts[1]!.readyMs)} s, alert.created ${s2(starts[1]!.alertMs)} s`);
      const diagnosis = p.profile ? await diagnose(dataDir, tpl, rows, timeoutMs, lastStreamSeq(file)) : undefined;
      for (const f of starts) {
        if (!(f.alertMs > 0)) problems.push(`${k(rows)} ${f.run}: no alert.created for the abnormal reading`);
      }
      return { rows, fileBytes, store, starts, cacheMethod, lock: lock.how, ...(diagnosis && { diagnosis }) };
    } finally {
      lock.release();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function run(p: RestartParams): Promise<BenchOutcome> {
  mkdirSync(p.dir, { recursive: true });
  const problems: string[] = [];
  const tpl = await provisionTemplate(p.dir);
  const results: SizeResult[] = [];
  try {
    const secretHash = await hashSecret(randomBytes(24).toString('base64url'), 'device');
    for (const rows of p.rows) {
      try {
        results.push(await measureSize(rows, p, tpl, secretHash, problems));
      } catch (err) {
        // The next size may still tell something (a timeout at one size says it all the same).
        problems.push(`${k(rows)}: ${(err as Error).message}`);
      }
    }
  } finally {
    tpl.remove();
  }

  const rowsOut = results.flatMap((r) => r.starts.map((f) => [
    `${k(r.rows)} ${f.run}`,
    gib(r.fileBytes),
    s2(f.readyMs),
    s2(f.connackMs),
    s2(f.pubackMs),
    s2(f.alertMs),
    Number.isFinite(f.publishToAlertMs) ? f.publishToAlertMs.toFixed(0) : '—',
    (f.rssReadyBytes / MiB).toFixed(0),
    (f.peakRssReadyBytes / MiB).toFixed(0),
    f.run === 'cold' ? `${gib(f.storeCachedBeforeBytes)} → ${gib(f.storeCachedAtReadyBytes)}` : gib(f.storeCachedAtReadyBytes),
    s2(f.stopMs),
  ]));
  const notes: string[] = [];
  const first = results[0];
  if (first) {
    const s = first.store;
    notes.push(
      `Store: ${k(s.homes)} homes (one resident, a gateway, ${s.devices / s.homes} devices each: cuff, glucose meter, fall sensor, SOS button, motion sensor), ${k(s.devices)} devices; `
      + `${k(s.readingsPerDay)} readings/day at the kit's rates (heartbeats every 300 s, cuff and meter every 12 h; 2 BP + 2 glucose a day, motion every 30 min); `
      + `${p.openAlerts} unresolved alerts, ${p.resolvedPerMillion} resolved per million readings, events of the last 48 h. Written straight into a store the hub created and migrated (bench/bigStore.ts).`,
      `Timings from the spawn of server/index.ts (${NODE_FLAGS.join(' ')} --import tsx, ANXIN_SYNC=full), clients polling every ${POLL_MS} ms: ready = /readyz 200; CONNACK / PUBACK = a probe device (own imported secret) connecting and sending a QoS 1 heartbeat; `
      + 'alert = its abnormal BP (192/114) as alert.created on an operator console reconnecting with its pre-restart session and resuming from its last event; publish→alert from that publish.',
      `Cold: ${first.cacheMethod}. Warm: the start right after. "store cached" = the store file's bytes in the page cache (fincore) before the start → when ready. Lock: ${first.lock}.`,
    );
  }
  for (const r of results) {
    notes.push(`${k(r.rows)}: ${r.store.readings} readings over ${r.store.periodHours.toFixed(1)} h (${Object.entries(r.store.readingsByType).map(([t, n]) => `${t} ${n}`).join(', ')}), built in ${r.store.seconds.toFixed(0)} s; file ${gib(r.fileBytes)} (${(r.fileBytes / Math.max(1, r.store.readings)).toFixed(0)} B/row).`);
    const d = r.diagnosis;
    if (!d) continue;
    notes.push(`${k(r.rows)} diagnostic start (warm, --cpu-prof, SQL trace): ready ${s2(d.readyMs)} s; profile ${d.profileFile}, SQL calls ≥ 5 ms ${d.sqlFile}.`);
    for (const l of d.slowSql.slice(0, 8)) notes.push(`    ${l.ms.toFixed(0).padStart(7)} ms  ${l.sites[0] ?? '?'}  ${l.sql.slice(0, 140)}`);
    // (In the profile, time inside SQLite is the self time of the trace's wrapper, restartSqlTrace.ts.)
    for (const e of d.profile.server.slice(0, 8)) notes.push(`    ${e.inclusiveMs.toFixed(0).padStart(7)} ms incl.  ${e.fn} (${e.where.replace(/:\d+$/, '')})`);
  }
  return {
    record: { part: 'restart', at: new Date().toISOString(), params: p, sizes: results },
    table: {
      columns: ['rows / start', 'file', 'ready s', 'CONNACK s', 'PUBACK s', 'alert s', 'pub→alert ms', 'RSS ready MiB', 'peak RSS MiB', 'store cached', 'stop s'],
      rows: rowsOut,
    },
    notes,
    problems,
  };
}

export const restartPart: BenchPart = {
  name: 'restart',
  describe: 'hub start-up on stores of growing size: time to ready, first CONNACK, first PUBACK, first alert.created; RSS',
  flags: {
    rows: '1000000,10000000', devices: '50000', 'open-alerts': '500', 'resolved-per-million': '100', profile: '1',
    lock: '/tmp/bench.lock', dir: tmpdir(), timeout: '900',
  },
  plan(flags: Flags) {
    const rawRows = flags.raw('rows') ?? '1000000,10000000';
    const rows = rawRows.split(',').map((x) => Number(x.trim()));
    if (rows.some((n) => !Number.isInteger(n) || n < 0 || n > MAX_ROWS)) throw new Error(`--rows must be whole numbers from 0 to ${MAX_ROWS}, comma-separated, got "${rawRows}"`);
    const lock = flags.raw('lock') ?? '/tmp/bench.lock';
    const p: RestartParams = {
      rows,
      devices: flags.integer('devices', 50_000, 5, 500_000),
      openAlerts: flags.integer('open-alerts', 500, 0, 10_000),
      resolvedPerMillion: flags.integer('resolved-per-million', 100, 0, 100_000),
      profile: flags.integer('profile', 1, 0, 1) === 1,
      lock: lock === 'none' ? null : lock,
      dir: flags.raw('dir') ?? tmpdir(),
      timeoutSeconds: flags.integer('timeout', 900, 30, 7200),
    };
    return () => run(p);
  },
};
