/**
 * What journalling a reading costs SQLite, against lighter designs: the
 * figure behind the InfluxDB store path's ratio (issue 6) and the journal's
 * line in docs/scaling.md (issue 7, item 4).
 *
 * Three designs, each writing the same readings in transactions of `batch`
 * (as the writer thread's group commits do), on a fresh store file with the
 * hub's schema, ANXIN_SYNC as given:
 *
 * - `journal`: the hub's readings table and statement (`INSERT_READING`):
 *   the row, its dedupe key and the resident/type/time index that the rules,
 *   the charts and the journal fallback read;
 * - `no resident index`: the same without that index (what the journal would
 *   cost if InfluxDB answered every read, the rules' included);
 * - `keys only`: a WITHOUT ROWID table of dedupe keys (what would remain
 *   if readings went to InfluxDB directly and were spooled only while it is
 *   down: a contract change, not built).
 *
 * Measured with two spreads of readings over residents: few (the influx
 * part's 100 cuffs) and a city's (`residents`, each commit touching a different
 * index page per reading). CPU per reading of this process (one thread: the
 * writer's share of a reading), in A B C C B A order per spread; a warm-up
 * fills the indexes first.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type SyncMode } from '../server/store/sqliteDb.js';
import { INSERT_READING } from '../server/store/sqliteReadingStore.js';
import type { BenchOutcome, BenchPart, Flags } from './benchPart.js';

interface Params {
  readings: number;
  warmup: number;
  batch: number;
  residents: number;
  sync: SyncMode;
}

interface Design {
  name: string;
  setup: string;
  sql: string;
  args: (i: number, spread: number) => unknown[];
}

const VALS = '{"systolic":128,"diastolic":82,"map":97,"pulse":72}';
const row = (i: number, spread: number) => {
  const d = String(i % spread).padStart(5, '0');
  return [`bp-${d}`, `r-${i}`, `wh-${d}`, `r-${d}`, 'blood_pressure', 1.7e12 + i * 10, 1.7e12 + i * 10, VALS, null];
};

const DESIGNS: Design[] = [
  { name: 'journal (the hub\'s)', setup: '', sql: INSERT_READING, args: row },
  { name: 'no resident index', setup: 'DROP INDEX readings_resident_type_ts', sql: INSERT_READING, args: row },
  {
    name: 'keys only',
    setup: 'CREATE TABLE bench_keys (device_id TEXT NOT NULL, reading_id TEXT NOT NULL, PRIMARY KEY (device_id, reading_id)) WITHOUT ROWID, STRICT',
    sql: 'INSERT INTO bench_keys (device_id, reading_id) VALUES (?, ?) ON CONFLICT DO NOTHING',
    args: (i, spread) => row(i, spread).slice(0, 2),
  },
];

/** CPU µs per reading of one design, on a fresh store. */
function measure(design: Design, spread: number, p: Params): number {
  const dir = mkdtempSync(join(tmpdir(), 'anxin-journal-'));
  const db = openDatabase(dir, p.sync);
  try {
    if (design.setup) db.exec(design.setup);
    const insert = db.prepare(design.sql);
    const commit = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) insert.run(...design.args(i, spread));
    });
    const write = (from: number, to: number) => {
      for (let i = from; i < to; i += p.batch) commit(i, Math.min(i + p.batch, to));
    };
    write(0, p.warmup);
    const before = process.cpuUsage();
    write(p.warmup, p.warmup + p.readings);
    const cpu = process.cpuUsage(before);
    return (cpu.user + cpu.system) / p.readings;
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function runJournalCost(p: Params): Promise<BenchOutcome> {
  const spreads = [100, p.residents];
  const order = [0, 1, 2, 2, 1, 0];
  const results = spreads.map((spread) => {
    const runs: number[][] = DESIGNS.map(() => []);
    for (const d of order) runs[d]!.push(measure(DESIGNS[d]!, spread, p));
    return { spread, runs };
  });
  const full = (s: number) => mean(results[s]!.runs[0]!);
  const rows = DESIGNS.map((design, d) => [
    design.name,
    ...results.flatMap((r, s) => [r.runs[d]!.map((x) => x.toFixed(2)).join(', '), `${(mean(r.runs[d]!) / full(s)).toFixed(2)} ×`]),
  ]);
  return {
    record: { params: p, designs: DESIGNS.map((d) => d.name), results: results.map((r) => ({ residents: r.spread, cpuMicrosPerReading: r.runs })) },
    table: {
      columns: ['design', ...spreads.flatMap((s) => [`${s} residents: µs CPU/reading`, 'of journal'])],
      rows,
    },
    notes: [
      `${p.readings} blood-pressure readings per run after ${p.warmup} written to warm the indexes; transactions of ${p.batch}; ANXIN_SYNC=${p.sync}; a fresh store file each run; order A B C C B A per spread.`,
      'CPU of this one thread per reading (the writer thread\'s share of a reading in the hub); fsync waits are not CPU and are not counted.',
      `With readings spread over ${p.residents} residents, each transaction changes a different page of the per-resident index for nearly every reading, and every changed page is written to the WAL at commit.`,
      '"keys only" is not a design the hub has: it is what the journal would cost if readings went straight to InfluxDB and were spooled only while it is down (a contract change; see docs/scaling.md).',
    ],
    problems: [],
  };
}

export const journalCostPart: BenchPart = {
  name: 'journal',
  describe: 'what journalling a reading costs SQLite (the hub\'s journal vs without its resident index vs dedupe keys only), few and many residents',
  flags: { readings: '200000', warmup: '50000', batch: '500', residents: '5000', sync: 'full' },
  plan(flags: Flags) {
    const p: Params = {
      readings: flags.integer('readings', 200_000, 10_000, 5_000_000),
      warmup: flags.integer('warmup', 50_000, 0, 5_000_000),
      batch: flags.integer('batch', 500, 1, 10_000),
      residents: flags.integer('residents', 5000, 101, 1_000_000),
      sync: flags.choice('sync', ['full', 'normal'] as const, 'full'),
    };
    return () => runJournalCost(p);
  },
};
