/**
 * Hub configuration (SPEC §7), read from the environment once, validated, and
 * passed down. Nothing else reads `process.env`.
 */
import { isIP } from 'node:net';
import { Type, type Static } from 'typebox';
import { compileSchema, describeError } from '../devices/schemaValidator.js';
import { DEFAULT_TOPIC_PREFIX } from '../devices/topics.js';
import { tlsProblems } from './broker/tlsIdentity.js';
import { smsProblems } from './notify/smsProviders.js';
import { influxProblems } from './store/influxTarget.js';
import { retentionProblems } from './store/journalRetention.js';

const Port = Type.Integer({ minimum: 0, maximum: 65535 });

export const HubConfigSchema = Type.Object({
  /** `off`: no plain HTTP listener (HTTPS only: needs a certificate, see `listenerProblems`). */
  httpPort: Type.Union([Port, Type.Literal('off')]),
  /**
   * HTTPS (the same routes, dashboards and WebSockets as `httpPort`), listened on only when `tlsCert`
   * and `tlsKey` are set; `off`: none. Unset: {@link DEFAULT_HTTPS_PORT} (see {@link httpsPortOf}).
   */
  httpsPort: Type.Optional(Type.Union([Port, Type.Literal('off')])),
  /**
   * With HTTPS served, plain HTTP redirects pages to it and refuses the API and live stream
   * (server/api/httpsOnly.ts); `off`: it serves everything, as without a certificate. Unset: on.
   */
  httpRedirect: Type.Optional(Type.Union([Type.Literal('on'), Type.Literal('off')])),
  /**
   * Reverse proxies whose `X-Forwarded-For`/`-Proto` are believed (fastify `trustProxy`): comma-separated
   * addresses, CIDRs, or `loopback`/`linklocal`/`uniquelocal`. Unset: none, so a client cannot choose
   * the address the sign-in limiter counts it by, nor claim https.
   */
  trustProxy: Type.Optional(Type.String({ minLength: 1 })),
  /** `off`: no plain MQTT/TCP listener (e.g. with TLS configured, so no secret crosses the network in clear). */
  mqttPort: Type.Union([Port, Type.Literal('off')]),
  /** MQTT over TLS, listened on only when `tlsCert` and `tlsKey` are set (server/broker/tlsListener.ts). */
  mqttsPort: Port,
  /** PEM files: the hub's certificate (may hold its chain), its private key, intermediates to send after it. */
  tlsCert: Type.Optional(Type.String({ minLength: 1 })),
  tlsKey: Type.Optional(Type.String({ minLength: 1 })),
  tlsCa: Type.Optional(Type.String({ minLength: 1 })),
  tlsKeyPassphrase: Type.Optional(Type.String({ minLength: 1 })),
  /** How often the TLS files are looked at for a renewed certificate. */
  tlsReloadSeconds: Type.Integer({ minimum: 1, maximum: 86_400 }),
  host: Type.String({ minLength: 1 }),
  dataDir: Type.String({ minLength: 1 }),
  adminPassword: Type.Optional(Type.String({ minLength: 12 })),
  tz: Type.String({ minLength: 1 }),
  topicPrefix: Type.String({ pattern: '^[a-z0-9]+(/[a-z0-9]+)*$' }),
  /** `full`: fsync every commit (survives power loss); `normal`: survives a crash of the hub process. */
  sync: Type.Union([Type.Literal('full'), Type.Literal('normal')]),
  /** How many refused payloads are kept for inspection. */
  refusalLimit: Type.Integer({ minimum: 100 }),
  /** MQTT connection attempts per source address: bucket size and refill per second. */
  connectBurst: Type.Integer({ minimum: 1 }),
  connectPerSecond: Type.Number({ exclusiveMinimum: 0 }),
  /** Web sign-in attempts per source address per minute. */
  loginPerMinute: Type.Integer({ minimum: 1 }),
  sessionHours: Type.Number({ exclusiveMinimum: 0 }),
  /** HMAC key for signing webhooks to doctors (≥ 16 characters); without it the webhook channel is off. */
  webhookSecret: Type.Optional(Type.String({ minLength: 16 })),
  /** JSON file with changes to the default rule set and timings (server/rules/ruleConfig.ts). */
  rulesFile: Type.Optional(Type.String({ minLength: 1 })),
  /** How often time-based rules and claim deadlines are evaluated. */
  tickMs: Type.Integer({ minimum: 100 }),
  /** Hours of live-stream events kept for resuming dashboards (at least 24). */
  eventRetentionHours: Type.Number({ minimum: 24 }),
  /** Opt-in journal retention (server/store/journalRetention.ts; minimums checked there, with the reason): unset keeps every reading. */
  heartbeatRetentionDays: Type.Optional(Type.Integer()),
  readingRetentionDays: Type.Optional(Type.Integer()),
  /** InfluxDB (README "InfluxDB"): 1.x with `influxDb`, 2.x with org, bucket and token; see server/store/influxTarget.ts. */
  influxUrl: Type.Optional(Type.String({ minLength: 1 })),
  influxDb: Type.Optional(Type.String({ minLength: 1 })),
  influxOrg: Type.Optional(Type.String({ minLength: 1 })),
  influxBucket: Type.Optional(Type.String({ minLength: 1 })),
  influxToken: Type.Optional(Type.String({ minLength: 1 })),
  /** Readings per write to InfluxDB (default 5000), and the longest a reading waits for its batch (default 1000 ms). */
  influxBatchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 50_000 })),
  influxFlushMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 60_000 })),
  /** SMS provider and its settings, checked together in server/notify/smsProviders.ts; unset: a logging stand-in that reaches nobody. */
  smsProvider: Type.Optional(Type.Union([Type.Literal('http'), Type.Literal('aliyun')])),
  smsUrl: Type.Optional(Type.String({ minLength: 1 })),
  smsToken: Type.Optional(Type.String({ minLength: 1 })),
  smsAccessKeyId: Type.Optional(Type.String({ minLength: 1 })),
  smsAccessKeySecret: Type.Optional(Type.String({ minLength: 1 })),
  smsSignName: Type.Optional(Type.String({ minLength: 1 })),
  smsTemplateCode: Type.Optional(Type.String({ minLength: 1 })),
  smsEndpoint: Type.Optional(Type.String({ minLength: 1 })),
  logLevel: Type.Union([
    Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'),
    Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent'),
  ]),
});
export type HubConfig = Static<typeof HubConfigSchema>;

