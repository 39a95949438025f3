/**
 * The load generator's process: one real `mqtt` client per device (MQTT
 * 3.1.1 over TCP), each keeping `window` QoS 1 publishes in flight and sending
 * the next one as soon as a PUBACK comes back, which is how a gateway flushing
 * its outbox behaves. Or, in paced mode (`ratePerSecond`), one timer deals
 * evenly spaced publishes to the devices in turn, as devices measuring on
 * their own schedule. Controlled by `LoadGenerator` (see its phases).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { Topics } from '../devices/topics.js';
import { ABNORMAL_READINGS, type AbnormalSent, type FromGenerator, type LoadDevice, type LoadOptions, type LoadResult, type PacingFigures, type ToGenerator } from './loadGenerator.js';

interface Sender {
  device: LoadDevice;
  /** Position in the fleet: shifts the phase of its abnormal readings. */
  index: number;
  client: MqttClient;
  topic: string;
  inFlight: number;
  seq: number;
  /** Abnormal readings sent so far. */
  abnormal: number;
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
let windowPublished = 0;
let abnormalPublished = 0;
/** Paced mode: the schedule (slot i due at t0 + i / perMs), its timer, the slot due when the window opened, and the figures. */
let pace: { t0: number; perMs: number; next: number; timer: NodeJS.Timeout; firstInWindow: number } | undefined;
let pacing: PacingFigures | undefined;
let eluAtMeasure: EventLoopUtilization | undefined;
/** Grows by doubling; microseconds fit a float exactly far beyond any latency we could see. */
class Samples {
  private data = new Float64Array(1 << 16);
  count = 0;

  add(v: number): void {
    if (this.count === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.count++] = v;
  }

  values(): Float64Array {
    return this.data.slice(0, this.count);
  }
}

const samples = new Samples();
/** Paced mode: publish time minus scheduled time, µs, inside the window. */
const lags = new Samples();
/** `trackAbnormal`: abnormal readings sent inside the window. */
const abnormalKeys: string[] = [];
const abnormalSentAt = new Samples();
const abnormalExpectCreated: number[] = [];

const NORMAL = (seq: number) => `"systolic":${118 + (seq % 20)},"diastolic":${76 + (seq % 8)},"pulse":${64 + (seq % 10)}`;
let abnormalValues: string[] = [];

/** The next reading of `s`; every `abnormalEvery`-th is abnormal (each of `abnormalValues` twice in a row, in turn). */
function reading(s: Sender): string {
  s.seq += 1;
  const id = `${runId}-${s.seq}`;
  const every = opts.abnormalEvery ?? 0;
  let values: string;
  if (every > 0 && (s.seq + s.index) % every === 0) {
    const m = s.abnormal++;
    abnormalPublished += 1;
    values = abnormalValues[Math.floor(m / 2) % abnormalValues.length]!;
    if (measuring && opts.trackAbnormal) {
      abnormalKeys.push(`${s.device.id}/${id}`);
      abnormalSentAt.add(performance.timeOrigin + performance.now());
      abnormalExpectCreated.push(m % 2 === 0 && m < 2 * abnormalValues.length ? 1 : 0);
    }
  } else {
    // A plausible, valid, normal blood pressure: the hub must accept and store every one.
    values = NORMAL(s.seq);
  }
  return `{"type":"blood_pressure","id":"${id}","ts":${Date.now()},${values},"unit":"mmHg"}`;
}

/** Publishes the next reading of `s`; in saturating mode its PUBACK triggers the next one. */
function publishOne(s: Sender): void {
  const payload = reading(s);
  const sent = process.hrtime.bigint();
  s.inFlight += 1;
  published += 1;
  if (measuring) windowPublished += 1;
  s.client.publish(s.topic, payload, { qos: 1 }, (err) => {
    s.inFlight -= 1;
    if (err) {
      // The connection is gone; do not loop on a dead client.
      publishErrors += 1;
      return;
    }
    totalAcks += 1;
    if (measuring) {
      windowAcks += 1;
      samples.add(Number(process.hrtime.bigint() - sent) / 1000);
    }
    if (running && !s.closed && opts.ratePerSecond === undefined) publishOne(s);
  });
}

/**
 * Paced mode: slot i is due at t0 + i / rate and goes to device i mod n, so
 * every device publishes at rate / n, phase-shifted. A 1 ms timer publishes
 * whatever is due; if the generator falls behind, the lag shows it.
 */
