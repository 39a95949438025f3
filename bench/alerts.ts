/**
 * Rules-engine benchmark (the rules issue), two measurements in one run:
 *
 * 1. Rules overhead on ingest: the ingest part's saturating QoS 1 load (N
 *    devices, W publishes in flight each, "as fast as acknowledged") against
 *    the hub with `ANXIN_BENCH_NO_RULES=1` (readings stored, rules skipped: A)
 *    and the normal hub (B), in A B B A order so a drift of the machine
 *    weighs on both alike, for two workloads: the ingest part's own readings
 *    (all normal: the issue's "ingest figure of the foundation issue"; target
 *    B ≥ 0.90 × A), then the same with a steady share of abnormal readings
 *    spread over the residents (every one of them opens or updates an alert,
 *    written with the reading: stricter, reported beside it).
 * 2. Alert latency: the normal hub under a paced (not saturating) 5,000
 *    readings/s from one bound cuff per resident, with one operator console
 *    on the live stream. Each abnormal reading's send time is matched to the
 *    first `alert.created` / `alert.updated` whose `lastReading` names it.
 *    Target: p99 ≤ 25 ms for each.
 *
 * Every hub starts on a copy of one provisioned data dir: importing hundreds
 * of devices hashes each secret with scrypt, which is paid once.
 */
import { cpus } from 'node:os';
import WebSocket from 'ws';
import { DEFAULT_TOPIC_PREFIX } from '../devices/topics.js';
import { httpJson } from '../test/helpers/process.js';
import type { BenchOutcome, BenchPart, Flags } from './benchPart.js';
import { DISTURBED, machineCaveats, measure, pct, type IngestParams, type TargetFigures } from './ingest.js';
import { fleet, fleetDocument, provisionHub, scrapeMetrics, startHub, storeFiguresBetween, type Figure, type ProvisionedHub } from './ingestTargets.js';
import { ABNORMAL_MIXES, ABNORMAL_READINGS, LoadGenerator, wallClockMs, type AbnormalMix, type LoadDevice, type LoadResult } from './loadGenerator.js';
import { readRssBytes, summarizeLatency, windowCpuMeter, type LatencySummary, type WindowCpu } from './procStats.js';

/** The issue's bars. */
export const TARGET_RULES_RATIO = 0.9;
export const TARGET_ALERT_P99_MS = 25;

/** SPEC §1: at most 4 residents to a home; the benchmark fills each home. */
const RESIDENTS_PER_HOME = 4;
const OPERATOR = 'bench-operator';
const NO_RULES_ENV = { ANXIN_BENCH_NO_RULES: '1' };
/** What the hub logs (at warn) when the switch is on: proof each leg ran the mode it is labelled with. */
const NO_RULES_BANNER = 'ANXIN_BENCH_NO_RULES=1';

