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
import { fileURLToPath } from 'node:url';
import { cpuMeter } from './procStats.js';

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
  /** QoS 1 publishes each client keeps in flight. */
  window: number;
  topicPrefix: string;
  connectTimeoutMs: number;
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
  | { cmd: 'go' } | { cmd: 'measure' } | { cmd: 'stop' } | { cmd: 'finish'; drainMs: number };

export type FromGenerator =
  | { ev: 'connected'; ms: number }
  | { ev: 'stopped'; busy: number }
  | { ev: 'result'; result: LoadResult }
  | { ev: 'failed'; message: string };

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
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.removeAllListeners('exit');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
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
