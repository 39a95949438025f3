/**
 * The MQTT link to the hub (SPEC §2, §8). It drains the outbox in order: each
 * publish carries one device's readings (one object, or an array of up to
 * `batchSize` when flushing a backlog), QoS 1, and its entries leave the outbox
 * only when the PUBACK arrives, which the hub sends after its commit.
 *
 * Reconnection is our own loop (`reconnectPeriod: 0`, a new client per
 * attempt) rather than mqtt.js's: its reconnect waits a fixed period (no
 * exponential backoff, no jitter), and it would resend its in-memory copy of
 * unacknowledged publishes, duplicating what the disk outbox already resends.
 * A fresh client per connection means every resend comes from the outbox,
 * from its head, and a late callback of a dead connection is recognised by
 * its generation and ignored.
 *
 * Over TLS (`mqtts://`, `wss://`) the hub's certificate is always verified,
 * against `tls.ca` (read again at every attempt, so a replaced CA file is
 * used without a restart) or the system's CAs. A certificate that does not
 * verify is an outage like any other: the outbox keeps everything and the
 * loop keeps trying, and the log says why in one line.
 */
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { RejectMessage } from '../devices/readingSchema.js';
import { hubUsesTls, redactUrl } from './config.js';
import type { GatewayContext } from './gatewayContext.js';
import { PROTECTED_TYPES, type OutboxEntry } from './outbox.js';
import { StatusReporter, type GatewayStatus } from './statusReporter.js';

export interface UplinkHooks {
  /** Every message on the home's `alerts` topic. */
  onAlert: (alert: Record<string, unknown>) => void;
  random?: () => number;
}

/** Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in [0, min(max, base·2^attempt)). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * cap);
}

/** Groups a window of entries by device, keeping each device's order; groups come in order of their first entry. */
export function groupByDevice(entries: readonly OutboxEntry[]): OutboxEntry[][] {
  const groups = new Map<string, OutboxEntry[]>();
  for (const e of entries) {
    const g = groups.get(e.deviceId);
    if (g) g.push(e);
    else groups.set(e.deviceId, [e]);
  }
  return [...groups.values()];
}

/**
 * Node's codes for a certificate chain or name that does not verify
 * (OpenSSL X509_V_ERR_* names, and Node's own for the host name).
 */
const UNTRUSTED_CERTIFICATE = /^(ERR_TLS_CERT_ALTNAME_INVALID|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_SELF_SIGNED_|CERT_|HOSTNAME_MISMATCH)/;

/** What a TLS failure of the uplink means, or null for an error that is not about TLS. */
export function tlsFailure(code: unknown): 'untrusted' | 'handshake' | null {
  if (typeof code !== 'string') return null;
  if (UNTRUSTED_CERTIFICATE.test(code)) return 'untrusted';
  if (/^ERR_(SSL|TLS)_/.test(code)) return 'handshake';
  return null;
}

// After a refused sign-in, wait this many doublings (the maximum delay): a wrong secret
// does not fix itself, and the hub locks out an address after 10 failures a minute.
const AUTH_FAILURE_ATTEMPT = 30;

export class Uplink {
  private client: MqttClient | null = null;
  private generation = 0;
  private isConnected = false;
  private stopped = true;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Resets the backoff once the current connection has stayed up long enough (see `linkHealthy`). */
  private healthyTimer: NodeJS.Timeout | null = null;
  /** Highest seq handed to the current connection. */
  private cursor = 0;
  /** Windows (up to `batchSize` readings) published and not fully acknowledged. */
  private windowsInFlight = 0;
  private readonly status: StatusReporter;
  private readonly random: () => number;
  /** The last TLS failure logged at error level; the same again is logged at debug until a connection succeeds. */
  private lastTlsProblem: string | null = null;
  /** Counters for the log and tests. */
  readonly stats = { connects: 0, publishes: 0, readingsAcked: 0 };

  private readonly log: Logger;

  constructor(private readonly deps: GatewayContext, private readonly hooks: UplinkHooks) {
    this.random = hooks.random ?? Math.random;
    this.log = deps.log.child({ component: 'uplink' });
    this.status = new StatusReporter((s) => this.publishStatus(s), () => this.currentStatus());
  }

  get connected(): boolean {
    return this.isConnected;
  }

  start(): void {
    this.stopped = false;
    if (!hubUsesTls(this.deps.config.hub) && !isLoopback(this.deps.config.hub)) {
      this.log.warn({ hub: redactUrl(this.deps.config.hub) }, 'the link to the hub is not encrypted: the gateway secret and health data cross the network in clear; use mqtts://');
    }
    this.deps.outbox.onEnqueued(() => {
      this.pump();
      this.status.changed();
    });
    this.connect();
  }

