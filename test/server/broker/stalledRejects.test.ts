/**
 * A device subscribed to its `rejects` (SPEC §2) stops reading its socket while it keeps sending
 * readings the hub refuses: 500 a publish, so 500 rejects to send it. That used to crash the hub:
 * each delivery to the full socket held one of mqemitter's 1,000 slots until aedes' drain timeout,
 * every later message queued behind them, and when the deliveries failed (the device went away,
 * or 60 s passed) the queue was released by synchronous recursion: RangeError, exit code 1.
 * Now the hub stops sending to a client whose send backlog is over SEND_BACKLOG_BYTES (counted in
 * `anxin_mqtt_messages_dropped_total`), other devices are acknowledged as usual, the device hears
 * its rejects again once it reads, and its going away mid-stall is harmless. A real hub process.
 */
import { rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN_PASSWORD, collect, connectClient, exampleDocument, secretOf, tempDataDir, type ImportAnswer } from '../../helpers/hub.js';
import { httpJson, spawnHub, type HubProcess } from '../../helpers/process.js';

const STALLED = { home: 'wh-0001', device: 'bp-0001' };
const HEALTHY = { home: 'wh-0002', device: 'bp-0002' };
const telemetry = (d: { home: string; device: string }) => `anxin/v1/homes/${d.home}/devices/${d.device}/telemetry`;
const rejects = (d: { home: string; device: string }) => `anxin/v1/homes/${d.home}/devices/${d.device}/rejects`;
/** 500 readings of an unknown type, 64-character ids: 500 refusals, 500 rejects of ~230 bytes. */
const JUNK = JSON.stringify(Array.from({ length: 500 }, (_, k) => ({ type: 'nonsense', id: String(k).padStart(64, 'i') })));
/** Publishes of JUNK per stall: 60,000 rejects, ~14 MB, well past what loopback's socket buffers (~4.5 MB) and the cap hold. */
const FLOOD = 120;

const dataDir = tempDataDir();
let hub: HubProcess;
let answer: ImportAnswer;
let healthy: MqttClient;
let healthySent = 0;
const healthyAcks: number[] = [];
let healthyTimer: NodeJS.Timeout;

beforeAll(async () => {
  hub = await spawnHub({ ANXIN_DATA_DIR: dataDir, ANXIN_ADMIN_PASSWORD: ADMIN_PASSWORD });
  const { body: session } = await httpJson(`${hub.httpUrl}/api/v1/auth/login`, { body: { username: 'admin', password: ADMIN_PASSWORD } });
  const doc = { homes: [exampleDocument('wh-0001', '0001').homes[0], exampleDocument('wh-0002', '0002').homes[0]], users: exampleDocument().users };
  const imported = await httpJson(`${hub.httpUrl}/api/v1/import`, { token: session.token, body: doc });
  expect(imported.status).toBe(200);
  answer = imported.body as ImportAnswer;
  // Another home's cuff, a valid reading every 100 ms throughout.
  healthy = await connectClient(hub.mqttUrl, HEALTHY.device, secretOf(answer, HEALTHY.device), { keepalive: 600 });
  healthy.on('error', () => {});
  healthyTimer = setInterval(() => {
    if (!healthy.connected) return;
    const reading = { type: 'blood_pressure', id: `h-${healthySent++}`, ts: Date.now(), systolic: 122, diastolic: 78, unit: 'mmHg' };
    healthy.publish(telemetry(HEALTHY), JSON.stringify(reading), { qos: 1 }, (err) => { if (!err) healthyAcks.push(Date.now()); });
  }, 100);
});