function startPaced(senders: Sender[], ratePerSecond: number): void {
  pace = { t0: performance.now(), perMs: ratePerSecond / 1000, next: 0, firstInWindow: 0, timer: setInterval(() => tick(senders), 1) };
}

function tick(senders: Sender[]): void {
  const p = pace!;
  const due = slotsDue(p);
  for (; p.next < due; p.next++) {
    const s = senders[p.next % senders.length]!;
    if (s.closed) continue;
    if (measuring) lags.add((performance.now() - (p.t0 + p.next / p.perMs)) * 1000);
    publishOne(s);
  }
}

/** Slots whose time has come: 0 … due − 1. */
function slotsDue(p: NonNullable<typeof pace>): number {
  return Math.floor((performance.now() - p.t0) * p.perMs) + 1;
}

function stopPaced(): void {
  if (!pace) return;
  clearInterval(pace.timer);
  const dueAtStop = slotsDue(pace);
  const l = lags.values().sort();
  const at = (q: number) => (l.length === 0 ? NaN : l[Math.min(l.length - 1, Math.ceil((q / 100) * l.length) - 1)]! / 1000);
  pacing = {
    scheduled: dueAtStop - pace.firstInWindow,
    published: l.length,
    lagP50Ms: at(50), lagP99Ms: at(99), lagMaxMs: l.length === 0 ? NaN : l[l.length - 1]! / 1000,
    behindAtStop: dueAtStop - pace.next,
  };
}

function connect(device: LoadDevice, index: number, topics: Topics): Promise<Sender> {
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
    const s: Sender = { device, index, client, topic: topics.telemetry(device.homeId, device.id), inFlight: 0, seq: 0, abnormal: 0, closed: false };
    client.once('connect', () => {
      // Nagle off, as a device sending one reading at a time effectively has it: with several
      // publishes in flight, Nagle would hold each next one for the broker's delayed TCP ACK.
      (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      resolve(s);
    });
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
  const topics = new Topics(opts.topicPrefix);
  const senders = await Promise.all(opts.devices.map((d, i) => connect(d, i, topics)));
  connectMs = Date.now() - t0;
  post({ ev: 'connected', ms: connectMs });

  process.on('message', (m: ToGenerator) => {
    switch (m.cmd) {
      case 'go':
        running = true;
        if (opts.ratePerSecond !== undefined) startPaced(senders, opts.ratePerSecond);
        else for (const s of senders) for (let i = 0; i < opts.window; i++) publishOne(s);
        return;
      case 'measure':
        eluAtMeasure = performance.eventLoopUtilization();
        measuring = true;
        if (pace) pace.firstInWindow = slotsDue(pace);
        windowStart = process.hrtime.bigint();
        return;
      case 'stop':
        running = false;
        stopPaced();
        measuring = false;
        stopped = true;
        windowEnd = process.hrtime.bigint();
        post({ ev: 'stopped', busy: performance.eventLoopUtilization(eluAtMeasure).utilization });
        return;
      case 'finish':
        void finish(senders, m.drainMs);
        return;
      case 'clock':
        post({ ev: 'clock', ms: performance.timeOrigin + performance.now() });
        return;
    }
  });
}

async function finish(senders: Sender[], drainMs: number): Promise<void> {
  const unacked = await drain(senders, drainMs);
  await Promise.all(senders.map((s) => (s.closed ? undefined : s.client.endAsync(true))));
  const abnormal: AbnormalSent | undefined = opts.trackAbnormal
    ? { keys: abnormalKeys, sentAtMs: abnormalSentAt.values(), expectCreated: Uint8Array.from(abnormalExpectCreated) }
    : undefined;
  const result: LoadResult = {
    connectMs, windowSeconds: Number(windowEnd - windowStart) / 1e9, windowAcks, totalAcks, published,
    publishErrors, closedEarly, unacked, latenciesUs: samples.values(), windowPublished, abnormalPublished,
    ...(abnormal && { abnormal }),
    ...(pacing && { pacing }),
  };
  post({ ev: 'result', result });
}

process.once('message', (m: ToGenerator) => {
  if (m.cmd !== 'start') return post({ ev: 'failed', message: `expected start, got ${m.cmd}` });
  opts = m.opts;
  abnormalValues = ABNORMAL_READINGS[opts.abnormalMix ?? 'systolic'].map((a) => `"systolic":${a.values.systolic},"diastolic":${a.values.diastolic},"pulse":${a.values.pulse}`);
  start().catch((err: Error) => post({ ev: 'failed', message: err.message }));
});
// The bench may die without telling us; never outlive it.
process.on('disconnect', () => process.exit(0));
