/**
 * A TLS listener of the hub's certificate: MQTT over TLS (SPEC §2, port 8883
 * by default) and HTTPS (server/api/http.ts `httpsServerFor`). For MQTT it only
 * terminates TLS: each socket, once its handshake is done, goes to the same
 * aedes broker as the TCP ones, so the connection limits, sign-in, lock-out
 * and ACL are the same, and the TLS socket's `remoteAddress` is the peer's.
 * For HTTPS the server is an `https.Server` made by `createServer`.
 *
 * Certificates are renewed every 60–90 days (Let's Encrypt, a city's own CA):
 * the files are looked at every `reloadMs`, and a renewed pair is served to
 * the next connections without a restart (`Server#setSecureContext`;
 * established connections keep theirs). A new pair that does not load (a key
 * not yet written beside its certificate, a wrong file) is logged and the
 * pair in use kept. Polling rather than `fs.watch`: a watch misses renewals on
 * network and container mounts and ends when a file is replaced by a rename.
 */
import type { Socket } from 'node:net';
import { createServer, type Server, type TlsOptions, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { loadTlsIdentity, tlsFilesSignature, type TlsFiles, type TlsIdentity } from './tlsIdentity.js';

export interface TlsListenerOptions {
  files: TlsFiles;
  /** Loaded at start-up, so that a bad certificate stops the hub before anything listens. */
  identity: TlsIdentity;
  /** How often the files are looked at for a renewed certificate. */
  reloadMs: number;
  log: Logger;
  now?: () => number;
  /** What is served, named in the log lines (default `mqtts`). */
  name?: keyof typeof WORDS;
  /** Receives each connection once its handshake is done (MQTT over TLS). */
  onSocket?: (socket: TLSSocket) => void;
  /**
   * Makes the server instead, from the TLS options to give it (HTTPS: an `https.Server`). The
   * certificate is still this listener's: loaded, reloaded into the server, warned about.
   */
  createServer?: (options: TlsOptions) => Server;
  /** Told the served certificate's expiry (epoch ms) at start and on each reload (a metric). */
  onCertificate?: (validTo: number) => void;
}

/** Per listener: its handshake failures, and who refuses an expired certificate (MQTT's wording predates HTTPS). */
const WORDS = {
  mqtts: { handshakeFailed: 'mqtt tls handshake failed', clients: 'devices and gateways' },
  https: { handshakeFailed: 'https tls handshake failed', clients: 'browsers' },
} as const;

/** A certificate this close to its end is warned about, at start, on reload, and daily. */
const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;
/**
 * A client that opens a connection and never finishes the handshake holds a
 * socket; aedes' own CONNECT timeout starts only after it (Node's default is 120 s).
 */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export class TlsListener {
  private readonly server: Server;
  private identity: TlsIdentity;
  /** The files' signature when a reload last failed: not tried again until they change again. */
  private failedSignature: string | null = null;
  private lastExpiryWarning = -Infinity;
  private timer: NodeJS.Timeout | null = null;
  private closed: Promise<void> | null = null;
  private readonly handshaking = new Map<string, Socket>();
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly name: keyof typeof WORDS;

  constructor(private readonly opts: TlsListenerOptions) {
    this.identity = opts.identity;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.name = opts.name ?? 'mqtts';
    const options: TlsOptions = { ...opts.identity.secureOptions, handshakeTimeout: HANDSHAKE_TIMEOUT_MS };
    this.server = opts.createServer ? opts.createServer(options) : createServer(options, (socket) => opts.onSocket?.(socket));
    this.server.prependListener('secureConnection', (socket: TLSSocket) => this.handshaking.delete(peerOf(socket)));
    // Connections still in their handshake, by peer address and port (unique per listener): nothing
    // else holds them, and closing the server waits for them.
    this.server.on('connection', (raw: Socket) => {
      const peer = peerOf(raw);
      this.handshaking.set(peer, raw);
      raw.once('close', () => { if (this.handshaking.get(peer) === raw) this.handshaking.delete(peer); });
    });
    // A client that does not trust the certificate, speaks plain MQTT to this port, a scanner, or one
    // that went silent mid-handshake (the timeout): Node only reports these, so the socket is ended here,
    // or it would be held for ever, before any connection limit applies.
    this.server.on('tlsClientError', (err, socket) => {
      this.log.debug({ listener: this.name, address: socket.remoteAddress, err: err.message }, WORDS[this.name].handshakeFailed);
      socket.destroy();
    });
  }

  /** Resolves with the bound port. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const bound = (this.server.address() as { port: number }).port;
        this.describe('TLS certificate loaded', { port: bound });
        this.timer = setInterval(() => this.checkFiles(), this.opts.reloadMs).unref();
        resolve(bound);
      });
    });
  }

  /** Serves a renewed certificate from now on if the files changed, and repeats an expiry warning daily. */
  checkFiles(): void {
    const signature = tlsFilesSignature(this.opts.files);
    if (signature !== this.identity.signature && signature !== this.failedSignature) {
      try {
        const next = loadTlsIdentity(this.opts.files);
        this.server.setSecureContext({ ...next.secureOptions });
        this.identity = next;
        this.failedSignature = null;
        this.lastExpiryWarning = -Infinity;
        this.describe('TLS certificate reloaded');
      } catch (err) {
        this.failedSignature = signature;
        this.log.error({ listener: this.name, err: (err as Error).message }, 'TLS certificate reload failed; the certificate in use is kept');
      }
    }
    this.warnIfExpiring();
  }

  /** Stops accepting; settles once the established connections are gone. */
  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.closed ??= new Promise((resolve) => (this.server.listening ? this.server.close(() => resolve()) : resolve()));
    // Established connections are the broker's to close (after their last PUBACKs); one still in its
    // handshake has sent nothing the hub owes an answer to, and would hold the close until its timeout.
    for (const raw of this.handshaking.values()) raw.destroy();
    this.handshaking.clear();
    return this.closed;
  }

  private describe(msg: string, extra: object = {}): void {
    const { subject, issuer, subjectAltName, validTo } = this.identity;
    this.opts.onCertificate?.(validTo);
    this.log.info({ listener: this.name, ...extra, subject, issuer, subjectAltName, validTo: new Date(validTo).toISOString() }, msg);
    this.warnIfExpiring();
  }

  private warnIfExpiring(): void {
    const now = this.now();
    const daysLeft = (this.identity.validTo - now) / DAY_MS;
    if (daysLeft >= EXPIRY_WARNING_DAYS || now - this.lastExpiryWarning < DAY_MS) return;
    this.lastExpiryWarning = now;
    const fields = { listener: this.name, subject: this.identity.subject, validTo: new Date(this.identity.validTo).toISOString(), daysLeft: Math.floor(daysLeft) };
    if (daysLeft <= 0) this.log.error(fields, `TLS certificate has expired: ${WORDS[this.name].clients} refuse it; renew ANXIN_TLS_CERT`);
    else this.log.warn(fields, `TLS certificate expires within ${EXPIRY_WARNING_DAYS} days; renew ANXIN_TLS_CERT`);
  }
}

/** `address:port` of the peer: what tells one connection of a listener from another. */
function peerOf(socket: Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}
