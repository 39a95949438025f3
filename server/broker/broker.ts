/**
 * The embedded aedes broker (ESM, `Aedes.createBroker`) with Anxin's
 * hooks: per-address connection limits, per-client secrets, the topic ACL, and
 * the ingest in `authorizePublish`, whose QoS 1 PUBACKs the hub sends itself
 * once a reading is durable (deferredAcks.ts). MQTT over TCP here, over TLS through
 * tlsListener.ts; over WebSocket the HTTP server hands its `/mqtt` sockets to `handle`.
 * Every transport reaches the same hooks with a socket whose `remoteAddress` is the peer's.
 *
 * MQTT 3.1.1 and 5: aedes 2 (pinned at 2.0.0-beta.1; the 1.x line has no
 * MQTT 5). The hook signatures are those of 1.x; return codes given as 3.1.1
 * codes are answered to an MQTT 5 client as the matching reason codes.
 *
 * What a client can make the hub hold is bounded: a packet by MAX_PACKET_BYTES (refused at
 * its fixed header, before sign-in too), what waits to be sent to it by SEND_BACKLOG_BYTES
 * (`forward`): a client that stops reading its socket neither grows the hub nor slows others.
 */
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { createServer, type Server, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { MAX_BATCH_READINGS, MAX_READING_BYTES } from '../../devices/readingSchema.js';
import type { Topics } from '../../devices/topics.js';
import { needsRehash, unusableHash, verifySecret } from '../auth/secrets.js';
import type { EventBus } from '../events.js';
import type { Ingest } from '../ingest/ingest.js';
import type { HubMetrics } from '../metrics.js';
import type { DirectoryStore } from '../store/directoryStore.js';
import { authorizeSubscribeFilter, type Principal } from './acl.js';
import { ConnectLimiter } from './connectLimiter.js';
import { DeferredAcks } from './deferredAcks.js';
import { TlsListener, type TlsListenerOptions } from './tlsListener.js';

export interface BrokerDeps {
  topics: Topics;
  directory: DirectoryStore;
  ingest: Ingest;
  events: EventBus;
  metrics: HubMetrics;
  log: Logger;
  connectBurst: number;
  connectPerSecond: number;
  now?: () => number;
  /**
   * A device signed in with a secret whose stored hash is of an older, slower
   * scheme (secrets.ts `needsRehash`): store `secret`'s current hash instead,
   * unless the stored hash changed meanwhile (a rotation).
   */
  rehashSecret?: (username: string, stored: string, secret: string) => void;
  /**
   * What a home is told of its unresolved alerts as they stand now (SPEC §2
   * `alerts` payloads, oldest first): sent to a gateway when it subscribes to
   * its home's `alerts`, so a home whose uplink was down at a change still
   * hears it (its sessions are clean: nothing was queued for it).
   */
  homeAlerts?: (homeId: string) => object[];
}

/** CONNACK return codes of MQTT 3.1.1 §3.2.2.3. */
const CONNACK = { identifierRejected: 2, serverUnavailable: 3, badCredentials: 4, notAuthorized: 5 } as const;

/**
 * Largest MQTT packet the hub reads, whole (fixed header included): the largest publish it can
 * accept, a batch of MAX_BATCH_READINGS readings of MAX_READING_BYTES (SPEC §2–3), plus 64 KiB
 * for its topic, packet id and MQTT 5 properties. A CONNECT with credentials and a will is far
 * smaller. aedes refuses a larger packet as soon as its fixed header declares the length, before
 * sign-in too (client.js `nextBatch`): the connection is closed (MQTT 3.1.1 has nothing better);
 * an MQTT 5 client is told this size in CONNACK and, once connected, gets DISCONNECT 0x95
 * (MQTT-3.2.2-15). aedes' default is 0: no limit, so any socket could make the hub buffer 256 MB.
 */
export const MAX_PACKET_BYTES = MAX_READING_BYTES * MAX_BATCH_READINGS + 64 * 1024;

/**
 * Bytes that may wait in a client's socket (beyond what the kernel holds) before the hub stops
 * sending it messages (rejects, alerts): a client over it is not reading, and is not owed every
 * message (see `forward`). A gateway's default uplink has at most 8 publishes of 500 readings
 * awaiting PUBACKs (gateway/config.ts `maxInFlight`, `batchSize`): 4,000 rejects of at most
 * ~320 bytes, 1.3 MB, so one that reads its socket, however slow its link, loses none.
 */
export const SEND_BACKLOG_BYTES = 2 * 1024 * 1024;

/** At most one line a minute per client that is not reading, with how many messages it was not sent. */
const STALL_LOG_MS = 60_000;

/** Messages a client was not sent (see `forward`). */
interface Stall {
  /** When its current run of drops began; null while it keeps up. */
  since: number | null;
  /** Not sent since the last line logged. */
  dropped: number;
  loggedAt: number;
}

export class HubBroker {
  private aedes!: Aedes;
  private tcp: Server | null = null;
  private tls: TlsListener | null = null;
  private tcpClosed: Promise<void> | null = null;
  private readonly principals = new WeakMap<Client, Principal>();
  private readonly limiter: ConnectLimiter;
  private readonly unusable = unusableHash('device');
  private sweepTimer: NodeJS.Timeout | null = null;
  /** Publishes a client may have unacknowledged in the store's pipeline before aedes stops reading it. */
  private readonly acks = new DeferredAcks(64, (client) => this.deps.ingest.waitingFor(this.principals.get(client)));
  /**
   * forget() finds only clients aedes has registered, but a sign-in reads the credential before
   * awaiting the secret's check and aedes' session set-up. So each forget() is numbered, each
   * sign-in notes the number it started at, and a client forgotten since is refused or closed
   * once registered (`forgottenSinceSignIn`). One number per username ever forgotten.
   */
  private forgets = 0;
  private readonly forgottenAt = new Map<string, number>();
  private readonly signInStartedAt = new WeakMap<Client, number>();
  /** Bytes passed to aedes per client in this turn: aedes writes them on a later setImmediate. */
  private readonly forwardedThisTurn = new Map<Client, number>();
  private readonly stalls = new WeakMap<Client, Stall>();
  /** Each client's address, read when it connected: aedes destroys a socket before reporting why. */
  private readonly addresses = new WeakMap<Client, string>();

  constructor(private readonly deps: BrokerDeps) {
    this.limiter = new ConnectLimiter({ burst: deps.connectBurst, perSecond: deps.connectPerSecond, now: deps.now });
  }

  async start(): Promise<void> {
    const { metrics, log, ingest, directory, events } = this.deps;
    this.aedes = await Aedes.createBroker({
      // No cap on messages in delivery at once (mqemitter `concurrency` 0). With a cap, each delivery
      // to a client whose socket is full holds a slot until 'drain' or drainTimeout: one client that
      // stops reading fills them all, every other publish waits in mqemitter's queue, and when its
      // deliveries fail that queue is released by synchronous recursion (mqemitter.js `released` →
      // `_do`), which overflows the stack and exits the hub (mcollina/mqemitter#204, unfixed).
      // Deliveries are bounded per client instead, by `forward` (authorizeForward).
      concurrency: 0,
      // aedes' default, stated: a client that reads nothing for a minute is disconnected. Not shorter:
      // `forward` already bounds what it holds, and a slow gateway link should not be cut and resend its backlog.
      drainTimeout: 60_000,
      maximumPacketSize: MAX_PACKET_BYTES,
      authorizeForward: (client, packet) => this.forward(client, packet),
      preConnect: (client, _packet, cb) => {
        const address = this.addressOf(client);
        const verdict = this.limiter.attempt(address);
        if (!verdict.ok) {
          metrics.connectRefused.inc({ reason: verdict.reason });
          log.warn({ address, reason: verdict.reason }, 'mqtt connection refused before sign-in');
        }
        cb(null, verdict.ok);
      },
      authenticate: (client, username, password, cb) => {
        this.authenticate(client, username, password).then(
          (principal) => {
            this.principals.set(client, principal);
            cb(null, true);
          },
          (err: AuthenticateError) => cb(err, false),
        );
      },
      authorizePublish: (client, packet, cb) => {
        const principal = client ? this.principals.get(client) ?? null : null;
        if (client && !principal) {
          cb(new Error('client is not signed in'));
          return;
        }
        if (!client || packet.qos !== 1) {
          ingest.handle(principal, packet as PublishPacket & { qos: 0 | 1 | 2 }, cb);
          return;
        }
        // The hub sends this PUBACK itself once the reading is durable (see deferredAcks.ts);
        // aedes, seeing QoS 0, sends none, and reads on once the ingest has taken the packet.
        const ticket = this.acks.take(client, packet.messageId!, () => cb(null));
        packet.qos = 0;
        ingest.handle(principal, packet as PublishPacket & { qos: 0 | 1 | 2 }, (err) => ticket.durable(err));
        ticket.admit();
      },
      authorizeSubscribe: (client, sub, cb) => {
        const principal = client ? this.principals.get(client) : undefined;
        if (principal && authorizeSubscribeFilter(principal, sub.topic, this.deps.topics, (id) => directory.device(id)?.homeId)) {
          cb(null, sub);
          return;
        }
        metrics.aclDenied.inc({ action: 'subscribe', kind: principal?.kind ?? 'unknown' });
        log.warn({ clientId: client?.id, filter: sub.topic }, 'subscription refused');
        cb(null, null as unknown as Subscription); // SUBACK 0x80 for this filter (MQTT-3.9.3)
      },
    });

    const connectionChanged = (client: Client, online: boolean) => {
      const p = this.principals.get(client);
      if (!p) return;
      if (online) metrics.connectedClients.inc({ kind: p.kind });
      else metrics.connectedClients.dec({ kind: p.kind });
      const at = (this.deps.now ?? Date.now)();
      directory.recordConnection(p.id, p.kind, p.homeId, online, at);
      events.emit('device.status', { clientId: p.id, kind: p.kind, homeId: p.homeId, online, at, source: 'connection' });
      log.info({ clientId: p.id, kind: p.kind, address: this.addressOf(client) }, online ? 'mqtt client connected' : 'mqtt client disconnected');
    };
    this.aedes.on('clientReady', (client) => {
      forgetConnectPacket(client);
      const p = this.principals.get(client);
      if (p && this.forgottenSinceSignIn(client, p.id)) {
        // Forgotten while aedes set its session up, before forget() could find it: it never
        // counts as connected, and with no principal its publishes are refused until it is gone.
        this.principals.delete(client);
        metrics.connectRefused.inc({ reason: 'forgotten_during_sign_in' });
        log.warn({ clientId: p.id, address: this.addressOf(client) }, 'mqtt client signed out: its credential changed while it signed in');
        client.close();
        return;
      }
      connectionChanged(client, true);
    });
    this.aedes.on('clientDisconnect', (client) => {
      this.droppedUntilGone(client);
      connectionChanged(client, false);
    });
    this.aedes.on('subscribe', (subs, client) => this.tellHomeItsAlerts(subs, client));
    this.aedes.on('clientError', (client, err) => {
      if (!this.packetTooLarge(client, err)) log.debug({ clientId: client?.id, err: err.message }, 'mqtt client error');
    });
    this.aedes.on('connectionError', (client, err) => {
      if (!this.packetTooLarge(client, err)) log.debug({ address: this.addressOf(client), err: err.message }, 'mqtt connection error');
    });
    this.sweepTimer = setInterval(() => this.limiter.sweep(), 60_000).unref();
  }

  /**
   * aedes' authorizeForward, for every message the hub sends a client (rejects and alerts: the only
   * topics a client may subscribe to, and only the hub publishes there). A client whose socket holds
   * more than SEND_BACKLOG_BYTES is not reading it: the message is not sent (counted, logged once a
   * minute per client, never per message), so what it costs the hub stays bounded while aedes'
   * drainTimeout runs. Once it reads again it is sent what comes next; what it was not sent is lost
   * (a refusal is still counted, logged and kept; a gateway is told where its home's alerts stand when it resubscribes).
   */
  private forward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    // aedes writes a forwarded message on a later setImmediate, so this turn's are not in writableLength yet.
    const backlog = (client.conn.writableLength ?? 0) + (this.forwardedThisTurn.get(client) ?? 0);
    // Once over the cap, under half of it before sending again: the kernel taking some bytes now
    // and then does not make a client that is not reading flap between sent and dropped.
    const stall = this.stalls.get(client);
    if (backlog > (stall !== undefined && stall.since !== null ? SEND_BACKLOG_BYTES / 2 : SEND_BACKLOG_BYTES)) {
      this.dropped(client, packet, backlog);
      return null;
    }
    if (stall) stall.since = null;
    if (this.forwardedThisTurn.size === 0) setImmediate(() => this.forwardedThisTurn.clear());
    this.forwardedThisTurn.set(client, (this.forwardedThisTurn.get(client) ?? 0) + packet.topic.length + packet.payload.length + 8);
    return packet;
  }

  private dropped(client: Client, packet: AedesPublishPacket, backlog: number): void {
    const kind = this.deps.topics.parse(packet.topic)?.kind;
    this.deps.metrics.mqttMessagesDropped.inc({ topic: kind === 'deviceRejects' || kind === 'gatewayRejects' ? 'rejects' : kind === 'alerts' ? 'alerts' : 'other' });
    const now = (this.deps.now ?? Date.now)();
    let stall = this.stalls.get(client);
    if (!stall) {
      stall = { since: null, dropped: 0, loggedAt: -Infinity };
      this.stalls.set(client, stall);
    }
    stall.since ??= now;
    stall.dropped++;
    if (now - stall.loggedAt < STALL_LOG_MS) return;
    this.deps.log.warn(
      { clientId: client.id, backlogBytes: backlog, dropped: stall.dropped, stalledForMs: now - stall.since },
      'mqtt client is not reading its socket: messages to it are dropped while it does not',
    );
    stall.loggedAt = now;
    stall.dropped = 0;
  }

  /** A client gone: what it was not sent since the last line, if anything. */
  private droppedUntilGone(client: Client): void {
    const stall = this.stalls.get(client);
    if (!stall || stall.dropped === 0) return;
    this.deps.log.warn({ clientId: client.id, dropped: stall.dropped }, 'mqtt client disconnected; messages to it dropped since the last line');
  }

  /**
   * A packet over MAX_PACKET_BYTES (aedes closed the connection, or sent an MQTT 5 client DISCONNECT
   * 0x95): one warn line and a count per connection (aedes rejects once per connection). True if it was that.
   */
  private packetTooLarge(client: Client | null, err: Error & { size?: number; maximumPacketSize?: number }): boolean {
    if (err.maximumPacketSize === undefined) return false;
    const stage = client && this.principals.has(client) ? 'signed_in' : 'before_sign_in';
    this.deps.metrics.mqttPacketsTooLarge.inc({ stage });
    this.deps.log.warn(
      { clientId: client?.id ?? undefined, address: this.addressOf(client), stage, declaredBytes: err.size, limitBytes: err.maximumPacketSize },
      'mqtt packet too large: connection closed',
    );
    return true;
  }

  /** After the SUBACK: a gateway now subscribed to its home's `alerts` is sent where each unresolved alert stands. */
  private tellHomeItsAlerts(subs: Subscription[], client: Client): void {
    const principal = this.principals.get(client);
    if (principal?.kind !== 'gateway' || !this.deps.homeAlerts) return;
    const topic = this.deps.topics.alerts(principal.homeId);
    // A refused filter comes back with qos 128.
    if (!subs.some((s) => s.topic === topic && s.qos < 128)) return;
    let payloads: object[];
    try {
      payloads = this.deps.homeAlerts(principal.homeId);
    } catch (err) {
      this.deps.log.error({ err, clientId: principal.id }, 'reading the home\'s unresolved alerts failed; it hears only new changes');
      return;
    }
    for (const payload of payloads) {
      client.publish(
        { cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(payload)), qos: 1, retain: false, dup: false } as PublishPacket,
        (err?: Error | null) => { if (err) this.deps.log.warn({ err, clientId: principal.id }, 'telling a home its alerts failed'); },
      );
    }
    this.deps.metrics.homeAlertsResent.inc(payloads.length);
    if (payloads.length > 0) this.deps.log.info({ clientId: principal.id, homeId: principal.homeId, alerts: payloads.length }, 'home told where its unresolved alerts stand');
  }

  /** Starts the MQTT/TCP listener; resolves with the bound port. */
  listenTcp(port: number, host: string): Promise<number> {
    const server = createServer((socket: Socket) => this.serve(socket));
    this.tcp = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve((server.address() as { port: number }).port));
    });
  }

  /**
   * Starts the MQTT-over-TLS listener (SPEC §2); resolves with the bound port.
   * Its sockets go to the same broker as the TCP ones: same limits, sign-in and ACL.
   */
  listenTls(port: number, host: string, opts: Omit<TlsListenerOptions, 'log' | 'onSocket'>): Promise<number> {
    const listener = new TlsListener({
      ...opts, log: this.deps.log, onSocket: (socket) => this.serve(socket),
      onCertificate: (validTo) => this.deps.metrics.tlsCertificateExpiry.set(validTo / 1000),
    });
    this.tls = listener;
    return listener.listen(port, host);
  }

  /**
   * Serves one MQTT-over-WebSocket connection accepted by the HTTP server. `address` is the client's
   * as the HTTP side judged it (a trusted proxy's X-Forwarded-For, ANXIN_TRUST_PROXY), so devices
   * behind a reverse proxy are limited each by its own address, not all by the proxy's.
   */
  handleStream(stream: Duplex, req: IncomingMessage, address?: string): void {
    this.serve(stream, req, address);
  }

  private serve(conn: Duplex, req?: IncomingMessage, address?: string): void {
    const client = this.aedes.handle(conn, req as never);
    this.addresses.set(client, address ?? remoteAddress(client));
  }

  /** The client's address: as recorded when it connected (see `serve`), else its socket's peer. */
  private addressOf(client: Client | null): string {
    return (client && this.addresses.get(client)) ?? remoteAddress(client);
  }

  /** Publishes from the hub itself (rejects, alerts); in-process publishes skip the ACL. */
  publish(topic: string, payload: object, qos: 0 | 1 = 1): void {
    this.aedes.publish(
      { cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(payload)), qos, retain: false, dup: false } as PublishPacket,
      (err) => { if (err) this.deps.log.error({ err, topic }, 'hub publish failed'); },
    );
  }

  /**
   * After a secret is rotated or a device removed or moved: drop the session (its next sign-in checks
   * the new directory), and refuse or close one still signing in with what it read before.
   */
  forget(username: string): void {
    this.forgottenAt.set(username, ++this.forgets);
    const client = (this.aedes as unknown as { clients: Record<string, Client | undefined> }).clients[username];
    if (client) client.close();
  }

  get connectedClients(): number {
    return this.aedes.connectedClients;
  }

  /**
   * Stops accepting new TCP and TLS connections. Established ones stay until `close`;
   * the promise settles only once they are gone, so do not await it first.
   */
  stopAccepting(): Promise<void> {
    this.tcpClosed ??= Promise.all([
      new Promise<void>((resolve) => (this.tcp ? this.tcp.close(() => resolve()) : resolve())),
      this.tls?.close(),
    ]).then(() => undefined);
    return this.tcpClosed;
  }

  /** Closes every client connection and the broker. */
  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const closing = this.stopAccepting();
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    await closing;
  }

  private async authenticate(client: Client, username: string | undefined, password: Buffer | undefined): Promise<Principal> {
    const { directory, metrics, log } = this.deps;
    const address = this.addressOf(client);
    const refuse = (code: number, reason: string, extra: object = {}): never => {
      metrics.connectRefused.inc({ reason });
      log.warn({ clientId: client.id, username, address, reason, ...extra }, 'mqtt sign-in refused');
      const err = new Error(reason) as AuthenticateError;
      err.returnCode = code;
      throw err;
    };
    const fail = (code: number, reason: string): never => {
      if (this.limiter.failure(address, username ?? '')) {
        log.warn({ username, address, lockedForMs: this.limiter.failureWindowMs }, 'mqtt sign-ins of this username from this address locked out');
      }
      return refuse(code, reason);
    };
    // Before the secret is checked, so a client looping with a wrong one costs little. Only this username
    // at this address: its neighbours behind the same NAT or proxy sign in as usual (connectLimiter.ts).
    // "Not authorized" rather than a silent close, so the device can tell this from a wrong secret.
    const lock = this.limiter.signIn(address, username ?? '');
    if (!lock.ok) return refuse(CONNACK.notAuthorized, lock.reason, { retryInMs: lock.retryInMs });
    if (!username || !password || password.length === 0) return fail(CONNACK.badCredentials, 'missing_credentials');
    const secret = password.toString('utf8');
    this.signInStartedAt.set(client, this.forgets);
    const credential = directory.credential(username);
    // Microseconds for a current hash (secrets.ts); an older scrypt one is replaced once it verifies.
    const ok = await verifySecret(secret, credential?.secretHash ?? this.unusable);
    if (!credential || !ok) return fail(CONNACK.badCredentials, credential ? 'wrong_secret' : 'unknown_client');
    // Retired, moved or given a new secret while its secret was checked: what was read is stale.
    // "Server unavailable", so the device signs in again soon and that sign-in reads the directory anew.
    if (this.forgottenSinceSignIn(client, username)) return refuse(CONNACK.serverUnavailable, 'forgotten_during_sign_in');
    // The client id is the identity: otherwise one device could take over another's session.
    if (client.id !== username) return fail(CONNACK.identifierRejected, 'client_id_mismatch');
    if (needsRehash(credential.secretHash, 'device')) this.deps.rehashSecret?.(username, credential.secretHash, secret);
    this.limiter.success(address, username);
    return { kind: credential.kind, id: credential.username, homeId: credential.homeId };
  }

  /** Whether forget(username) was called after this client's sign-in read the credential. */
  private forgottenSinceSignIn(client: Client, username: string): boolean {
    return (this.forgottenAt.get(username) ?? 0) > (this.signInStartedAt.get(client) ?? 0);
  }
}

/**
 * mqtt-packet's parser keeps the whole CONNECT packet as its `settings` for
 * the life of the connection (parser.js `_parseConnect`), the device's secret
 * included, though it only reads `protocolVersion` and `bridgeMode` from it
 * again. Keeping just those frees ~0.5 KiB per connection and keeps the
 * secret out of the heap. Reaches into aedes' private `_parser`: if a later
 * aedes renames it, this does nothing.
 */
function forgetConnectPacket(client: Client): void {
  const parser = (client as unknown as { _parser?: { settings?: { protocolVersion?: number; bridgeMode?: boolean } } })._parser;
  const settings = parser?.settings;
  if (settings) parser.settings = { protocolVersion: settings.protocolVersion, bridgeMode: settings.bridgeMode };
}

function remoteAddress(client: Client | null): string {
  if (!client) return 'unknown';
  const conn = client.conn as Partial<Socket>;
  return conn.remoteAddress ?? (client.req as IncomingMessage | undefined)?.socket?.remoteAddress ?? 'unknown';
}
