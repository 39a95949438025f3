/**
 * Wire schemas of what devices and gateways publish (SPEC §2–3), in TypeBox so the
 * same definitions validate MQTT payloads (Ajv) and document the REST API.
 * Schemas check structure; physiological ranges are checked after unit
 * conversion in `validateReading.ts`, because they are stated in stored units.
 */
import { Type, type Static } from 'typebox';
import { GLUCOSE_UNITS, PRESSURE_UNITS } from './units.js';

export const READING_TYPES = ['blood_pressure', 'glucose', 'fall', 'sos', 'heartbeat', 'motion'] as const;
export type ReadingType = (typeof READING_TYPES)[number];

export const GLUCOSE_CONTEXTS = ['fasting', 'before_meal', 'after_meal', 'bedtime', 'random'] as const;

/** Largest single reading (SPEC §3) and largest gateway batch (SPEC §2). */
export const MAX_READING_BYTES = 4096;
export const MAX_BATCH_READINGS = 500;

const Id = Type.String({ minLength: 1, maxLength: 64 });
const Timestamp = Type.Union([Type.String({ maxLength: 40 }), Type.Integer()]);
const Location = Type.String({ maxLength: 64 });

const common = {
  type: Type.String(),
  id: Id,
  ts: Timestamp,
  residentId: Type.Optional(Id),
  /** Set by a gateway that replaced a plainly wrong device clock by its own receive time (SPEC §8). */
  clockUnreliable: Type.Optional(Type.Boolean()),
};

export const BloodPressurePayload = Type.Object({
  ...common,
  systolic: Type.Number(),
  diastolic: Type.Number(),
  map: Type.Optional(Type.Number()),
  pulse: Type.Optional(Type.Number()),
  unit: Type.Union(PRESSURE_UNITS.map((u) => Type.Literal(u))),
  irregularPulse: Type.Optional(Type.Boolean()),
});

export const GlucosePayload = Type.Object({
  ...common,
  value: Type.Number(),
  unit: Type.Union(GLUCOSE_UNITS.map((u) => Type.Literal(u))),
  context: Type.Optional(Type.Union(GLUCOSE_CONTEXTS.map((c) => Type.Literal(c)))),
});

export const FallPayload = Type.Object({
  ...common,
  confidence: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  location: Type.Optional(Location),
  recovered: Type.Optional(Type.Boolean()),
});

export const SosPayload = Type.Object({ ...common, location: Type.Optional(Location) });

export const HeartbeatPayload = Type.Object({
  ...common,
  battery: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  rssi: Type.Optional(Type.Integer({ minimum: -150, maximum: 20 })),
});

export const MotionPayload = Type.Object({ ...common, location: Type.Optional(Location) });

export const PAYLOAD_SCHEMAS = {
  blood_pressure: BloodPressurePayload,
  glucose: GlucosePayload,
  fall: FallPayload,
  sos: SosPayload,
  heartbeat: HeartbeatPayload,
  motion: MotionPayload,
} as const satisfies Record<ReadingType, unknown>;

export type BloodPressurePayload = Static<typeof BloodPressurePayload>;
export type GlucosePayload = Static<typeof GlucosePayload>;
export type FallPayload = Static<typeof FallPayload>;
export type HeartbeatPayload = Static<typeof HeartbeatPayload>;

/** `devices/{id}/status`, retained and the device's last will. */
export const DeviceStatusPayload = Type.Object({
  online: Type.Boolean(),
  battery: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  rssi: Type.Optional(Type.Integer({ minimum: -150, maximum: 20 })),
  firmware: Type.Optional(Type.String({ maxLength: 64 })),
});
export type DeviceStatusPayload = Static<typeof DeviceStatusPayload>;

/** `gateway/status`, retained and the gateway's last will. */
export const GatewayStatusPayload = Type.Object({
  online: Type.Boolean(),
  outboxDepth: Type.Optional(Type.Integer({ minimum: 0 })),
  version: Type.Optional(Type.String({ maxLength: 64 })),
});
export type GatewayStatusPayload = Static<typeof GatewayStatusPayload>;

/** What the hub publishes on `rejects` for every refused reading. */
export interface RejectMessage {
  id?: string;
  error: RefusalCode;
  /** JSON path of the offending field inside the reading, when there is one (extension of SPEC §2). */
  field?: string;
  detail: string;
}

export const REFUSAL_CODES = [
  'invalid_json',
  'not_object',
  'payload_too_large',
  'batch_too_large',
  'unknown_type',
  'type_not_supported',
  'missing_field',
  'invalid_field',
  'unknown_unit',
  'out_of_range',
  'ts_invalid',
  'ts_future',
  'ts_too_old',
  'topic_not_allowed',
  'unknown_device',
  'unknown_resident',
] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];
