/**
 * Gateway configuration (SPEC §8): one JSON file, validated once with the same
 * schema language as every payload, then overridden by `ANXIN_GATEWAY_*`
 * environment variables (so a secret need not sit in the file). Nothing else
 * in the gateway reads the file or `process.env`.
 */
import { readFileSync } from 'node:fs';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { compileSchema, describeError } from '../devices/schemaValidator.js';
import { DEVICE_TYPE_DEFINITIONS, DEVICE_TYPES, type DeviceType } from '../devices/deviceTypes.js';
import { DEFAULT_TOPIC_PREFIX, ID_PATTERN } from '../devices/topics.js';

const Port = Type.Integer({ minimum: 0, maximum: 65535 });
const Id = Type.String({ pattern: ID_PATTERN });
const MqttUrl = Type.String({ pattern: '^(mqtts?|wss?|tcp)://' });
/** An external command and its arguments, run without a shell. */
const Command = Type.Object({
  command: Type.String({ minLength: 1 }),
  args: Type.Array(Type.String(), { default: [] }),
  /** A command still running after this long is killed. */
  timeoutSeconds: Type.Number({ exclusiveMinimum: 0, default: 30 }),
}, { additionalProperties: false });

export const GatewayConfigSchema = Type.Object({
  hub: MqttUrl,
  homeId: Id,
  /** The gateway's id: MQTT username and client id. */
  username: Id,
  password: Type.String({ minLength: 1 }),
  /**
   * For an `mqtts://` or `wss://` hub: a PEM file of the CA(s) that signed the
   * hub's certificate (a city's private CA); without it, the system's CAs. The
   * certificate is always verified.
   */
  tls: Type.Optional(Type.Object({
    ca: Type.Optional(Type.String({ minLength: 1 })),
  }, { additionalProperties: false })),
  dataDir: Type.String({ minLength: 1 }),
  topicPrefix: Type.String({ pattern: '^[a-z0-9]+(/[a-z0-9]+)*$', default: DEFAULT_TOPIC_PREFIX }),
  input: Type.Object({
    /** JSON lines on 127.0.0.1 only; 0 picks a free port (tests). */
    port: Port,
    /** Also read JSON lines from stdin. */
    stdin: Type.Boolean({ default: true }),
  }, { additionalProperties: false }),
  outbox: Type.Object({
    /** Readings kept while the hub is unreachable; beyond it the oldest non-fall, non-SOS readings are dropped. */
    maxReadings: Type.Integer({ minimum: 10, default: 100_000 }),
  }, { additionalProperties: false, default: {} }),
  uplink: Type.Object({
    /** Readings per publish when flushing a backlog (SPEC §2: at most 500). */
    batchSize: Type.Integer({ minimum: 1, maximum: 500, default: 500 }),
    /** Windows of up to `batchSize` readings (one publish per device in the window) awaiting their PUBACKs at a time. */
    maxInFlight: Type.Integer({ minimum: 1, maximum: 1000, default: 8 }),
    reconnectMinMs: Type.Integer({ minimum: 10, default: 1000 }),
    /** Full-jitter backoff: the wait before attempt n is uniform in [0, min(max, min·2^n)). */
    reconnectMaxMs: Type.Integer({ minimum: 10, default: 30_000 }),
    keepaliveSeconds: Type.Integer({ minimum: 5, maximum: 65535, default: 30 }),
    connectTimeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
  }, { additionalProperties: false, default: {} }),
  zigbee2mqtt: Type.Optional(Type.Object({
    url: MqttUrl,
    baseTopic: Type.String({ minLength: 1, default: 'zigbee2mqtt' }),
    username: Type.Optional(Type.String()),
    password: Type.Optional(Type.String()),
    /**
     * z2m friendly name → Anxin device id (a radar fall detector, `fall_sensor`),
     * or `{"device": id, "type": deviceType}` for another kind (e.g. an SOS pendant).
     */
    devices: Type.Record(Type.String({ minLength: 1 }), Type.Union([
      Id,
      Type.Object({ device: Id, type: Type.Union(DEVICE_TYPES.map((t) => Type.Literal(t))) }, { additionalProperties: false }),
    ])),
  }, { additionalProperties: false })),
  /** Raised for a fall or SOS the hub cannot be told about (SPEC §8). */
  localAlarm: Type.Optional(Type.Object({
    ...Command.properties,
    /** Also raise it when a fall/SOS is not acknowledged by the hub within this many seconds while connected. */
    unackedSeconds: Type.Number({ exclusiveMinimum: 0, default: 20 }),
  }, { additionalProperties: false })),
  /** Run for every alert message of the home (e.g. speak "help is coming"). */
  alertHook: Type.Optional(Command),
  logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
}, { additionalProperties: false });

export type GatewayConfig = Static<typeof GatewayConfigSchema>;
export type CommandConfig = Static<typeof Command>;