  /**
   * Says "offline" (a clean DISCONNECT sends no last will), lets the PUBACKs
   * of what is in flight arrive (bounded), then disconnects.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.clearHealthyTimer();
    this.status.stop();
    const client = this.client;
    if (client && this.isConnected) {
      await withTimeout(2000, (done) => client.publish(this.deps.topics.gatewayStatus(this.deps.config.homeId), JSON.stringify({ online: false }), { qos: 1, retain: true }, () => done()));
      // end(false) waits for in-flight acknowledgements; a hub that stopped answering gets 3 s.
      await withTimeout(3000, (done) => client.end(false, {}, () => done()));
    }
    this.isConnected = false;
    this.generation++;
    this.client = null;
    client?.end(true);
  }

  private connect(): void {
    const { config, topics } = this.deps;
    const log = this.log;
    const gen = ++this.generation;
    const tls = this.tlsOptions();
    if (!tls) {
      this.retryLater(false);
      return;
    }
    const client = mqtt.connect(config.hub, {
      ...tls,
      clientId: config.username,
      username: config.username,
      password: config.password,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      keepalive: config.uplink.keepaliveSeconds,
      connectTimeout: config.uplink.connectTimeoutMs,
      queueQoSZero: false,
      will: { topic: topics.gatewayStatus(config.homeId), payload: Buffer.from(JSON.stringify({ online: false })), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      if (gen === this.generation) void this.onConnect(gen, client);
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('error', (err) => {
      const code = (err as { code?: number | string }).code;
      const tlsProblem = tlsFailure(code);
      if (code === 4 || code === 5) {
        log.error({ code }, 'hub refused the gateway credentials');
        this.attempt = Math.max(this.attempt, AUTH_FAILURE_ATTEMPT);
      } else if (tlsProblem) {
        const again = this.lastTlsProblem === code;
        this.lastTlsProblem = code as string;
        const fields = { code, detail: err.message, hub: redactUrl(config.hub), ca: config.tls?.ca ?? 'system CAs' };
        log[again ? 'debug' : 'error'](fields, tlsProblem === 'untrusted'
          ? 'the hub\'s TLS certificate is not trusted (not signed by tls.ca, another host name, or expired); readings stay in the outbox; retrying'
          : 'TLS handshake with the hub failed (is the hub URL\'s port its TLS port?); readings stay in the outbox; retrying');
      } else {
        log.debug({ err: err.message }, 'uplink error');
      }
    });
    client.on('close', () => this.onClose(gen, client));
  }

  private async onConnect(gen: number, client: MqttClient): Promise<void> {
    const { config, topics } = this.deps;
    const log = this.log;
    this.stats.connects++;
    this.lastTlsProblem = null;
    try {
      const granted = await client.subscribeAsync([
        topics.deviceRejects(config.homeId, '+'),
        topics.gatewayRejects(config.homeId),
        topics.alerts(config.homeId),
      ], { qos: 1 });
      const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic);
      if (refused.length > 0) log.warn({ refused }, 'hub refused some subscriptions');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'subscribing to rejects and alerts failed');
    }
    if (gen !== this.generation) return;
    // Signed in is not healthy: a hub whose store fails accepts the connection and drops it at the first
    // publish. The backoff resets on a PUBACK, or after the link stayed up as long as the longest wait
    // (so even a hub that drops every connection later is never reconnected to more often than that).
    this.clearHealthyTimer();
    this.healthyTimer = setTimeout(() => this.linkHealthy(gen), config.uplink.reconnectMaxMs);
    this.healthyTimer.unref();
    this.isConnected = true;
    this.cursor = 0;
    this.windowsInFlight = 0;
    log.info({ outboxDepth: this.deps.outbox.depth }, 'connected to the hub');
    this.status.reportNow();
    this.pump();
  }

  private onClose(gen: number, client: MqttClient): void {
    if (gen !== this.generation) return;
    const wasConnected = this.isConnected;
    this.isConnected = false;
    this.clearHealthyTimer();
    this.client = null;
    this.generation++; // late PUBACK callbacks of this client are ignored from now on
    client.removeAllListeners('message');
    client.end(true);
    this.retryLater(wasConnected);
  }

  private retryLater(wasConnected: boolean): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++, this.deps.config.uplink.reconnectMinMs, this.deps.config.uplink.reconnectMaxMs, this.random);
    if (wasConnected) this.log.warn({ outboxDepth: this.deps.outbox.depth, retryInMs: delay }, 'lost the hub; retrying');
    else this.log.debug({ retryInMs: delay, attempt: this.attempt }, 'hub not reachable; retrying');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.connect();
    }, delay);
  }

  /**
   * Verification on (never `rejectUnauthorized: false`), against `tls.ca` when
   * set; null when that file cannot be read now (logged; the attempt is retried).
   */
  private tlsOptions(): Pick<IClientOptions, 'ca' | 'rejectUnauthorized'> | null {
    const { config } = this.deps;
    if (!hubUsesTls(config.hub)) return {};
    const path = config.tls?.ca;
    if (path === undefined) return { rejectUnauthorized: true };
    try {
      return { ca: readFileSync(path), rejectUnauthorized: true };
    } catch (err) {
      this.log.error({ ca: path, err: (err as Error).message }, 'cannot read tls.ca; readings stay in the outbox; retrying');
      return null;
    }
  }

