/**
 * What the realtime tests share: a stream client light enough for hundreds of
 * thousands of events (it keeps each event's seq, type and a few fields, not
 * the message), readings written straight through the hub's own store path
 * (the ingest's `ReadingStore.append`: one call is one recorded job, so one
 * commit), the hub's socket of a client, and a metric off the real /metrics.
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { Reading } from '../../../devices/validateReading.js';
import type { TestHub } from '../../helpers/hub.js';
import { waitFor } from '../alerts/helpers.js';

export interface SeenEvent {
  seq: number;
  type: string;
  /** A reading's id and resident; an alert's rule and severity. */
  id?: string;
  residentId?: string | null;
  rule?: string;
  severity?: string;
}

export interface ControlMessage {
  type: string;
  /** How many events had arrived before it. */
  after: number;
  [k: string]: unknown;
}

/** A dashboard's socket on /api/v1/stream that keeps what a test checks of each event, in arrival order. */
export class LightStream {
  readonly events: SeenEvent[] = [];
  readonly control: ControlMessage[] = [];
  closed: { code: number; reason: string } | null = null;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (raw: WebSocket.RawData) => {
      const m = JSON.parse(raw.toString()) as { type: string; seq?: number; at?: string; data?: Record<string, unknown> };
      if (typeof m.seq === 'number' && m.at !== undefined) {
        const d = m.data ?? {};
        this.events.push(m.type === 'reading'
          ? { seq: m.seq, type: m.type, id: d.id as string, residentId: d.residentId as string | null }
          : { seq: m.seq, type: m.type, rule: d.rule as string | undefined, severity: d.severity as string | undefined });
      } else {
        this.control.push({ ...m, after: this.events.length });
      }
    });
    socket.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }

  static open(t: TestHub, token: string): Promise<LightStream> {
    const socket = new WebSocket(`ws://127.0.0.1:${t.hub.httpPort}/api/v1/stream`, { headers: { authorization: `Bearer ${token}` } });
    const s = new LightStream(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(s));
      socket.once('error', reject);
    });
  }

  /** Waits for `hello`; with `resume`, sends the watch (if any) and the resume, as the dashboard does. */
  async hello(opts: { resume?: number | 'hello'; watch?: object | null } = {}): Promise<number> {
    const hello = await this.nextControl('hello');
    if (opts.watch !== undefined) this.send({ watch: opts.watch });
    if (opts.resume !== undefined) this.send({ resume: opts.resume === 'hello' ? hello.seq : opts.resume });
    return hello.seq as number;
  }

  send(msg: object): void {
    this.socket.send(JSON.stringify(msg));
  }

  nextControl(type: string, timeoutMs = 10_000): Promise<ControlMessage> {
    return waitFor(() => this.control.find((m) => m.type === type), type, timeoutMs);
  }

  /** Waits until an event with a seq ≥ `seq` has arrived. */
  async reach(seq: number, timeoutMs = 20_000): Promise<void> {
    await waitFor(() => this.events.length > 0 && this.events[this.events.length - 1]!.seq >= seq, `the stream to reach seq ${seq}`, timeoutMs);
  }

  /** The socket's underlying TCP socket (to pause it, as a browser tab that stops reading does). */
  get tcp(): Socket {
    return (this.socket as unknown as { _socket: Socket })._socket;
  }

  close(): void {
    this.socket.terminate();
  }
}

/** The hub's end of a client's stream socket. */
export function hubSocketOf(t: TestHub, client: LightStream): WebSocket {
  const port = client.tcp.localPort;
  const server = (t.hub.http as unknown as { websocketServer: { clients: Set<WebSocket> } }).websocketServer;
  for (const s of server.clients) if ((s as unknown as { _socket?: Socket })._socket?.remotePort === port) return s;
  throw new Error(`no hub socket for the client on port ${port}`);
}

/** A metric's value (summed over its labels, or over the label sets that contain `labels`) from the hub's /metrics; 0 if exported but not yet counted. */
export async function metric(t: TestHub, name: string, labels = ''): Promise<number> {
  const body = (await t.hub.http.inject({ url: '/metrics' })).body;
  if (!body.includes(`# TYPE ${name} `)) throw new Error(`the hub exports no ${name}`);
  let sum = 0;
  for (const line of body.split('\n')) {
    if (line.startsWith('#')) continue;
    const key = line.slice(0, line.lastIndexOf(' '));
    if (key === name || (key.startsWith(`${name}{`) && key.includes(labels))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

let readingNo = 0;

/** Blood-pressure readings of one device, measured and received at `at`; `values` adds to a normal 120/80. */
export function bpReadings(count: number, at: number, who: { homeId: string; deviceId: string; residentId: string | null }, values: Record<string, number | string> = {}): Reading[] {
  const out: Reading[] = new Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = { ...who, id: `bulk-${++readingNo}`, type: 'blood_pressure', ts: at, receivedAt: at, values: { systolic: 120, diastolic: 80, ...values } };
  }
  return out;
}

/** Stores readings through the hub's store path in one recorded job (one commit, with their stream events and alerts). */
export function storeReadings(t: TestHub, readings: Reading[]): Promise<void> {
  return new Promise((resolve, reject) => t.hub.ctx.readings.append(readings, (err) => (err ? reject(err) : resolve())));
}

/**
 * The seqs of every event stored after `after`, as an operator may see them: read straight from the tables
 * (the events, and the readings that carry their own), not through the EventLog under test.
 */
export function storedSeqs(t: TestHub, after: number, readingsOf?: string): number[] {
  return t.hub.ctx.db.prepare(`
    SELECT seq FROM events WHERE seq > @after AND (@resident IS NULL OR type != 'reading' OR resident_id = @resident)
    UNION ALL
    SELECT stream_seq FROM readings WHERE stream_seq > @after AND (@resident IS NULL OR resident_id = @resident)
    ORDER BY 1`).pluck().all({ after, resident: readingsOf ?? null }) as number[];
}

/** The first index at which two seq lists differ, or -1: a readable failure instead of a 200,000-line diff. */
export function firstDifference(a: readonly number[], b: readonly number[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}