export const DEFAULTS: HubConfig = {
  httpPort: 8080,
  mqttPort: 1883,
  mqttsPort: 8883,
  tlsReloadSeconds: 60,
  host: '127.0.0.1',
  dataDir: './data',
  tz: 'Asia/Shanghai',
  topicPrefix: DEFAULT_TOPIC_PREFIX,
  sync: 'full',
  refusalLimit: 10_000,
  connectBurst: 200,
  connectPerSecond: 50,
  loginPerMinute: 10,
  sessionHours: 12,
  tickMs: 1000,
  eventRetentionHours: 48,
  logLevel: 'info',
};

const ENV: Record<string, { key: keyof HubConfig; number?: boolean }> = {
  ANXIN_HTTP_PORT: { key: 'httpPort', number: true },
  ANXIN_HTTPS_PORT: { key: 'httpsPort', number: true },
  ANXIN_HTTP_REDIRECT: { key: 'httpRedirect' },
  ANXIN_TRUST_PROXY: { key: 'trustProxy' },
  ANXIN_MQTT_PORT: { key: 'mqttPort', number: true },
  ANXIN_MQTTS_PORT: { key: 'mqttsPort', number: true },
  ANXIN_TLS_CERT: { key: 'tlsCert' },
  ANXIN_TLS_KEY: { key: 'tlsKey' },
  ANXIN_TLS_CA: { key: 'tlsCa' },
  ANXIN_TLS_KEY_PASSPHRASE: { key: 'tlsKeyPassphrase' },
  ANXIN_TLS_RELOAD_SECONDS: { key: 'tlsReloadSeconds', number: true },
  ANXIN_HOST: { key: 'host' },
  ANXIN_DATA_DIR: { key: 'dataDir' },
  ANXIN_ADMIN_PASSWORD: { key: 'adminPassword' },
  ANXIN_TZ: { key: 'tz' },
  ANXIN_TOPIC_PREFIX: { key: 'topicPrefix' },
  ANXIN_SYNC: { key: 'sync' },
  ANXIN_REFUSAL_LIMIT: { key: 'refusalLimit', number: true },
  ANXIN_MQTT_CONNECT_BURST: { key: 'connectBurst', number: true },
  ANXIN_MQTT_CONNECT_PER_SECOND: { key: 'connectPerSecond', number: true },
  ANXIN_LOGIN_PER_MINUTE: { key: 'loginPerMinute', number: true },
  ANXIN_SESSION_HOURS: { key: 'sessionHours', number: true },
  ANXIN_WEBHOOK_SECRET: { key: 'webhookSecret' },
  ANXIN_RULES_FILE: { key: 'rulesFile' },
  ANXIN_TICK_MS: { key: 'tickMs', number: true },
  ANXIN_EVENT_RETENTION_HOURS: { key: 'eventRetentionHours', number: true },
  ANXIN_HEARTBEAT_RETENTION_DAYS: { key: 'heartbeatRetentionDays', number: true },
  ANXIN_READING_RETENTION_DAYS: { key: 'readingRetentionDays', number: true },
  ANXIN_LOG_LEVEL: { key: 'logLevel' },
  ANXIN_INFLUX_URL: { key: 'influxUrl' },
  ANXIN_INFLUX_DB: { key: 'influxDb' },
  ANXIN_INFLUX_ORG: { key: 'influxOrg' },
  ANXIN_INFLUX_BUCKET: { key: 'influxBucket' },
  ANXIN_INFLUX_TOKEN: { key: 'influxToken' },
  ANXIN_INFLUX_BATCH_SIZE: { key: 'influxBatchSize', number: true },
  ANXIN_INFLUX_FLUSH_MS: { key: 'influxFlushMs', number: true },
  ANXIN_SMS_PROVIDER: { key: 'smsProvider' },
  ANXIN_SMS_URL: { key: 'smsUrl' },
  ANXIN_SMS_TOKEN: { key: 'smsToken' },
  ANXIN_SMS_ACCESS_KEY_ID: { key: 'smsAccessKeyId' },
  ANXIN_SMS_ACCESS_KEY_SECRET: { key: 'smsAccessKeySecret' },
  ANXIN_SMS_SIGN_NAME: { key: 'smsSignName' },
  ANXIN_SMS_TEMPLATE_CODE: { key: 'smsTemplateCode' },
  ANXIN_SMS_ENDPOINT: { key: 'smsEndpoint' },
};

