/**
 * Ingest benchmark: the same QoS 1 load against a bare aedes broker and then
 * against the hub, in one run, so "hub / bare" is the price of everything the
 * hub adds (auth, ACL, validation, and the group commit that makes a PUBACK
 * mean "durably stored"). Target from the issue: ≥ 0.7 × bare on 2 cores.
 *
 * The hub is killed with SIGKILL while publishes are still in flight, then its
 * SQLite file is counted: every PUBACK a device got must be a stored row.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { DEFAULT_TOPIC_PREFIX } from '../devices/topics.js';
import type { BenchOutcome, BenchPart, Flags } from './benchPart.js';
import { fleet, startBareBroker, startHub, type Figure, type IngestTarget } from './ingestTargets.js';
import { LoadGenerator, type LoadOptions, type LoadResult } from './loadGenerator.js';
import { readRssBytes, summarizeLatency, windowCpuMeter, type LatencySummary } from './procStats.js';

/** The issue's bar: accepted-and-durably-stored readings/s at least this share of bare aedes. */
export const TARGET_RATIO = 0.7;

/** Cores taken by other processes above which a window's figures are not trusted. */
export const DISTURBED = 0.15;

export interface IngestParams {
  devices: number;
  perHome: number;
  window: number;
  warmupSeconds: number;
  seconds: number;
  sync: 'full' | 'normal';
  /** Paced total readings/s instead of saturating (absent or 0: saturating, `window` in flight per device). */
  rate?: number;
}

/** The part's own flags beyond a measurement's. */
interface IngestRunParams extends IngestParams {
  /** Rounds of bare aedes and hub, alternating which goes first (A B, B A, …); the ratio is of the means. */
  rounds: number;
  /** Every n-th reading of each device abnormal (each opens or updates an alert on the hub); 0: all normal. */
  abnormalEvery: number;
}

/** One target's figures over the measured window. */
export interface TargetFigures {
  readingsPerSecond: number;
  latency: LatencySummary;
  brokerCpuSeconds: number;
  /** CPU seconds per wall second: 1.0 is one whole core. */
  brokerCoreShare: number;
  brokerRssBytes: number;
  /** Share of the window the generator's event loop was busy. */
  generatorBusy: number;
  /** CPU of the generator process, in cores. */
  generatorCoreShare: number;
  /** CPU of this process (the baseline's subscriber; idle for the hub), in cores. */
  benchCoreShare: number;
  /** Share of all cores in use on the machine, and stolen by the hypervisor. */
  machineBusy: number;
  machineSteal: number;
  /** Cores spent in interrupts (loopback TCP, charged to no process). */
  interruptsCoreShare: number;
  /** Cores used by processes outside this benchmark (other work on a shared machine). */
  othersCoreShare: number;
  /** The broker's CPU per accepted reading by thread, µs (see threadCpuMeter). */
  threads: ThreadCpu;
  load: Omit<LoadResult, 'latenciesUs'>;
  checks: Record<string, Figure>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * CPU per accepted reading of the broker's threads, µs: the main thread (the
 * event loop: MQTT, ingest, rules, recording), its busiest other thread (the
 * hub's store writer thread) and all the others together (checkpointer, V8's
 * GC helpers, libuv). Unlike readings/s, these hardly move when other work on
 * a shared machine takes cores from the broker, so they compare code changes
 * on a busy machine; readings/s compares targets.
 */
export interface ThreadCpu {
  mainUs: number;
  busiestOtherUs: number;
  restUs: number;
}

/** CPU seconds of each thread of `pid` (utime + stime of /proc/<pid>/task/<tid>/stat); threads gone are missing. */
function threadCpuSeconds(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  const tick = 100; // USER_HZ on Linux
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces), from field 3 on: utime is 14, stime 15.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), (Number(f[11]) + Number(f[12])) / tick);
    } catch {
      // the thread ended between listing and reading
    }
  }
  return out;
}

/**
 * Meters `pid`'s threads from now; `stop()` ends the window and answers what
 * it used per reading, once the window's readings are counted (see ThreadCpu).
 */
