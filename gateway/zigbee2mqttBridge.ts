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
 * The local link uses mqtt.js's own reconnect (a fixed 2 s): the broker is on
 * the same box, state messages are QoS 0, and nothing is resent.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { DEVICE_TYPE_DEFINITIONS, type DeviceType } from '../devices/deviceTypes.js';
import { z2mStateChanges } from '../devices/z2mStateChanges.js';
import type { GatewayContext } from './gatewayContext.js';
import type { Candidate, Intake } from './intake.js';

type State = Record<string, unknown>;

/** Properties zigbee2mqtt publishes once per event and never keeps in a device's state. */
const EVENT_PROPERTIES = ['action'];

/** The z2m friendly name's device and type, from the config (a bare id is a radar fall detector). */
export function bridgedDevice(entry: string | { device: string; type: DeviceType }): { deviceId: string; type: DeviceType } {
  return typeof entry === 'string' ? { deviceId: entry, type: 'fall_sensor' } : { deviceId: entry.device, type: entry.type };
}

export class Zigbee2mqttBridge {
  private client: MqttClient | null = null;
  private readonly states = new Map<string, State | undefined>();
  private readonly log: Logger;
  /** Messages handled and readings produced (for tests and the log). */
  readonly stats = { messages: 0, readings: 0 };

  constructor(private readonly ctx: GatewayContext, private readonly intake: Intake) {
    this.log = ctx.log.child({ component: 'zigbee2mqtt' });
  }

  start(): void {
    const z2m = this.ctx.config.zigbee2mqtt;
    if (!z2m) return;
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
    client.on('message', (topic, payload) => {
      try {
        this.onMessage(topic, payload);
      } catch (err) {
        this.log.error({ err, topic }, 'zigbee2mqtt message failed');
      }
    });
    client.on('error', (err) => this.log.debug({ err: err.message }, 'zigbee2mqtt link error'));
    client.on('offline', () => this.log.warn('zigbee2mqtt broker unreachable; retrying'));
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) await client.endAsync(true);
  }

  private onMessage(topic: string, payload: Buffer): void {
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
    const drafts = z2mStateChanges(previous, message, DEVICE_TYPE_DEFINITIONS[type]);
    // zigbee2mqtt may send only what changed (cache_state off): keep the whole picture, minus one-off events.
    const next: State = { ...previous, ...(message as State) };
    for (const p of EVENT_PROPERTIES) delete next[p];
    const candidates: Candidate[] = drafts.map((d) => ({ deviceId, reading: { ...d } as Record<string, unknown> }));
    const answers = this.intake.acceptReadings(candidates, { key, value: next });
    // Not committed (the disk failed): keep the old state so the next message raises the event again.
    if (!answers.some((a) => !a.ok && a.error === 'store_failed')) this.states.set(key, next);
    answers.forEach((a, i) => {
      if (a.ok) {
        this.stats.readings++;
        this.log.info({ deviceId, readingId: a.id, type: candidates[i]!.reading.type }, 'zigbee2mqtt event');
      } else this.log.warn({ deviceId, code: a.error, field: a.field }, 'zigbee2mqtt reading refused');
    });
  }
}
