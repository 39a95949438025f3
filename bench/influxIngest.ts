/**
 * InfluxDB benchmark: what the journal and its forwarder cost, against a real
 * `influxd` 1.x (test/helpers/influx.ts), all in one run on the same server:
 *
 * 1. direct: the same readings written straight to InfluxDB by the 1.x store,
 *    in batches, one after another — the server's ceiling for this client;
 * 2. hub store path: readings appended to the SQLite journal through the
 *    group commit (as the ingest does, in gateway-sized chunks) while the
 *    forwarder thread tails it into InfluxDB, as in the hub; the rate is
 *    readings confirmed by InfluxDB per second, from the first append until
 *    the forwarder has caught up. Target from the issue: ≥ 0.8 × direct;
 * 3. spool replay: a journal filled while InfluxDB was unreachable, forwarded
 *    from a cold start, as after an outage.
 *
 * Direct and store path run twice each, in the order A B B A, so that the
 * machine's drift over the run weighs on both alike. Every run writes to its
 * own database; each must end with every reading in InfluxDB exactly once, or
 * the run fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Reading } from '../devices/validateReading.js';
import { GroupCommit } from '../server/store/groupCommit.js';
import { Influx1ReadingStore } from '../server/store/influx1ReadingStore.js';
import { openDatabase, type Db } from '../server/store/sqliteDb.js';
import { SqliteReadingStore } from '../server/store/sqliteReadingStore.js';
import { ThreadedForwarder } from '../server/store/threadedForwarder.js';
import type { JournalReading } from '../server/store/types.js';
import { influxQuery, startInflux, type InfluxServer } from '../test/helpers/influx.js';
import type { BenchOutcome, BenchPart, Flags } from './benchPart.js';
import { cpuMeter, machineCpuMeter } from './procStats.js';


/** The issue's bar: readings/s through the journal and forwarder at least this share of direct writes. */
export const TARGET_RATIO = 0.8;
/** Cores taken by other processes above which a phase's figure is not trusted. */
const DISTURBED = 0.15;
/** Readings per append, as a gateway's backlog publish; several appends share a group commit. */
const CHUNK = 500;
const CHUNKS_PER_TURN = 4;
/** Turns appended but not yet committed, at most (as devices waiting for PUBACKs). */
const TURNS_IN_FLIGHT = 3;
/**
 * Readings each direct and store-path run writes first, untimed: the figures
 * are of a warm client (JIT-compiled serialisation, open connections), as in a
 * hub that has been running; each store-path run has a new forwarder thread.
 */
const WARMUP = 20_000;
/** Cuffs the readings come from, four to a home (as the ingest part's fleet). */
const DEVICES = 100;

interface Params {
  readings: number;
  batch: number;
  devices: number;
  sync: 'full' | 'normal';
}

interface Phase {
  readingsPerSecond: number;
  seconds: number;
  stored: number;
}

/** CPU over a phase, in cores: influxd, this process (the hub's thread), and everything else on the machine. */
interface CpuShares {
  influxd: number;
  hub: number;
  others: number;
}

/** Runs a phase while metering CPU: on a shared machine, other work takes cores from the two processes measured. */
async function metered<T extends Phase>(influx: InfluxServer, phase: () => Promise<T>): Promise<T & { cpu: CpuShares }> {
  const influxd = cpuMeter(influx.pid()!);
  const self = cpuMeter(process.pid);
  const machine = machineCpuMeter();
  const result = await phase();
  const [i, h, m] = [influxd.stop(), self.stop(), machine.stop()];
  const others = Math.max(0, (m.busy - m.interrupts) * cpus().length - i.coreShare - h.coreShare);
  return { ...result, cpu: { influxd: i.coreShare, hub: h.coreShare, others } };
}

const log = pino({ level: 'silent' });

/** `n` plausible blood pressures from `devices` cuffs, one a second per cuff over the last hours (inside the raw policy, no backfill). */
function readings(n: number, devices: number): Reading[] {
  const start = Date.now() - 3 * 3600_000;
  return Array.from({ length: n }, (_, i) => {
    const d = i % devices;
    const k = Math.floor(i / devices);
    const home = `bench-h-${String(Math.floor(d / 4)).padStart(4, '0')}`;
    return {
      homeId: home, deviceId: `bench-bp-${String(d).padStart(4, '0')}`, residentId: `${home}-r`, id: `b-${i}`, type: 'blood_pressure',
      ts: start + k * 1000 + d, receivedAt: start + k * 1000 + d + 40, values: { systolic: 110 + (i % 30), diastolic: 70 + (i % 15), pulse: 60 + (i % 25) },
    };
  });
}

