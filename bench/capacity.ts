/**
 * Capacity of one hub under a realistic mix (issue 7, item 1), with the
 * pass-through baselines measured in the same run under the same load.
 *
 * The fleet: K homes, each with `cuffs` blood-pressure cuffs (one resident
 * each) that measure, and `kit` devices that only send heartbeats (fall
 * sensor, SOS pendant, motion sensor), every device on its own MQTT
 * connection. Per target (bare aedes, mosquitto when installed, the hub):
 *
 * 1. connect every client; RSS before and after gives memory per client;
 * 2. paced: the cuffs send `rate` readings/s in total (1 in `100 / abnormal-pct`
 *    abnormal), the kit its heartbeats; on the hub `consoles` screens on
 *    `/api/v1/stream` (one operator by default; operators, supervisors and
 *    doctors with more, see consoles.ts) time publish → `alert.created` /
 *    `alert.updated`, each;
 * 3. saturating: the cuffs reconnect and send as fast as acknowledged
 *    (`window` in flight each), heartbeats going on: the throughput ratios.
 *
 * The hub is killed with SIGKILL at the end and its stored rows counted
 * against every PUBACK (readings and heartbeats). Nothing is random: values
 * and schedules follow from device index and sequence number, so two runs
 * send the same readings in the same order.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TOPIC_PREFIX } from '../devices/topics.js';
import { freePort } from '../test/helpers/process.js';
import { TARGET_ALERT_P99_MS } from './alerts.js';
import type { BenchOutcome, BenchPart, Flags } from './benchPart.js';
import type { FromSwarm, SwarmConnected, SwarmResult, ToSwarm } from './connectionClients.js';
import {
  addConsoleAccounts, ConsoleSet, consoleMix, FIRST_CONSOLE,
  type ConsolePlan, type ConsolesSummary, type ConsoleWindow,
} from './consoles.js';
import { DISTURBED, machineCaveats, pct, threadCpuMeter, type ThreadCpu } from './ingest.js';
import { CpuProfiler, InspectorSession, type HotSpots } from './inspector.js';
import {
  fleet, fleetDocument, provisionHub, scrapeMetrics, startBareBroker, startHub, storeFiguresBetween,
  type Figure, type HubTarget, type IngestTarget, type ProvisionedHub,
} from './ingestTargets.js';
import { LoadGenerator, type LoadDevice, type LoadResult, type PacingFigures } from './loadGenerator.js';
import { ensureMosquitto, startMosquitto } from './mosquittoBroker.js';
import { cpuMeter, killChild, readRssBytes, summarizeLatency, windowCpuMeter, type LatencySummary, type WindowCpu } from './procStats.js';

/** Issue 7: the hub's ingest at least this share of bare aedes pass-through (the alert bar is the alerts part's). */
export const TARGET_INGEST_RATIO = 1.0;
/** Heartbeat-only devices of a home, in this order (`--kit` takes the first n). */
export const KIT = ['fall_sensor', 'sos_button', 'motion_sensor'] as const;
/** The part's first (historical) console; more with `--consoles`. */
const OPERATOR = FIRST_CONSOLE;
/** Clients that sign in (and leave) before memory is read; the rest sign in for the first time when measured. */
const WARM_CLIENTS = 32;
const SWARM_SCRIPT = fileURLToPath(new URL('./connectionClients.ts', import.meta.url));
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MiB = 2 ** 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CapacityParams {
  homes: number;
  cuffs: number;
  kit: number;
  rate: number;
  abnormalPct: number;
  heartbeatSeconds: number;
  window: number;
  warmupSeconds: number;
  pacedSeconds: number;
  seconds: number;
  sync: 'full' | 'normal';
  mosquittoInstall: boolean;
  /**
   * What the hub's operator console asks for: `all`, every reading (as a
   * pass-through's subscriber gets every message: the default, comparable with
   * the baselines), or `selected`, one resident's (as the operator page does
   * with an alert selected; alerts still all).
   */
  console: 'all' | 'selected';
  /**
   * Screens on the hub's stream, each its own account and session: the first
   * as `console` says, the rest a monitoring center's mix (consoles.ts:
   * operators and supervisors each watching a resident, family doctors).
   */
  consoles: number;
  /** Share of the consoles (after the first) that are doctors' pages, %. */
  doctorPct: number;
  /**
   * Child processes the consoles' clients are shared out over (consoleClients.ts), so that a stamp waits
   * for the hub and not for this process to get round to that socket; 0 (the default): in this process.
   * On 2 cores 4 processes measured no lower alert p99 than 0 (they contend with the hub for the
   * cores; docs/scaling.md): for a machine with cores to spare.
   */
  consoleProcesses: number;
  /** A CPU profile of each hub run's paced and saturating windows (`--inspect`), into bench/results/. */
  profile: boolean;
  /** Rounds of bare aedes and hub, alternating (bare, hub, then hub, bare, …): the machine's drift weighs on both. */
  rounds: number;
}

// ---------------------------------------------------------------------------------------------
// Fleet

/** The cuffs (`fleet`'s ids, load generator) and the heartbeat-only kit (`<home>-<type>`, swarm). */
export function capacityFleet(p: Pick<CapacityParams, 'homes' | 'cuffs' | 'kit'>): { cuffs: LoadDevice[]; kit: Array<LoadDevice & { type: string }> } {
  const cuffs = fleet(p.homes * p.cuffs, p.cuffs);
  const homes = [...new Set(cuffs.map((d) => d.homeId))];
  const kit = homes.flatMap((homeId) => KIT.slice(0, p.kit).map((type) => ({ id: `${homeId}-${type.split('_')[0]}`, homeId, type })));
  return { cuffs, kit };
}

