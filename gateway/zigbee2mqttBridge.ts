/**
 * Bridge from a local zigbee2mqtt broker (SPEC §8): radar fall detectors, SOS
 * pendants and presence sensors publish their whole state on
 * `{baseTopic}/{friendlyName}`; the shared vocabulary (`z2mStateChanges`) turns
 * state *changes* into readings, which go through the same intake as every
 * other input.
 *
 * The previous state of each device is kept in the outbox database and saved
 * in the same transaction as the readings it produced: after a restart a
 * retained "fall" state is not taken for a new fall, and a crash between the two
 * cannot lose the fall or repeat it.
 *
 * A retained message (zigbee2mqtt's `retain: true` for a device) is the last
 * state the broker kept, delivered again on every (re)subscription: it is a
 * baseline for states (a fall still on) but never a new event (`action`, a
 * press that happened before).
 *
 * Readings the disk did not take (full, failing) are not lost with the message
 * that raised them: they are retried with backoff, with their id and time kept,
 * for `RETRY_WINDOW_MS`, and committed together with anything newer from the
 * same device. The intake raises the local alarm for a fall or SOS it could not
 * store.
 *
 * The local link uses mqtt.js's own reconnect (a fixed 2 s): the broker is on
 * the same box, state messages are QoS 0, and nothing is resent.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { DEVICE_TYPE_DEFINITIONS, type DeviceType } from '../devices/deviceTypes.js';
import { z2mStateChanges } from '../devices/z2mStateChanges.js';
import type { GatewayContext } from './gatewayContext.js';
import { CLOCK_FLOOR_MS, type Answer, type Candidate, type Intake } from './intake.js';

type State = Record<string, unknown>;

/** Properties zigbee2mqtt publishes once per event and never keeps in a device's state. */
const EVENT_PROPERTIES = ['action'];

/** Retries of readings the disk refused: the wait doubles from 1 s up to 60 s; each reading is retried for 15 minutes. */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 60_000;
const RETRY_WINDOW_MS = 15 * 60_000;

/** Readings of one device not yet committed, with their id and time fixed at the first attempt. */
interface Uncommitted {
  deviceId: string;
  /** `since`: monotonic time of the first attempt (for the retry window). */
  readings: Array<{ candidate: Candidate; since: number }>;
  attempt: number;
  timer: NodeJS.Timeout | null;
}

/** The z2m friendly name's device and type, from the config (a bare id is a radar fall detector). */
export function bridgedDevice(entry: string | { device: string; type: DeviceType }): { deviceId: string; type: DeviceType } {
  return typeof entry === 'string' ? { deviceId: entry, type: 'fall_sensor' } : { deviceId: entry.device, type: entry.type };
}

export class Zigbee2mqttBridge {
  private client: MqttClient | null = null;
  private readonly states = new Map<string, State | undefined>();
  private readonly uncommitted = new Map<string, Uncommitted>();
  private stopped = false;
  private readonly log: Logger;
  /** Messages handled, readings produced, retained events ignored, commit retries (for tests and the log). */
  readonly stats = { messages: 0, readings: 0, retainedEvents: 0, retries: 0 };

  constructor(private readonly ctx: GatewayContext, private readonly intake: Intake) {
    this.log = ctx.log.child({ component: 'zigbee2mqtt' });
  }

  start(): void {
    const z2m = this.ctx.config.zigbee2mqtt;
    if (!z2m) return;
    this.stopped = false;
    const topics = Object.keys(z2m.devices).map((name) => `${z2m.baseTopic}/${name}`);
    const client = mqtt.connect(z2m.url, {
      clientId: `anxin-${this.ctx.config.username}-${process.pid}`,
      ...(z2m.username !== undefined && { username: z2m.username, password: z2m.password }),
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
    });
    this.client = client;
    client.on('connect', () => {
      this.log.info({ devices: topics.length }, 'connected to zigbee2mqtt');
      client.subscribe(topics, { qos: 0 }, (err) => {
        if (err) this.log.error({ err: err.message }, 'zigbee2mqtt subscription failed');
      });
    });
    client.on('message', (topic, payload, packet) => {
      try {
        this.onMessage(topic, payload, packet.retain);
      } catch (err) {
        this.log.error({ err, topic }, 'zigbee2mqtt message failed');
      }
    });
    client.on('error', (err) => this.log.debug({ err: err.message }, 'zigbee2mqtt link error'));
    client.on('offline', () => this.log.warn('zigbee2mqtt broker unreachable; retrying'));
  }

