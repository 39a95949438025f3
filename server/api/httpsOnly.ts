/**
 * What the plain HTTP port does when the hub serves HTTPS itself (README "HTTPS and reverse
 * proxies"): pages move to https, the API and the live stream are refused, and only what must work
 * in clear (probes, the Prometheus scrape, devices on `ws://…/mqtt`) is served. Without this an
 * operator who typed `http://hub:8080/` signed in with the password in clear and got a session
 * cookie without `Secure`, and residents' health data crossed the call center's network in clear.
 */
import { isIP, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { httpsPortOf, type HubConfig } from '../config.js';
import { ApiError } from './errors.js';

/**
 * Served in clear whatever the setting: liveness and readiness probes and the Prometheus scrape on the
 * local network, and MQTT over WebSocket, whose devices sign in with their own secret and are
 * governed like the MQTT listeners (`ANXIN_MQTT_PORT=off` is how clear MQTT is turned off).
 */
const PLAIN_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics', '/mqtt']);

/**
 * `redirect`: the hub serves HTTPS and nothing tells it otherwise, so plain HTTP sends pages to it
 * and refuses the rest. `proxy`: the same, but with `ANXIN_TRUST_PROXY` the plain port is a proxy's
 * upstream, so only a request the proxy says came over https is served in full and pages are not
 * redirected. `serve`: plain HTTP serves everything (no HTTPS, no plain port, or `ANXIN_HTTP_REDIRECT=off`).
 */
export type PlainHttpPolicy = 'redirect' | 'proxy' | 'serve';

export function plainHttpPolicy(config: Pick<HubConfig, 'httpPort' | 'httpsPort' | 'tlsCert' | 'tlsKey' | 'httpRedirect' | 'trustProxy'>): PlainHttpPolicy {
  if (config.httpRedirect === 'off' || config.httpPort === 'off' || httpsPortOf(config) === null) return 'serve';
  return config.trustProxy === undefined ? 'redirect' : 'proxy';
}

/**
 * The guard on the plain listener. It knows a request came over that listener by its socket, seen
 * when the listener accepted it: `app.inject` (the tests' and the CLI's in-process requests) and the
 * HTTPS server's requests, upgrades included, never pass there.
 */
export class HttpsOnly {
  readonly policy: PlainHttpPolicy;
  private readonly plainSockets = new WeakSet<Socket>();
  /** Null until the HTTPS port is known (any free port: once it listens); until then nothing is redirected. */
  private httpsPort: number | null;

  constructor(config: HubConfig) {
    this.policy = plainHttpPolicy(config);
    const port = httpsPortOf(config);
    this.httpsPort = port === 0 ? null : port;
  }

  /** Marks the plain listener's connections; called with fastify's own server before it listens. */
  watch(server: HttpServer): void {
    if (this.policy !== 'serve') server.on('connection', (socket: Socket) => this.plainSockets.add(socket));
  }

  /** The port HTTPS listens on, once it does: the redirects' target. */
  httpsListening(port: number): void {
    this.httpsPort = port;
  }

  /** fastify `onRequest` hook, before the session is looked up or a body read. */
  readonly onRequest = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (this.policy === 'serve' || !this.plainSockets.has(req.raw.socket)) return undefined;
    if (req.routeOptions.url !== undefined && PLAIN_ROUTES.has(req.routeOptions.url)) return undefined;
    const page = (req.method === 'GET' || req.method === 'HEAD') && req.headers.upgrade === undefined && !isApi(req.url);
    if (this.policy === 'proxy') {
      // The proxy decides the scheme: its X-Forwarded-Proto is all `protocol` believes. Pages are
      // served, not redirected: the hub does not know the proxy's https address, and its own HTTPS
      // port would send browsers around the proxy. The API still never takes a password in clear.
      if (req.protocol === 'https' || page) return undefined;
      throw new ApiError(403, 'https_required', 'this hub takes the API only over https; this request reached it over plain http (X-Forwarded-Proto is not https): use the https address of the proxy');
    }
    const host = hostOf(req.headers.host);
    if (host === null) throw new ApiError(400, 'invalid_host', 'the Host header must be the name or address this hub was asked for (a name, an IPv4 address or a bracketed IPv6 address, and a port)');
    const base = this.httpsPort === null ? null : `https://${host}${this.httpsPort === 443 ? '' : `:${this.httpsPort}`}`;
    // A request target that is not a path (`GET http://elsewhere/`, RFC 9112 §3.2.2) is not redirected:
    // only the host name the client asked for may follow `https://`.
    if (page && base !== null && req.url.startsWith('/')) {
      // 308 keeps the method. Browsers keep a permanent redirect for good unless told otherwise;
      // `no-cache` has them ask again each time, so HTTPS turned off later does not strand them.
      return reply.code(308).header('location', `${base}${req.url}`).header('cache-control', 'no-cache').send();
    }
    const url = base === null ? 'its https address' : `${base}${isApi(req.url) ? req.url.split('?')[0] : '/'}`;
    throw new ApiError(403, 'https_required', `this hub takes the API and its live stream only over https: use ${url}`);
  };
}

function isApi(url: string): boolean {
  return url === '/api/v1' || url.startsWith('/api/v1/') || url.startsWith('/api/v1?');
}

/** DNS labels (underscores too: some local names have them), each 1 to 63 characters, 253 in all. */
const NAME = /^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/;

/**
 * The host of a Host header (RFC 9110 §7.2), without its port, lower-cased; null when it is anything
 * else. Checked rather than copied, so the redirect can only name the host the client asked for:
 * `evil.example/x`, `a@evil.example` or a header with spaces never reach `Location`.
 */
function hostOf(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d{1,5}))?$/.exec(header.toLowerCase());
  if (!m || (m[2] !== undefined && Number(m[2]) > 65535)) return null;
  const host = m[1]!;
  if (host.startsWith('[')) return isIP(host.slice(1, -1)) === 6 ? host : null;
  return NAME.test(host) ? host : null;
}
