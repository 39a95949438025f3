/**
 * The load generator's process: one real `mqtt` client per device (MQTT
 * 3.1.1 over TCP), each keeping `window` QoS 1 publishes in flight and sending
 * the next one as soon as a PUBACK comes back, which is how a gateway flushing
 * its outbox behaves. Controlled by `LoadGenerator` (see its phases).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { Topics } from '../devices/topics.js';
import type { FromGenerator, LoadDevice, LoadOptions, LoadResult, ToGenerator } from './loadGenerator.js';

interface Sender {
  device: LoadDevice;
  client: MqttClient;
  topic: string;
  inFlight: number;
  seq: number;
  closed: boolean;
}

const post = (m: FromGenerator) => process.send!(m);
let opts: LoadOptions;

/** Ids unique across runs too, so re-running against a kept store would not turn readings into duplicates. */
const runId = Date.now().toString(36);

let running = false;
let measuring = false;
let stopped = false;
let windowStart = 0n;
let windowEnd = 0n;
let windowAcks = 0;
let totalAcks = 0;
let published = 0;
let publishErrors = 0;
let closedEarly = 0;
let connectMs = 0;
let eluAtMeasure: EventLoopUtilization | undefined;
// Grows by doubling; microseconds fit a float exactly far beyond any latency we could see.
let samples = new Float64Array(1 << 16);
let sampleCount = 0;

function record(us: number): void {
  if (sampleCount === samples.length) {
    const bigger = new Float64Array(samples.length * 2);
    bigger.set(samples);
    samples = bigger;
  }
  samples[sampleCount++] = us;
}

function reading(s: Sender): string {
  s.seq += 1;
  // A plausible, valid blood pressure: the hub must accept and store every one.
  return `{"type":"blood_pressure","id":"${runId}-${s.seq}","ts":${Date.now()},"systolic":${118 + (s.seq % 20)},"diastolic":${76 + (s.seq % 8)},"pulse":${64 + (s.seq % 10)},"unit":"mmHg"}`;
}

function publishOne(s: Sender): void {
  const sent = process.hrtime.bigint();
  s.inFlight += 1;
  published += 1;
  s.client.publish(s.topic, reading(s), { qos: 1 }, (err) => {
    s.inFlight -= 1;
    if (err) {
      // The connection is gone; do not loop on a dead client.
      publishErrors += 1;
      return;
    }
    totalAcks += 1;
    if (measuring) {
      windowAcks += 1;
      record(Number(process.hrtime.bigint() - sent) / 1000);
    }
    if (running && !s.closed) publishOne(s);
  });
}

function connect(device: LoadDevice): Promise<Sender> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(opts.url, {
      clientId: device.id,
      username: device.id,
      ...(device.password !== undefined && { password: device.password }),
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0, // a dropped client is a finding, not something to hide by reconnecting
      connectTimeout: opts.connectTimeoutMs,
    });
    const topics = new Topics(opts.topicPrefix);
    const s: Sender = { device, client, topic: topics.telemetry(device.homeId, device.id), inFlight: 0, seq: 0, closed: false };
    client.once('connect', () => resolve(s));
    client.on('error', (err) => reject(new Error(`${device.id}: ${err.message}`)));
    client.on('close', () => {
      if (!s.closed && !stopped) closedEarly += 1;
      s.closed = true;
      reject(new Error(`${device.id}: connection closed before CONNACK`));
    });
  });
}

/** Waits until every outstanding publish is acknowledged (or its client is gone), at most `ms`. */
async function drain(senders: Sender[], ms: number): Promise<number> {
  const until = Date.now() + ms;
  const outstanding = () => senders.reduce((n, s) => n + (s.closed ? 0 : s.inFlight), 0);
  while (outstanding() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return senders.reduce((n, s) => n + s.inFlight, 0);
}

async function start(): Promise<void> {
  const t0 = Date.now();
  const senders = await Promise.all(opts.devices.map(connect));
  connectMs = Date.now() - t0;
  post({ ev: 'connected', ms: connectMs });

  process.on('message', (m: ToGenerator) => {
    switch (m.cmd) {
      case 'go':
        running = true;
        for (const s of senders) for (let i = 0; i < opts.window; i++) publishOne(s);
        return;
      case 'measure':
        eluAtMeasure = performance.eventLoopUtilization();
        measuring = true;
        windowStart = process.hrtime.bigint();
        return;
      case 'stop':
        running = false;
        measuring = false;
        stopped = true;
        windowEnd = process.hrtime.bigint();
        post({ ev: 'stopped', busy: performance.eventLoopUtilization(eluAtMeasure).utilization });
        return;
      case 'finish':
        void finish(senders, m.drainMs);
        return;
    }
  });
}

async function finish(senders: Sender[], drainMs: number): Promise<void> {
  const unacked = await drain(senders, drainMs);
  await Promise.all(senders.map((s) => (s.closed ? undefined : s.client.endAsync(true))));
  const latenciesUs = samples.slice(0, sampleCount);
  const result: LoadResult = {
    connectMs, windowSeconds: Number(windowEnd - windowStart) / 1e9, windowAcks, totalAcks, published,
    publishErrors, closedEarly, unacked, latenciesUs,
  };
  post({ ev: 'result', result });
}

process.once('message', (m: ToGenerator) => {
  if (m.cmd !== 'start') return post({ ev: 'failed', message: `expected start, got ${m.cmd}` });
  opts = m.opts;
  start().catch((err: Error) => post({ ev: 'failed', message: err.message }));
});
// The bench may die without telling us; never outlive it.
process.on('disconnect', () => process.exit(0));
