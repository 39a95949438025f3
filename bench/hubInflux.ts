/**
 * The hub's own ingest with InfluxDB as its store: the ingest part's QoS 1 load
 * over MQTT (100 cuffs, 8 publishes in flight each, as fast as acknowledged)
 * against the hub on its embedded store only (A) and the hub with InfluxDB 1.x
 * configured (B: the same, plus the forwarder thread tailing the journal into
 * a real `influxd` on the same cores), in A B B A order. What it answers: does
 * feeding InfluxDB cost the devices anything (readings/s, PUBACK latency), and
 * does InfluxDB keep up (its lag when the window closes, readings it
 * confirmed per second)?
 *
 * Each hub is killed with SIGKILL under load (as the ingest part does): every
 * PUBACK must be a stored row, and InfluxDB may hold only readings the journal
 * has, each once.
 */
import { cpus } from 'node:os';
import { influxQuery, startInflux, type InfluxServer } from '../test/helpers/influx.js';
import type { BenchOutcome, BenchPart, Flags } from './benchPart.js';
import { DISTURBED, measure, pct, type IngestParams, type TargetFigures } from './ingest.js';
import { fleet, fleetDocument, provisionHub, startHub, type ProvisionedHub } from './ingestTargets.js';
import type { LoadDevice } from './loadGenerator.js';
import { cpuMeter } from './procStats.js';

type Mode = 'embedded' | 'influx';

interface Leg {
  mode: Mode;
  figures: TargetFigures;
  /** influxd's CPU over the leg (warm-up included), in cores. */
  influxdCoreShare: number;
  /** Readings in InfluxDB after the hub was killed (influx legs). */
  inInflux: number;
}

