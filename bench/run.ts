/**
 * `npm run bench [-- PART…] [--flag value…]`: runs the named benchmark parts
 * (all by default), prints a table per part and writes
 * `bench/results/<part>.json` (git-ignored) for comparing runs.
 *
 * Exit status: 0 when every part ran, even if a figure misses its target (a
 * benchmark is a measurement); 1 when something broke (a crash, lost data, a
 * part that could not run); 2 on a usage error.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Flags, type BenchOutcome, type BenchPart } from './benchPart.js';
import { alertsPart } from './alerts.js';
import { capacityPart } from './capacity.js';
import { connectionsPart } from './connections.js';
import { ingestPart } from './ingest.js';
import { hubInfluxPart } from './hubInflux.js';
import { influxIngestPart } from './influxIngest.js';
import { importStallPart } from './importStall.js';
import { journalCostPart } from './journalCost.js';
import { restartPart } from './restart.js';
import { floodPart } from './flood.js';

/** Every part, in the order a full run takes them. */
const PARTS: BenchPart[] = [ingestPart, alertsPart, influxIngestPart, hubInfluxPart, journalCostPart, importStallPart, connectionsPart, capacityPart, floodPart, restartPart];

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

function usage(): string {
  const lines = ['usage: npm run bench -- [part…] [--flag value…]', '', 'parts:'];
  for (const part of PARTS) {
    lines.push(`  ${part.name.padEnd(10)} ${part.describe}`);
    const flags = Object.entries(part.flags).map(([k, v]) => `--${k} ${v}`).join(' ');
    if (flags) lines.push(`  ${''.padEnd(10)} ${flags}`);
  }
  return lines.join('\n');
}

/** A plain text table: first column left-aligned (labels), the others right-aligned (figures). */
export function formatTable(columns: string[], rows: string[][]): string {
  const all = [columns, ...rows];
  const widths = columns.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

async function main(): Promise<number> {
  const runs: Array<{ part: BenchPart; run: () => Promise<BenchOutcome> }> = [];
  try {
    const parsed = Flags.parse(process.argv.slice(2));
    const flags = parsed.flags;
    if (flags.has('help')) {
      console.log(usage());
      return 0;
    }
    const unknownParts = parsed.parts.filter((name) => !PARTS.some((p) => p.name === name));
    if (unknownParts.length > 0) throw new Error(`unknown part(s): ${unknownParts.join(', ')}`);
    const selected = parsed.parts.length === 0 ? PARTS : PARTS.filter((p) => parsed.parts.includes(p.name));
    // A mistyped flag would otherwise silently run the default.
    const known = new Set(selected.flatMap((p) => Object.keys(p.flags)));
    const unknownFlags = flags.names().filter((f) => !known.has(f));
    if (unknownFlags.length > 0) throw new Error(`unknown flag(s): ${unknownFlags.map((f) => `--${f}`).join(', ')}`);
    for (const part of selected) runs.push({ part, run: part.plan(flags) });
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage()}`);
    return 2;
  }

  mkdirSync(RESULTS_DIR, { recursive: true });
  if (runs.length > 1) return runEachInItsOwnProcess(runs.map((r) => r.part), process.argv.slice(2));
  let broken = false;
  for (const { part, run } of runs) {
    console.log(`\n== ${part.name}: ${part.describe}`);
    const started = Date.now();
    let outcome: BenchOutcome;
    try {
      outcome = await run();
    } catch (err) {
      broken = true;
      console.error(`${part.name} FAILED: ${(err as Error).stack ?? String(err)}`);
      continue;
    }
    console.log(`\n${formatTable(outcome.table.columns, outcome.table.rows)}\n`);
    for (const note of outcome.notes) console.log(`  ${note}`);
    for (const problem of outcome.problems) console.error(`  PROBLEM: ${problem}`);
    if (outcome.problems.length > 0) broken = true;
    const file = `${RESULTS_DIR}${part.name}.json`;
    writeFileSync(file, JSON.stringify(outcome.record, null, 2) + '\n');
    console.log(`  (${((Date.now() - started) / 1000).toFixed(0)} s; written to bench/results/${part.name}.json)`);
  }
  return broken ? 1 : 0;
}

/**
 * Several parts: each in a fresh process (this script, the same V8 flags, the
 * part's own flags), one after another. In one process a part measured what
 * the earlier ones left behind: a full run once had the capacity part's bare
 * aedes baseline at 20,000 readings/s with a 1.2 s PUBACK p99 (its subscriber
 * in this process slowed by the heap of the parts before), against
 * 40,000–50,000/s when run alone.
 */
async function runEachInItsOwnProcess(parts: BenchPart[], argv: string[]): Promise<number> {
  const { flags } = Flags.parse(argv);
  let code = 0;
  for (const part of parts) {
    const own = flags.names().filter((f) => f in part.flags).flatMap((f) => [`--${f}`, flags.raw(f)!]);
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), part.name, ...own], { stdio: 'inherit' });
    const exit = await new Promise<number>((resolve) => child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
    if (exit !== 0) {
      console.error(`${part.name}: exited with ${exit}`);
      code = Math.max(code, exit === 2 ? 2 : 1);
    }
  }
  return code;
}

// Exit explicitly: a worker or socket a failed part left behind must not keep the process alive.
main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
