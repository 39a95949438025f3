/**
 * Measurements for benchmarks: a child's memory and CPU time from Linux
 * /proc (proc(5)), and latency percentiles from raw samples.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Clock ticks per second for /proc/<pid>/stat times; 100 on every Linux we run on, but ask. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Resident set size in bytes (`VmRSS` of /proc/<pid>/status). */
export function readRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kib) * 1024;
}

/** User + system CPU seconds the process has used so far (fields 14 and 15 of /proc/<pid>/stat). */
export function readCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may contain spaces: split after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** CPU time of a process over an interval: start it, then `stop()` returns the used fraction of one core. */
export function cpuMeter(pid: number): { stop(): { seconds: number; coreShare: number } } {
  const cpu0 = readCpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  return {
    stop() {
      const seconds = readCpuSeconds(pid) - cpu0;
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      return { seconds, coreShare: wall > 0 ? seconds / wall : 0 };
    },
  };
}

/**
 * Whole-machine CPU over an interval, from the first line of /proc/stat:
 * `busy` is the share of all cores in use (1.0 = every core saturated),
 * `interrupts` the part of it spent in (soft) interrupts, where loopback TCP
 * is largely processed and charged to no process, `steal` the share a
 * hypervisor gave to other guests. Tells whether a figure was limited by the
 * cores themselves or by a neighbour.
 */
export function machineCpuMeter(): { stop(): { busy: number; interrupts: number; steal: number } } {
  const read = () => {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    const [user, nice, system, idle, iowait, irq, softirq, steal] = ticks.slice(0, 8).map(Number) as number[];
    return { busy: user! + nice! + system! + irq! + softirq!, interrupts: irq! + softirq!, idle: idle! + iowait!, steal: steal! };
  };
  const a = read();
  return {
    stop() {
      const b = read();
      const total = (b.busy - a.busy) + (b.idle - a.idle) + (b.steal - a.steal);
      if (total <= 0) return { busy: NaN, interrupts: NaN, steal: NaN };
      return { busy: (b.busy - a.busy) / total, interrupts: (b.interrupts - a.interrupts) / total, steal: (b.steal - a.steal) / total };
    },
  };
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
}

/**
 * Percentiles by sorting: exact, and fast enough for the few million samples
 * a benchmark run produces (an HDR histogram would only be needed beyond that).
 */
export function summarizeLatency(samplesUs: Float64Array): LatencySummary {
  const n = samplesUs.length;
  if (n === 0) return { count: 0, p50Ms: NaN, p99Ms: NaN, p999Ms: NaN, maxMs: NaN, meanMs: NaN };
  const sorted = Float64Array.from(samplesUs).sort();
  // Nearest-rank percentile: the smallest sample with at least p% of samples at or below it.
  const at = (p: number) => sorted[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)]! / 1000;
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: n, p50Ms: at(50), p99Ms: at(99), p999Ms: at(99.9), maxMs: sorted[n - 1]! / 1000, meanMs: sum / n / 1000 };
}

/** Where the machine's CPU went over a measured window, in cores (1.0 = one whole core) unless named a share. */
export interface WindowCpu {
  brokerCpuSeconds: number;
  brokerCoreShare: number;
  /** This process (a subscriber or stream client; idle otherwise). */
  benchCoreShare: number;
  /** Share of all cores in use on the machine, and stolen by the hypervisor. */
  machineBusy: number;
  machineSteal: number;
  /** Interrupts (loopback TCP, charged to no process). */
  interruptsCoreShare: number;
  /** Processes outside the benchmark (other work on a shared machine). */
  othersCoreShare: number;
}

/**
 * Starts metering a window: the broker's CPU, this process's, and the whole
 * machine's. `stop` takes the generator's CPU (metered by its own handle) so
 * what is left over is other processes'.
 */
export function windowCpuMeter(brokerPid: number): { stop(generatorCoreShare: number): WindowCpu } {
  const machine = machineCpuMeter();
  const broker = cpuMeter(brokerPid);
  const bench0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  return {
    stop(generatorCoreShare) {
      const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
      const benchUsed = process.cpuUsage(bench0);
      const benchCoreShare = (benchUsed.user + benchUsed.system) / 1e6 / wall;
      const m = machine.stop();
      const b = broker.stop();
      const cores = cpus().length;
      return {
        brokerCpuSeconds: b.seconds,
        brokerCoreShare: b.coreShare,
        benchCoreShare,
        machineBusy: m.busy,
        machineSteal: m.steal,
        interruptsCoreShare: m.interrupts * cores,
        othersCoreShare: Math.max(0, (m.busy - m.interrupts) * cores - b.coreShare - generatorCoreShare - benchCoreShare),
      };
    },
  };
}

/** Kills a child with SIGKILL (dropping its exit listeners: this death is ours, not a finding) and waits for it; idempotent. */
export async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