afterAll(async () => {
  clearInterval(healthyTimer);
  healthy?.end(true);
  if (hub && hub.child.exitCode === null) {
    hub.child.kill('SIGKILL');
    await hub.exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${hub.httpUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** Polls until `check` holds; fails naming `what`, or at once if the hub process died. */
async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (hub.child.exitCode !== null) throw new Error(`hub exited (${hub.child.exitCode}) while waiting for ${what}:\n${hub.output().slice(-3000)}`);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Signs the stalling device in, subscribed to its rejects; its socket is still being read. */
async function stallingDevice() {
  const client = await connectClient(hub.mqttUrl, STALLED.device, secretOf(answer, STALLED.device), { keepalive: 600 });
  client.on('error', () => {});
  const heard = await collect(client, rejects(STALLED));
  return { client, heard, socket: client.stream as unknown as Socket };
}

/** Sends FLOOD publishes of JUNK and waits until the hub has refused `wait` of their readings (all by default). */
async function flood(client: MqttClient, wait = FLOOD * 500): Promise<number> {
  const before = await metric('anxin_readings_refused_total');
  for (let i = 0; i < FLOOD; i++) client.publish(telemetry(STALLED), JUNK, { qos: 1 });
  await until(`${wait} refusals`, async () => (await metric('anxin_readings_refused_total')) - before >= wait);
  return FLOOD * 500;
}

/** Lines the hub logged about a client not reading its socket. */
function stallWarnings(): number {
  return hub.output().split('\n').filter((l) => l.includes('not reading its socket')).length;
}

/** Whether the healthy device was acknowledged at least once in every `gapMs` since `from`. */
function healthyServedSince(from: number, gapMs = 3000): boolean {
  const acks = healthyAcks.filter((t) => t >= from);
  return acks.length > 0 && [from, ...acks, Date.now()].every((t, i, all) => i === 0 || t - all[i - 1]! < gapMs);
}

it('survives a device that stops reading and then goes away while its rejects pile up', async () => {
  const { client, socket } = await stallingDevice();
  const from = Date.now();
  socket.pause();
  // Enough that, before the fix, the deliveries to it held all 1,000 of mqemitter's slots and
  // thousands of messages queued behind them (the hub then got no further than ~31,500).
  await flood(client, 28_000);

  // The device goes away with thousands of rejects undelivered; its deliveries fail at once.
  socket.destroy();
  client.end(true);
  const acked = healthyAcks.length;
  await until('the healthy device acknowledged after the stalled one left', () => healthyAcks.length >= acked + 10);
  expect(hub.child.exitCode).toBeNull();
  expect((await httpJson(`${hub.httpUrl}/readyz`)).status).toBe(200);
  expect(healthyServedSince(from)).toBe(true);
}, 90_000);

it('drops rejects past the cap, counted and logged per stall, and sends them again once the device reads', async () => {
  const { client, heard, socket } = await stallingDevice();
  const from = Date.now();
  const droppedBefore = await metric('anxin_mqtt_messages_dropped_total');
  const warningsBefore = stallWarnings();
  socket.pause();
  const refused = await flood(client);
  const dropped = (await metric('anxin_mqtt_messages_dropped_total')) - droppedBefore;
  expect(dropped).toBeGreaterThan(0);
  expect(dropped).toBeLessThan(refused);
  expect(healthyServedSince(from)).toBe(true);

  // It reads again: it is sent every reject it was not dropped, then new ones as they come.
  socket.resume();
  await until('the rejects sent before the cap', () => heard.messages.length >= refused - dropped, 20_000);
  expect(heard.messages.length).toBe(refused - dropped);
  heard.messages.length = 0;
  client.publish(telemetry(STALLED), JSON.stringify({ type: 'nonsense', id: 'after-resume' }), { qos: 1 });
  const [reject] = await heard.next(1, 5000);
  expect(reject!.body).toMatchObject({ id: 'after-resume', error: 'unknown_type' });
  expect(await metric('anxin_mqtt_messages_dropped_total')).toBe(droppedBefore + dropped);

  // One warning for the stall (at most one a minute), not one per dropped reject.
  const warnings = () => stallWarnings() - warningsBefore;
  await until('the stall warning in the log', () => warnings() > 0, 10_000);
  expect(warnings()).toBe(1);
  expect(hub.child.exitCode).toBeNull();
  client.end(true);
}, 90_000);