export function threadCpuMeter(pid: number): { stop(): (readings: number) => ThreadCpu } {
  const before = threadCpuSeconds(pid);
  return {
    stop() {
      const used = [...threadCpuSeconds(pid)].map(([tid, s]): [number, number] => [tid, s - (before.get(tid) ?? 0)]);
      const main = used.find(([tid]) => tid === pid)?.[1] ?? 0;
      const others = used.filter(([tid]) => tid !== pid).map(([, s]) => s).sort((a, b) => b - a);
      const rest = others.slice(1).reduce((a, b) => a + b, 0);
      return (readings) => {
        const us = (s: number) => (readings > 0 ? (s * 1e6) / readings : NaN);
        return { mainUs: us(main), busiestOtherUs: us(others[0] ?? 0), restUs: us(rest) };
      };
    },
  };
}

/** What the load generator sends beyond the defaults (abnormal readings, …). */
export type LoadExtras = Pick<LoadOptions, 'abnormalEvery' | 'abnormalMix'>;

/** Runs the load against one target; a target that dies is named as the cause, whatever the generator saw. */
export async function measure(name: string, target: IngestTarget, p: IngestParams, problems: string[], extras: LoadExtras = {}): Promise<TargetFigures> {
  try {
    return await measureLoad(name, target, p, problems, extras);
  } catch (err) {
    // The generator can notice the dropped connections before we see the child's exit.
    if (target.died() === null) await sleep(500);
    const died = target.died();
    if (died === null) throw err;
    throw new Error(`${name} died during the run (${died}); ${(err as Error).message}\n${target.output().slice(-4000)}`, { cause: err });
  }
}

async function measureLoad(name: string, target: IngestTarget, p: IngestParams, problems: string[], extras: LoadExtras): Promise<TargetFigures> {
  const { load } = await LoadGenerator.start({
    url: target.mqttUrl, devices: target.devices, window: p.window, topicPrefix: DEFAULT_TOPIC_PREFIX, connectTimeoutMs: 30_000,
    ...(p.rate && { ratePerSecond: p.rate }), ...extras,
  });
  try {
    load.go();
    await sleep(p.warmupSeconds * 1000);
    await target.windowOpened();
    const meter = windowCpuMeter(target.pid);
    const threads = threadCpuMeter(target.pid);
    load.measure();
    await sleep(p.seconds * 1000);
    const generator = await load.stop();
    const cpu = meter.stop(generator.coreShare);
    const threadUse = threads.stop();
    if (target.died() !== null) throw new Error('the window closed on a dead broker');
    const rss = readRssBytes(target.pid);
    await target.windowClosed();
    const { latenciesUs, ...counts } = await load.finish(5000);
    const verified = await target.verify({ latenciesUs, ...counts });
    problems.push(...verified.problems.map((x) => `${name}: ${x}`));
    if (counts.closedEarly > 0) problems.push(`${name}: ${counts.closedEarly} client connection(s) dropped during the run`);
    return {
      readingsPerSecond: counts.windowAcks / counts.windowSeconds,
      latency: summarizeLatency(latenciesUs),
      ...cpu,
      threads: threadUse(counts.windowAcks),
      brokerRssBytes: rss,
      generatorBusy: generator.busy,
      generatorCoreShare: generator.coreShare,
      load: counts,
      checks: verified.figures,
    };
  } finally {
    await load.terminate();
  }
}

