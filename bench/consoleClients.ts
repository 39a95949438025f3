/**
 * The capacity bench's screens on the hub's live stream, each a WebSocket
 * client of `/api/v1/stream` that stamps when the alert of each abnormal
 * reading reaches it. Run as child processes of the bench (`--console-processes`,
 * consoles.ts shares the screens out), or in the bench's own process (0).
 *
 * Why processes of their own: a stamp is taken when this process's event loop
 * gets to the socket, so it measures the hub *and* the client. A hundred
 * screens in the bench's process (which also runs the measurement) keep that
 * event loop a fifth to a quarter busy, and a commit's messages to the hundred
 * sockets are read one socket after another. Spread over processes, each
 * reads its share. Measured on 2 cores (2026-11-24), 4 processes gave no
 * lower alert p99 than 0 (7.5, 10.0, 13.8 ms against 6.2, 8.3 ms, 100 screens):
 * the processes then contend with the hub for the cores, so the default stays
 * 0; on a machine with cores to spare they take the client out of the figure.
 *
 * Clocks: a stamp is `performance.timeOrigin + performance.now()` of the
 * process that takes it (loadGenerator.ts `wallClockMs`, monotonic within a
 * process). Each process's origin is read from the system clock when it
 * starts, so two processes may disagree by a fraction of a millisecond: the
 * bench measures each host's offset to its own clock over IPC (the shortest of
 * several round trips, as for the load generator) and subtracts it.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { CpuProfiler, OwnSession, type HotSpots } from './inspector.js';
import { wallClockMs } from './loadGenerator.js';

export type ToConsoles =
  | { cmd: 'open'; httpUrl: string; token: string; watch?: object }
  | { cmd: 'clock' }
  /** Starts a window; with `profile`, a CPU profile of this process over it, written there. */
  | { cmd: 'mark'; profile?: string }
  | { cmd: 'window' }
  | { cmd: 'stopStamping' }
  /** Waits until each console (in open order) has an alert event for each key it is given, or `waitMs` passed. */
  | { cmd: 'seen'; expected: string[][]; waitMs: number }
  | { cmd: 'close' };

export type FromConsoles =
  | { ev: 'opened' }
  | { ev: 'clock'; ms: number }
  | { ev: 'marked' }
  | { ev: 'window'; perConsole: number[]; seconds: number; eventLoopBusy: number; profile?: HotSpots }
  | { ev: 'stopped' }
  | { ev: 'seen'; consoles: ConsoleSeen[] }
  | { ev: 'closed'; consoles: ConsoleEnd[] }
  | { ev: 'failed'; message: string };

/** A console's stamps, on its process's clock: the first alert event naming each reading. */
export interface ConsoleSeen {
  keys: string[];
  atMs: Float64Array;
  created: Uint8Array;
  counts: Record<string, number>;
}

/** A console at the end: who closed it (`us`: open until the bench closed it; `hub (code)`), what it got. */
export interface ConsoleEnd {
  closedBy: string | null;
  counts: Record<string, number>;
  messages: number;
}

// ---------------------------------------------------------------------------------------------
// One console on the live stream

type Seen = Map<string, { created: boolean; atMs: number }>;

/** Resumes at once after `hello`; stamps the first alert event naming each reading (`lastReading`). */
export class AlertStream {
  readonly seen: Seen = new Map();
  readonly counts: Record<string, number> = {};
  messages = 0;
  closedBy: string | null = null;
  /** Off: only count what arrives (after the paced leg, so a saturating leg's alerts cost the client little). */
  stamping = true;

  private constructor(private readonly socket: WebSocket) {}