function store(influx: InfluxServer, database: string): Influx1ReadingStore {
  return new Influx1ReadingStore({ version: 1, url: new URL(influx.url), database }, log);
}

/** Creates the database, its retention policies and continuous queries before a phase, as a hub that ran before has. */
async function prepared(influx: InfluxServer, database: string): Promise<void> {
  const s = store(influx, database);
  await s.prepare();
  await s.close();
}

/** The forwarder as the hub runs it: in its own thread, reporting to the event loop. */
function threaded(influx: InfluxServer, database: string, j: ReturnType<typeof journal>, p: Params): ThreadedForwarder {
  return new ThreadedForwarder({ db: j.db, writer: j.writer, influx: { influxUrl: influx.url, influxDb: database }, log, batchSize: p.batch });
}

async function countIn(influx: InfluxServer, database: string): Promise<number> {
  const [rows] = await influxQuery(influx.url, database, 'SELECT count(reading_id) FROM "anxin_raw"."blood_pressure"');
  return Number(rows?.[0]?.count ?? 0);
}

function journal(sync: Params['sync']): { dir: string; db: Db; writer: GroupCommit; store: SqliteReadingStore; close(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'anxin-bench-influx-'));
  const db = openDatabase(dir, sync);
  // As in the hub: the readings are written by the writer thread.
  const writer = new GroupCommit(db, { thread: true });
  return {
    dir, db, writer, store: new SqliteReadingStore(db, writer),
    async close() {
      await writer.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Appends like the ingest under load: a few gateway-sized chunks per event-loop turn, each turn one group commit. */
/**
 * Appends as the ingest does: `CHUNKS_PER_TURN` publishes per turn of the event
 * loop, the next turn's without waiting for the previous commit (the writer
 * thread keeps two group commits in flight), at most `TURNS_IN_FLIGHT` turns
 * unacknowledged (devices wait for their PUBACKs).
 */
async function append(store: SqliteReadingStore, all: Reading[]): Promise<void> {
  const inFlight: Array<Promise<void>> = [];
  for (let i = 0; i < all.length; i += CHUNK * CHUNKS_PER_TURN) {
    const turn: Array<Promise<void>> = [];
    for (let c = 0; c < CHUNKS_PER_TURN && i + c * CHUNK < all.length; c++) {
      const chunk = all.slice(i + c * CHUNK, i + (c + 1) * CHUNK);
      turn.push(new Promise((resolve, reject) => store.append(chunk, (err) => (err ? reject(err) : resolve()))));
    }
    inFlight.push(Promise.all(turn).then(() => undefined));
    if (inFlight.length >= TURNS_IN_FLIGHT) await inFlight.shift();
    else await new Promise((r) => setImmediate(r)); // the next turn of the event loop
  }
  await Promise.all(inFlight);
}

/** Readings as batches of journal readings, numbered from `seq`. */
function batched(readings: Reading[], size: number, seq: number): JournalReading[][] {
  const batches: JournalReading[][] = [];
  for (let i = 0; i < readings.length; i += size) batches.push(readings.slice(i, i + size).map((r, j) => ({ ...r, seq: seq + i + j, tiebreak: 0 })));
  return batches;
}

async function direct(influx: InfluxServer, p: Params, warm: Reading[], all: Reading[], database: string): Promise<Phase> {
  const sink = store(influx, database);
  await sink.prepare();
  for (const b of batched(warm, p.batch, 1)) await sink.write(b);
  const batches = batched(all, p.batch, warm.length + 1);
  const started = performance.now();
  for (const b of batches) await sink.write(b);
  const seconds = (performance.now() - started) / 1000;
  await sink.close();
  return { readingsPerSecond: all.length / seconds, seconds, stored: (await countIn(influx, database)) - warm.length };
}

type StorePhase = Phase & { appendPerSecond: number; maxLag: number; catchUpSeconds: number };

async function storePath(influx: InfluxServer, p: Params, warm: Reading[], all: Reading[], database: string): Promise<StorePhase> {
  const j = journal(p.sync);
  await prepared(influx, database);
  const forwarder = threaded(influx, database, j, p);
  j.store.onJournaled((n) => forwarder.notify(n)); // as the hub does (timeSeries.ts)
  let maxLag = 0;
  const sampler = setInterval(() => (maxLag = Math.max(maxLag, forwarder.lag())), 50);
  try {
    forwarder.start();
    await append(j.store, warm);
    if (!(await forwarder.drained(60_000))) throw new Error('the forwarder did not forward the warm-up readings in a minute');
    maxLag = 0;
    const started = performance.now();
    await append(j.store, all);
    const appended = performance.now();
    if (!(await forwarder.drained(600_000))) throw new Error('the forwarder did not catch up in 10 minutes');
    const done = performance.now();
    const seconds = (done - started) / 1000;
    return {
      readingsPerSecond: all.length / seconds, seconds, stored: (await countIn(influx, database)) - warm.length,
      appendPerSecond: all.length / ((appended - started) / 1000), maxLag, catchUpSeconds: (done - appended) / 1000,
    };
  } finally {
    clearInterval(sampler);
    await forwarder.stop();
    await j.close();
  }
}

async function replay(influx: InfluxServer, p: Params, all: Reading[]): Promise<Phase> {
  const j = journal(p.sync);
  try {
    await append(j.store, all); // the spool an outage left behind
    await prepared(influx, 'bench_replay');
    const forwarder = threaded(influx, 'bench_replay', j, p);
    forwarder.start();
    await forwarder.ready(); // the thread has loaded and is starting to forward
    const started = performance.now();
    const ok = await forwarder.drained(600_000);
    const seconds = (performance.now() - started) / 1000;
    await forwarder.stop();
    if (!ok) throw new Error('the replay did not finish in 10 minutes');
    return { readingsPerSecond: all.length / seconds, seconds, stored: await countIn(influx, 'bench_replay') };
  } finally {
    await j.close();
  }
}

/** Several runs of one phase as one figure: readings over total seconds; CPU averaged over time. */
function combined<T extends Phase & { cpu: CpuShares }>(runs: T[]): Phase & { cpu: CpuShares; rates: number[] } {
  const seconds = runs.reduce((n, r) => n + r.seconds, 0);
  const share = (k: keyof CpuShares) => runs.reduce((n, r) => n + r.cpu[k] * r.seconds, 0) / seconds;
  return {
    readingsPerSecond: runs.reduce((n, r) => n + r.readingsPerSecond * r.seconds, 0) / seconds, seconds,
    stored: Math.min(...runs.map((r) => r.stored)), rates: runs.map((r) => r.readingsPerSecond),
    cpu: { influxd: share('influxd'), hub: share('hub'), others: share('others') },
  };
}

async function runInfluxIngest(p: Params): Promise<BenchOutcome> {
  const [warm, all] = ((r) => [r.slice(0, WARMUP), r.slice(WARMUP)])(readings(WARMUP + p.readings, p.devices));
  const influx = await startInflux();
  try {
    // influxd's first seconds are slower (a first direct run measured ~15 % below later ones): one whole run, discarded.
    const warmup = await metered(influx, () => direct(influx, p, warm, all, 'bench_warmup'));
    // A B B A: the machine's drift over the run weighs on both sides alike.
    const d1 = await metered(influx, () => direct(influx, p, warm, all, 'bench_direct_1'));
    const s1 = await metered(influx, () => storePath(influx, p, warm, all, 'bench_store_1'));
    const s2 = await metered(influx, () => storePath(influx, p, warm, all, 'bench_store_2'));
    const d2 = await metered(influx, () => direct(influx, p, warm, all, 'bench_direct_2'));
    const r = await metered(influx, () => replay(influx, p, all));
    const d = combined([d1, d2]);
    const s = combined([s1, s2]);
    const runs = [['warm-up (direct, discarded)', warmup], ['direct (1)', d1], ['hub store path (1)', s1], ['hub store path (2)', s2], ['direct (2)', d2], ['spool replay', r]] as const;
    const problems = runs
      .filter(([, phase]) => phase.stored !== p.readings)
      .map(([name, phase]) => `${name}: ${phase.stored} readings in InfluxDB for ${p.readings} written`);
    const ratio = s.readingsPerSecond / d.readingsPerSecond;
    const pairs = [s1.readingsPerSecond / d1.readingsPerSecond, s2.readingsPerSecond / d2.readingsPerSecond];
    const verdict = ratio >= TARGET_RATIO ? 'PASS' : 'BELOW';
    const notes = [
      `${p.readings} blood-pressure readings from ${p.devices} cuffs; batches of ${p.batch}; influxd ${'1.x'} on loopback (WAL fsync on every write), SQLite journal ANXIN_SYNC=${p.sync}; ${cpus().length} core(s) shared by influxd and this process, which runs the hub's store code with ${process.execArgv.filter((a) => a.startsWith('--max-semi-space-size')).join(' ') || 'NOT the V8 flags `npm start` gives the hub (run it through `npm run bench`)'}.`,
      `Hub store path: appended ${CHUNK} at a time, ${CHUNKS_PER_TURN} per turn of the event loop, up to ${TURNS_IN_FLIGHT} turns awaiting their commit (the writer thread keeps two group commits in flight), while the forwarder thread (as in the hub) reads the journal and writes to InfluxDB; its rate counts until InfluxDB confirmed the last reading.`,
      `Order: direct, store path, store path, direct (each into its own database); each side's figure is its readings over its total seconds. Pairs (1) and (2) alone: ${pairs.map((x) => x.toFixed(2)).join(' and ')} ×.`,
    ];
    for (const [name, phase] of runs) {
      if (phase.cpu.others > DISTURBED) notes.push(`${name}: other processes used ${pct(phase.cpu.others)} of a core meanwhile: this figure is disturbed; re-run on a quiet machine.`);
    }
    const disturbed = runs.slice(1, 5).some(([, phase]) => phase.cpu.others > DISTURBED);
    notes.push(`Target: hub store path ≥ ${TARGET_RATIO} × direct writes; measured ${ratio.toFixed(2)} × → ${verdict}${disturbed ? ' (disturbed run: not conclusive)' : ''}.`);
    const rate = (x: Phase) => x.readingsPerSecond.toFixed(0);
    const table = {
      columns: ['', 'direct writes', 'hub store path', 'spool replay'],
      rows: [
        ['readings/s into InfluxDB', rate(d), rate(s), rate(r)],
        ['  each run', d.rates.map((x) => x.toFixed(0)).join(', '), s.rates.map((x) => x.toFixed(0)).join(', '), ''],
        ['seconds', d.seconds.toFixed(2), s.seconds.toFixed(2), r.seconds.toFixed(2)],
        ['in InfluxDB / written (fewest of the runs)', `${d.stored} / ${p.readings}`, `${s.stored} / ${p.readings}`, `${r.stored} / ${p.readings}`],
        ['journal appends/s', '', [s1, s2].map((x) => x.appendPerSecond.toFixed(0)).join(', '), ''],
        ['max forwarder lag (readings); catch-up after last append (s)', '', [s1, s2].map((x) => `${x.maxLag}; ${x.catchUpSeconds.toFixed(2)}`).join(', '), ''],
        ['CPU influxd; hub process; others (of one core)', ...[d, s, r].map((x) => `${pct(x.cpu.influxd)}; ${pct(x.cpu.hub)}; ${pct(x.cpu.others)}`)],
        ['÷ direct', '1.00', `${ratio.toFixed(2)} (${verdict})`, (r.readingsPerSecond / d.readingsPerSecond).toFixed(2)],
      ],
    };
    const record = {
      part: 'influx', at: new Date().toISOString(),
      machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
      params: p, direct: d, storePath: s, runs: { direct: [d1, d2], storePath: [s1, s2] }, replay: r, ratio, pairs, target: TARGET_RATIO, verdict, disturbed, notes, problems,
    };
    return { record, table, notes, problems };
  } finally {
    await influx.stop();
  }
}

function pct(share: number): string {
  return `${(share * 100).toFixed(0)} %`;
}

export const influxIngestPart: BenchPart = {
  name: 'influx',
  describe: 'InfluxDB 1.x as the store: journal + forwarder vs direct batched writes to the same influxd, and spool replay rate',
  flags: { readings: '200000', batch: '5000', sync: 'full' },
  plan(flags: Flags) {
    const p: Params = {
      readings: flags.integer('readings', 200_000, 1000, 5_000_000),
      batch: flags.integer('batch', 5000, 100, 50_000),
      devices: DEVICES,
      sync: flags.choice('sync', ['full', 'normal'] as const, 'full'),
    };
    return () => runInfluxIngest(p);
  },
};
