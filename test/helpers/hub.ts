/**
 * Starts a real hub for tests: real aedes on a free loopback port, a real
 * SQLite file in a temp dir, the real HTTP API. Nothing is mocked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { loadConfig, type HubConfig } from '../../server/config.js';
import { buildHub, type Hub } from '../../server/hub.js';

export const ADMIN_PASSWORD = 'test-admin-password-1';

export interface TestHub {
  hub: Hub;
  dataDir: string;
  mqttUrl: string;
  wsUrl: string;
  /** Bearer token of the admin. */
  adminToken(): Promise<string>;
  /** POSTs an import document as admin; returns the answer. */
  importDoc(doc: object): Promise<ImportAnswer>;
  /** Stops this hub (keeps the data dir, so a new hub can be started on it). */
  stop(): Promise<void>;
  /** Stops and deletes the data dir. */
  destroy(): Promise<void>;
}

export interface ImportAnswer {
  credentials: Array<{ username: string; password: string; kind: 'device' | 'gateway' }>;
  users: Array<{ username: string; password: string }>;
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'anxin-test-'));
}

export async function startTestHub(opts: { dataDir?: string; config?: Partial<HubConfig>; now?: () => number } = {}): Promise<TestHub> {
  const dataDir = opts.dataDir ?? tempDataDir();
  const config = loadConfig({}, {
    httpPort: 0, mqttPort: 0, host: '127.0.0.1', dataDir, adminPassword: ADMIN_PASSWORD, logLevel: 'silent', ...opts.config,
  });
  const hub = await buildHub(config, { now: opts.now });
  let token: string | null = null;
  const t: TestHub = {
    hub,
    dataDir,
    mqttUrl: `mqtt://127.0.0.1:${hub.mqttPort}`,
    wsUrl: `ws://127.0.0.1:${hub.httpPort}/mqtt`,
    async adminToken() {
      token ??= await login(hub, 'admin', ADMIN_PASSWORD);
      return token;
    },
    async importDoc(doc) {
      const res = await hub.http.inject({ method: 'POST', url: '/api/v1/import', headers: { authorization: `Bearer ${await t.adminToken()}` }, payload: doc });
      if (res.statusCode !== 200) throw new Error(`import failed: ${res.statusCode} ${res.body}`);
      return res.json() as ImportAnswer;
    },
    stop: () => hub.stop(),
    async destroy() {
      await hub.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}

export async function login(hub: Hub, username: string, password: string): Promise<string> {
  const res = await hub.http.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  return (res.json() as { token: string }).token;
}

/** Connects a real MQTT client; resolves on CONNACK, rejects with the refusal. */
export function connectClient(url: string, username: string, password: string, extra: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { clientId: username, username, password, reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...extra });
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}

/** Publishes at QoS 1 and resolves when the PUBACK arrives. */
export function publishAcked(client: MqttClient, topic: string, payload: string | object): Promise<void> {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return new Promise((resolve, reject) => client.publish(topic, body, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
}

/** Subscribes and returns the SUBACK return codes (128 = refused), without throwing on refusals. */
export async function subscribeGranted(client: MqttClient, filters: string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filters)).map((g) => g.qos);
  } catch (err) {
    const packet = (err as { packet?: { granted: Array<number | { reasonCode: number }> } }).packet;
    if (!packet) throw err;
    return packet.granted.map((g) => (typeof g === 'number' ? g : g.reasonCode));
  }
}

/** Collects JSON messages arriving on a subscribed topic filter. */
export async function collect(client: MqttClient, filter: string): Promise<{ messages: Array<{ topic: string; body: Record<string, unknown> }>; next: (n?: number, timeoutMs?: number) => Promise<Array<{ topic: string; body: Record<string, unknown> }>> }> {
  const messages: Array<{ topic: string; body: Record<string, unknown> }> = [];
  const granted = await client.subscribeAsync(filter, { qos: 1 });
  if (granted[0]?.qos === 128) throw new Error(`subscription to ${filter} refused`);
  client.on('message', (topic, payload) => {
    if (matches(filter, topic)) messages.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> });
  });
  return {
    messages,
    async next(n = 1, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (messages.length < n) {
        if (Date.now() > until) throw new Error(`expected ${n} message(s) on ${filter}, got ${messages.length}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return messages.splice(0, n);
    },
  };
}

/** MQTT topic filter matching (`+` one level, `#` the rest). */
function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The SPEC §6 example home, extended to every device type. */
export function exampleDocument(homeId = 'wh-0001', suffix = '0001') {
  return {
    homes: [{
      id: homeId,
      address: '威海市环翠区文化西路 1 号 2 单元 301',
      phone: '+86 631 555 0101',
      residents: [{
        id: `r-${suffix}`, name: '王秀英', birthYear: 1941, sex: 'F',
        conditions: ['hypertension', 'diabetes'], doctor: 'dr-li',
        contacts: [{ name: '王强', relation: 'son', phone: '+86 138 0000 0001' }],
        targets: { bp_high: { systolic: 170 } },
      }],
      gateway: { id: `gw-${suffix}` },
      devices: [
        { id: `bp-${suffix}`, type: 'bp_cuff', resident: `r-${suffix}` },
        { id: `glu-${suffix}`, type: 'glucose_meter', resident: `r-${suffix}` },
        { id: `fall-${suffix}`, type: 'fall_sensor', heartbeatSeconds: 300 },
        { id: `sos-${suffix}`, type: 'sos_button', resident: `r-${suffix}` },
        { id: `pir-${suffix}`, type: 'motion_sensor' },
      ],
    }],
    users: [{ username: 'dr-li', role: 'doctor', name: '李医生' }],
  };
}

export function secretOf(answer: ImportAnswer, username: string): string {
  const c = answer.credentials.find((x) => x.username === username);
  if (!c) throw new Error(`no credential for ${username} in the import answer`);
  return c.password;
}