/** Environment variables that override a config field (JSON pointer). */
export const ENV_OVERRIDES: Record<string, { path: string[]; number?: boolean }> = {
  ANXIN_GATEWAY_HUB: { path: ['hub'] },
  ANXIN_GATEWAY_HOME_ID: { path: ['homeId'] },
  ANXIN_GATEWAY_USERNAME: { path: ['username'] },
  ANXIN_GATEWAY_PASSWORD: { path: ['password'] },
  ANXIN_GATEWAY_TLS_CA: { path: ['tls', 'ca'] },
  ANXIN_GATEWAY_DATA_DIR: { path: ['dataDir'] },
  ANXIN_GATEWAY_TOPIC_PREFIX: { path: ['topicPrefix'] },
  ANXIN_GATEWAY_INPUT_PORT: { path: ['input', 'port'], number: true },
  ANXIN_GATEWAY_OUTBOX_MAX: { path: ['outbox', 'maxReadings'], number: true },
  ANXIN_GATEWAY_LOG_LEVEL: { path: ['logLevel'] },
};

const CHOICES: Record<string, string> = {
  '/logLevel': 'must be one of fatal, error, warn, info, debug, trace, silent',
  device: `must be a device id, or {"device": id, "type": one of ${DEVICE_TYPES.join(', ')}}`,
};

/** Thrown with every problem named by its place in the file (or its variable). */
export class GatewayConfigError extends Error {}

const validate = compileSchema<GatewayConfig>(GatewayConfigSchema, { allErrors: true });

/** Reads, overrides and validates; throws `GatewayConfigError` naming every problem. */
export function loadGatewayConfig(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GatewayConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new GatewayConfigError(`config file ${file} is not JSON: ${(err as Error).message}`);
  }
  return parseGatewayConfig(doc, env, file);
}

export function parseGatewayConfig(doc: unknown, env: NodeJS.ProcessEnv = {}, source = 'config'): GatewayConfig {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new GatewayConfigError(`${source}: must be a JSON object`);
  const config = structuredClone(doc) as Record<string, unknown>;
  const fromEnv = new Map<string, string>();
  for (const [name, { path, number }] of Object.entries(ENV_OVERRIDES)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let target = config;
    for (const key of path.slice(0, -1)) {
      if (typeof target[key] !== 'object' || target[key] === null) target[key] = {};
      target = target[key] as Record<string, unknown>;
    }
    target[path.at(-1)!] = number && /^-?\d+$/.test(raw) ? Number(raw) : raw;
    fromEnv.set(`/${path.join('/')}`, name);
  }
  Value.Default(GatewayConfigSchema, config);
  if (!validate(config)) {
    const errors = (validate.errors ?? []).map((e) => ({ e, p: describeError(e) }));
    // For a choice (anyOf), name the choice once rather than every branch's complaint.
    const choices = errors.filter(({ e }) => e.keyword === 'anyOf').map(({ p }) => p.path);
    const problems = [...new Set(errors
      .filter(({ e, p }) => e.keyword === 'anyOf' || !choices.some((c) => p.path === c || p.path.startsWith(`${c}/`)))
      .map(({ e, p }) => `${fromEnv.get(p.path) ?? p.path} ${e.keyword === 'anyOf' ? CHOICES[p.path] ?? CHOICES.device : p.message}`))];
    throw new GatewayConfigError(`${source}: invalid gateway configuration: ${problems.join('; ')}`);
  }
  const c = config as GatewayConfig;
  const problems: string[] = [];
  if (c.uplink.reconnectMaxMs < c.uplink.reconnectMinMs) problems.push('/uplink/reconnectMaxMs must be at least reconnectMinMs');
  if (c.tls?.ca !== undefined) problems.push(...caProblems(c, fromEnv.get('/tls/ca') ?? '/tls/ca'));
  // A type without zigbee2mqtt vocabulary (a cuff, a glucose meter) would turn every message into nothing, silently.
  for (const [name, entry] of Object.entries(c.zigbee2mqtt ? c.zigbee2mqtt.devices : {})) {
    // (The schema's union of literals built from an array types `entry.type` as never.)
    const type = typeof entry === 'object' ? (entry.type as DeviceType) : 'fall_sensor';
    if (!DEVICE_TYPE_DEFINITIONS[type].z2m) {
      problems.push(`/zigbee2mqtt/devices/${escapePointer(name)}/type ${type} has no zigbee2mqtt vocabulary; must be one of ${Z2M_DEVICE_TYPES.join(', ')}`);
    }
  }
  if (problems.length > 0) throw new GatewayConfigError(`${source}: invalid gateway configuration: ${problems.join('; ')}`);
  return c;
}

/** Whether the hub URL is one over TLS (where `tls` applies). */
export function hubUsesTls(hub: string): boolean {
  return /^(mqtts|wss):\/\//i.test(hub);
}

/** A CA file that cannot be used, or is set for a link it would not secure, is found at start rather than at each connection. */
function caProblems(c: GatewayConfig, name: string): string[] {
  const path = c.tls!.ca!;
  if (!hubUsesTls(c.hub)) return [`${name} is set but hub ${redactUrl(c.hub)} is not mqtts:// or wss://: the link would not be encrypted`];
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    return [`${name} ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`];
  }
  return pem.includes('-----BEGIN CERTIFICATE-----') ? [] : [`${name} ${path} holds no PEM certificate`];
}

/** The hub URL without credentials someone put in it. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z0-9+.-]+:\/\/).*@/i, '$1***@');
}

/** Device types a zigbee2mqtt device may be mapped to: those whose definition has a z2m vocabulary. */
const Z2M_DEVICE_TYPES = DEVICE_TYPES.filter((t) => DEVICE_TYPE_DEFINITIONS[t].z2m !== undefined);

/** RFC 6901: a friendly name may contain `/` or `~`. */
function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}
