/**
 * The bench's handle on the MQTT load generator. The clients themselves run
 * in a child process (`loadProcess.ts`): its own event loop, so it does not
 * compete with the bench's subscriber for one JavaScript thread, and its own
 * /proc entry, so its CPU can be told apart from the broker's. (A worker
 * thread would do the first, but tsx's loader hooks do not reliably reach
 * workers on Node 20.) On a 2-core machine it still shares the cores with the
 * broker under test.
 *
 * Phases, driven from here so the broker's CPU readings line up with the
 * measured window: start (connect every client) → go (publish) → measure →
 * stop (no new publishes; window closed) → finish (drain, disconnect, report).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { cpuMeter, killChild } from './procStats.js';

/** One simulated device: an MQTT client with clientId = username = device id. */
export interface LoadDevice {
  id: string;
  homeId: string;
  /** Its secret; absent against the bare broker, which checks nothing. */
  password?: string;
}

export interface LoadOptions {
  url: string;
  devices: LoadDevice[];
  /** QoS 1 publishes each client keeps in flight (saturating mode; ignored when `ratePerSecond` is set). */
  window: number;
  topicPrefix: string;
  connectTimeoutMs: number;
  /**
   * Every n-th reading of each device is abnormal (one of `ABNORMAL_READINGS`,
   * phase-shifted per device so they spread evenly); absent or 0: all normal.
   */
  abnormalEvery?: number;
  /** Which values make them abnormal (see `ABNORMAL_READINGS`); default `systolic`. */
  abnormalMix?: AbnormalMix;
  /**
   * Paced mode: this many readings per second in total, evenly spaced by one
   * timer and dealt to the devices in turn, whatever the PUBACKs do (as
   * devices measuring on their own schedule). Absent: saturating mode.
   */
  ratePerSecond?: number;
  /** Record the send time of every abnormal reading published inside the window (`LoadResult.abnormal`). */
  trackAbnormal?: boolean;
}

export const ABNORMAL_MIXES = ['systolic', 'diastolic'] as const;
export type AbnormalMix = (typeof ABNORMAL_MIXES)[number];

/**
 * Abnormal blood pressures, one per rule a cuff's reading can raise under the
 * default thresholds (server/rules/ruleConfig.ts; only the most severe match
 * raises). A device sends each twice in a row, in this order, then starts
 * over: on a fresh hub the first of a pair opens an alert for its resident and
 * rule (`alert.created`), the second attaches to it (`alert.updated`).
 *
 * `systolic`: the usual way these rules fire; the three with systolic ≥ 140
 * also make the engine read the resident's last 7 days of blood pressures
 * for `bp_trend`. `diastolic`: the same five rules reached with systolic
 * < 140 (diastolic crisis, severe and high), so that history is never read:
 * the difference between the two is what the trend query costs.
 */
export const ABNORMAL_READINGS: Record<AbnormalMix, ReadonlyArray<{ rule: string; severity: string; values: { systolic: number; diastolic: number; pulse: number } }>> = {
  systolic: [
    { rule: 'bp_crisis', severity: 'critical', values: { systolic: 186, diastolic: 96, pulse: 78 } }, // systolic ≥ 180
    { rule: 'bp_low', severity: 'urgent', values: { systolic: 84, diastolic: 56, pulse: 70 } }, // systolic < 90
    { rule: 'pulse_abnormal', severity: 'critical', values: { systolic: 126, diastolic: 80, pulse: 136 } }, // pulse ≥ 131
    { rule: 'bp_severe', severity: 'urgent', values: { systolic: 150, diastolic: 112, pulse: 74 } }, // diastolic ≥ 110
    { rule: 'bp_high', severity: 'warning', values: { systolic: 166, diastolic: 92, pulse: 76 } }, // systolic ≥ 160
  ],
  diastolic: [
    { rule: 'bp_crisis', severity: 'critical', values: { systolic: 136, diastolic: 122, pulse: 78 } }, // diastolic ≥ 120
    { rule: 'bp_low', severity: 'urgent', values: { systolic: 84, diastolic: 56, pulse: 70 } }, // systolic < 90
    { rule: 'pulse_abnormal', severity: 'critical', values: { systolic: 126, diastolic: 80, pulse: 136 } }, // pulse ≥ 131
    { rule: 'bp_severe', severity: 'urgent', values: { systolic: 136, diastolic: 112, pulse: 74 } }, // diastolic ≥ 110
    { rule: 'bp_high', severity: 'warning', values: { systolic: 136, diastolic: 102, pulse: 76 } }, // diastolic ≥ 100
  ],
};

/** Abnormal readings sent inside the window, in send order (`trackAbnormal`). */
export interface AbnormalSent {
  /** `deviceId/readingId`, as an alert's `lastReading` names it. */
  keys: string[];
  /** Send time, ms on the shared wall clock `performance.timeOrigin + performance.now()`. */
  sentAtMs: Float64Array;
  /** 1 when a fresh hub should answer with `alert.created` (first of its pair, first round), else 0 (`alert.updated`). */
  expectCreated: Uint8Array;
}

/** Paced mode only: how well the generator kept to its schedule inside the window. */
export interface PacingFigures {
  /** Publishes scheduled inside the window and publishes made. */
  scheduled: number;
  published: number;
  /** Publish time minus scheduled time, ms. */
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  /** Slots still unpublished when the window closed (the generator fell behind). */
  behindAtStop: number;
}

