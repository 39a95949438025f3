/**
 * The hub's maximum MQTT packet size (broker.ts MAX_PACKET_BYTES: the largest valid publish plus
 * room for its topic). aedes' default is no limit: a socket that never signed in could declare a
 * 256 MB CONNECT and the hub buffered all of it (+1 GB RSS for four sockets, for the 30 s connect
 * timeout, nothing logged above debug); a signed-in 100 MB publish cost +200 MB before it was
 * refused. Now a packet whose fixed header declares more is refused at that header, over TCP, TLS
 * and WebSocket, before sign-in too: the connection is closed (MQTT 5: DISCONNECT 0x95 once
 * connected), one warn line and a count per connection. A real hub process, raw sockets.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import mqtt, { type IConnackPacket } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { MAX_BATCH_READINGS, MAX_READING_BYTES } from '../../../devices/readingSchema.js';
import { MAX_PACKET_BYTES } from '../../../server/broker/broker.js';
import { ADMIN_PASSWORD, connectClient, exampleDocument, publishAcked, secretOf, type ImportAnswer } from '../../helpers/hub.js';
import { freePort, httpJson, spawnHub, type HubProcess } from '../../helpers/process.js';
import { createTestCa, issueServerCert, type TestCa } from '../../helpers/tlsCerts.js';

const TELEMETRY = 'anxin/v1/homes/wh-0001/devices/bp-0001/telemetry';
/** A fixed header declaring the largest remaining length MQTT can encode (268,435,455 bytes). */
const HUGE_PUBLISH = Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]);
const HUGE_CONNECT = Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]);
const CHUNK = Buffer.alloc(1 << 20, 0x41);

const dir = mkdtempSync(join(tmpdir(), 'anxin-packet-size-'));
let ca: TestCa;
let hub: HubProcess;
let mqttsPort: number;
let answer: ImportAnswer;

beforeAll(async () => {
  ca = createTestCa(dir);
  const cert = issueServerCert(ca, dir, 'hub');
  mqttsPort = await freePort();
  hub = await spawnHub({
    ANXIN_DATA_DIR: join(dir, 'data'), ANXIN_ADMIN_PASSWORD: ADMIN_PASSWORD,
    ANXIN_TLS_CERT: cert.cert, ANXIN_TLS_KEY: cert.key, ANXIN_MQTTS_PORT: String(mqttsPort), ANXIN_HTTPS_PORT: 'off',
  });
  const { body: session } = await httpJson(`${hub.httpUrl}/api/v1/auth/login`, { body: { username: 'admin', password: ADMIN_PASSWORD } });
  const imported = await httpJson(`${hub.httpUrl}/api/v1/import`, { token: session.token, body: exampleDocument() });
  expect(imported.status).toBe(200);
  answer = imported.body as ImportAnswer;
});