interface AlertsParams {
  /** Part 1: saturating devices, publishes in flight per device, warm-up and measured seconds per leg, A/B rounds. */
  devices: number;
  window: number;
  warmupSeconds: number;
  seconds: number;
  rounds: number;
  /** Share of readings that are abnormal, in percent, in both measurements, and which values make them so. */
  abnormalPct: number;
  mix: AbnormalMix;
  /** Part 2: residents (one cuff each, all publishing), total readings/s, measured seconds. */
  residents: number;
  rate: number;
  latencySeconds: number;
  sync: 'full' | 'normal';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `n` bp cuffs, each bound to its own resident, homes of four residents (the ingest fleet's ids). */
function residentFleet(n: number): LoadDevice[] {
  return fleet(n, RESIDENTS_PER_HOME);
}

// ---------------------------------------------------------------------------------------------
// 1. Rules overhead on ingest

type Mode = 'off' | 'on';

interface Leg {
  mode: Mode;
  round: number;
  figures: TargetFigures;
}

/** Part 1's legs for one share of abnormal readings (0: the ingest part's own workload). */
interface Workload {
  abnormalPct: number;
  legs: Leg[];
}

async function runOverhead(p: AlertsParams, template: ProvisionedHub, devices: LoadDevice[], problems: string[], abnormalPct: number): Promise<Workload> {
  const ingest: IngestParams = { devices: p.devices, perHome: RESIDENTS_PER_HOME, window: p.window, warmupSeconds: p.warmupSeconds, seconds: p.seconds, sync: p.sync };
  const legs: Leg[] = [];
  for (let round = 0; round < p.rounds; round++) {
    // A B, then B A: a machine that speeds up or slows down over the run favours neither.
    const order: Mode[] = round % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const mode of order) {
      const name = `rules ${mode} #${round + 1}, ${abnormalPct} % abnormal`;
      const target = await startHub(devices, p.sync, { from: template, env: mode === 'off' ? NO_RULES_ENV : {}, countRows: ['alerts', 'events'] });
      try {
        const figures = await measure(name, target, ingest, problems, abnormalPct > 0 ? { abnormalEvery: abnormalEvery(abnormalPct), abnormalMix: p.mix } : {});
        if (target.output().includes(NO_RULES_BANNER) !== (mode === 'off')) problems.push(`${name}: the hub did not run in the mode asked for (ANXIN_BENCH_NO_RULES ignored?)`);
        if (mode === 'on' && abnormalPct > 0 && !(Number(figures.checks.alertsRows) > 0)) problems.push(`${name}: no alert was stored although abnormal readings were accepted`);
        if (abnormalPct === 0 && Number(figures.checks.alertsRows) > 0) problems.push(`${name}: alerts were stored although every reading was normal`);
        if (mode === 'off' && Number(figures.checks.alertsRows) > 0) problems.push(`${name}: alerts were stored with the rules switched off`);
        legs.push({ mode, round, figures });
      } finally {
        await target.close();
      }
    }
  }
  return { abnormalPct, legs };
}

// ---------------------------------------------------------------------------------------------
// 2. Alert latency

/** First alert event naming a reading. */
interface Seen {
  created: boolean;
  atMs: number;
}

/**
 * An operator console on `/api/v1/stream`: resumes at once (so events flow
 * without the 0.5 s grace), stamps each message on arrival, and keeps the
 * first alert event per `lastReading`. Reading events (one per stored blood
 * pressure) are only counted, without parsing them.
 */
class StreamWatch {
  readonly alerts = new Map<string, Seen>();
  readonly counts: Record<string, number> = {};
  bytes = 0;
  closedBy: string | null = null;

  private constructor(private readonly socket: WebSocket) {}

