/**
 * The HTTP side of the hub as one fastify instance: REST under `/api/v1`,
 * OpenAPI at `/api/docs`, health and metrics, and MQTT over WebSocket at
 * `/mqtt`. Built here, listened to by `server/hub.ts`: on plain HTTP through
 * fastify's own server, and on HTTPS through {@link httpsServerFor}; tests use `inject`.
 */
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { TLSSocket, TlsOptions } from 'node:tls';
import { createWebSocketStream } from 'ws';
import { parseTrustProxy } from '../config.js';
import type { HubContext } from '../hubContext.js';
import type { Role, User } from '../store/userStore.js';
import { ApiError, forbidden } from './errors.js';
import type { HttpsOnly } from './httpsOnly.js';
import { adminRoutes } from './routes/admin.js';
import { adminActionRoutes } from './routes/adminActions.js';
import { alertRoutes } from './routes/alerts.js';
import { targetRoutes } from './routes/targets.js';
import { dashboardRoutes } from './routes/dashboardApi.js';
import { uiRoutes } from './routes/ui.js';
import { authRoutes, SESSION_COOKIE } from './routes/auth.js';
import { directoryRoutes } from './routes/directory.js';
import { doctorPatientRoutes } from './routes/doctorPatients.js';
import { healthRoutes } from './routes/health.js';
import { readingRoutes } from './routes/readings.js';
import { userRoutes } from './routes/users.js';

declare module 'fastify' {
  interface FastifyRequest {
    user: User | null;
    sessionToken: string | null;
  }
  interface FastifyContextConfig {
    /** Roles allowed on this route; absent means the route is public. */
    roles?: readonly Role[];
  }
}

export type Http = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Sent on the HTTPS port: browsers that saw it use https for this host name for a day. A day, not
 * the year of public websites: every answer renews it, so a console used daily stays covered, while
 * a certificate that lapses or HTTPS turned off again locks browsers out of the call center's
 * console for at most a day. No `includeSubDomains`: the hub's name may share a domain with
 * services that are not ours.
 */
export const HSTS = 'max-age=86400';