/**
 * `fleetDocument` (a resident per cuff, the operator) with each home's kit
 * added, unbound to a resident; with `consoles`, an account for each (and each
 * doctor's patients given that doctor) instead of the one operator.
 */
export function capacityDocument(cuffs: LoadDevice[], kit: Array<LoadDevice & { type: string }>, consoles?: ConsolePlan[]): object {
  const doc = fleetDocument(cuffs, { residentPerDevice: true, users: [{ username: OPERATOR, role: 'operator', name: 'benchmark operator' }] }) as { homes: Array<{ id: string; devices: object[] }> };
  for (const home of doc.homes) home.devices.push(...kit.filter((d) => d.homeId === home.id).map((d) => ({ id: d.id, type: d.type })));
  if (consoles) addConsoleAccounts(doc, consoles);
  return doc;
}

/** A cuff's resident (`fleetDocument` with `residentPerDevice`). */
const residentOf = (deviceId: string) => `${deviceId}-r`;

// ---------------------------------------------------------------------------------------------
// Heartbeat clients: one `connectionClients.ts` process (raw MQTT 3.1.1 sockets)

class HeartbeatSwarm {
  private waiting: { ev: FromSwarm['ev']; resolve: (m: FromSwarm) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: FromSwarm) => {
      if (m.ev === 'failed') return this.fail(new Error(`heartbeat clients: ${m.message}`));
      if (this.waiting?.ev === m.ev) this.waiting.resolve(m);
    });
    child.on('exit', (code, signal) => this.fail(new Error(`heartbeat clients exited (${code ?? signal})`)));
  }

  /** Connects every device (clientId = username = its id) and resolves once all have a CONNACK or failed. */
  static async connect(mqttUrl: string, devices: LoadDevice[]): Promise<{ swarm: HeartbeatSwarm; connected: SwarmConnected }> {
    const swarm = new HeartbeatSwarm(fork(SWARM_SCRIPT, [], { cwd: ROOT, execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const url = new URL(mqttUrl);
    try {
      const connected = await swarm.ask({
        cmd: 'connect', host: url.hostname, port: Number(url.port), first: 0, count: devices.length, total: devices.length, perAddress: 5000,
        password: '', passwords: devices.map((d) => d.password ?? ''), ids: devices.map((d) => ({ id: d.id, homeId: d.homeId })),
        keepaliveSeconds: 120, maxPending: 200, connectTimeoutMs: 60_000, topicPrefix: DEFAULT_TOPIC_PREFIX,
      }, 'connected');
      return { swarm, connected: connected as SwarmConnected };
    } catch (err) {
      await swarm.kill();
      throw err;
    }
  }

  go(heartbeatSeconds: number): void {
    this.child.send({ cmd: 'go', heartbeatSeconds } satisfies ToSwarm);
  }

  async stop(): Promise<void> {
    await this.ask({ cmd: 'stop' }, 'stopped');
  }

  async finish(drainMs: number): Promise<SwarmResult> {
    const m = (await this.ask({ cmd: 'finish', drainMs }, 'result')) as SwarmResult;
    await this.kill();
    return m;
  }

  get pid(): number {
    return this.child.pid!;
  }

  async kill(): Promise<void> {
    await killChild(this.child);
  }

  private ask(m: ToSwarm, ev: FromSwarm['ev']): Promise<FromSwarm> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { ev, resolve: (r) => ((this.waiting = null), resolve(r)), reject };
      this.child.send(m);
    });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.waiting?.reject(err);
    this.waiting = null;
  }
}

// ---------------------------------------------------------------------------------------------
// The consoles on the live stream: consoles.ts

/** Kept here for its tests: publish → first alert event per abnormal reading. */
export { alertLatencies } from './consoles.js';

// ---------------------------------------------------------------------------------------------
// One target

interface LegFigures {
  readingsPerSecond: number;
  puback: LatencySummary;
  cpu: WindowCpu;
  generatorBusy: number;
  generatorCoreShare: number;
  rssBytes: number;
  load: Omit<LoadResult, 'latenciesUs' | 'abnormal' | 'pacing'>;
  pacing?: PacingFigures;
  /**
   * The broker's CPU per accepted cuff reading, by thread, µs (the heartbeats' cost included): read from
   * /proc, it holds within a few % when other work disturbs the readings/s (bench/ingest.ts threadCpuMeter).
   */
  threads: ThreadCpu;
  /** The hub's group commits over the window. */
  store?: Record<string, Figure>;
  /** The hub's stream to the consoles over the window: messages/s to all of them; their clients' CPU and busiest event loop. */
  consoles?: { messagesPerSecond: number; clientCoreShare: number; clientEventLoopBusy: number; profiles?: Array<HotSpots & { file: string }> };
}

export interface TargetRun {
  name: string;
  clients: number;
  connectSeconds: number;
  rssBeforeBytes: number;
  rssConnectedBytes: number;
  bytesPerClient: number;
  paced: LegFigures;
  saturating: LegFigures;
  heartbeats: Omit<SwarmResult, 'ev' | 'latencyUs'> & { p50Ms: number; p99Ms: number };
  /**
   * The first console's (the part's historical figures), and under `consoles`
   * every console's: all samples together, the worst and the last console.
   */
  alerts?: {
    created: LatencySummary; updated: LatencySummary; abnormalInWindow: number; missing: number; unexpectedKind: number; clockOffsetMs: number; clockRttMs: number; stream: Record<string, number>;
    consoles: ConsolesSummary;
  };
  /** `--profile 1`: the hub's hot spots per window (profiles in bench/results/). */
  profile?: Partial<Record<'paced' | 'saturating', HotSpots & { file: string }>>;
  checks: Record<string, Figure>;
}