/** What the generator counted. Acks are PUBACKs; only those inside the window carry a latency sample. */
export interface LoadResult {
  connectMs: number;
  windowSeconds: number;
  windowAcks: number;
  totalAcks: number;
  published: number;
  /** Publishes whose callback reported an error (connection lost before the PUBACK). */
  publishErrors: number;
  /** Clients whose connection closed before `stop`: the broker dropped them or died. */
  closedEarly: number;
  /** Publishes still unacknowledged when the drain ended. */
  unacked: number;
  /** publish → PUBACK, microseconds, one per ack inside the window. */
  latenciesUs: Float64Array;
  /** Publishes issued inside the window. */
  windowPublished: number;
  /** Readings sent abnormal (all of the run), and those inside the window when `trackAbnormal`. */
  abnormalPublished: number;
  abnormal?: AbnormalSent;
  pacing?: PacingFigures;
}

/** The generator's own load over the window: if it is saturated, it, not the broker, set the pace. */
export interface GeneratorLoad {
  /** Share of the window its event loop was busy. */
  busy: number;
  /** Its CPU, in cores. */
  coreShare: number;
}

export type ToGenerator =
  | { cmd: 'start'; opts: LoadOptions }
  | { cmd: 'go' } | { cmd: 'measure' } | { cmd: 'stop' } | { cmd: 'finish'; drainMs: number } | { cmd: 'clock' };

export type FromGenerator =
  | { ev: 'connected'; ms: number }
  | { ev: 'stopped'; busy: number }
  | { ev: 'result'; result: LoadResult }
  | { ev: 'clock'; ms: number }
  | { ev: 'failed'; message: string };

/**
 * Wall-clock milliseconds with sub-millisecond resolution, comparable across
 * processes on one machine: each process's `timeOrigin` is the system clock
 * at its start, and `performance.now()` runs on the monotonic clock from there.
 */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

const SCRIPT = fileURLToPath(new URL('./loadProcess.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export class LoadGenerator {
  private waiting: { ev: FromGenerator['ev']; resolve: (m: FromGenerator) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private cpu: ReturnType<typeof cpuMeter> | null = null;
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {
    child.stderr!.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    child.on('message', (m: FromGenerator) => {
      if (m.ev === 'failed') return this.fail(new Error(`load generator: ${m.message}`));
      if (this.waiting?.ev === m.ev) {
        const w = this.waiting;
        this.waiting = null;
        w.resolve(m);
      }
    });
    child.on('error', (err) => this.fail(err));
    child.on('exit', (code, signal) => this.fail(new Error(`load generator exited (${code ?? signal}):\n${this.stderr}`)));
  }

  /** Starts the generator and resolves once every client is connected. */
  static async start(opts: LoadOptions): Promise<{ load: LoadGenerator; connectMs: number }> {
    // Secrets go over IPC, not argv, where `ps` would show them. 'advanced' IPC carries the Float64Array as is.
    const child = fork(SCRIPT, [], { cwd: ROOT, execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    const load = new LoadGenerator(child);
    try {
      const connected = load.next('connected');
      load.send({ cmd: 'start', opts });
      const m = await connected;
      return { load, connectMs: m.ev === 'connected' ? m.ms : NaN };
    } catch (err) {
      await load.terminate();
      throw err;
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  go(): void {
    this.send({ cmd: 'go' });
  }

  measure(): void {
    this.cpu = cpuMeter(this.pid);
    this.send({ cmd: 'measure' });
  }

  /** Closes the window; resolves once the generator has stopped issuing publishes. */
  async stop(): Promise<GeneratorLoad> {
    const stopped = this.next('stopped');
    this.send({ cmd: 'stop' });
    const m = await stopped;
    return { busy: m.ev === 'stopped' ? m.busy : NaN, coreShare: this.cpu?.stop().coreShare ?? NaN };
  }

  /**
   * The generator's wall clock (`performance.timeOrigin + performance.now()`)
   * minus this process's, estimated from the quickest of `rounds` IPC round
   * trips; the error is at most half that round trip.
   */
  async clockOffset(rounds = 20): Promise<{ offsetMs: number; rttMs: number }> {
    let best = { offsetMs: NaN, rttMs: Infinity };
    for (let i = 0; i < rounds; i++) {
      const reply = this.next('clock');
      const t1 = wallClockMs();
      this.send({ cmd: 'clock' });
      const m = await reply;
      const t2 = wallClockMs();
      if (m.ev === 'clock' && t2 - t1 < best.rttMs) best = { offsetMs: m.ms - (t1 + t2) / 2, rttMs: t2 - t1 };
    }
    return best;
  }

  /** Waits up to `drainMs` for outstanding PUBACKs, disconnects, and returns the counts. */
  async finish(drainMs: number): Promise<LoadResult> {
    const result = this.next('result');
    this.send({ cmd: 'finish', drainMs });
    const m = await result;
    await this.terminate();
    return (m as Extract<FromGenerator, { ev: 'result' }>).result;
  }

  /** Ends the generator process (idempotent). */
  async terminate(): Promise<void> {
    await killChild(this.child);
  }

  private send(msg: ToGenerator): void {
    if (this.failure) throw this.failure;
    this.child.send(msg);
  }

  private next(ev: FromGenerator['ev']): Promise<FromGenerator> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiting = { ev, resolve, reject }));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(err);
  }
}