async function leg(mode: Mode, n: number, influx: InfluxServer, template: ProvisionedHub, devices: LoadDevice[], p: IngestParams, problems: string[]): Promise<Leg> {
  const database = `bench_hub_${n}`;
  const env: Record<string, string> = mode === 'influx' ? { ANXIN_INFLUX_URL: influx.url, ANXIN_INFLUX_DB: database } : {};
  const target = await startHub(devices, p.sync, { from: template, env });
  const influxd = cpuMeter(influx.pid()!);
  try {
    const name = `${mode === 'influx' ? 'with InfluxDB' : 'embedded only'} #${n}`;
    const figures = await measure(name, target, p, problems);
    const influxdCoreShare = influxd.stop().coreShare;
    let inInflux = 0;
    if (mode === 'influx') {
      const [rows] = await influxQuery(influx.url, database, 'SELECT count(reading_id) FROM "anxin_raw"."blood_pressure"');
      inInflux = Number(rows?.[0]?.count ?? 0);
      // Reading ids are unique per device (the dedupe key is device and id).
      const [perDevice] = await influxQuery(influx.url, database, 'SELECT count(distinct(reading_id)) FROM "anxin_raw"."blood_pressure" GROUP BY device');
      const distinct = (perDevice ?? []).reduce((n, row) => n + Number(row.count ?? 0), 0);
      if (inInflux > Number(figures.checks.storedRows)) problems.push(`${name}: ${inInflux} readings in InfluxDB but only ${figures.checks.storedRows} in the journal`);
      if (distinct !== inInflux) problems.push(`${name}: ${inInflux} points in InfluxDB for ${distinct} reading ids: a reading written twice as two points`);
      if (inInflux < Number(figures.checks.influxWritten ?? 0)) problems.push(`${name}: InfluxDB holds ${inInflux} readings after confirming ${figures.checks.influxWritten}`);
    }
    return { mode, figures, influxdCoreShare, inInflux };
  } finally {
    await target.close();
  }
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

async function runHubInflux(p: IngestParams): Promise<BenchOutcome> {
  const devices = fleet(p.devices, p.perHome);
  const problems: string[] = [];
  const template = await provisionHub(fleetDocument(devices), p.sync);
  const influx = await startInflux();
  const legs: Leg[] = [];
  try {
    // A B B A: a machine that speeds up or slows down over the run favours neither.
    const order: Mode[] = ['embedded', 'influx', 'influx', 'embedded'];
    for (const [i, mode] of order.entries()) legs.push(await leg(mode, i + 1, influx, template, devices, p, problems));
  } finally {
    await influx.stop();
    template.remove();
  }

  const of = (mode: Mode) => legs.filter((l) => l.mode === mode);
  const rate = (ls: Leg[]) => mean(ls.map((l) => l.figures.readingsPerSecond));
  const ratio = rate(of('influx')) / rate(of('embedded'));
  // influxd is ours here, not another process's: it is taken out of "others".
  const disturbed = legs.some((l) => l.figures.othersCoreShare - l.influxdCoreShare > DISTURBED);
  const cores = cpus().length;
  const ms = (v: number) => v.toFixed(2);
  const cells = (get: (l: Leg) => string) => legs.map(get);
  const table = {
    columns: ['', ...legs.map((l, i) => `${l.mode === 'influx' ? 'with InfluxDB' : 'embedded only'} #${i + 1}`)],
    rows: [
      ['accepted readings/s (PUBACKs)', ...cells((l) => l.figures.readingsPerSecond.toFixed(0))],
      ['PUBACK latency p50 / p99 (ms)', ...cells((l) => `${ms(l.figures.latency.p50Ms)} / ${ms(l.figures.latency.p99Ms)}`)],
      ['hub CPU; influxd CPU (of one core)', ...cells((l) => `${pct(l.figures.brokerCoreShare)}; ${l.mode === 'influx' ? pct(l.influxdCoreShare) : '-'}`)],
      ['hub RSS (MiB)', ...cells((l) => (l.figures.brokerRssBytes / 2 ** 20).toFixed(1))],
      ['InfluxDB confirmed/s in the window', ...cells((l) => (l.mode === 'influx' ? Number(l.figures.checks.influxWrittenPerSecond ?? 0).toFixed(0) : '-'))],
      ['InfluxDB lag at window close (readings)', ...cells((l) => (l.mode === 'influx' ? String(l.figures.checks.influxLag ?? '?') : '-'))],
      ['stored / PUBACKs; in InfluxDB after the kill', ...cells((l) => `${String(l.figures.checks.storedRows)} / ${l.figures.load.totalAcks}${l.mode === 'influx' ? `; ${l.inInflux}` : ''}`)],
    ],
  };
  const notes = [
    `${p.devices} bp_cuff devices over ${new Set(devices.map((d) => d.homeId)).size} homes, ${p.window} QoS 1 publishes in flight each, ${p.warmupSeconds} s warm-up + ${p.seconds} s measured per leg; hub ANXIN_SYNC=${p.sync}; influxd 1.x on loopback; ${cores} core(s) shared by the load generator, the hub and influxd.`,
    `With InfluxDB / embedded only: ${rate(of('influx')).toFixed(0)} / ${rate(of('embedded')).toFixed(0)} readings/s = ${ratio.toFixed(2)} × (means of the two legs each).`,
    `Each hub was killed with SIGKILL under load; ${legs.every((l) => l.figures.checks.durable) ? 'every acknowledged reading was in its journal' : 'ACKNOWLEDGED READINGS LOST'}; InfluxDB held only journaled readings, each once${problems.length ? ' (see problems)' : ''}.`,
  ];
  if (disturbed) notes.push('Other processes (besides influxd) took more than 15 % of a core in some leg: the figures are disturbed; re-run on a quiet machine.');
  const record = {
    part: 'hubinflux', at: new Date().toISOString(),
    machine: { cores, cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
    params: p, legs, ratio, disturbed, notes, problems,
  };
  return { record, table, notes, problems };
}

export const hubInfluxPart: BenchPart = {
  name: 'hubinflux',
  describe: "the hub's MQTT ingest on its embedded store vs with InfluxDB 1.x configured (A B B A), and whether InfluxDB keeps up",
  flags: { devices: '100', window: '8', warmup: '2', seconds: '10', sync: 'full' },
  plan(flags: Flags) {
    const p: IngestParams = {
      devices: flags.integer('devices', 100, 1, 2000),
      perHome: 4,
      window: flags.integer('window', 8, 1, 256),
      warmupSeconds: flags.integer('warmup', 2, 0, 60),
      seconds: flags.integer('seconds', 10, 1, 300),
      sync: flags.choice('sync', ['full', 'normal'] as const, 'full'),
    };
    return () => runHubInflux(p);
  },
};