/** `httpsOnly`: what plain HTTP may do while HTTPS is served (hub.ts gives it; `inject` is never subject to it). */
export async function buildHttp(ctx: HubContext, httpsOnly?: HttpsOnly): Promise<Http> {
  const app = Fastify({
    loggerInstance: ctx.log.child({ component: 'http' }),
    // Only the configured proxies' X-Forwarded-For/-Proto are believed: `request.ip` (sign-in limiter,
    // request logs) and `request.protocol` (the Secure cookie). Never `true`: any client could then
    // pick its address and spread its failed sign-ins over made-up ones.
    trustProxy: ctx.config.trustProxy ? parseTrustProxy(ctx.config.trustProxy) : false,
    bodyLimit: 8 * 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorateRequest('user', null);
  app.decorateRequest('sessionToken', null);

  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Anxin hub API', description: 'Remote monitoring for home elderly-care beds (家庭养老床位). See SPEC.md §6.', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, cookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE } } },
      security: [{ bearer: [] }, { cookie: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs' });
  await app.register(websocket, {
    options: {
      maxPayload: 4 * 1024 * 1024,
      // MQTT over WebSocket negotiates the `mqtt` subprotocol (MQTT 3.1.1 §6).
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
    },
  });

  // First: a request refused for coming in clear has no session looked up and no body read.
  if (httpsOnly) {
    httpsOnly.watch(app.server as HttpServer);
    app.addHook('onRequest', httpsOnly.onRequest);
  }
  app.addHook('onRequest', async (req) => authenticateRequest(ctx, req));
  // On the hub's own TLS only (RFC 6797 §7.2: never over plain http); a TLS-terminating proxy sends its own.
  app.addHook('onSend', async (req, reply) => {
    if ((req.raw.socket as Partial<TLSSocket> | null)?.encrypted) reply.header('strict-transport-security', HSTS);
  });
  app.addHook('preHandler', async (req) => {
    const roles = req.routeOptions.config.roles;
    if (!roles) return;
    if (!req.user) throw new ApiError(401, 'unauthenticated', 'sign in first (POST /api/v1/auth/login)');
    if (!roles.includes(req.user.role)) throw forbidden();
  });

  app.setErrorHandler((err: Error & { validation?: Array<{ instancePath: string; message?: string; params?: Record<string, unknown> }>; validationContext?: string; statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof ApiError) return reply.status(err.statusCode).send(err.body());
    if (err.validation) {
      const v = err.validation[0]!;
      const missing = v.params?.missingProperty as string | undefined;
      const field = [v.instancePath.slice(1).replaceAll('/', '.'), missing].filter(Boolean).join('.') || err.validationContext || '';
      const where = field === err.validationContext ? field : `${err.validationContext ?? 'request'} ${field}`;
      return reply.status(400).send({ error: 'invalid_request', message: `${where} ${v.message ?? 'is invalid'}`.replace(/\s+/g, ' ').trim(), field });
    }
    if (err.statusCode === 429) return reply.status(429).send({ error: 'rate_limited', message: err.message });
    // The framework's own refusals of a body, in the API's words rather than its codes (FST_ERR_CTP_…).
    const body = err.code ? BODY_ERRORS[err.code] : undefined;
    if (body) return reply.status(err.statusCode ?? 400).send({ error: body.error, message: `${body.message}: ${err.message}`, field: 'body' });
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(err.statusCode).send({ error: err.code ?? 'bad_request', message: err.message });
    }
    req.log.error({ err }, 'request failed');
    return reply.status(500).send({ error: 'internal', message: 'the hub could not complete this request; it has been logged' });
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: 'not_found', message: `${req.method} ${req.url} is not a route` }));

  app.get('/mqtt', { websocket: true, schema: { hide: true } }, (socket, req) => {
    // req.ip: the client behind a trusted proxy (ANXIN_TRUST_PROXY), which the broker limits and logs by.
    ctx.broker.handleStream(createWebSocketStream(socket), req.raw, req.ip);
  });

  await app.register(healthRoutes(ctx));
  await app.register(authRoutes(ctx));
  await app.register(directoryRoutes(ctx));
  await app.register(readingRoutes(ctx));
  await app.register(adminRoutes(ctx));
  await app.register(adminActionRoutes(ctx));
  await app.register(userRoutes(ctx));
  await app.register(doctorPatientRoutes(ctx));
  await app.register(alertRoutes(ctx));
  await app.register(targetRoutes(ctx));
  await app.register(dashboardRoutes(ctx));
  await app.register(uiRoutes());
  return app;
}

/**
 * An HTTPS server for `app`, whose requests go to the same router, hooks and routes as its plain
 * HTTP ones (`app.routing`). fastify serves one server per instance, and @fastify/websocket takes
 * upgrades from that one (`app.server`), so this server hands its upgrades (/api/v1/stream, /mqtt)
 * and malformed requests to it, as fastify does for the extra servers it binds for `localhost`
 * (lib/server.js `multipleBindings`); `request.raw.socket` stays the TLS socket, so
 * `request.protocol` is https. Listened to and given renewed certificates by a TlsListener.
 */
export function httpsServerFor(app: Http, options: TlsOptions): HttpsServer {
  const plain = app.server as HttpServer;
  const server = createHttpsServer(options, (req, res) => app.routing(req, res));
  // The timeouts fastify set on its own server (keep-alive 72 s, no request timeout, …).
  server.keepAliveTimeout = plain.keepAliveTimeout;
  server.headersTimeout = plain.headersTimeout;
  server.requestTimeout = plain.requestTimeout;
  server.maxRequestsPerSocket = plain.maxRequestsPerSocket;
  server.setTimeout(plain.timeout);
  server.on('upgrade', (...args) => plain.emit('upgrade', ...args));
  server.on('clientError', (...args) => plain.emit('clientError', ...args));
  return server;
}

/** Fastify's refusals of a request body, by its error code. */
const BODY_ERRORS: Record<string, { error: string; message: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { error: 'invalid_json', message: 'the body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { error: 'invalid_json', message: 'the body is empty; send a JSON object' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { error: 'unsupported_media_type', message: 'send the body as application/json' },
  FST_ERR_CTP_BODY_TOO_LARGE: { error: 'payload_too_large', message: 'the body is too large' },
};

/** Resolves the session from `Authorization: Bearer` or the session cookie. */
async function authenticateRequest(ctx: HubContext, req: FastifyRequest): Promise<void> {
  const header = req.headers.authorization;
  const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : req.cookies[SESSION_COOKIE];
  if (!token) return;
  const session = ctx.users.session(token);
  if (session) {
    req.user = session.user;
    req.sessionToken = token;
  }
}
