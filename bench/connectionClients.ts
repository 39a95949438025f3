/**
 * A swarm of minimal MQTT 3.1.1 device clients for the connections benchmark,
 * run as a child process of `bench/connections.ts` (several of them share the
 * load). An `mqtt` client costs tens of kilobytes and several timers per
 * connection; tens of thousands of them per process would measure the
 * generator, so each connection here is a bare `net.Socket` plus a few slots
 * in typed arrays, speaking the four packets a device needs (CONNECT, PUBLISH
 * QoS 1, PINGREQ; CONNACK, PUBACK, PINGRESP back), encoded by hand
 * (MQTT 3.1.1 §2–3).
 *
 * Each connection binds its own source address from 127.0.0.0/8
 * (`sourceAddress`): one address has only ~28k ephemeral ports.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------------------------------------
// The fleet, shared with the parent: ids, homes and source addresses by global index.

/** Devices to a home: one of each type that reports heartbeats, as a bed's kit. */
export const CONNECTION_HOME_KIT = ['bp_cuff', 'glucose_meter', 'fall_sensor', 'sos_button'] as const;

export function connectionDeviceId(i: number): string {
  return `cs-d-${String(i).padStart(6, '0')}`;
}

export function connectionHomeId(i: number): string {
  return `cs-h-${String(Math.floor(i / CONNECTION_HOME_KIT.length)).padStart(6, '0')}`;
}

/**
 * The loopback source address of connection `i`: `perAddress` connections per
 * address, from 127.1.0.1 on (the hub listens on 127.0.0.1; Linux routes all
 * of 127.0.0.0/8 to loopback).
 */
export function sourceAddress(i: number, perAddress: number): string {
  const a = Math.floor(i / perAddress);
  return `127.1.${Math.floor(a / 250)}.${(a % 250) + 1}`;
}

// ---------------------------------------------------------------------------------------------
// MQTT 3.1.1 packets (only what a device sends and hears)

/** Remaining Length (§2.2.3): 7 bits a byte, high bit = more. */
export function encodeRemainingLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    bytes.push(b);
  } while (n > 0);
  return Buffer.from(bytes);
}

function utf8Field(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function packet(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), encodeRemainingLength(body.length), body]);
}

/** CONNECT with clean session, username and password (§3.1). */
export function encodeConnect(o: { clientId: string; username: string; password: string; keepaliveSeconds: number }): Buffer {
  const header = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x80 | 0x40 | 0x02, 0, 0]);
  header.writeUInt16BE(o.keepaliveSeconds, 8);
  return packet(0x10, Buffer.concat([header, utf8Field(o.clientId), utf8Field(o.username), utf8Field(o.password)]));
}

/** PUBLISH (§3.3), not retained; a packet id only for QoS 1. */
export function encodePublish(topic: string, payload: string, qos: 0 | 1, packetId = 0): Buffer {
  const id = Buffer.alloc(qos === 1 ? 2 : 0);
  if (qos === 1) id.writeUInt16BE(packetId);
  return packet(0x30 | (qos << 1), Buffer.concat([utf8Field(topic), id, Buffer.from(payload, 'utf8')]));
}

export const PINGREQ = Buffer.from([0xc0, 0x00]);

/** Control packet types (§2.2.1) the hub sends a device. */
export const PacketType = { connack: 2, publish: 3, puback: 4, pingresp: 13 } as const;

/**
 * Splits `data` (what is left of the last chunk, then this one) into whole
 * packets, calling `onPacket(type, body)` for each; returns the incomplete
 * tail, or null when nothing is left over.
 */
export function readPackets(data: Buffer, onPacket: (type: number, body: Buffer) => void): Buffer | null {
  let at = 0;
  while (at < data.length) {
    let length = 0;
    let multiplier = 1;
    let p = at + 1;
    let complete = false;
    for (let i = 0; i < 4 && p < data.length; i++) {
      const b = data[p++]!;
      length += (b & 0x7f) * multiplier;
      multiplier *= 128;
      if ((b & 0x80) === 0) {
        complete = true;
        break;
      }
    }
    if (!complete || p + length > data.length) break;
    onPacket(data[at]! >> 4, data.subarray(p, p + length));
    at = p + length;
  }
  return at === data.length ? null : data.subarray(at);
}

// ---------------------------------------------------------------------------------------------
// The process: IPC protocol with the parent

