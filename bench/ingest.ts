/**
 * Ingest benchmark: the same QoS 1 load against a bare aedes broker and then
 * against the hub, in one run, so "hub / bare" is the price of everything the
 * hub adds (auth, ACL, validation, and the group commit that makes a PUBACK
 * mean "durably stored"). Target from the issue: ≥ 0.7 × bare on 2 cores.
 *
 * The hub is killed with SIGKILL while publishes are still in flight, then its
 * SQLite file is counted: every PUBACK a device got must be a stored row.
 */
import { cpus } from 'node:os';
import { DEFAULT_TOPIC_PREFIX } from '../devices/topics.js';
import type { BenchOutcome, BenchPart, Flags } from './benchPart.js';
import { fleet, startBareBroker, startHub, type Figure, type IngestTarget } from './ingestTargets.js';
import { LoadGenerator, type LoadOptions, type LoadResult } from './loadGenerator.js';
import { readRssBytes, summarizeLatency, windowCpuMeter, type LatencySummary } from './procStats.js';

/** The bar: accepted-and-durably-stored readings/s at least this share of bare aedes. */
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
  load: Omit<LoadResult, 'latenciesUs'>;
  checks: Record<string, Figure>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
    url: target.mqttUrl, devices: target.devices, window: p.window, topicPrefix: DEFAULT_TOPIC_PREFIX, connectTimeoutMs: 30_000, ...extras,
  });
  try {
    load.go();
    await sleep(p.warmupSeconds * 1000);
    await target.windowOpened();
    const meter = windowCpuMeter(target.pid);
    load.measure();
    await sleep(p.seconds * 1000);
    const generator = await load.stop();
    const cpu = meter.stop(generator.coreShare);
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

function ingestParams(flags: Flags): IngestParams {
  return {
    devices: flags.integer('devices', 100, 1, 2000),
    perHome: flags.integer('per-home', 4, 1, 50),
    window: flags.integer('window', 8, 1, 256),
    warmupSeconds: flags.integer('warmup', 2, 0, 60),
    seconds: flags.integer('seconds', 10, 1, 300),
    sync: flags.choice('sync', ['full', 'normal'] as const, 'full'),
  };
}

async function runIngest(p: IngestParams): Promise<BenchOutcome> {
  const devices = fleet(p.devices, p.perHome);
  const homes = new Set(devices.map((d) => d.homeId)).size;
  const problems: string[] = [];

  // Baseline first, then the hub; each fully torn down before the next starts.
  const bare = await startBareBroker(devices);
  let baseline: TargetFigures;
  try {
    baseline = await measure('bare aedes', bare, p, problems);
  } finally {
    await bare.close();
  }
  const hubTarget = await startHub(devices, p.sync);
  let hub: TargetFigures;
  try {
    hub = await measure('hub', hubTarget, p, problems);
  } finally {
    await hubTarget.close();
  }

  const ratio = hub.readingsPerSecond / baseline.readingsPerSecond;
  const verdict = ratio >= TARGET_RATIO ? 'PASS' : 'BELOW';
  const cores = cpus().length;
  const notes = [
    `${p.devices} bp_cuff devices over ${homes} homes, ${p.window} QoS 1 publishes in flight per device, ` +
      `${p.warmupSeconds} s warm-up (not counted) + ${p.seconds} s measured; MQTT 3.1.1 over loopback TCP; hub ANXIN_SYNC=${p.sync}.`,
    `The load generator (a child process) and the baseline's subscriber (this process) share the ${cores} core(s) with the broker under test.`,
    `Hub killed with SIGKILL under load; stored rows ${String(hub.checks.storedRows)} for ${hub.load.totalAcks} PUBACKs: ` +
      (hub.checks.durable ? 'every acknowledged reading is stored.' : 'ACKNOWLEDGED READINGS LOST.'),
  ];
  for (const [name, f] of [['bare aedes', baseline], ['hub', hub]] as const) notes.push(...machineCaveats(name, f));
  const disturbed = baseline.othersCoreShare > DISTURBED || hub.othersCoreShare > DISTURBED;
  notes.push(`Target: hub ≥ ${TARGET_RATIO} × bare aedes; measured ${ratio.toFixed(2)} × → ${verdict}${disturbed ? ' (disturbed run: not conclusive)' : ''}.`);

  const row = (label: string, get: (f: TargetFigures) => string) => [label, get(baseline), get(hub)];
  const ms = (v: number) => v.toFixed(2);
  const table = {
    columns: ['', 'bare aedes', 'hub'],
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
      ['group commits/s × readings each', '', `${num(hub.checks.commitsPerSecond, 0)} × ${num(hub.checks.jobsPerCommit, 1)}`],
      ['commit mean (ms); writer thread busy', '', `${num(hub.checks.commitMeanMs, 2)}; ${pct(Number(hub.checks.commitShareOfWindow))}`],
      ['hub / bare throughput', '', `${ratio.toFixed(2)} × (${verdict}${disturbed ? '?' : ''})`],
    ],
  };
  const record = {
    part: 'ingest',
    at: new Date().toISOString(),
    machine: { cores, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, platform: process.platform },
    params: p,
    baseline,
    hub,
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
  flags: { devices: '100', 'per-home': '4', window: '8', warmup: '2', seconds: '10', sync: 'full' },
  plan(flags) {
    const p = ingestParams(flags);
    return () => runIngest(p);
  },
};
