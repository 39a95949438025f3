/**
 * The ingest pipeline (SPEC §3), run from aedes' `authorizePublish` hook so that
 * the PUBACK of a QoS 1 reading leaves only after the reading is durable:
 * aedes writes the PUBACK as soon as this hook calls back (handlers/publish.js).
 *
 *   classify topic → check ACL → parse + validate → resolve resident →
 *   group commit → announce stored readings → call back (PUBACK)
 *
 * Every refusal is answered on the sender's `rejects` topic, logged, counted
 * and kept; the sender is never disconnected for bad content. A refused
 * publish is acknowledged once its refusals are durable, as an accepted one
 * is once its readings are: it counts against its sender's window of
 * unacknowledged publishes (deferredAcks.ts), so a device that sends nothing
 * but refused readings is read at the pace the store keeps them (audit D7).
 *
 * What is in flight is bounded hub-wide (ingestBudget.ts): past
 * INGEST_MAX_WEIGHT (about that many readings) not yet durable, a telemetry
 * publish waits unparsed, its sender is not read further, and waiting
 * publishes start one per client in turn; a device's light publish never waits.
 */
import type { Logger } from 'pino';
import { isDeviceType, DEVICE_TYPE_DEFINITIONS } from '../../devices/deviceTypes.js';
import { DeviceStatusPayload, GatewayStatusPayload, MAX_READING_BYTES, type RejectMessage } from '../../devices/readingSchema.js';
import { compileSchema, describeError } from '../../devices/schemaValidator.js';
import type { ParsedTopic, Topics } from '../../devices/topics.js';
import { parseTelemetry, type Reading, type Refusal } from '../../devices/validateReading.js';
import type { EventBus } from '../events.js';
import type { HubMetrics } from '../metrics.js';
import type { DirectoryStore } from '../store/directoryStore.js';
import type { RefusalStore } from '../store/refusalStore.js';
import type { ReadingStore } from '../store/types.js';
import { authorizePublishTopic, rejectsTopicFor, type Principal } from '../broker/acl.js';
import { IngestBudget } from './ingestBudget.js';
import { ThrottledLog } from '../logThrottle.js';

export interface IngestDeps {
  topics: Topics;
  directory: DirectoryStore;
  readings: ReadingStore;
  refusals: RefusalStore;
  events: EventBus;
  metrics: HubMetrics;
  log: Logger;
  /** Publishes a message to a client (rejects); provided by the broker. */
  publish: (topic: string, payload: object) => void;
  now?: () => number;
}

/** The part of an aedes PUBLISH packet the ingest reads and may adjust. */
export interface PublishPacket {
  topic: string;
  payload: Buffer | string;
  qos: 0 | 1 | 2;
  retain: boolean;
}

export type IngestCallback = (err?: Error | null) => void;

/**
 * What one publish weighs in the ingest's budget beyond its readings: its
 * PUBACK, its parse and its job in the group commit. A publish of one reading
 * costs the hub about as much as four readings of a gateway's batch (ingest
 * benchmark: ~46k single-reading publishes/s; gateways replaying: ~170k
 * readings/s), so a flood of single readings is bounded like one of batches.
 */
export const PUBLISH_WEIGHT = 3;
/**
 * Weight (readings, accepted or refused, plus PUBLISH_WEIGHT per publish) parsed and not yet
 * durable, hub-wide, over which telemetry publishes wait unparsed
 * (ingestBudget.ts). Enough to keep the store's pipeline full (two batches at
 * the writer thread, one recording, more queued: GroupCommit's
 * MAX_BATCH_WEIGHT each), small enough that a light publish, which does not
 * wait here, waits in the store's queue behind about this much at most
 * (~0.05–0.25 s) and that it takes tens of MiB of heap. Measured with 20–200
 * gateways replaying: 4,000 cost 15–30 % of throughput, 16,000 doubled that
 * latency for nothing (docs/scaling.md "Gateways replaying at once").
 */
export const INGEST_MAX_WEIGHT = 8_000;
/**
 * A publish of at most one reading's size (SPEC §3: 4 KiB) from a client with
 * less than this weight in flight (four single readings) never waits: a fall
 * sensor or an SOS pendant is not queued behind a gateway's backlog.
 */
