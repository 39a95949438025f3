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
 */
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { createServer, type Server, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
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
  private readonly acks = new DeferredAcks(64);
  /**
   * forget() finds only clients aedes has registered, but a sign-in reads the credential before
   * awaiting the secret's check and aedes' session set-up. So each forget() is numbered, each
   * sign-in notes the number it started at, and a client forgotten since is refused or closed
   * once registered (`forgottenSinceSignIn`). One number per username ever forgotten.
   */
  private forgets = 0;
  private readonly forgottenAt = new Map<string, number>();
  private readonly signInStartedAt = new WeakMap<Client, number>();

  constructor(private readonly deps: BrokerDeps) {
    this.limiter = new ConnectLimiter({ burst: deps.connectBurst, perSecond: deps.connectPerSecond, now: deps.now });
  }

  async start(): Promise<void> {
    const { metrics, log, ingest, directory, events } = this.deps;
    this.aedes = await Aedes.createBroker({
      // Readings wait for their group commit inside authorizePublish; let many be in flight.
      concurrency: 1000,
      preConnect: (client, _packet, cb) => {
        const address = remoteAddress(client);
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
      log.info({ clientId: p.id, kind: p.kind, address: remoteAddress(client) }, online ? 'mqtt client connected' : 'mqtt client disconnected');
    };
    this.aedes.on('clientReady', (client) => {
      forgetConnectPacket(client);
      const p = this.principals.get(client);
      if (p && this.forgottenSinceSignIn(client, p.id)) {
        // Forgotten while aedes set its session up, before forget() could find it: it never
        // counts as connected, and with no principal its publishes are refused until it is gone.
        this.principals.delete(client);
        metrics.connectRefused.inc({ reason: 'forgotten_during_sign_in' });
        log.warn({ clientId: p.id, address: remoteAddress(client) }, 'mqtt client signed out: its credential changed while it signed in');
        client.close();
        return;
      }
      connectionChanged(client, true);
    });
    this.aedes.on('clientDisconnect', (client) => connectionChanged(client, false));
    this.aedes.on('subscribe', (subs, client) => this.tellHomeItsAlerts(subs, client));
    this.aedes.on('clientError', (client, err) => log.debug({ clientId: client?.id, err: err.message }, 'mqtt client error'));
    this.aedes.on('connectionError', (client, err) => log.debug({ address: remoteAddress(client), err: err.message }, 'mqtt connection error'));
    this.sweepTimer = setInterval(() => this.limiter.sweep(), 60_000).unref();
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
    const server = createServer((socket: Socket) => this.aedes.handle(socket));
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
      ...opts, log: this.deps.log, onSocket: (socket) => this.aedes.handle(socket),
      onCertificate: (validTo) => this.deps.metrics.tlsCertificateExpiry.set(validTo / 1000),
    });
    this.tls = listener;
    return listener.listen(port, host);
  }

  /** Serves one MQTT-over-WebSocket connection accepted by the HTTP server. */
  handleStream(stream: Duplex, req: IncomingMessage): void {
    this.aedes.handle(stream, req as never);
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
    const address = remoteAddress(client);
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