const validate = compileSchema<HubConfig>(HubConfigSchema, { allErrors: true });

/** Thrown with every problem named by its environment variable. */
export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<HubConfig> = {}): HubConfig {
  const fromEnv: Partial<Record<keyof HubConfig, unknown>> = {};
  for (const [name, { key, number }] of Object.entries(ENV)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    fromEnv[key] = number && /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  }
  const config = { ...DEFAULTS, ...fromEnv, ...overrides };
  if (!validate(config)) {
    // One sentence per variable; for a choice, name the allowed values instead of Ajv's per-branch errors.
    const byKey = new Map<string, string>();
    for (const e of validate.errors ?? []) {
      const p = describeError(e);
      const key = p.path.slice(1);
      const choices = (HubConfigSchema.properties as Record<string, { anyOf?: Array<{ const?: unknown; minimum?: number; maximum?: number }> }>)[key]?.anyOf;
      const message = choices ? `must be one of ${choices.map((c) => c.const ?? `${c.minimum}–${c.maximum}`).join(', ')}` : p.message;
      if (!byKey.has(key) || choices) byKey.set(key, message);
    }
    const problems = [...byKey].map(([key, message]) => `${Object.entries(ENV).find(([, v]) => v.key === key)?.[0] ?? key} ${message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const influx = influxProblems(config);
  if (influx.length > 0) throw new ConfigError(`invalid configuration: ${influx.join('; ')}`);
  const sms = smsProblems(config);
  if (sms.length > 0) throw new ConfigError(`invalid configuration: ${sms.join('; ')}`);
  const retention = retentionProblems(config);
  if (retention.length > 0) throw new ConfigError(`invalid configuration: ${retention.join('; ')}`);
  const listeners = [...tlsProblems(config), ...listenerProblems(config), ...trustProxyProblems(config.trustProxy)];
  if (listeners.length > 0) throw new ConfigError(`invalid configuration: ${listeners.join('; ')}`);
  try {
    new Intl.DateTimeFormat('en', { timeZone: config.tz });
  } catch {
    throw new ConfigError(`invalid configuration: ANXIN_TZ "${config.tz}" is not a known time zone`);
  }
  return config;
}

/** HTTPS port when a certificate is configured and `ANXIN_HTTPS_PORT` is unset (8443: unprivileged, the usual alternative to 443). */
export const DEFAULT_HTTPS_PORT = 8443;

/**
 * The port HTTPS is to listen on, or null when it is off or no certificate is configured. Unset, it
 * is {@link DEFAULT_HTTPS_PORT}, or any free port when plain HTTP is given any free port (0, as tests
 * and embedders do), so that such hubs never contend for 8443.
 */
export function httpsPortOf(config: Pick<HubConfig, 'httpPort' | 'httpsPort' | 'tlsCert' | 'tlsKey'>): number | null {
  if (config.tlsCert === undefined || config.tlsKey === undefined || config.httpsPort === 'off') return null;
  return config.httpsPort ?? (config.httpPort === 0 ? 0 : DEFAULT_HTTPS_PORT);
}

/**
 * HTTPS on a port of its own; and the web side (API, dashboards, live stream, MQTT over WebSocket)
 * served somewhere: `ANXIN_HTTP_PORT=off` is for HTTPS only, which needs a certificate.
 */
function listenerProblems(config: HubConfig): string[] {
  const https = httpsPortOf(config);
  if (https !== null && https !== 0 && [config.httpPort, config.mqttPort, config.mqttsPort].includes(https)) {
    return [`ANXIN_HTTPS_PORT ${https} must differ from ANXIN_HTTP_PORT, ANXIN_MQTT_PORT and ANXIN_MQTTS_PORT`];
  }
  if (config.httpPort !== 'off' || https !== null) return [];
  const why = config.httpsPort === 'off' ? 'with ANXIN_HTTPS_PORT=off' : 'without ANXIN_TLS_CERT and ANXIN_TLS_KEY (HTTPS needs a certificate)';
  return [`ANXIN_HTTP_PORT=off ${why} leaves no listener for the API, dashboards and MQTT over WebSocket`];
}

/** Names fastify's `trustProxy` (@fastify/proxy-addr) knows for address ranges. */
const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * Each entry an address, a CIDR or a range name. Never `true`: it would believe `X-Forwarded-For`
 * from any client, letting it pick the address the sign-in limiter counts. Nor a hop count, which
 * fastify 5 ignores (it cannot tell the proxy from a client).
 */
function trustProxyProblems(value: string | undefined): string[] {
  if (value === undefined) return [];
  const bad = parseTrustProxy(value).filter((entry) => {
    if (PROXY_RANGES.has(entry)) return false;
    const [address = '', bits, ...rest] = entry.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return true;
    return bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
  });
  if (bad.length === 0) return [];
  return [`ANXIN_TRUST_PROXY ${bad.map((b) => JSON.stringify(b)).join(', ')}: each entry must be an address, a CIDR (10.0.0.0/8) or one of ${[...PROXY_RANGES].join(', ')}`];
}

/** `ANXIN_TRUST_PROXY` as the list fastify's `trustProxy` takes. */
export function parseTrustProxy(value: string): string[] {
  return value.split(',').map((s) => s.trim());
}