export const INGEST_LIGHT_WEIGHT = 4 * (1 + PUBLISH_WEIGHT);
/**
 * Payload a client's turn may start when publishes wait (ingestBudget.ts): about
 * one gateway publish of 500 readings, or a device's whole window of single
 * readings, so each is acknowledged in one write rather than one per turn.
 */
export const INGEST_TURN_BYTES = 48 * 1024;

const validateDeviceStatus = compileSchema<DeviceStatusPayload>(DeviceStatusPayload);
const validateGatewayStatus = compileSchema<GatewayStatusPayload>(GatewayStatusPayload);

/** A telemetry publish that passed the ACL, waiting for room or being stored. */
interface TelemetryPublish {
  principal: Principal;
  topic: Extract<ParsedTopic, { kind: 'telemetry' }>;
  /** The topic as published (the packet's own is changed at once, see `drop`). */
  topicName: string;
  payload: Buffer;
  /** When it arrived: hrtime for the latency metric, and the clock its readings are judged by. */
  started: bigint;
  arrivedAt: number;
  done: IngestCallback;
}

export class Ingest {
  private readonly now: () => number;
  private readonly budget = new IngestBudget<Principal, TelemetryPublish>({
    maxWeight: INGEST_MAX_WEIGHT, lightWeight: INGEST_LIGHT_WEIGHT, lightBytes: MAX_READING_BYTES, turnBytes: INGEST_TURN_BYTES,
  });
  private draining = false;
  /**
   * Both can repeat at the rate of the traffic (a misconfigured device, a full disk):
   * one line per 10 s each; every event stays counted, and each refusal kept and
   * answered on the sender's `rejects` topic.
   */
  private readonly refusedLog: ThrottledLog;
  private readonly notAcknowledgedLog: ThrottledLog;
  private readonly refusalNotKeptLog: ThrottledLog;

  constructor(private readonly deps: IngestDeps) {
    this.now = deps.now ?? Date.now;
    this.refusedLog = new ThrottledLog(deps.log, 'warn', 'publish refused');
    this.notAcknowledgedLog = new ThrottledLog(deps.log, 'error', 'store failed; reading not acknowledged');
    this.refusalNotKeptLog = new ThrottledLog(deps.log, 'error', 'store failed; refusal answered and counted but not kept');
    deps.metrics.watchIngestLoad(() => ({ weightInFlight: this.budget.weightInFlight, publishesWaiting: this.budget.publishesWaiting }));
  }

  /**
   * Null when this client has no telemetry publish waiting for room;
   * otherwise a promise that settles once all its waiting publishes have
   * started. The broker reads nothing more from it until then
   * (deferredAcks.ts): its next publishes wait in its socket and TCP, not here.
   */
  waitingFor(principal: Principal | undefined): Promise<void> | null {
    return principal === undefined ? null : this.budget.waitingFor(principal);
  }

  /**
   * Handles one publish from an authenticated client. `principal` is null only
   * for a last will the broker publishes on behalf of a client that is gone.
   */
  handle(principal: Principal | null, packet: PublishPacket, done: IngestCallback): void {
    const started = process.hrtime.bigint();
    const { topics, directory } = this.deps;
    const topic = topics.parse(packet.topic);
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    if (!principal) {
      if (topic?.kind === 'deviceStatus' || topic?.kind === 'gatewayStatus') this.status(null, topic, payload, packet, () => {});
      done(null);
      return;
    }
    const decision = authorizePublishTopic(principal, topic, (id) => directory.device(id)?.homeId);
    if (!decision.allowed) {
      this.deps.metrics.aclDenied.inc({ action: 'publish', kind: principal.kind });
      this.refuse(principal, topic, packet.topic, payload, [{ code: decision.reason, detail: decision.detail }], done);
      this.drop(packet);
      return;
    }
    switch (topic!.kind) {
      case 'telemetry':
        packet.retain = false; // readings are never retained by the broker
        this.telemetry(principal, topic as Extract<ParsedTopic, { kind: 'telemetry' }>, packet, payload, started, done);
        return;
      case 'deviceStatus':
      case 'gatewayStatus':
        this.status(principal, topic!, payload, packet, done);
        return;
    }
  }