/** What only the hub run has: its consoles, and a profiler when asked. */
interface HubSide {
  consoles: ConsoleSet;
  profiler?: CpuProfiler;
}

/** What a window measures before its readings are counted: `threads` is per reading, so it waits for them. */
type WindowFigures = Omit<LegFigures, 'readingsPerSecond' | 'puback' | 'load' | 'threads'> & { perReading: (readings: number) => ThreadCpu };

/** A measured window of `load` (already going): the target's CPU and RSS, the hub's store figures. */
async function measureWindow(
  target: IngestTarget, load: LoadGenerator, swarmPid: number, seconds: number, consolePids: number[] = [],
): Promise<WindowFigures & { consolesCoreShare: number }> {
  const httpUrl = (target as Partial<HubTarget>).httpUrl;
  const before = httpUrl ? await scrapeMetrics(httpUrl) : null;
  const t0 = performance.now();
  const meter = windowCpuMeter(target.pid);
  const threads = threadCpuMeter(target.pid);
  const swarmCpu = cpuMeter(swarmPid);
  const consolesCpu = consolePids.map((pid) => cpuMeter(pid));
  load.measure();
  await sleep(seconds * 1000);
  const generator = await load.stop();
  const perReading = threads.stop();
  const consolesCoreShare = consolesCpu.reduce((n, m) => n + m.stop().coreShare, 0);
  // The heartbeat clients and the console processes count as load generation, not as "other processes".
  const cpu = meter.stop(generator.coreShare + swarmCpu.stop().coreShare + consolesCoreShare);
  if (target.died() !== null) throw new Error(`the broker died during the window (${target.died()})`);
  const rssBytes = readRssBytes(target.pid);
  const store = httpUrl && before ? storeFiguresBetween(before, await scrapeMetrics(httpUrl), (performance.now() - t0) / 1000) : undefined;
  return { cpu, perReading, generatorBusy: generator.busy, generatorCoreShare: generator.coreShare, rssBytes, consolesCoreShare, ...(store && { store }) };
}

/** `measureWindow`, and on the hub the consoles' messages and, with `--profile 1`, a CPU profile over the same window (the hub's, and each console process's). */
async function measureHubWindow(
  leg: 'paced' | 'saturating', name: string, target: IngestTarget, load: LoadGenerator, swarmPid: number, seconds: number, hub: HubSide | undefined,
  profiles: NonNullable<TargetRun['profile']>,
): Promise<{ window: WindowFigures; consoles?: ConsoleWindow }> {
  if (!hub) {
    const { consolesCoreShare: _c, ...window } = await measureWindow(target, load, swarmPid, seconds);
    return { window };
  }
  const profileFile = (what: string) => `${RESULTS_DIR}capacity-${name.replace(/\W+/g, '')}-${hub.consoles.plans.length}consoles-${leg}${what}.cpuprofile`;
  const relative = (file: string) => file.slice(RESULTS_DIR.length - 'bench/results/'.length);
  await hub.profiler?.start();
  const marked = await hub.consoles.mark(hub.profiler ? (k) => profileFile(`-clients${k + 1}`) : undefined);
  const { consolesCoreShare, ...window } = await measureWindow(target, load, swarmPid, seconds, hub.consoles.pids);
  const consoles = await marked();
  if (hub.profiler) {
    const file = profileFile('');
    profiles[leg] = { ...(await hub.profiler.stop(file)), file: relative(file) };
  }
  return {
    window: {
      ...window,
      consoles: {
        messagesPerSecond: consoles.perConsole.reduce((a, b) => a + b, 0) / consoles.seconds,
        // In this process (`--console-processes 0`) the consoles' CPU is the bench's.
        clientCoreShare: hub.consoles.processes > 0 ? consolesCoreShare : window.cpu.benchCoreShare,
        clientEventLoopBusy: consoles.eventLoopBusy,
        ...(consoles.profiles && { profiles: consoles.profiles.map((p) => ({ ...p, file: relative(p.file) })) }),
      },
    },
    consoles,
  };
}

function legFigures({ perReading, ...w }: WindowFigures, result: LoadResult): LegFigures {
  const { latenciesUs, abnormal: _a, pacing, ...load } = result;
  return {
    readingsPerSecond: load.windowAcks / load.windowSeconds, puback: summarizeLatency(latenciesUs), ...w, threads: perReading(load.windowAcks), load, ...(pacing && { pacing }),
  };
}