function ingestParams(flags: Flags): IngestRunParams {
  return {
    devices: flags.integer('devices', 100, 1, 2000),
    perHome: flags.integer('per-home', 4, 1, 50),
    window: flags.integer('window', 8, 1, 256),
    warmupSeconds: flags.integer('warmup', 2, 0, 60),
    seconds: flags.integer('seconds', 10, 1, 300),
    sync: flags.choice('sync', ['full', 'normal'] as const, 'full'),
    rounds: flags.integer('rounds', 1, 1, 6),
    rate: flags.integer('rate', 0, 0, 200_000),
    abnormalEvery: flags.integer('abnormal-every', 0, 0, 1_000_000),
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function runIngest(p: IngestRunParams): Promise<BenchOutcome> {
  const devices = fleet(p.devices, p.perHome);
  const homes = new Set(devices.map((d) => d.homeId)).size;
  const problems: string[] = [];

  // Each target fully torn down before the next starts; with more rounds, which goes first alternates
  // (bare aedes, hub, hub, bare aedes, …) so that a machine getting busier or quieter weighs on both alike.
  const runs: Array<{ name: string; figures: TargetFigures }> = [];
  const extras: LoadExtras = p.abnormalEvery > 0 ? { abnormalEvery: p.abnormalEvery } : {};
  const bareRun = async (round: number) => {
    const bare = await startBareBroker(devices);
    try {
      runs.push({ name: `bare aedes${p.rounds > 1 ? ` #${round}` : ''}`, figures: await measure('bare aedes', bare, p, problems, extras) });
    } finally {
      await bare.close();
    }
  };
  const hubRun = async (round: number) => {
    const hubTarget = await startHub(devices, p.sync);
    try {
      runs.push({ name: `hub${p.rounds > 1 ? ` #${round}` : ''}`, figures: await measure('hub', hubTarget, p, problems, extras) });
    } finally {
      await hubTarget.close();
    }
  };
  for (let round = 1; round <= p.rounds; round++) {
    for (const run of round % 2 === 1 ? [bareRun, hubRun] : [hubRun, bareRun]) await run(round);
  }
  const bares = runs.filter((r) => r.name.startsWith('bare')).map((r) => r.figures);
  const hubs = runs.filter((r) => r.name.startsWith('hub')).map((r) => r.figures);
  const baseline = bares[0]!;
  const hub = hubs[0]!;

  const ratio = mean(hubs.map((f) => f.readingsPerSecond)) / mean(bares.map((f) => f.readingsPerSecond));
  const verdict = ratio >= TARGET_RATIO ? 'PASS' : 'BELOW';
  const cores = cpus().length;
  const load = (p.rate ? `${p.rate} readings/s in total, paced` : `${p.window} QoS 1 publishes in flight per device`) +
    (p.abnormalEvery > 0 ? `, 1 reading in ${p.abnormalEvery} abnormal` : '');
  const notes = [
    `${p.devices} bp_cuff devices over ${homes} homes, ${load}, ` +
      `${p.warmupSeconds} s warm-up (not counted) + ${p.seconds} s measured; MQTT 3.1.1 over loopback TCP; hub ANXIN_SYNC=${p.sync}.`,
    `The load generator (a child process) and the baseline's subscriber (this process) share the ${cores} core(s) with the broker under test.`,
    ...hubs.map((h) => `Hub killed with SIGKILL under load; stored rows ${String(h.checks.storedRows)} for ${h.load.totalAcks} PUBACKs: ` +
      (h.checks.durable ? 'every acknowledged reading is stored.' : 'ACKNOWLEDGED READINGS LOST.')),
    'CPU per reading by thread: the main thread (event loop); the busiest other thread (the hub\'s store writer); all other threads ' +
      '(checkpointer, GC helpers, libuv). Read from /proc over the window; unlike readings/s, these hardly move when other work takes cores from the broker.',
  ];
  for (const { name, figures } of runs) notes.push(...machineCaveats(name, figures));
  const disturbed = runs.some((r) => r.figures.othersCoreShare > DISTURBED);
  const each = p.rounds > 1 ? ` (the means of ${p.rounds} rounds; each: ${hubs.map((h, i) => (h.readingsPerSecond / bares[i]!.readingsPerSecond).toFixed(2)).join(', ')} ×)` : '';
  notes.push(`Target: hub ≥ ${TARGET_RATIO} × bare aedes; measured ${ratio.toFixed(2)} ×${each} → ${verdict}${disturbed ? ' (disturbed run: not conclusive)' : ''}.`);

  const row = (label: string, get: (f: TargetFigures) => string) => [label, ...runs.map((r) => get(r.figures))];
  const hubRow = (label: string, get: (f: TargetFigures) => string) => [label, ...runs.map((r) => (r.name.startsWith('hub') ? get(r.figures) : ''))];
  const ms = (v: number) => v.toFixed(2);
  const us = (v: number) => v.toFixed(1);
  const table = {
    columns: ['', ...runs.map((r) => r.name)],
    rows: [
      row('accepted readings/s (PUBACKs)', (f) => f.readingsPerSecond.toFixed(0)),
      row('latency p50 (ms)', (f) => ms(f.latency.p50Ms)),
      row('latency p99 (ms)', (f) => ms(f.latency.p99Ms)),
      row('latency max (ms)', (f) => ms(f.latency.maxMs)),
      row('broker CPU (of one core)', (f) => pct(f.brokerCoreShare)),
      row('broker RSS (MiB)', (f) => (f.brokerRssBytes / 2 ** 20).toFixed(1)),
      row('generator CPU (of one core)', (f) => pct(f.generatorCoreShare)),
      row('generator event loop busy', (f) => pct(f.generatorBusy)),
      row('subscriber CPU (of one core)', (f) => pct(f.benchCoreShare)),
      row(`machine CPU (of all ${cores} cores); steal`, (f) => `${pct(f.machineBusy)}; ${pct(f.machineSteal)}`),
      row('interrupts; other processes (of one core)', (f) => `${pct(f.interruptsCoreShare)}; ${pct(f.othersCoreShare)}`),
      row(`connect ${p.devices} clients (ms)`, (f) => String(f.load.connectMs)),
      row('PUBACKs total / published', (f) => `${f.load.totalAcks} / ${f.load.published}`),
      row('delivered / stored', (f) => String(f.checks.subscriberReceived ?? f.checks.storedRows)),
      row('CPU µs per reading: main thread', (f) => us(f.threads.mainUs)),
      row('  busiest other thread (writer); the rest', (f) => `${us(f.threads.busiestOtherUs)}; ${us(f.threads.restUs)}`),
      hubRow('group commits/s × readings each', (f) => `${num(f.checks.commitsPerSecond, 0)} × ${num(f.checks.jobsPerCommit, 1)}`),
      hubRow('commit mean (ms); writer thread busy', (f) => `${num(f.checks.commitMeanMs, 2)}; ${pct(Number(f.checks.commitShareOfWindow))}`),
      ['hub / bare throughput', ...runs.map((_, i) => (i === 0 ? `${ratio.toFixed(2)} × (${verdict}${disturbed ? '?' : ''})` : ''))],
    ],
  };
  const record = {
    part: 'ingest',
    at: new Date().toISOString(),
    machine: { cores, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, platform: process.platform },
    params: p,
    baseline,
    hub,
    runs,
    ratio,
    target: TARGET_RATIO,
    verdict,
    disturbed,
    notes,
    problems,
  };
  return { record, table, notes, problems };
}

/** Machine-load caveats for one measured window: the generator set the pace, or other work took cores from the broker. */
export function machineCaveats(name: string, f: Pick<TargetFigures, 'generatorBusy' | 'brokerCoreShare' | 'othersCoreShare'>): string[] {
  const notes: string[] = [];
  // A saturated generator next to an idle broker means we measured the generator.
  if (f.generatorBusy > 0.9 && f.brokerCoreShare < 0.8) notes.push(`${name}: the generator was ${pct(f.generatorBusy)} busy while the broker used ${pct(f.brokerCoreShare)} of a core: the generator limited this figure.`);
  // Other work on a shared machine takes cores from the broker under test.
  if (f.othersCoreShare > DISTURBED) notes.push(`${name}: other processes used ${pct(f.othersCoreShare)} of a core during the window: this figure is disturbed; re-run on a quiet machine.`);
  return notes;
}

function num(v: Figure | undefined, digits: number): string {
  return typeof v === 'number' ? v.toFixed(digits) : '?';
}

export function pct(share: number): string {
  return `${(share * 100).toFixed(0)} %`;
}

export const ingestPart: BenchPart = {
  name: 'ingest',
  describe: 'QoS 1 readings/s and publish→PUBACK latency, bare aedes vs the hub (durable), with a crash-durability check',
  flags: { devices: '100', 'per-home': '4', window: '8', warmup: '2', seconds: '10', sync: 'full', rounds: '1', rate: '0', 'abnormal-every': '0' },
  plan(flags) {
    const p = ingestParams(flags);
    return () => runIngest(p);
  },
};