  private telemetry(
    principal: Principal,
    topic: Extract<ParsedTopic, { kind: 'telemetry' }>,
    packet: PublishPacket,
    payload: Buffer,
    started: bigint,
    done: IngestCallback,
  ): void {
    // Nobody subscribes to telemetry (the ACL grants it to no client): no fan-out. Dropped now,
    // as aedes may publish the packet before the readings are stored (see deferredAcks.ts).
    const topicName = packet.topic;
    this.drop(packet);
    const publish: TelemetryPublish = { principal, topic, topicName, payload, started, arrivedAt: this.now(), done };
    if (this.budget.mayStart(principal, payload.length)) {
      this.store(publish);
    } else {
      this.budget.wait(principal, publish, payload.length);
    }
  }

  /** Parses, validates and stores a telemetry publish; its callback runs once it is durable. */
  private store(publish: TelemetryPublish): void {
    const { principal, topic, topicName, payload, started, done } = publish;
    const { directory, readings, metrics, events } = this.deps;
    const device = directory.device(topic.deviceId);
    // The ACL lets a device publish under the home its credential named at sign-in; the device
    // may have been retired or moved since (its session is being closed): refuse, never throw
    // inside aedes' hook, and never store a reading under a home it no longer lives in.
    if (device?.homeId !== topic.homeId) {
      this.refuse(principal, topic, topicName, payload, [{ code: 'unknown_device', detail: `device ${topic.deviceId} is not enrolled in home ${topic.homeId}` }], done);
      return;
    }
    const definition = isDeviceType(device.type) ? DEVICE_TYPE_DEFINITIONS[device.type] : undefined;
    const accepted: Reading[] = [];
    const refused: Refusal[] = [];
    for (const outcome of parseTelemetry(payload, topic, publish.arrivedAt)) {
      if (!outcome.ok) {
        refused.push(outcome.refusal);
        continue;
      }
      const r = outcome.reading;
      if (definition && !definition.measures.includes(r.type)) {
        refused.push({ id: r.id, code: 'type_not_supported', field: 'type', detail: `a ${device.type} does not report ${r.type}` });
        continue;
      }
      if (r.residentId !== null) {
        if (directory.residentHome(r.residentId) !== topic.homeId) {
          refused.push({ id: r.id, code: 'unknown_resident', field: 'residentId', detail: `resident ${r.residentId} does not live in home ${topic.homeId}` });
          continue;
        }
      } else {
        r.residentId = device.residentId;
      }
      accepted.push(r);
    }
    // A refused reading weighs as an accepted one: it is a row to write too, and a client that
    // sends nothing but refused readings would otherwise fill the store's queue, with a fall
    // sensor's reading waiting behind it all (audit D7: with the sender's window alone, ~30,000
    // refusal rows queued and its PUBACK 0.5 s at p50; counted here, 0.15-0.25 s).
    const weight = accepted.length + refused.length + PUBLISH_WEIGHT;
    this.budget.started(principal, weight);
    if (accepted.length === 0) {
      this.refuse(principal, topic, topicName, payload, refused, () => {
        this.budget.finished(principal, weight);
        done(null);
        this.startWaiting();
      });
      return;
    }
    // Its refusals are queued before its readings, so they are durable (or failed) by the time these are.
    if (refused.length > 0) this.refuse(principal, topic, topicName, payload, refused);
    const n = accepted.length;
    readings.append(accepted, (err, stored) => {
      this.budget.finished(principal, weight);
      if (err) {
        // Not durable, so no PUBACK: the error closes the connection and the
        // sender keeps the reading and sends it again (MQTT-4.4.0-1).
        this.notAcknowledgedLog.write({ err, clientId: principal.id, topic: topicName });
        done(err);
      } else {
        metrics.ingestLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
        for (let i = 0; i < n; i++) {
          const r = accepted[i]!;
          if (stored![i]) {
            this.acceptedCounter(r.type).inc();
            events.emit('reading.stored', r);
          } else {
            metrics.readingsDuplicate.inc();
          }
        }
        done(null);
      }
      this.startWaiting();
    });
  }