  /** `watch`, when given, is sent before the resume (see server/realtime/streamHub.ts). */
  static async open(httpUrl: string, token: string, watch?: object): Promise<AlertStream> {
    const socket = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/api/v1/stream`, { headers: { authorization: `Bearer ${token}` } });
    const stream = new AlertStream(socket);
    let live = false;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no hello/resumed on the stream within 10 s')), 10_000);
      socket.once('error', reject);
      socket.on('message', (raw: Buffer) => {
        if (live) return stream.onEvent(raw);
        const msg = JSON.parse(raw.toString()) as { type?: string; seq?: number };
        if (msg.type === 'hello') {
          if (watch) socket.send(JSON.stringify({ watch }));
          socket.send(JSON.stringify({ resume: msg.seq }));
        }
        if (msg.type === 'resumed') {
          live = true;
          clearTimeout(timer);
          resolve();
        }
      });
    }).catch((err: unknown) => {
      socket.terminate();
      throw err;
    });
    socket.on('close', (code) => (stream.closedBy ??= `hub (${code})`));
    return stream;
  }

  private onEvent(raw: Buffer): void {
    const atMs = wallClockMs();
    this.messages += 1;
    const type = /"type":"([^"]+)"/.exec(raw.toString('latin1', 0, 64))?.[1] ?? '?';
    this.counts[type] = (this.counts[type] ?? 0) + 1;
    if (!this.stamping || (type !== 'alert.created' && type !== 'alert.updated')) return;
    const r = (JSON.parse(raw.toString()) as { data: { lastReading?: { deviceId: string; id: string } | null } }).data.lastReading;
    if (r && !this.seen.has(`${r.deviceId}/${r.id}`)) this.seen.set(`${r.deviceId}/${r.id}`, { created: type === 'alert.created', atMs });
  }

  close(): void {
    this.closedBy ??= 'us';
    this.socket.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The consoles of one process

export class ConsoleClients {
  private readonly streams: AlertStream[] = [];
  private window: { marks: number[]; elu: EventLoopUtilization; t0: number; profiler: CpuProfiler | null; profileFile: string } | null = null;

  async handle(m: ToConsoles): Promise<FromConsoles> {
    switch (m.cmd) {
      case 'open':
        this.streams.push(await AlertStream.open(m.httpUrl, m.token, m.watch));
        return { ev: 'opened' };
      case 'clock':
        return { ev: 'clock', ms: wallClockMs() };
      case 'mark': {
        const profiler = m.profile ? new CpuProfiler(new OwnSession(), '/bench/') : null;
        await profiler?.start();
        this.window = { marks: this.streams.map((s) => s.messages), elu: performance.eventLoopUtilization(), t0: performance.now(), profiler, profileFile: m.profile ?? '' };
        return { ev: 'marked' };
      }
      case 'window': {
        const w = this.window;
        if (!w) throw new Error('window without mark');
        const figures = {
          perConsole: this.streams.map((s, i) => s.messages - w.marks[i]!),
          seconds: (performance.now() - w.t0) / 1000,
          eventLoopBusy: performance.eventLoopUtilization(w.elu).utilization,
        };
        const profile = w.profiler ? await w.profiler.stop(w.profileFile) : undefined;
        w.profiler?.close();
        this.window = null;
        return { ev: 'window', ...figures, ...(profile && { profile }) };
      }
      case 'stopStamping':
        for (const s of this.streams) s.stamping = false;
        return { ev: 'stopped' };
      case 'seen': {
        const until = performance.now() + m.waitMs;
        const done = () => this.streams.every((s, i) => (m.expected[i] ?? []).every((k) => s.seen.has(k)));
        while (!done() && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
        return {
          ev: 'seen',
          consoles: this.streams.map((s) => {
            const keys = [...s.seen.keys()];
            return {
              keys, counts: { ...s.counts },
              atMs: Float64Array.from(keys, (k) => s.seen.get(k)!.atMs),
              created: Uint8Array.from(keys, (k) => (s.seen.get(k)!.created ? 1 : 0)),
            };
          }),
        };
      }
      case 'close': {
        // A console the hub closed first (too slow a reader, session ended) keeps saying so; the others say 'us'.
        for (const s of this.streams) s.close();
        return { ev: 'closed', consoles: this.streams.map((s) => ({ closedBy: s.closedBy, counts: { ...s.counts }, messages: s.messages })) };
      }
    }
  }
}

function runConsoleClients(): void {
  const clients = new ConsoleClients();
  const post = (m: FromConsoles) => void process.send!(m);
  // One command at a time, answered in order (the bench waits for each answer).
  let queue = Promise.resolve();
  process.on('message', (m: ToConsoles) => {
    queue = queue.then(() => clients.handle(m)).then(post, (err: unknown) => post({ ev: 'failed', message: (err as Error).message }));
  });
  // The bench may die without telling us; never outlive it.
  process.on('disconnect', () => process.exit(0));
}

if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) runConsoleClients();