async function runTarget(name: string, target: IngestTarget, kit: LoadDevice[], p: CapacityParams, problems: string[], hub?: HubSide): Promise<TargetRun> {
  const gen = { url: target.mqttUrl, devices: target.devices, topicPrefix: DEFAULT_TOPIC_PREFIX, connectTimeoutMs: 60_000, abnormalEvery: Math.max(1, Math.round(100 / p.abnormalPct)) };
  let swarm: HeartbeatSwarm | undefined;
  let load: LoadGenerator | undefined;
  const profiles: NonNullable<TargetRun['profile']> = {};
  try {
    // A few clients sign in first and leave: a broker's first connections leave fixed costs (buffers, arenas glibc
    // keeps), per process, not per client, so they are paid before RSS is read.
    const few = [...target.devices, ...kit].slice(0, WARM_CLIENTS);
    const warm = await HeartbeatSwarm.connect(target.mqttUrl, few);
    await warm.swarm.kill();
    if (warm.connected.connected < few.length) problems.push(`${name}: ${few.length - warm.connected.connected} client(s) could not sign in: ${JSON.stringify(warm.connected.failures)}`);
    await sleep(1000);
    const rssBeforeBytes = readRssBytes(target.pid);
    const t0 = performance.now();
    const connected = await HeartbeatSwarm.connect(target.mqttUrl, kit);
    swarm = connected.swarm;
    if (connected.connected.connected < kit.length) problems.push(`${name}: ${kit.length - connected.connected.connected} heartbeat device(s) could not connect: ${JSON.stringify(connected.connected.failures)}`);
    ({ load } = await LoadGenerator.start({ ...gen, window: 1, ratePerSecond: p.rate, trackAbnormal: hub !== undefined }));
    const connectSeconds = (performance.now() - t0) / 1000;
    const rssConnectedBytes = readRssBytes(target.pid);
    const clients = connected.connected.connected + target.devices.length;

    // Paced: the mix at `rate`, alert latency on the hub.
    const clock = await load.clockOffset();
    swarm.go(p.heartbeatSeconds);
    load.go();
    await sleep(p.warmupSeconds * 1000);
    const pacedMeasured = await measureHubWindow('paced', name, target, load, swarm.pid, p.pacedSeconds, hub, profiles);
    const pacedResult = await load.finish(5000);
    const paced = legFigures(pacedMeasured.window, pacedResult);
    let alerts: TargetRun['alerts'];
    if (hub && pacedResult.abnormal && pacedMeasured.consoles) {
      const { consoles } = hub;
      const expected = consoles.expected(pacedResult.abnormal, residentOf);
      await consoles.waitForAlerts(expected, 3000);
      // From here on the consoles only count what they get (the saturating leg's alerts are not timed).
      await consoles.stopStamping();
      const all = consoles.figures(expected, clock.offsetMs, pacedMeasured.consoles);
      const first = all.perConsole[0]!;
      for (const c of all.perConsole) {
        if (c.missing > 0) problems.push(`${name}: ${c.missing} of ${c.expected} abnormal readings got no alert event on ${c.username}'s stream`);
      }
      alerts = {
        created: first.created, updated: first.updated, abnormalInWindow: pacedResult.abnormal.keys.length, missing: first.missing,
        unexpectedKind: first.unexpectedKind, clockOffsetMs: clock.offsetMs, clockRttMs: clock.rttMs, stream: consoles.firstCounts,
        consoles: all,
      };
    }

    // Saturating: the same cuffs reconnect and publish as fast as acknowledged; heartbeats go on.
    ({ load } = await LoadGenerator.start({ ...gen, window: p.window }));
    load.go();
    await sleep(p.warmupSeconds * 1000);
    await target.windowOpened();
    const satMeasured = await measureHubWindow('saturating', name, target, load, swarm.pid, p.seconds, hub, profiles);
    // Ours to close before the hub is killed, so a close by the hub (too slow a reader) stays visible.
    await hub?.consoles.close();
    await swarm.stop();
    const beats = await swarm.finish(5000);
    await target.windowClosed();
    const satResult = await load.finish(5000);
    const saturating = legFigures(satMeasured.window, satResult);

    const totalAcks = pacedResult.totalAcks + satResult.totalAcks + beats.acked;
    const verified = await target.verify({ ...satResult, totalAcks });
    problems.push(...verified.problems.map((x) => `${name}: ${x}`));
    for (const [leg, r] of [['paced', pacedResult], ['saturating', satResult]] as const) {
      if (r.closedEarly > 0) problems.push(`${name} ${leg}: ${r.closedEarly} cuff connection(s) dropped`);
    }
    if (beats.closedEarly > 0) problems.push(`${name}: ${beats.closedEarly} heartbeat connection(s) dropped`);
    const hb = summarizeLatency(beats.latencyUs);
    const { ev: _ev, latencyUs: _l, ...beatCounts } = beats;
    return {
      name, clients, connectSeconds, rssBeforeBytes, rssConnectedBytes, bytesPerClient: (rssConnectedBytes - rssBeforeBytes) / clients,
      paced, saturating, heartbeats: { ...beatCounts, p50Ms: hb.p50Ms, p99Ms: hb.p99Ms }, ...(alerts && { alerts }),
      ...(Object.keys(profiles).length > 0 && { profile: profiles }),
      checks: { ...verified.figures, acknowledgedAll: totalAcks },
    };
  } catch (err) {
    if (target.died() === null) throw err;
    throw new Error(`${name} died during the run (${target.died()}); ${(err as Error).message}\n${target.output().slice(-4000)}`, { cause: err });
  } finally {
    await load?.terminate();
    await swarm?.kill();
  }
}