  /** Disconnects; readings still uncommitted get one last attempt (the outbox closes after this). */
  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) await client.endAsync(true);
    this.stopped = true;
    for (const [key, u] of [...this.uncommitted]) {
      if (u.timer) clearTimeout(u.timer);
      u.timer = null;
      this.commit(key, u.deviceId, []);
    }
    for (const u of this.uncommitted.values()) {
      this.log.error({ deviceId: u.deviceId, readings: u.readings.map((r) => summary(r.candidate)) }, 'zigbee2mqtt readings never stored; lost at shutdown');
    }
    this.uncommitted.clear();
  }

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    const z2m = this.ctx.config.zigbee2mqtt!;
    const name = topic.slice(z2m.baseTopic.length + 1);
    const entry = z2m.devices[name];
    if (entry === undefined) return;
    let message: unknown;
    try {
      message = JSON.parse(payload.toString('utf8'));
    } catch {
      message = undefined;
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      this.log.debug({ device: name }, 'zigbee2mqtt message is not a JSON object; ignored');
      return;
    }
    this.stats.messages++;
    const { deviceId, type } = bridgedDevice(entry);
    const key = `z2m:${name}`;
    if (!this.states.has(key)) this.states.set(key, this.ctx.outbox.state<State>(key));
    const previous = this.states.get(key);
    const definition = DEVICE_TYPE_DEFINITIONS[type];
    const events = eventProperties(definition);
    const heard = { ...(message as State) };
    if (retained) {
      // The broker's copy of an old message: its state is a baseline, its event (a press) is not new.
      const old = [...events].filter((p) => p in heard);
      for (const p of old) delete heard[p];
      if (old.length > 0) {
        this.stats.retainedEvents++;
        this.log.info({ deviceId, properties: old }, 'retained zigbee2mqtt event ignored: an old event, not a new one');
      }
    }
    const drafts = z2mStateChanges(previous, heard, definition);
    // zigbee2mqtt may send only what changed (cache_state off): keep the whole picture, minus one-off events.
    const next: State = { ...previous, ...heard };
    for (const p of events) delete next[p];
    // Only the picture in memory: what is on disk follows with the next commit that succeeds.
    this.states.set(key, next);
    this.commit(key, deviceId, drafts.map((d) => ({ deviceId, reading: { ...d } as Record<string, unknown> })), this.ctx.now());
  }

  /**
   * Commits a device's new readings after any it still holds uncommitted, with
   * its latest state, in one transaction; what the disk refused is kept and
   * retried with backoff.
   */
  private commit(key: string, deviceId: string, candidates: readonly Candidate[], heardAt = this.ctx.now()): void {
    const held = this.uncommitted.get(key);
    const now = performance.now();
    const all = [...(held?.readings ?? []), ...candidates.map((candidate) => ({ candidate, since: now }))];
    const answers = this.intake.acceptReadings(all.map((r) => r.candidate), { key, value: this.states.get(key) });
    const failed: Uncommitted['readings'] = [];
    answers.forEach((a, i) => {
      const r = all[i]!;
      if (a.ok) {
        this.stats.readings++;
        this.log.info({ deviceId, readingId: a.id, type: r.candidate.reading.type }, 'zigbee2mqtt event');
      } else if (isStoreFailure(a)) {
        // Same id and time on every attempt: the hub and the local alarm see one reading, not one per try.
        // (With the clock not set, no time: the intake holds such a reading until it is.)
        const reading: Record<string, unknown> = { ...r.candidate.reading, id: a.id };
        if (reading.ts === undefined && heardAt >= CLOCK_FLOOR_MS) reading.ts = heardAt;
        failed.push({ candidate: { deviceId, reading }, since: r.since });
      } else this.log.warn({ deviceId, code: a.error, field: a.field }, 'zigbee2mqtt reading refused');
    });
    const keep = failed.filter((r) => now - r.since < RETRY_WINDOW_MS);
    if (keep.length < failed.length) {
      const lost = failed.filter((r) => !keep.includes(r)).map((r) => summary(r.candidate));
      this.log.error({ deviceId, readings: lost }, `zigbee2mqtt readings not stored after ${RETRY_WINDOW_MS / 60_000} minutes of retries; given up`);
    }
    if (keep.length === 0) {
      if (held?.timer) clearTimeout(held.timer);
      this.uncommitted.delete(key);
      return;
    }
    const u = held ?? { deviceId, readings: [], attempt: 0, timer: null };
    u.readings = keep;
    this.uncommitted.set(key, u);
    if (u.timer || this.stopped) return; // a retry is already scheduled (this attempt came with a new message), or shutting down
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(u.attempt++, 30));
    this.log.error({ deviceId, readings: keep.map((r) => summary(r.candidate)), retryInMs: delay }, 'zigbee2mqtt readings not stored (disk); retrying');
    u.timer = setTimeout(() => {
      u.timer = null;
      this.stats.retries++;
      this.commit(key, deviceId, []);
    }, delay);
    u.timer.unref();
  }
}

/** Properties that carry one-off events for a device type: zigbee2mqtt's own and every trigger counted per message. */
function eventProperties(definition: (typeof DEVICE_TYPE_DEFINITIONS)[DeviceType]): Set<string> {
  return new Set([...EVENT_PROPERTIES, ...(definition.z2m?.triggers ?? []).filter((t) => t.everyMessage).map((t) => t.property)]);
}

function isStoreFailure(a: Answer): a is Extract<Answer, { ok: false }> & { id: string } {
  return !a.ok && a.error === 'store_failed' && a.id !== undefined;
}

function summary(c: Candidate): { id: unknown; type: unknown; ts: unknown } {
  return { id: c.reading.id, type: c.reading.type, ts: c.reading.ts };
}