  /** The connection of `gen` proved it works (a PUBACK, or it stayed up): the next loss starts the backoff over. */
  private linkHealthy(gen: number): void {
    if (gen !== this.generation || !this.isConnected) return;
    this.attempt = 0;
    this.clearHealthyTimer();
  }

  private clearHealthyTimer(): void {
    if (this.healthyTimer) clearTimeout(this.healthyTimer);
    this.healthyTimer = null;
  }

  /** Hands the next windows of the outbox to the connection, up to the in-flight bound. */
  private pump(): void {
    const { outbox, config, topics } = this.deps;
    const client = this.client;
    while (this.isConnected && !this.stopped && client && this.windowsInFlight < config.uplink.maxInFlight) {
      const window = outbox.peek(this.cursor, config.uplink.batchSize);
      if (window.length === 0) return;
      this.cursor = window.at(-1)!.seq;
      this.windowsInFlight++;
      const groups = groupByDevice(window);
      let pending = groups.length;
      const gen = this.generation;
      for (const group of groups) {
        const payload = group.length === 1 ? group[0]!.body : `[${group.map((e) => e.body).join(',')}]`;
        this.stats.publishes++;
        client.publish(topics.telemetry(config.homeId, group[0]!.deviceId), payload, { qos: 1 }, (err) => {
          if (gen !== this.generation) return; // a dead connection: resent from the outbox after the reconnect
          if (err) {
            this.log.warn({ err: err.message }, 'publish failed; reconnecting');
            this.onClose(gen, client);
            return;
          }
          outbox.ack(group.map((e) => e.seq));
          this.linkHealthy(gen);
          this.stats.readingsAcked += group.length;
          if (--pending === 0) {
            this.windowsInFlight--;
            this.pump();
          }
          this.status.changed();
        });
      }
    }
  }

  private onMessage(topic: string, payload: Buffer): void {
    const { topics, outbox } = this.deps;
    const log = this.log;
    const parsed = topics.parse(topic);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
      if (typeof body !== 'object' || body === null) throw new Error('not an object');
    } catch {
      log.warn({ topic }, 'unreadable message from the hub');
      return;
    }
    if (parsed?.kind === 'deviceRejects' || parsed?.kind === 'gatewayRejects') {
      const r = body as Partial<RejectMessage>;
      const deviceId = parsed.kind === 'deviceRejects' ? parsed.deviceId : null;
      const readingId = typeof r.id === 'string' ? r.id : undefined;
      // It was acknowledged anyway (MQTT 3.1.1 has no negative PUBACK); make sure it is not sent again.
      // A refused fall or SOS never reaches the call center: the outbox tells the local alarm.
      const removed = outbox.reject(deviceId, readingId, typeof r.error === 'string' ? r.error : undefined);
      const emergency = removed !== undefined && PROTECTED_TYPES.has(removed.type);
      log[emergency ? 'error' : 'warn']({ deviceId, readingId, type: removed?.type, code: r.error, field: r.field }, 'hub refused a reading');
      this.status.changed();
    } else if (parsed?.kind === 'alerts') {
      this.hooks.onAlert(body);
    }
  }

  private currentStatus(): GatewayStatus {
    const { outbox, version } = this.deps;
    // outboxReplaced: damaged outbox files set aside at start (readings may have been lost with them).
    const status: GatewayStatus & { outboxReplaced: number } = { online: true, outboxDepth: outbox.depth, version, outboxDropped: outbox.dropped, rejected: outbox.rejected, outboxReplaced: outbox.replaced };
    return status;
  }

  private publishStatus(status: GatewayStatus): void {
    const client = this.client;
    if (!this.isConnected || !client) return;
    client.publish(this.deps.topics.gatewayStatus(this.deps.config.homeId), JSON.stringify(status), { qos: 1, retain: true });
  }
}

function isLoopback(url: string): boolean {
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
  } catch {
    return false;
  }
}

function withTimeout(ms: number, start: (done: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    start(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