export interface SwarmConnect {
  cmd: 'connect';
  host: string;
  port: number;
  /** Global indices `first` … `first + count − 1` of `total` (the heartbeat phases spread over all). */
  first: number;
  count: number;
  total: number;
  perAddress: number;
  password: string;
  keepaliveSeconds: number;
  /** Handshakes in progress at once: above the hub's accept backlog, SYNs are dropped and retried after 1 s. */
  maxPending: number;
  connectTimeoutMs: number;
  topicPrefix: string;
  /** Per-device secrets instead of `password` (the cold sign-in measurement), by local index. */
  passwords?: string[];
  /** Device ids instead of `connectionDeviceId(i)`, by local index, with their homes. */
  ids?: Array<{ id: string; homeId: string }>;
}

export type ToSwarm =
  | SwarmConnect
  | { cmd: 'go'; heartbeatSeconds: number }
  | { cmd: 'stop' }
  | { cmd: 'finish'; drainMs: number };

export interface SwarmConnected {
  ev: 'connected';
  connected: number;
  failures: Record<string, number>;
  /** First attempt to last CONNACK, ms. */
  ms: number;
  /** CONNECT written → CONNACK, µs, one per connected client. */
  connackUs: Float64Array;
}

export interface SwarmResult {
  ev: 'result';
  published: number;
  acked: number;
  unacked: number;
  /** Heartbeats not sent because the device's previous one was still unacknowledged. */
  skipped: number;
  pings: number;
  /** Connections the hub closed after CONNACK, before `finish`. */
  closedEarly: number;
  /** Heartbeat PUBLISH → PUBACK, µs. */
  latencyUs: Float64Array;
}

export type FromSwarm = SwarmConnected | { ev: 'stopped' } | SwarmResult | { ev: 'failed'; message: string };

const State = { Idle: 0, Connecting: 1, Connected: 2, Gone: 3 } as const;