afterAll(async () => {
  if (hub && hub.child.exitCode === null) {
    hub.child.kill('SIGKILL');
    await hub.exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

function rssBytes(): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${hub.child.pid}/status`, 'utf8'))![1]) * 1024;
}

async function metric(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${hub.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

const tooLarge = (stage: 'before_sign_in' | 'signed_in') => metric('anxin_mqtt_packets_too_large_total', `{stage="${stage}"}`);
const tooLargeLines = () => hub.output().split('\n').filter((l) => l.includes('"msg":"mqtt packet too large'));

/** Resolves once the hub logged `n` lines about packets too large (pino writes asynchronously). */
async function logged(n: number): Promise<string[]> {
  const until = Date.now() + 5000;
  while (tooLargeLines().length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  return tooLargeLines();
}

interface Outcome {
  /** From the first byte written to the connection being closed. */
  closedAfterMs: number;
  /** The hub's RSS growth at its peak while the bytes were coming. */
  rssGrowth: number;
  /** MB written before it was closed. */
  mbWritten: number;
}

/**
 * Writes `header`, then streams up to `mb` MB after it (each MB only once the last was taken),
 * until the connection is closed; measures how fast, and what it cost the hub.
 */
function stream(conn: { write(b: Buffer): boolean; once(e: 'drain', f: () => void): unknown }, closed: Promise<void>, header: Buffer, mb: number): Promise<Outcome> {
  const rss0 = rssBytes();
  let peak = rss0;
  const sampler = setInterval(() => { peak = Math.max(peak, rssBytes()); }, 20);
  const started = performance.now();
  let written = 0;
  let done = false;
  conn.write(header);
  const more = () => {
    while (!done && written < mb) {
      written++;
      if (!conn.write(CHUNK)) {
        conn.once('drain', more);
        return;
      }
    }
  };
  more();
  return closed.then(() => {
    done = true;
    const closedAfterMs = performance.now() - started;
    clearInterval(sampler);
    peak = Math.max(peak, rssBytes());
    return { closedAfterMs, rssGrowth: peak - rss0, mbWritten: written };
  });
}

function rawTcp(): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(Number(new URL(hub.mqttUrl).port), '127.0.0.1');
    socket.on('error', () => {});
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

it('closes a socket that declares a 256 MB packet before signing in, at its fixed header', async () => {
  const before = await tooLarge('before_sign_in');
  // The header alone: nothing else need arrive.
  const bare = await rawTcp();
  const headerOnly = await stream(bare.socket, bare.closed, HUGE_CONNECT, 0);
  expect(headerOnly.closedAfterMs).toBeLessThan(1000);

  // A CONNECT declaring 256 MB, streamed as fast as the hub takes it.
  const big = await rawTcp();
  const streamed = await stream(big.socket, big.closed, HUGE_CONNECT, 256);
  expect(streamed.closedAfterMs).toBeLessThan(1000);
  expect(streamed.rssGrowth).toBeLessThan(20 * 1024 * 1024);
  expect(streamed.mbWritten).toBeLessThan(256);

  expect(await tooLarge('before_sign_in')).toBe(before + 2);
  const lines = await logged(2);
  expect(lines).toHaveLength(2);
  for (const line of lines) {
    expect(JSON.parse(line)).toMatchObject({ level: 40, stage: 'before_sign_in', address: '127.0.0.1', declaredBytes: 268_435_460, limitBytes: MAX_PACKET_BYTES });
    expect(line).not.toContain('AAAA');
  }
});

it('applies the same limit over TLS (8883) and over WebSocket (/mqtt)', async () => {
  const before = await tooLarge('before_sign_in');
  const linesBefore = tooLargeLines().length;

  const tls = await new Promise<Socket>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: mqttsPort, servername: 'localhost', ca: readFileSync(ca.cert) }, () => resolve(s));
    s.once('error', reject);
  });
  tls.on('error', () => {});
  const overTls = await stream(tls, new Promise((r) => tls.once('close', () => r())), HUGE_CONNECT, 64);
  expect(overTls.closedAfterMs).toBeLessThan(1000);
  expect(overTls.rssGrowth).toBeLessThan(20 * 1024 * 1024);

  const ws = new WebSocket(`${hub.httpUrl.replace('http', 'ws')}/mqtt`, 'mqtt');
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  ws.on('error', () => {});
  // One WebSocket message a chunk, each under the server's 4 MiB message limit (http.ts).
  const wsConn = {
    write: (b: Buffer) => { if (ws.readyState === WebSocket.OPEN) ws.send(b.subarray(0, 1 << 18)); return ws.bufferedAmount < 1 << 20; },
    once: (_e: 'drain', f: () => void) => setTimeout(f, 5),
  };
  const overWs = await stream(wsConn, new Promise((r) => ws.once('close', () => r())), HUGE_CONNECT, 64);
  expect(overWs.closedAfterMs).toBeLessThan(1000);
  expect(overWs.rssGrowth).toBeLessThan(20 * 1024 * 1024);

  expect(await tooLarge('before_sign_in')).toBe(before + 2);
  expect(await logged(linesBefore + 2)).toHaveLength(linesBefore + 2);
});

it('disconnects a signed-in device whose publish is over the limit (MQTT 3.1.1: closed; MQTT 5: DISCONNECT 0x95)', async () => {
  const before = await tooLarge('signed_in');
  const linesBefore = tooLargeLines().length;
  const secret = secretOf(answer, 'bp-0001');

  // 3.1.1 has no server DISCONNECT: the connection is closed, as soon as the header is read.
  const v4 = await connectClient(hub.mqttUrl, 'bp-0001', secret);
  v4.on('error', () => {});
  const v4Socket = v4.stream as unknown as Socket;
  const v4Out = await stream(v4Socket, new Promise((r) => v4Socket.once('close', () => r())), HUGE_PUBLISH, 100);
  v4.end(true);
  expect(v4Out.closedAfterMs).toBeLessThan(1000);
  expect(v4Out.rssGrowth).toBeLessThan(20 * 1024 * 1024);

  // MQTT 5: the limit is in the CONNACK (a conforming client never sends more), and a packet over
  // it (written past the client library, which would refuse it) is answered with DISCONNECT 0x95.
  const v5 = mqtt.connect(hub.mqttUrl, { clientId: 'bp-0001', username: 'bp-0001', password: secret, protocolVersion: 5, reconnectPeriod: 0 });
  v5.on('error', () => {});
  const connack = await new Promise<IConnackPacket>((resolve) => v5.once('connect', resolve));
  expect(connack.properties?.maximumPacketSize).toBe(MAX_PACKET_BYTES);
  // aedes counts a client as connected (and so answers it with a DISCONNECT) a little after its
  // CONNACK: once a SUBACK is back, it is.
  await v5.subscribeAsync('anxin/v1/homes/wh-0001/devices/bp-0001/rejects');
  const disconnect = new Promise<number | undefined>((r) => v5.once('disconnect', (p: { reasonCode?: number }) => r(p.reasonCode)));
  const v5Socket = v5.stream as unknown as Socket;
  v5Socket.write(HUGE_PUBLISH);
  expect(await Promise.race([disconnect, new Promise((r) => setTimeout(() => r('no DISCONNECT in 1 s'), 1000))])).toBe(0x95);
  v5.end(true);

  expect(await tooLarge('signed_in')).toBe(before + 2);
  const lines = (await logged(linesBefore + 2)).slice(linesBefore);
  expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
    expect.objectContaining({ stage: 'signed_in', clientId: 'bp-0001', declaredBytes: 268_435_460 }),
    expect.objectContaining({ stage: 'signed_in', clientId: 'bp-0001', declaredBytes: 268_435_460 }),
  ]);
});

it('still accepts the largest valid publish: a batch of 500 readings of ~4 KiB', async () => {
  const ts = Date.now();
  const reading = (k: number) => {
    const r: Record<string, unknown> = { type: 'heartbeat', id: `max-${k}`, ts, battery: 80, pad: '' };
    r.pad = 'x'.repeat(MAX_READING_BYTES - 2 - Buffer.byteLength(JSON.stringify(r)));
    return r;
  };
  const batch = JSON.stringify(Array.from({ length: MAX_BATCH_READINGS }, (_, k) => reading(k)));
  expect(Buffer.byteLength(batch)).toBeLessThanOrEqual(MAX_READING_BYTES * MAX_BATCH_READINGS);
  expect(Buffer.byteLength(batch)).toBeGreaterThan(MAX_READING_BYTES * MAX_BATCH_READINGS - 1000);
  const before = await metric('anxin_readings_accepted_total', '{type="heartbeat"}');
  const client = await connectClient(hub.mqttUrl, 'bp-0001', secretOf(answer, 'bp-0001'));
  await publishAcked(client, TELEMETRY, batch);
  client.end(true);
  expect(await metric('anxin_readings_accepted_total', '{type="heartbeat"}')).toBe(before + MAX_BATCH_READINGS);
});
