/**
 * Shared set-up of the alert integration tests: a real hub with a fake clock,
 * the SPEC §6 example district plus a second home of another doctor, signed-in
 * people, real MQTT clients, and a real WebSocket stream client.
 */
import type { MqttClient } from 'mqtt';
import WebSocket from 'ws';
import type { HubConfig } from '../../../server/config.js';
import { connectClient, exampleDocument, login, publishAcked, secretOf, startTestHub, type ImportAnswer, type TestHub } from '../../helpers/hub.js';

/** 2025-03-10 09:00 in Asia/Shanghai (UTC+8): a Monday morning, before a 10:00 measurement slot. */
export const MONDAY_0900 = Date.parse('2025-03-10T09:00:00+08:00');
export const MINUTE = 60_000;

/** The one clock of a hub under test; only the test moves it. */
export class FakeClock {
  constructor(public t = MONDAY_0900) {}
  readonly now = (): number => this.t;
  advance(ms: number): number {
    this.t += ms;
    return this.t;
  }
  set(ms: number): number {
    this.t = ms;
    return this.t;
  }
}

/** Time rules and deadlines run only when a test calls `watchdog.tick`. */
export const MANUAL_TICKS: Partial<HubConfig> = { tickMs: 3_600_000 };

/** The example district: wh-0001 (r-0001, dr-li) and wh-0002 (r-0002, dr-wang), an operator, and extra people. */
export function district(extraUsers: Array<Record<string, unknown>> = []) {
  const doc = exampleDocument();
  const other = exampleDocument('wh-0002', '0002').homes[0]!;
  other.residents[0]!.doctor = 'dr-wang';
  other.residents[0]!.name = '李桂兰';
  // The time-rule tests watch home 1's cuff and meter like sensors (5 min); by default such
  // spot-check devices are expected only every 12 h, as home 2's still are.
  for (const d of doc.homes[0]!.devices) if (d.id === 'bp-0001' || d.id === 'glu-0001') (d as Record<string, unknown>).heartbeatSeconds = 300;
  doc.homes.push(other);
  (doc.users as Array<Record<string, unknown>>).push(
    { username: 'dr-wang', role: 'doctor', name: '王医生' },
    { username: 'op-zhang', role: 'operator', name: '张坐席' },
    ...extraUsers,
  );
  return doc;
}

export interface AlertHub {
  t: TestHub;
  clock: FakeClock;
  answer: ImportAnswer;
  /** Bearer tokens by username (admin included). */
  tokens: Record<string, string>;
  clients: MqttClient[];
  /** Connects a device or gateway of the district (closed by `close`). */
  connect(username: string, extra?: Parameters<typeof connectClient>[3]): Promise<MqttClient>;
  close(): Promise<void>;
}

export async function startAlertHub(opts: { clock?: FakeClock; config?: Partial<HubConfig>; doc?: object; dataDir?: string } = {}): Promise<AlertHub> {
  const clock = opts.clock ?? new FakeClock();
  const t = await startTestHub({ now: clock.now, config: { ...MANUAL_TICKS, ...opts.config }, dataDir: opts.dataDir });
  const answer = await t.importDoc(opts.doc ?? district());
  const tokens: Record<string, string> = { admin: await t.adminToken() };
  for (const u of answer.users) tokens[u.username] = await login(t.hub, u.username, u.password);
  const clients: MqttClient[] = [];
  return {
    t, clock, answer, tokens, clients,
    async connect(username, extra) {
      // The hub announces a connection (and queues its status event) just after the CONNACK, which the
      // client may see first: wait for the announcement, so a test's next step sees a settled log.
      let off = () => {};
      const announced = new Promise<void>((resolve) => {
        off = t.hub.ctx.events.on('device.status', (s) => {
          if (s.clientId === username && s.online && s.source === 'connection') resolve();
        });
      });
      try {
        const c = await connectClient(t.mqttUrl, username, secretOf(answer, username), extra);
        clients.push(c);
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the hub did not announce ${username}'s connection`)), 5000)));
        await Promise.race([announced, late]).finally(() => clearTimeout(timer));
        return c;
      } finally {
        off();
      }
    },
    async close() {
      for (const c of clients) c.end(true);
      await t.destroy();
    },
  };
}

export interface ApiAnswer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function api(t: TestHub, token: string, method: 'GET' | 'POST' | 'PUT', url: string, payload?: object): Promise<ApiAnswer> {
  const res = await t.hub.http.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload !== undefined && { payload }) });
  return { status: res.statusCode, body: res.json() };
}

export async function listAlerts(t: TestHub, token: string, query = ''): Promise<any[]> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await api(t, token, 'GET', `/api/v1/alerts${query}`);
  if (res.status !== 200) throw new Error(`GET /api/v1/alerts${query}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.alerts;
}

export const telemetry = (homeId: string, deviceId: string) => `anxin/v1/homes/${homeId}/devices/${deviceId}/telemetry`;

let readingSeq = 0;
/** A unique reading id. */
export const rid = (prefix = 'rd') => `${prefix}-${++readingSeq}`;

export function bp(systolic: number, diastolic: number, extra: Record<string, unknown> = {}) {
  return { type: 'blood_pressure', systolic, diastolic, unit: 'mmHg', ...extra };
}

/** Publishes one reading measured at `ts` (default: the hub's clock) and resolves on PUBACK (= committed, alerts included). */
export async function send(client: MqttClient, homeId: string, deviceId: string, body: Record<string, unknown>, ts: number): Promise<string> {
  const id = (body.id as string | undefined) ?? rid();
  await publishAcked(client, telemetry(homeId, deviceId), { id, ts, ...body });
  return id;
}

/** Polls `probe` until it returns a truthy value, or fails after `timeoutMs`. */
export async function waitFor<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface StreamMessage {
  type: string;
  seq?: number;
  at?: string;
  data?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  [k: string]: unknown;
}

/** A dashboard's WebSocket on `/api/v1/stream`, recording every message in arrival order. */
export class StreamClient {
  readonly messages: StreamMessage[] = [];
  private cursor = 0;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (raw: WebSocket.RawData) => this.messages.push(JSON.parse(raw.toString()) as StreamMessage));
  }

  static open(t: TestHub, token: string): Promise<StreamClient> {
    const socket = new WebSocket(`ws://127.0.0.1:${t.hub.httpPort}/api/v1/stream`, { headers: { authorization: `Bearer ${token}` } });
    const client = new StreamClient(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`stream refused: HTTP ${res.statusCode}`)));
    });
  }

  send(msg: object): void {
    this.socket.send(JSON.stringify(msg));
  }

  /** The next message (after those already taken) that satisfies `pred`; messages skipped over are taken too. */
  async next(pred: (m: StreamMessage) => boolean = () => true, what = 'a stream message', timeoutMs = 5000): Promise<StreamMessage> {
    return waitFor(() => {
      while (this.cursor < this.messages.length) {
        const m = this.messages[this.cursor++]!;
        if (pred(m)) return m;
      }
      return null;
    }, what, timeoutMs);
  }

  /** Highest event seq received so far. */
  lastSeq(): number {
    return Math.max(0, ...this.messages.filter((m) => typeof m.seq === 'number' && m.type !== 'hello').map((m) => m.seq!));
  }

  close(): void {
    this.socket.close();
  }
}

/** Events (not control messages) of a list of stream messages. */
export const eventsOf = (ms: StreamMessage[]) => ms.filter((m) => !['hello', 'resumed', 'resync', 'error'].includes(m.type));