  static async open(httpUrl: string, token: string): Promise<StreamWatch> {
    const socket = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/api/v1/stream`, { headers: { authorization: `Bearer ${token}` } });
    const watch = new StreamWatch(socket);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the stream did not answer hello/resume within 10 s')), 10_000);
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`stream refused: HTTP ${res.statusCode}`)));
      socket.on('message', (raw: Buffer) => {
        if (watch.live) return watch.onMessage(raw);
        const msg = JSON.parse(raw.toString()) as { type?: string; seq?: number };
        if (msg.type === 'hello') socket.send(JSON.stringify({ resume: msg.seq }));
        else if (msg.type === 'resumed') {
          watch.live = true;
          clearTimeout(timer);
          resolve();
        }
      });
    });
    socket.on('close', (code, reason) => (watch.closedBy ??= `${code} ${reason.toString()}`));
    return watch;
  }

  private live = false;

  private onMessage(raw: Buffer): void {
    const atMs = wallClockMs();
    this.bytes += raw.length;
    // `{"seq":N,"type":"…"`: the type sits in the first bytes; only alert events are parsed.
    const type = /"type":"([^"]+)"/.exec(raw.toString('latin1', 0, 64))?.[1] ?? '?';
    this.counts[type] = (this.counts[type] ?? 0) + 1;
    if (type !== 'alert.created' && type !== 'alert.updated') return;
    const e = JSON.parse(raw.toString()) as { data: { lastReading?: { deviceId: string; id: string } | null } };
    const r = e.data.lastReading;
    if (!r) return;
    const key = `${r.deviceId}/${r.id}`;
    // The first event naming a reading is its answer; later ones (overdue, …) repeat an older lastReading.
    if (!this.alerts.has(key)) this.alerts.set(key, { created: type === 'alert.created', atMs });
  }

  /** Waits until every key has its event, at most `ms`. */
  async waitFor(keys: string[], ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (keys.some((k) => !this.alerts.has(k)) && Date.now() < until) await sleep(20);
  }

  close(): void {
    this.closedBy ??= 'us';
    this.socket.close();
  }
}

interface LatencyFigures {
  created: LatencySummary;
  updated: LatencySummary;
  abnormalInWindow: number;
  /** Abnormal readings whose alert event never came. */
  missing: number;
  /** Events of the other kind than a fresh hub should send (created where updated was expected, or back). */
  unexpectedKind: number;
  readingsPerSecondScheduled: number;
  readingsPerSecondPublished: number;
  readingsPerSecondAcked: number;
  pacing: NonNullable<LoadResult['pacing']>;
  puback: LatencySummary;
  clock: { offsetMs: number; rttMs: number; offsetAfterMs: number; rttAfterMs: number };
  stream: { counts: Record<string, number>; mib: number; closedBy: string | null };
  cpu: WindowCpu;
  generatorBusy: number;
  generatorCoreShare: number;
  brokerRssBytes: number;
  load: Omit<LoadResult, 'latenciesUs' | 'abnormal' | 'pacing'>;
  hub: Record<string, Figure>;
}

async function runLatency(p: AlertsParams, template: ProvisionedHub, devices: LoadDevice[], problems: string[]): Promise<LatencyFigures> {
  const target = await startHub(devices, p.sync, { from: template, countRows: ['alerts'] });
  let load: LoadGenerator | undefined;
  let stream: StreamWatch | undefined;
  try {
    const login = await httpJson(`${target.httpUrl}/api/v1/auth/login`, { body: { username: OPERATOR, password: template.passwords.get(OPERATOR) } });
    if (login.status !== 200) throw new Error(`operator sign-in failed: ${login.status} ${JSON.stringify(login.body)}`);
    stream = await StreamWatch.open(target.httpUrl, login.body.token as string);
    ({ load } = await LoadGenerator.start({
      url: target.mqttUrl, devices: target.devices, window: 1, topicPrefix: DEFAULT_TOPIC_PREFIX, connectTimeoutMs: 60_000,
      abnormalEvery: abnormalEvery(p.abnormalPct), abnormalMix: p.mix, ratePerSecond: p.rate, trackAbnormal: true,
    }));
    // Send times are stamped in the generator, arrivals here: two processes, one system clock (see wallClockMs).
    const clock = await load.clockOffset();
    load.go();
    await sleep(p.warmupSeconds * 1000);
    const atOpen = await scrapeMetrics(target.httpUrl);
    const t0 = performance.now();
    const meter = windowCpuMeter(target.pid);
    load.measure();
    await sleep(p.latencySeconds * 1000);
    const generator = await load.stop();
    const cpu = meter.stop(generator.coreShare);
    const windowSeconds = (performance.now() - t0) / 1000;
    if (target.died() !== null) throw new Error(`the hub died during the run (${target.died()}):\n${target.output().slice(-4000)}`);
    const hub = storeFiguresBetween(atOpen, await scrapeMetrics(target.httpUrl), windowSeconds);
    const rss = readRssBytes(target.pid);
    const after = await load.clockOffset(5);
    const { latenciesUs, abnormal, pacing, ...counts } = await load.finish(5000);
    if (!abnormal || !pacing) throw new Error('the generator returned no abnormal-reading or pacing record');
    await stream.waitFor(abnormal.keys, 3000);
    stream.close();
    await target.windowClosed();
    const verified = await target.verify({ latenciesUs, ...counts });
    problems.push(...verified.problems.map((x) => `latency run: ${x}`));
    if (counts.closedEarly > 0) problems.push(`latency run: ${counts.closedEarly} client connection(s) dropped during the run`);
    if (stream.closedBy !== 'us') problems.push(`latency run: the hub closed the operator's stream (${stream.closedBy})`);

    const created: number[] = [];
    const updated: number[] = [];
    let missing = 0;
    let unexpectedKind = 0;
    abnormal.keys.forEach((key, i) => {
      const seen = stream!.alerts.get(key);
      if (!seen) return void (missing += 1);
      // On this process's clock: the generator's stamp minus the clocks' offset.
      const us = (seen.atMs - (abnormal.sentAtMs[i]! - clock.offsetMs)) * 1000;
      (seen.created ? created : updated).push(us);
      if (seen.created !== (abnormal.expectCreated[i] === 1)) unexpectedKind += 1;
    });
    if (missing > 0) problems.push(`latency run: ${missing} of ${abnormal.keys.length} abnormal readings got no alert event on the stream`);
    return {
      created: summarizeLatency(Float64Array.from(created)),
      updated: summarizeLatency(Float64Array.from(updated)),
      abnormalInWindow: abnormal.keys.length,
      missing,
      unexpectedKind,
      readingsPerSecondScheduled: pacing.scheduled / counts.windowSeconds,
      readingsPerSecondPublished: counts.windowPublished / counts.windowSeconds,
      readingsPerSecondAcked: counts.windowAcks / counts.windowSeconds,
      pacing,
      puback: summarizeLatency(latenciesUs),
      clock: { ...clock, offsetAfterMs: after.offsetMs, rttAfterMs: after.rttMs },
      stream: { counts: { ...stream.counts }, mib: stream.bytes / 2 ** 20, closedBy: stream.closedBy },
      cpu,
      generatorBusy: generator.busy,
      generatorCoreShare: generator.coreShare,
      brokerRssBytes: rss,
      load: counts,
      hub: { ...hub, ...verified.figures },
    };
  } catch (err) {
    if (target.died() === null) throw err;
    throw new Error(`the hub died during the latency run (${target.died()}); ${(err as Error).message}\n${target.output().slice(-4000)}`, { cause: err });
  } finally {
    stream?.close();
    await load?.terminate();
    await target.close();
  }
}

// ---------------------------------------------------------------------------------------------

function abnormalEvery(abnormalPct: number): number {
  return Math.max(1, Math.round(100 / abnormalPct));
}

function alertsParams(flags: Flags): AlertsParams {
  const p: AlertsParams = {
    devices: flags.integer('devices', 100, 1, 2000),
    window: flags.integer('window', 8, 1, 256),
    warmupSeconds: flags.integer('warmup', 2, 0, 60),
    seconds: flags.integer('seconds', 6, 1, 300),
    rounds: flags.integer('rounds', 2, 1, 10),
    abnormalPct: flags.integer('abnormal-pct', 5, 1, 100),
    mix: flags.choice('mix', ABNORMAL_MIXES, 'systolic'),
    residents: flags.integer('residents', 500, 1, 4000),
    rate: flags.integer('rate', 5000, 1, 100_000),
    latencySeconds: flags.integer('latency-seconds', 10, 1, 300),
    sync: flags.choice('sync', ['full', 'normal'] as const, 'full'),
  };
  if (p.rate / p.residents > 1000) throw new Error(`--rate ${p.rate} over --residents ${p.residents} is over 1000 readings/s per cuff`);
  return p;
}

const workloadName = (abnormalPct: number) => (abnormalPct === 0 ? 'all normal' : `${abnormalPct} % abnormal`);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');

async function runAlerts(p: AlertsParams): Promise<BenchOutcome> {
  const problems: string[] = [];
  const all = residentFleet(Math.max(p.devices, p.residents));
  const provisionT0 = performance.now();
  const template = await provisionHub(fleetDocument(all, { residentPerDevice: true, users: [{ username: OPERATOR, role: 'operator', name: 'benchmark operator' }] }), p.sync);
  const provisionSeconds = (performance.now() - provisionT0) / 1000;
  const workloads: Workload[] = [];
  let latency: LatencyFigures;
  try {
    for (const pct of [0, p.abnormalPct]) workloads.push(await runOverhead(p, template, all.slice(0, p.devices), problems, pct));
    latency = await runLatency(p, template, all.slice(0, p.residents), problems);
  } finally {
    template.remove();
  }

  // 1. Rules overhead, per workload.
  const rate = (fs: TargetFigures[]) => mean(fs.map((f) => f.readingsPerSecond));
  const summaries = workloads.map(({ abnormalPct, legs }) => {
    const of = (mode: Mode) => legs.filter((l) => l.mode === mode).map((l) => l.figures);
    const [off, on] = [of('off'), of('on')];
    const ratio = rate(on) / rate(off);
    // Each round's own B / A: how much the verdict moves from one pair of legs to the next.
    const pairRatios = Array.from({ length: p.rounds }, (_, r) => {
      const legOf = (mode: Mode) => legs.find((l) => l.round === r && l.mode === mode)!.figures.readingsPerSecond;
      return legOf('on') / legOf('off');
    });
    const verdict = ratio >= TARGET_RULES_RATIO ? 'PASS' : 'BELOW';
    const disturbed = legs.some((l) => l.figures.othersCoreShare > DISTURBED);
    return { abnormalPct, legs, off, on, ratio, pairRatios, verdict, disturbed };
  });
  const allLegs = workloads.flatMap((w) => w.legs);

  // 2. Alert latency.
  const createdVerdict = latency.created.p99Ms <= TARGET_ALERT_P99_MS ? 'PASS' : 'BELOW';
  const updatedVerdict = latency.updated.p99Ms <= TARGET_ALERT_P99_MS ? 'PASS' : 'BELOW';
  const latencyDisturbed = latency.cpu.othersCoreShare > DISTURBED;
  const fellBehind = latency.readingsPerSecondPublished < 0.98 * p.rate || latency.pacing.behindAtStop > p.rate / 100;

  const cores = cpus().length;
  const every = abnormalEvery(p.abnormalPct);
  const spread = (xs: number[], digits: number) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
  const notes = [
    `Fleet: one bp cuff per resident, ${RESIDENTS_PER_HOME} residents to a home, an operator user; imported once (${provisionSeconds.toFixed(0)} s incl. hub start), each hub starts on a copy. ` +
      `1 reading in ${every} is abnormal, per cuff in turn: ${ABNORMAL_READINGS[p.mix].map((a) => `${a.rule} ${a.values.systolic}/${a.values.diastolic} pulse ${a.values.pulse} (${a.severity})`).join(', ')}, ` +
      `each twice in a row (the first opens an alert, the second attaches); the others normal (systolic 118–137). hub ANXIN_SYNC=${p.sync}.`,
    p.mix === 'systolic'
      ? 'Mix "systolic": each reading with systolic ≥ 140 (3 of the 5 abnormal kinds) is judged by bp_trend too, against its resident\'s high readings of the last 7 days (read from the journal once per resident, then kept in memory). ' +
        '--mix diastolic reaches the same rules without bp_trend.'
      : 'Mix "diastolic": the same five rules reached with systolic < 140, so bp_trend never judges: this isolates the per-reading cost of the other rules.',
    `1. Rules overhead: ${p.devices} cuffs, ${p.window} QoS 1 publishes in flight each, ${p.warmupSeconds} s warm-up + ${p.seconds} s measured per leg, legs in order ${summaries[0]!.legs.map((l) => (l.mode === 'off' ? 'A' : 'B')).join(' ')} per workload ` +
      `(A = ANXIN_BENCH_NO_RULES=1: stored, not judged; B = the normal hub: judged and streamed, alerts and stream events written in the same transaction as the readings). No stream client is connected in these legs. ` +
      `Workload "all normal" is the ingest part's own load (every reading normal: systolic 118–137), so B / A is what judging does to the foundation issue's ingest figure (the issue's target); ` +
      `"${p.abnormalPct} % abnormal" adds the mix above, where every abnormal reading also writes its alert, the alert's link to it and an alert.updated event. ` +
      `Each hub is killed with SIGKILL under load and its stored rows counted: ${allLegs.every((l) => l.figures.checks.durable) ? 'every acknowledged reading was stored in every leg.' : 'ACKNOWLEDGED READINGS LOST.'}`,
    `2. Alert latency: ${p.residents} cuffs paced at ${p.rate} readings/s in total (${(p.rate / p.residents).toFixed(1)}/s each, evenly spaced by a 1 ms timer, QoS 1), ${p.warmupSeconds} s warm-up + ${p.latencySeconds} s measured; ` +
      `one operator on /api/v1/stream (bearer token, in the bench process; it also receives a \`reading\` event per stored reading). ` +
      `Latency = arrival of the first alert event whose lastReading is the reading − its send time; sends are stamped in the generator process and arrivals in the bench process with performance.timeOrigin + performance.now() ` +
      `(the system clock, µs resolution); measured offset between the two ${latency.clock.offsetMs.toFixed(3)} ms (±${(latency.clock.rttMs / 2).toFixed(3)} ms, subtracted), ${latency.clock.offsetAfterMs.toFixed(3)} ms after the window.`,
    `The load generator (a child process), this process and the hub share the ${cores} core(s).`,
  ];
  if (latency.created.count < 1000) notes.push(`Only ${latency.created.count} alert.created samples: p99.9 is within a few samples of the max; raise --residents or --latency-seconds for a firmer tail.`);
  if (latency.unexpectedKind > 0) notes.push(`${latency.unexpectedKind} alert events were of the other kind than planned (created vs updated).`);
  if (fellBehind) notes.push(`The generator FELL BEHIND: ${latency.readingsPerSecondPublished.toFixed(0)} of ${p.rate} readings/s published, ${latency.pacing.behindAtStop} due but unsent at the end; the latency figures are for that lower rate.`);
  for (const w of workloads) for (const l of w.legs) notes.push(...machineCaveats(`1. rules ${l.mode} #${l.round + 1}, ${w.abnormalPct} % abnormal`, l.figures));
  notes.push(...machineCaveats('2. latency run', { ...latency.cpu, generatorBusy: latency.generatorBusy }));
  notes.push(
    ...summaries.map((w) => `${w.abnormalPct === 0 ? 'Target 1' : 'Stricter'}: rules on ≥ ${TARGET_RULES_RATIO} × rules off, ${workloadName(w.abnormalPct)}; measured ${w.ratio.toFixed(2)} × (per round ${w.pairRatios.map((r) => r.toFixed(2)).join(', ')}) → ${w.verdict}${w.disturbed ? ' (disturbed run: not conclusive)' : ''}.`),
    `Target 2: publish → alert event p99 ≤ ${TARGET_ALERT_P99_MS} ms at ${p.rate} readings/s; alert.created ${ms(latency.created.p99Ms)} ms → ${createdVerdict}, ` +
      `alert.updated ${ms(latency.updated.p99Ms)} ms → ${updatedVerdict}${latencyDisturbed ? ' (disturbed run: not conclusive)' : ''}${fellBehind ? ' (generator fell behind: not at the target rate)' : ''}.`,
  );

  const legCell = (fs: TargetFigures[], get: (f: TargetFigures) => number, digits: number) => fs.map((f) => get(f).toFixed(digits)).join(', ');
  const commitsCell = (fs: TargetFigures[]) => fs.map((f) => `${Number(f.checks.commitsPerSecond).toFixed(0)} × ${Number(f.checks.jobsPerCommit).toFixed(0)}`).join(', ');
  const rowsCell = (fs: TargetFigures[]) => fs.map((f) => `${String(f.checks.alertsRows)} / ${String(f.checks.eventsRows)}`).join(', ');
  const hubNum = (k: string, digits: number) => (typeof latency.hub[k] === 'number' ? (latency.hub[k] as number).toFixed(digits) : '?');
  const cpuOf = (fs: TargetFigures[], get: (f: TargetFigures) => number) => pct(mean(fs.map(get)));
  const table = {
    columns: ['1. rules overhead (saturating)', 'A: rules off', 'B: rules on'],
    rows: [
      ...summaries.flatMap(({ abnormalPct, off, on, ratio, pairRatios, verdict, disturbed }) => [
        [`${workloadName(abnormalPct)}: readings/s, mean of legs`, rate(off).toFixed(0), rate(on).toFixed(0)],
        ['  readings/s per leg', legCell(off, (f) => f.readingsPerSecond, 0), legCell(on, (f) => f.readingsPerSecond, 0)],
        ['  PUBACK latency p50 / p99 per leg (ms)', legCell(off, (f) => f.latency.p50Ms, 1) + ' / ' + legCell(off, (f) => f.latency.p99Ms, 1), legCell(on, (f) => f.latency.p50Ms, 1) + ' / ' + legCell(on, (f) => f.latency.p99Ms, 1)],
        ['  hub / generator CPU (of one core)', `${cpuOf(off, (f) => f.brokerCoreShare)} / ${cpuOf(off, (f) => f.generatorCoreShare)}`, `${cpuOf(on, (f) => f.brokerCoreShare)} / ${cpuOf(on, (f) => f.generatorCoreShare)}`],
        [`  machine CPU (of all ${cores} cores); other processes (of one)`, `${cpuOf(off, (f) => f.machineBusy)}; ${cpuOf(off, (f) => f.othersCoreShare)}`, `${cpuOf(on, (f) => f.machineBusy)}; ${cpuOf(on, (f) => f.othersCoreShare)}`],
        ['  group commits/s × readings each, per leg', commitsCell(off), commitsCell(on)],
        ['  commit mean (ms)', legCell(off, (f) => Number(f.checks.commitMeanMs), 2), legCell(on, (f) => Number(f.checks.commitMeanMs), 2)],
        ['  alerts / stream events stored, per leg', rowsCell(off), rowsCell(on)],
        [`  B / A throughput (spread of rounds)${abnormalPct === 0 ? ': the target' : ''}`, '', `${ratio.toFixed(2)} × (${spread(pairRatios, 2)}) ${verdict}${disturbed ? '?' : ''}`],
      ]),
      ['', '', ''],
      [`2. alert latency at ${p.rate}/s`, 'alert.created', 'alert.updated'],
      [`events matched (of ${latency.abnormalInWindow} abnormal sent; ${latency.missing} missing)`, String(latency.created.count), String(latency.updated.count)],
      ['publish → event p50 (ms)', ms(latency.created.p50Ms), ms(latency.updated.p50Ms)],
      ['publish → event p99 (ms)', ms(latency.created.p99Ms), ms(latency.updated.p99Ms)],
      ['publish → event p99.9 (ms)', ms(latency.created.p999Ms), ms(latency.updated.p999Ms)],
      ['publish → event max (ms)', ms(latency.created.maxMs), ms(latency.updated.maxMs)],
      [`target p99 ≤ ${TARGET_ALERT_P99_MS} ms`, createdVerdict + (latencyDisturbed ? '?' : ''), updatedVerdict + (latencyDisturbed ? '?' : '')],
      ['readings/s scheduled / published / acked', `${latency.readingsPerSecondScheduled.toFixed(0)} / ${latency.readingsPerSecondPublished.toFixed(0)} / ${latency.readingsPerSecondAcked.toFixed(0)}`, fellBehind ? 'FELL BEHIND' : 'on pace'],
      ['generator lag p50 / p99 / max (ms)', `${ms(latency.pacing.lagP50Ms)} / ${ms(latency.pacing.lagP99Ms)} / ${ms(latency.pacing.lagMaxMs)}`, ''],
      ['PUBACK latency p50 / p99 / max (ms)', `${ms(latency.puback.p50Ms)} / ${ms(latency.puback.p99Ms)} / ${ms(latency.puback.maxMs)}`, ''],
      ['group commits/s × readings; mean (ms)', `${hubNum('commitsPerSecond', 0)} × ${hubNum('jobsPerCommit', 1)}; ${hubNum('commitMeanMs', 2)}`, `writer thread ${pct(Number(latency.hub.commitShareOfWindow))} busy`],
      ['hub CPU; generator; stream client (of one core)', `${pct(latency.cpu.brokerCoreShare)}; ${pct(latency.generatorCoreShare)}; ${pct(latency.cpu.benchCoreShare)}`, `RSS ${(latency.brokerRssBytes / 2 ** 20).toFixed(0)} MiB`],
      [`machine CPU (of all ${cores}); other processes`, `${pct(latency.cpu.machineBusy)}; ${pct(latency.cpu.othersCoreShare)}`, ''],
      ['stream messages: reading / alert.* (MiB)', `${latency.stream.counts.reading ?? 0} / ${(latency.stream.counts['alert.created'] ?? 0) + (latency.stream.counts['alert.updated'] ?? 0)}`, `${latency.stream.mib.toFixed(1)} MiB`],
    ],
  };
  const record = {
    part: 'alerts',
    at: new Date().toISOString(),
    machine: { cores, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, platform: process.platform },
    params: p,
    provisionSeconds,
    overhead: {
      target: TARGET_RULES_RATIO,
      workloads: summaries.map((w) => ({
        abnormalPct: w.abnormalPct,
        legs: w.legs.map((l) => ({ mode: l.mode, round: l.round + 1, ...l.figures })),
        readingsPerSecond: { off: rate(w.off), on: rate(w.on) },
        ratio: w.ratio,
        pairRatios: w.pairRatios,
        verdict: w.verdict,
        disturbed: w.disturbed,
      })),
    },
    latency: { ...latency, target: TARGET_ALERT_P99_MS, verdict: { created: createdVerdict, updated: updatedVerdict }, disturbed: latencyDisturbed, fellBehind },
    notes,
    problems,
  };
  return { record, table, notes, problems };
}

export const alertsPart: BenchPart = {
  name: 'alerts',
  describe: 'rules engine: ingest readings/s with rules off vs on (A B B A), and publish→alert event latency on the live stream at 5k readings/s',
  flags: {
    devices: '100', window: '8', warmup: '2', seconds: '6', rounds: '2', 'abnormal-pct': '5', mix: 'systolic',
    residents: '500', rate: '5000', 'latency-seconds': '10', sync: 'full',
  },
  plan(flags) {
    const p = alertsParams(flags);
    return () => runAlerts(p);
  },
};