async function runHub(name: string, template: ProvisionedHub, cuffs: LoadDevice[], kit: LoadDevice[], plans: ConsolePlan[], p: CapacityParams, problems: string[]): Promise<TargetRun> {
  const inspectPort = p.profile ? await freePort() : 0;
  const target = await startHub(cuffs, p.sync, { from: template, countRows: ['alerts'], ...(p.profile && { env: { NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort}` } }) });
  let consoles: ConsoleSet | undefined;
  let profiler: CpuProfiler | undefined;
  try {
    consoles = await ConsoleSet.open(target.httpUrl, plans, template.passwords, p.consoleProcesses);
    if (p.profile) profiler = new CpuProfiler(await InspectorSession.open(inspectPort));
    const run = await runTarget(name, target, kit.map((d) => ({ ...d, password: template.secrets.get(d.id)! })), p, problems, { consoles, ...(profiler && { profiler }) });
    if (consoles.firstClosedBy !== 'us') problems.push(`${name}: the operator's stream was closed by the ${consoles.firstClosedBy} during the run`);
    const closed = consoles.closedByHub().filter((c) => !c.startsWith(`${OPERATOR}:`));
    if (closed.length > 0) problems.push(`${name}: ${closed.length} other console(s) closed by the hub during the run: ${closed.slice(0, 5).join('; ')}`);
    return {
      ...run,
      checks: {
        ...run.checks,
        streamMessages: consoles.messages().first,
        streamMessagesAllConsoles: consoles.messages().all,
      },
    };
  } finally {
    profiler?.close();
    await consoles?.close();
    await target.close();
  }
}

async function runBaseline(name: string, start: () => Promise<IngestTarget>, kit: LoadDevice[], p: CapacityParams, problems: string[]): Promise<TargetRun> {
  const target = await start();
  try {
    return await runTarget(name, target, kit, p, problems);
  } finally {
    await target.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The part

function capacityParams(flags: Flags): CapacityParams {
  const p: CapacityParams = {
    homes: flags.integer('homes', 250, 1, 4000),
    cuffs: flags.integer('cuffs', 2, 1, 4), // SPEC §1: at most 4 residents to a home, one per cuff
    kit: flags.integer('kit', 2, 0, KIT.length),
    rate: flags.integer('rate', 5000, 1, 100_000),
    abnormalPct: flags.integer('abnormal-pct', 2, 1, 100),
    heartbeatSeconds: flags.integer('heartbeat-seconds', 5, 1, 600),
    window: flags.integer('window', 4, 1, 64),
    warmupSeconds: flags.integer('warmup', 2, 0, 60),
    pacedSeconds: flags.integer('paced-seconds', 10, 1, 120),
    seconds: flags.integer('seconds', 8, 1, 120),
    sync: flags.choice('sync', ['full', 'normal'] as const, 'full'),
    mosquittoInstall: flags.choice('mosquitto-install', ['0', '1'] as const, '1') === '1',
    console: flags.choice('console', ['all', 'selected'] as const, 'all'),
    consoles: flags.integer('consoles', 1, 1, 200),
    doctorPct: flags.integer('doctor-pct', 20, 0, 100),
    consoleProcesses: flags.integer('console-processes', 0, 0, 16),
    profile: flags.choice('profile', ['0', '1'] as const, '0') === '1',
    rounds: flags.integer('rounds', 2, 1, 6),
  };
  if (p.rate / (p.homes * p.cuffs) > 1000) throw new Error(`--rate ${p.rate} over ${p.homes * p.cuffs} cuffs is over 1000 readings/s per cuff`);
  if (p.consoles > p.homes * p.cuffs) throw new Error(`--consoles ${p.consoles} is more than the fleet's ${p.homes * p.cuffs} residents (each console watches its own)`);
  return p;
}

const f = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const lat = (l: LatencySummary) => `${f(l.p50Ms)} / ${f(l.p99Ms)} / ${f(l.p999Ms)}`;
const worstLast = (c: ConsolesSummary, kind: 'created' | 'updated') => {
  const w = kind === 'created' ? c.worstCreated : c.worstUpdated;
  return `${f(w.p99Ms)} (${w.role}, n=${w.count}); ${f(c.last[kind].p99Ms)}`;
};
const perConsole = (c: ConsolesSummary) =>
  `${f(c.messagesPerSecond.all, 0)}; ${f(c.messagesPerSecond.first, 0)}; ${f(c.messagesPerSecond.byRole.operator ?? NaN, 0)}, ${f(c.messagesPerSecond.byRole.doctor ?? NaN, 0)}`;

async function runCapacity(p: CapacityParams): Promise<BenchOutcome> {
  const problems: string[] = [];
  const notes: string[] = [];
  const { cuffs, kit } = capacityFleet(p);
  const plans = consoleMix(p.consoles, p.console, cuffs.map((c) => residentOf(c.id)), p.doctorPct);
  const mosquitto = ensureMosquitto(p.mosquittoInstall);
  const runs: TargetRun[] = [];
  if (p.profile) mkdirSync(RESULTS_DIR, { recursive: true });
  const t0 = performance.now();
  const template = await provisionHub(capacityDocument(cuffs, kit, plans), p.sync);
  const provisionSeconds = (performance.now() - t0) / 1000;
  try {
    for (let round = 1; round <= p.rounds; round++) {
      const bareRun = () => runBaseline(`bare aedes #${round}`, () => startBareBroker(cuffs), kit, p, problems);
      const hubRun = () => runHub(`hub #${round}`, template, cuffs, kit, plans, p, problems);
      for (const run of round % 2 === 1 ? [bareRun, hubRun] : [hubRun, bareRun]) runs.push(await run());
    }
  } finally {
    template.remove();
  }
  // mosquitto once, last: a second reference, not part of the ratio the target is about.
  if ('path' in mosquitto) runs.push(await runBaseline('mosquitto', () => startMosquitto(mosquitto.path, cuffs), kit, p, problems));

  const bares = runs.filter((r) => r.name.startsWith('bare aedes'));
  const hubs = runs.filter((r) => r.name.startsWith('hub'));
  const mq = runs.find((r) => r.name === 'mosquitto');
  const sat = (r: TargetRun) => r.saturating.readingsPerSecond;
  const meanSat = (rs: TargetRun[]) => rs.reduce((n, r) => n + sat(r), 0) / rs.length;
  const ratioBare = meanSat(hubs) / meanSat(bares);
  const ratioMosquitto = mq ? meanSat(hubs) / sat(mq) : NaN;
  // The worst round's alert latency is the one held to the target: over every console's samples (with one console, its own).
  const heldP99 = (r: TargetRun) => r.alerts!.consoles.created.p99Ms;
  const hub = hubs.reduce((w, r) => (heldP99(r) > heldP99(w) ? r : w));
  const a = hub.alerts!;
  const ingestVerdict = ratioBare >= TARGET_INGEST_RATIO ? 'PASS' : 'BELOW';
  const alertVerdict = heldP99(hub) <= TARGET_ALERT_P99_MS ? 'PASS' : 'BELOW';
  const mix = a.consoles.mix;
  const disturbed = runs.some((r) => r.paced.cpu.othersCoreShare > DISTURBED || r.saturating.cpu.othersCoreShare > DISTURBED);
  const fellBehind = runs.filter((r) => r.paced.load.windowPublished / r.paced.load.windowSeconds < 0.98 * p.rate || (r.paced.pacing?.behindAtStop ?? 0) > p.rate / 100);
  const cores = cpus().length;
  const consoleProcesses = Math.min(p.consoleProcesses, p.consoles);
  const consoleHosts = consoleProcesses === 0 ? 'this process' : `clients in ${consoleProcesses} child process(es), consoles shared out in turn, stamps on their clocks with the measured offsets to this one's subtracted: ${
    hubs.map((h) => h.alerts!.consoles.clientClockOffsetsMs.map((o) => f(o, 3)).join(' / ')).join('; ')} ms`;

  notes.push(
    `Fleet: ${p.homes} homes × (${p.cuffs} bp cuff(s), one resident each, + ${p.kit} heartbeat-only device(s): ${KIT.slice(0, p.kit).join(', ') || 'none'}) = ${cuffs.length + kit.length} devices, ` +
      `each its own MQTT 3.1.1 connection (cuffs: mqtt.js in the load generator process; kit: raw sockets in a connectionClients process). ` +
      `Heartbeats: every kit device one QoS 1 heartbeat per ${p.heartbeatSeconds} s (a real one: 300 s, so ×${(300 / p.heartbeatSeconds).toFixed(0)} compressed), through both legs.`,
    `Paced: ${p.rate} readings/s in total from the cuffs (${(p.rate / cuffs.length).toFixed(1)}/s each; real cuffs: a few a day, so this is time-compressed too), 1 in ${Math.max(1, Math.round(100 / p.abnormalPct))} abnormal ` +
      `(bp_crisis, bp_low, pulse_abnormal, bp_severe, bp_high in turn, each twice: the first opens an alert, the second attaches), ${p.warmupSeconds} s warm-up + ${p.pacedSeconds} s measured. ` +
      `Saturating: the cuffs reconnect with ${p.window} QoS 1 publishes in flight each, ${p.warmupSeconds} s + ${p.seconds} s. Same clients, payloads and schedule against every target; no random choice anywhere.`,
    `Consumers: each baseline routes every telemetry message to one QoS 1 subscriber (this process); the hub pushes ${p.console === 'all' ? 'every stored reading' : "one resident's readings (--console selected: the operator page's watch; every reading is still stored)"} and every alert to ${p.consoles === 1 ? 'one operator console' : 'the first console'} on /api/v1/stream (${consoleHosts}). ` +
      `Hub ANXIN_SYNC=${p.sync}: a PUBACK means committed${p.sync === 'full' ? ' and fsynced' : ''}; the baselines store nothing. Hub provisioned once by import (${provisionSeconds.toFixed(0)} s); each hub run starts on a copy. ` +
      `Order: ${runs.map((r) => r.name).join(', ')}; hub / bare is the mean of the hub runs over the mean of the bare aedes runs (each round alone: ${
        bares.map((b, i) => hubs[i] ? f(sat(hubs[i]!) / sat(b)) : '').filter(Boolean).join(', ')} ×).`,
    `Memory per client: broker RSS after connecting every client minus before, over the clients, no forced GC (approximate; the connections part measures it with forced GC at 10k+). ` +
      `${WARM_CLIENTS} clients signed in and left first, so a broker's fixed first-connection costs are not counted per client; the hub's connect time includes every other device's first sign-in.`,
    ...(p.consoles > 1 ? [
      `Consoles (--consoles ${p.consoles}), each its own account and session on /api/v1/stream, opened in this order (the hub serves each commit's events to them in it): ` +
        `the first as above; ${mix.operator - 1} more operator(s) and ${mix.supervisor} supervisor(s), the operator page with an alert selected: {"watch": {"residents": [one resident each, all different]}}, every alert; ` +
        `${mix.doctor} family doctor(s), the doctor page: no watch, so every reading of their patients (the fleet's ${cuffs.length} residents shared out, ${mix.doctor > 0 ? `~${Math.round(cuffs.length / mix.doctor)}` : 0} each) and their patients' alerts. ` +
        `Last console opened: ${a.consoles.last.username} (${a.consoles.last.role}). Every console is a WebSocket client (${consoleHosts}): a stamp also waits for its process to reach that socket ` +
        `(the busiest console process's event loop was ${hubs.map((h) => pct(h.alerts!.consoles.clientEventLoopBusy)).join(', ')} busy over the paced window). The baselines have no consoles (their one subscriber is unchanged).`,
    ] : []),
    `Alert latency: first alert event naming the reading on the stream − its send time; generator and bench clocks: offset ${f(a.clockOffsetMs, 3)} ms (±${f(a.clockRttMs / 2, 3)} ms) subtracted. ` +
      `${a.created.count} alert.created and ${a.updated.count} alert.updated samples${p.consoles > 1 ? ` on the first console, ${a.consoles.created.count} and ${a.consoles.updated.count} over all ${p.consoles}` : ''}${a.created.count < 1000 ? ': p99.9 is within a few samples of the max' : ''}. ` +
      `Timed over the paced window only; after it the consoles only count what they get.`,
    `Each hub killed with SIGKILL after the saturating window: stored rows ${hubs.map((h) => `${String(h.checks.storedRows)} for ${String(h.checks.acknowledgedAll)}`).join('; ')} PUBACKs (readings and heartbeats, both legs): ` +
      (hubs.every((h) => h.checks.durable) ? 'every acknowledged message is stored.' : 'ACKNOWLEDGED MESSAGES LOST.'),
    `Generator, heartbeat clients, ${p.consoleProcesses > 0 ? 'console processes, ' : ''}this process and the broker share the ${cores} core(s).`,
  );
  if ('missing' in mosquitto) notes.push(`MOSQUITTO COLUMN SKIPPED: ${mosquitto.missing}.`);
  else notes.push(`mosquitto: ${mosquitto.path}${mosquitto.installed ? ' (installed by this run with apt-get)' : ''}, config: listener on 127.0.0.1, allow_anonymous, persistence false, max_queued_messages 0 (unbounded like aedes); defaults otherwise.`);
  for (const r of fellBehind) notes.push(`${r.name}: the paced generator FELL BEHIND (${f(r.paced.load.windowPublished / r.paced.load.windowSeconds, 0)} of ${p.rate}/s published); its paced figures are for that lower rate.`);
  for (const r of runs) for (const leg of ['paced', 'saturating'] as const) notes.push(...machineCaveats(`${r.name} ${leg}`, { ...r[leg].cpu, generatorBusy: r[leg].generatorBusy }));
  notes.push(
    `Target: hub ingest ≥ ${TARGET_INGEST_RATIO} × bare aedes (saturating); measured ${f(ratioBare)} × → ${ingestVerdict}${disturbed ? ' (disturbed run: not conclusive)' : ''}. ` +
      `hub / mosquitto ${mq ? `${f(ratioMosquitto)} ×` : 'not measured (mosquitto skipped)'}.` +
      runs.filter((r) => !hubs.includes(r) && r.saturating.generatorBusy > 0.9).map((r) => ` ${r.name}'s generator was ${pct(r.saturating.generatorBusy)} busy: its figure is a floor, hub / ${r.name} a ceiling.`).join(''),
    `Target: publish → alert.created p99 ≤ ${TARGET_ALERT_P99_MS} ms at ${p.rate} readings/s; measured ${hubs.map((h) => f(heldP99(h))).join(', ')} ms (per hub run${p.consoles > 1 ? `, every console's samples together; worst single console ${hubs.map((h) => `${f(h.alerts!.consoles.worstCreated.p99Ms)} (${h.alerts!.consoles.worstCreated.username}, ${h.alerts!.consoles.worstCreated.count} samples)`).join(', ')}` : ''}) → ${alertVerdict}${disturbed ? ' (disturbed run: not conclusive)' : ''}.`,
  );
  for (const h of hubs) {
    for (const [leg, spots] of Object.entries(h.profile ?? {})) {
      const show = (list: Array<{ what: string; coreShare: number }>) => list.slice(0, 10).map((x) => `${pct(x.coreShare)} ${x.what}`).join('; ');
      notes.push(
        `${h.name} ${leg} profile (${spots.file}; busy ${f(spots.busyCores)} core over ${f(spots.seconds, 1)} s; the inspector's sampling slows the hub a little): ` +
          `self by function (file:line where it starts): ${show(spots.selfByFunction)}. Total, with what it calls (hub code): ${show(spots.totalByFunction)}.`,
      );
    }
    for (const leg of ['paced', 'saturating'] as const) {
      for (const [k, spots] of (h[leg].consoles?.profiles ?? []).entries()) {
        const show = (list: Array<{ what: string; coreShare: number }>) => list.slice(0, 8).map((x) => `${pct(x.coreShare)} ${x.what}`).join('; ');
        notes.push(`${h.name} ${leg} console process ${k + 1} profile (${spots.file}; busy ${f(spots.busyCores)} core): self: ${show(spots.selfByFunction)}. Total (bench code): ${show(spots.totalByFunction)}.`);
      }
    }
  }

  const row = (label: string, get: (r: TargetRun) => string) => [label, ...runs.map(get)];
  const gap = (label: string) => [label, ...runs.map(() => '')];
  const table = {
    columns: ['', ...runs.map((r) => r.name)],
    rows: [
      row('clients; connect all (s)', (r) => `${r.clients}; ${f(r.connectSeconds, 1)}`),
      row('RSS before → connected (MiB)', (r) => `${f(r.rssBeforeBytes / MiB, 0)} → ${f(r.rssConnectedBytes / MiB, 0)}`),
      row('memory per connected client (KiB)', (r) => f(r.bytesPerClient / 1024, 1)),
      gap(`paced, ${p.rate} readings/s`),
      row('  accepted readings/s (PUBACKs)', (r) => f(r.paced.readingsPerSecond, 0)),
      row('  PUBACK p50 / p99 / p99.9 (ms)', (r) => lat(r.paced.puback)),
      row('  broker CPU (of one core)', (r) => pct(r.paced.cpu.brokerCoreShare)),
      row('  broker RSS at end (MiB)', (r) => f(r.paced.rssBytes / MiB, 0)),
      row('  generator lag p99 (ms); behind at stop', (r) => `${f(r.paced.pacing?.lagP99Ms ?? NaN)}; ${r.paced.pacing?.behindAtStop ?? '–'}`),
      row('  machine busy (of all cores); others (of one)', (r) => `${pct(r.paced.cpu.machineBusy)}; ${pct(r.paced.cpu.othersCoreShare)}`),
      row('  publish → alert.created p50 / p99 / p99.9 (ms)', (r) => (r.alerts ? lat(r.alerts.created) : '')),
      row('  publish → alert.updated p50 / p99 / p99.9 (ms)', (r) => (r.alerts ? lat(r.alerts.updated) : '')),
      row('  consoles: operators / supervisors / doctors', (r) => (r.alerts ? `${r.alerts.consoles.count}: ${r.alerts.consoles.mix.operator} / ${r.alerts.consoles.mix.supervisor} / ${r.alerts.consoles.mix.doctor}` : '')),
      row('  alert.created, all consoles: p50 / p99 / p99.9 (ms)', (r) => (r.alerts ? lat(r.alerts.consoles.created) : '')),
      row('  alert.created p99: worst console; last console', (r) => (r.alerts ? worstLast(r.alerts.consoles, 'created') : '')),
      row('  alert.updated, all consoles: p50 / p99 / p99.9 (ms)', (r) => (r.alerts ? lat(r.alerts.consoles.updated) : '')),
      row('  alert.updated p99: worst console; last console', (r) => (r.alerts ? worstLast(r.alerts.consoles, 'updated') : '')),
      row('  stream msgs/s: all consoles; first; per operator, doctor', (r) => (r.alerts ? perConsole(r.alerts.consoles) : '')),
      row(`  console clients (${consoleProcesses || 'this'} process${consoleProcesses > 1 ? 'es' : ''}): CPU; busiest event loop`, (r) => (r.paced.consoles ? `${pct(r.paced.consoles.clientCoreShare)}; ${pct(r.paced.consoles.clientEventLoopBusy)}` : '')),
      gap(`saturating, ${p.window} in flight per cuff`),
      row('  accepted readings/s (PUBACKs)', (r) => f(sat(r), 0)),
      row('  PUBACK p50 / p99 / p99.9 (ms)', (r) => lat(r.saturating.puback)),
      row('  broker CPU (of one core)', (r) => pct(r.saturating.cpu.brokerCoreShare)),
      row('  CPU µs per reading: main; busiest other thread; rest', (r) => threadsText(r.saturating.threads)),
      row('  broker RSS at end (MiB)', (r) => f(r.saturating.rssBytes / MiB, 0)),
      row('  generator CPU; event loop busy', (r) => `${pct(r.saturating.generatorCoreShare)}; ${pct(r.saturating.generatorBusy)}`),
      row('  stream msgs/s to all consoles; their client CPU', (r) => (r.saturating.consoles ? `${f(r.saturating.consoles.messagesPerSecond, 0)}; ${pct(r.saturating.consoles.clientCoreShare)}` : '')),
      row('  machine busy (of all cores); others (of one)', (r) => `${pct(r.saturating.cpu.machineBusy)}; ${pct(r.saturating.cpu.othersCoreShare)}`),
      row('heartbeats acked / sent; p50 / p99 (ms)', (r) => `${r.heartbeats.acked} / ${r.heartbeats.published}; ${f(r.heartbeats.p50Ms)} / ${f(r.heartbeats.p99Ms)}`),
      ['hub / bare (means); hub / mosquitto (saturating)', `${f(ratioBare)} × ${ingestVerdict}; ${mq ? `${f(ratioMosquitto)} ×` : 'mosquitto not installed'}`, ...runs.slice(1).map(() => '')],
    ],
  };
  const record = {
    part: 'capacity',
    at: new Date().toISOString(),
    machine: { cores, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, platform: process.platform },
    params: p,
    provisionSeconds,
    mosquitto,
    runs,
    ratios: { hubOverBare: ratioBare, hubOverMosquitto: mq ? ratioMosquitto : null },
    targets: { ingestRatio: TARGET_INGEST_RATIO, alertP99Ms: TARGET_ALERT_P99_MS },
    verdicts: { ingest: ingestVerdict, alertCreatedP99: alertVerdict },
    disturbed,
    notes,
    problems,
  };
  return { record, table, notes, problems };
}

export const capacityPart: BenchPart = {
  name: 'capacity',
  describe: 'one hub under a realistic mix (cuffs + heartbeat kit, abnormal share): readings/s, alert latency on every console (--consoles), CPU, RSS, memory per client, vs bare aedes and mosquitto',
  flags: {
    homes: '250', cuffs: '2', kit: '2', rate: '5000', 'abnormal-pct': '2', 'heartbeat-seconds': '5', window: '4',
    warmup: '2', 'paced-seconds': '10', seconds: '8', sync: 'full', 'mosquitto-install': '1', console: 'all', consoles: '1', 'doctor-pct': '20', 'console-processes': '0', profile: '0', rounds: '2',
  },
  plan(flags) {
    const p = capacityParams(flags);
    return () => runCapacity(p);
  },
};

/** Per-thread CPU per reading, µs, as the table shows it. */
function threadsText(t: ThreadCpu): string {
  return [t.mainUs, t.busiestOtherUs, t.restUs].map((us) => (Number.isFinite(us) ? us.toFixed(1) : '–')).join('; ');
}