function runSwarm(): void {
  const post = (m: FromSwarm) => process.send!(m);
  let o: SwarmConnect;
  let sockets: Array<Socket | undefined>;
  let state: Uint8Array;
  let startedAt: Float64Array;
  let lastSent: Float64Array;
  let sentAt: Float64Array;
  let packetId: Uint16Array;
  let seq: Uint32Array;
  let inFlight: Uint8Array;
  let tails: Array<Buffer | null>;
  const connackUs: number[] = [];
  const latencyUs: number[] = [];
  const failures: Record<string, number> = {};
  let connected = 0;
  let settled = 0;
  let next = 0;
  let pending = 0;
  let t0 = 0;
  let stopped = false;
  let finishing = false;
  const counts = { published: 0, acked: 0, skipped: 0, pings: 0, closedEarly: 0 };
  const runId = Date.now().toString(36);

  const fail = (i: number, reason: string) => {
    if (state[i] !== State.Connecting) return;
    state[i] = State.Gone;
    pending -= 1;
    settled += 1;
    failures[reason] = (failures[reason] ?? 0) + 1;
    sockets[i]?.destroy();
    sockets[i] = undefined;
    pump();
  };

  const onPacket = (i: number, type: number, body: Buffer) => {
    const now = performance.now();
    if (type === PacketType.connack && state[i] === State.Connecting) {
      if (body[1] !== 0) return fail(i, `connack_${body[1]}`);
      state[i] = State.Connected;
      pending -= 1;
      settled += 1;
      connected += 1;
      connackUs.push((now - startedAt[i]!) * 1000);
      pump();
    } else if (type === PacketType.puback && inFlight[i] && body.readUInt16BE(0) === packetId[i]) {
      inFlight[i] = 0;
      counts.acked += 1;
      latencyUs.push((now - sentAt[i]!) * 1000);
    }
  };

  const open = (i: number) => {
    const id = o.ids?.[i]?.id ?? connectionDeviceId(o.first + i);
    const password = o.passwords?.[i] ?? o.password;
    state[i] = State.Connecting;
    pending += 1;
    startedAt[i] = performance.now();
    const s = netConnect({ host: o.host, port: o.port, localAddress: sourceAddress(o.first + i, o.perAddress), noDelay: true });
    sockets[i] = s;
    s.once('connect', () => {
      startedAt[i] = performance.now();
      lastSent[i] = startedAt[i]!;
      s.write(encodeConnect({ clientId: id, username: id, password, keepaliveSeconds: o.keepaliveSeconds }));
    });
    s.on('data', (chunk: Buffer) => {
      const tail = tails[i];
      tails[i] = readPackets(tail ? Buffer.concat([tail, chunk]) : chunk, (type, body) => onPacket(i, type, body));
    });
    s.on('error', (err: NodeJS.ErrnoException) => fail(i, err.code ?? err.message));
    s.on('close', () => {
      if (state[i] === State.Connecting) return fail(i, 'closed_before_connack');
      if (state[i] === State.Connected && !finishing) counts.closedEarly += 1;
      state[i] = State.Gone;
      sockets[i] = undefined;
    });
  };

  /** Starts handshakes up to `maxPending`; reports once every client has connected or failed. */
  const pump = () => {
    while (pending < o.maxPending && next < o.count) open(next++);
    if (settled === o.count && next === o.count && t0 > 0) {
      const ms = performance.now() - t0;
      t0 = 0;
      post({ ev: 'connected', connected, failures, ms, connackUs: Float64Array.from(connackUs) });
    }
  };

  /** Handshake timeouts, and PINGREQ for connections silent for 3/4 of their keepalive (§3.1.2.10). */
  const sweep = () => {
    const now = performance.now();
    const silentMs = o.keepaliveSeconds * 750;
    for (let i = 0; i < next; i++) {
      if (state[i] === State.Connecting && now - startedAt[i]! > o.connectTimeoutMs) fail(i, 'timeout');
      else if (state[i] === State.Connected && now - lastSent[i]! > silentMs) {
        sockets[i]!.write(PINGREQ);
        lastSent[i] = now;
        counts.pings += 1;
      }
    }
  };

  /**
   * Heartbeats: device g of `total` is due at (g / total + k) × interval after
   * `go`, so the whole fleet's heartbeats are spread evenly over each interval
   * whichever process a device lives in. Local slot m is device m mod count, round m div count.
   */
  let slot = 0;
  let goAt = 0;
  let intervalMs = 0;
  const dueAt = (m: number) => goAt + ((o.first + (m % o.count)) / o.total + Math.floor(m / o.count)) * intervalMs;
  const beat = () => {
    const now = performance.now();
    for (; !stopped && dueAt(slot) <= now; slot++) {
      const i = slot % o.count;
      if (state[i] !== State.Connected) continue;
      if (inFlight[i]) {
        counts.skipped += 1;
        continue;
      }
      const id = o.ids?.[i]?.id ?? connectionDeviceId(o.first + i);
      seq[i] = seq[i]! + 1;
      packetId[i] = (packetId[i]! % 0xffff) + 1;
      const payload = `{"type":"heartbeat","id":"hb-${runId}-${seq[i]}","ts":${Date.now()},"battery":${60 + ((o.first + i) % 40)},"rssi":${-40 - ((o.first + i) % 50)}}`;
      inFlight[i] = 1;
      sentAt[i] = now;
      lastSent[i] = now;
      sockets[i]!.write(encodePublish(`${o.topicPrefix}/homes/${o.ids?.[i]?.homeId ?? connectionHomeId(o.first + i)}/devices/${id}/telemetry`, payload, 1, packetId[i]));
      counts.published += 1;
    }
  };

  let sweepTimer: NodeJS.Timeout | undefined;
  let beatTimer: NodeJS.Timeout | undefined;
  process.on('message', (m: ToSwarm) => {
    switch (m.cmd) {
      case 'connect':
        o = m;
        sockets = new Array(o.count);
        tails = new Array(o.count).fill(null);
        state = new Uint8Array(o.count);
        startedAt = new Float64Array(o.count);
        lastSent = new Float64Array(o.count);
        sentAt = new Float64Array(o.count);
        packetId = new Uint16Array(o.count);
        seq = new Uint32Array(o.count);
        inFlight = new Uint8Array(o.count);
        t0 = performance.now();
        sweepTimer = setInterval(sweep, 500);
        pump();
        return;
      case 'go':
        goAt = performance.now();
        intervalMs = m.heartbeatSeconds * 1000;
        beatTimer = setInterval(beat, 5);
        return;
      case 'stop':
        stopped = true;
        clearInterval(beatTimer);
        post({ ev: 'stopped' });
        return;
      case 'finish': {
        const until = performance.now() + m.drainMs;
        const report = () => {
          const unacked = inFlight.reduce((n, f, i) => n + (f && state[i] === State.Connected ? 1 : 0), 0);
          if (unacked > 0 && performance.now() < until) return void setTimeout(report, 20);
          finishing = true;
          clearInterval(sweepTimer);
          post({ ev: 'result', ...counts, unacked, latencyUs: Float64Array.from(latencyUs) });
        };
        report();
        return;
      }
    }
  });
  // The bench may die without telling us; never outlive it.
  process.on('disconnect', () => process.exit(0));
}

if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) runSwarm();