  /** Starts waiting publishes while there is room (ingestBudget.ts `next`). */
  private startWaiting(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let p = this.budget.next(); p; p = this.budget.next()) this.store(p);
    } finally {
      this.draining = false;
    }
  }

  /**
   * Labelled children cached: resolving labels per reading costs more than the increment
   * (a gateway's publish may hold 500 readings, accepted or refused).
   */
  private readonly accepted = new Map<string, { inc(): void }>();
  private readonly refused = new Map<string, { inc(): void }>();

  private acceptedCounter(type: string): { inc(): void } {
    return childOf(this.accepted, type, () => this.deps.metrics.readingsAccepted.labels({ type }));
  }

  private refusedCounter(reason: string): { inc(): void } {
    return childOf(this.refused, reason, () => this.deps.metrics.readingsRefused.labels({ reason }));
  }

  private status(principal: Principal | null, topic: ParsedTopic, payload: Buffer, packet: PublishPacket, done: IngestCallback): void {
    const kind = topic.kind === 'gatewayStatus' ? 'gateway' : 'device';
    const clientId = topic.kind === 'deviceStatus' ? topic.deviceId : (principal?.id ?? this.deps.directory.home(topic.homeId)?.gatewayId);
    let doc: unknown;
    try {
      doc = JSON.parse(payload.toString('utf8'));
    } catch {
      doc = undefined;
    }
    const validate = kind === 'gateway' ? validateGatewayStatus : validateDeviceStatus;
    if (!clientId || !validate(doc)) {
      const problem = validate.errors?.[0] ? describeError(validate.errors[0]) : undefined;
      const refusal: Refusal = doc === undefined
        ? { code: 'invalid_json', detail: 'status must be a JSON object' }
        : { code: 'invalid_field', field: problem?.path.slice(1).replaceAll('/', '.'), detail: `status ${problem?.path ?? ''} ${problem?.message ?? 'is invalid'}` };
      const topicName = packet.topic;
      this.drop(packet);
      if (principal) this.refuse(principal, topic, topicName, payload, [refusal], done);
      else done(null);
      return;
    }
    const at = this.now();
    const online = (doc as { online: boolean }).online;
    this.deps.directory.recordStatus(clientId, kind, topic.homeId, doc as DeviceStatusPayload, at);
    this.deps.events.emit('device.status', { clientId, kind, homeId: topic.homeId, online, at, source: 'status' });
    done(null);
  }

  /**
   * Answers, counts and logs each refusal, and keeps them with the payload; `done`
   * (the publish's PUBACK, when it has no accepted reading) runs once they are kept.
   * Not kept (the store failed) is logged, and still acknowledged: the refusal was
   * answered and counted, and the sender would only send the same bad content again.
   */
  private refuse(principal: Principal, topic: ParsedTopic | null, topicName: string, payload: Buffer, refusals: Refusal[], done?: IngestCallback): void {
    const { refusals: store, publish, topics } = this.deps;
    const rejectsTopic = rejectsTopicFor(principal, topic, topics);
    for (const r of refusals) {
      this.refusedCounter(r.code).inc();
      const message: RejectMessage = { ...(r.id !== undefined && { id: r.id }), error: r.code, ...(r.field !== undefined && { field: r.field }), detail: r.detail };
      publish(rejectsTopic, message);
      // Codes, fields and ids only: health values stay out of the log.
      this.refusedLog.write({ clientId: principal.id, topic: topicName, code: r.code, field: r.field, readingId: r.id });
    }
    store.record(this.now(), principal.id, topicName, refusals, payload, (err) => {
      if (err) this.refusalNotKeptLog.write({ err, clientId: principal.id, topic: topicName, refused: refusals.length });
      done?.(null);
    });
  }

  /**
   * MQTT 3.1.1 has no negative PUBACK (MQTT-3.3.5-2): a refused publish is
   * acknowledged and then goes nowhere. Moving it to a topic nobody can
   * subscribe to keeps it from being retained or forwarded.
   */
  private drop(packet: PublishPacket): void {
    packet.retain = false;
    packet.topic = DROPPED_TOPIC;
  }
}

/** `$`-topics are not matched by client wildcards, and the ACL grants no subscription to it. */
export const DROPPED_TOPIC = '$anxin/dropped';

/** `cache`'s entry for `key`, made by `make` the first time. */
function childOf<T>(cache: Map<string, T>, key: string, make: () => T): T {
  let c = cache.get(key);
  if (c === undefined) cache.set(key, (c = make()));
  return c;
}
