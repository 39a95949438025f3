/**
 * Turns one MQTT telemetry payload into normalised readings or named refusals
 * (SPEC §3). Pure: the caller supplies `now`, and decides what the topic allows.
 */
import {
  MAX_BATCH_READINGS,
  MAX_READING_BYTES,
  PAYLOAD_SCHEMAS,
  READING_TYPES,
  type ReadingType,
  type RefusalCode,
} from './readingSchema.js';
import { compileSchema, describeError } from './schemaValidator.js';
import { GLUCOSE_UNITS, MGDL_PER_MMOLL, MMHG_PER_KPA, PRESSURE_UNITS, toMmHg, toMmolPerL, type GlucoseUnit, type PressureUnit } from './units.js';

/** A reading as the hub stores it: ids from the topic, values in mmHg and mmol/L. */
export interface Reading {
  homeId: string;
  deviceId: string;
  /** Explicit `residentId` of the payload; the ingest fills in the device's bound resident. */
  residentId: string | null;
  /** The device's own id of the reading; `(deviceId, id)` is unique. */
  id: string;
  type: ReadingType;
  /** Measurement time, epoch ms. */
  ts: number;
  /** When the hub accepted it, epoch ms. */
  receivedAt: number;
  values: Record<string, number | string | boolean>;
}

export interface Refusal {
  id?: string;
  code: RefusalCode;
  field?: string;
  detail: string;
}

export type ReadingOutcome = { ok: true; reading: Reading } | { ok: false; refusal: Refusal };

/** Physiological ranges in stored units (SPEC §3): what a human body can produce. */
export const RANGES = {
  systolic: [40, 300],
  diastolic: [20, 200],
  map: [20, 250],
  pulse: [20, 250],
  glucose: [0.5, 45],
} as const satisfies Record<string, readonly [number, number]>;

export const MAX_FUTURE_MS = 5 * 60_000;
export const MAX_AGE_MS = 365 * 24 * 3600_000;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

const validators = Object.fromEntries(
  READING_TYPES.map((t) => [t, compileSchema(PAYLOAD_SCHEMAS[t])]),
) as Record<ReadingType, ReturnType<typeof compileSchema>>;

const KNOWN_TYPES = new Set<string>(READING_TYPES);

/**
 * Parses a telemetry payload: one reading or (from a gateway's backlog) an array
 * of up to 500. Refusals that concern the whole payload come back as one item.
 */
export function parseTelemetry(payload: Buffer, ids: { homeId: string; deviceId: string }, now: number): ReadingOutcome[] {
  if (payload.length > MAX_READING_BYTES * MAX_BATCH_READINGS) {
    return [refuse(undefined, 'payload_too_large', undefined, `payload is ${payload.length} bytes`)];
  }
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch (e) {
    return [refuse(undefined, 'invalid_json', undefined, (e as Error).message)];
  }
  if (!Array.isArray(doc)) {
    return [payload.length > MAX_READING_BYTES ? tooLarge(doc, payload.length) : validateReading(doc, ids, now)];
  }
  if (doc.length > MAX_BATCH_READINGS) {
    return [refuse(undefined, 'batch_too_large', undefined, `${doc.length} readings, at most ${MAX_BATCH_READINGS}`)];
  }
  // Only a batch larger than one reading's limit can hold an oversized reading; measure only then.
  const measure = payload.length > MAX_READING_BYTES;
  return doc.map((item) => {
    const bytes = measure ? Buffer.byteLength(JSON.stringify(item)) : 0;
    return bytes > MAX_READING_BYTES ? tooLarge(item, bytes) : validateReading(item, ids, now);
  });
}

/** Names the reading's id when it has one, so a gateway can drop it from its outbox. */
function tooLarge(doc: unknown, bytes: number): ReadingOutcome {
  const id = typeof doc === 'object' && doc !== null && typeof (doc as { id?: unknown }).id === 'string' ? (doc as { id: string }).id : undefined;
  return refuse(id, 'payload_too_large', undefined, `a reading is at most ${MAX_READING_BYTES} bytes, this one is ${bytes}`);
}

/** The units a type's `unit` takes. */
const UNITS_OF: Partial<Record<ReadingType, readonly string[]>> = { blood_pressure: PRESSURE_UNITS, glucose: GLUCOSE_UNITS };

/** Validates and normalises one reading object. */
export function validateReading(doc: unknown, ids: { homeId: string; deviceId: string }, now: number): ReadingOutcome {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return refuse(undefined, 'not_object', undefined, 'a reading must be a JSON object');
  }
  const obj = doc as Record<string, unknown>;
  const id = typeof obj.id === 'string' ? obj.id : undefined;
  if (obj.type === undefined) return refuse(id, 'missing_field', 'type', 'type is required');
  if (typeof obj.type !== 'string' || !KNOWN_TYPES.has(obj.type)) {
    return refuse(id, 'unknown_type', 'type', `type must be one of ${READING_TYPES.join(', ')}`);
  }
  const type = obj.type as ReadingType;
  const validate = validators[type];
  if (!validate(obj)) {
    const problem = describeError(validate.errors![0]!);
    const field = problem.path.slice(1).replaceAll('/', '.');
    const code: RefusalCode = problem.keyword === 'required' ? 'missing_field'
      : field === 'unit' ? 'unknown_unit'
      : problem.keyword === 'minimum' || problem.keyword === 'maximum' ? 'out_of_range'
      : 'invalid_field';
    // The schema's own words for a unit ("must be equal to constant") do not say which units it takes.
    const units = UNITS_OF[type];
    const detail = code === 'unknown_unit' && units ? `unit must be one of ${units.join(', ')}` : `${field} ${problem.message}`;
    return refuse(id, code, field, detail);
  }
  // for…in, not Object.entries: no array of pairs per reading. A parsed JSON object has own keys only.
  for (const key in obj) {
    const value = obj[key];
    // JSON.parse turns 1e400 into Infinity; a body never produces it.
    if (typeof value === 'number' && !Number.isFinite(value)) {
      return refuse(id, 'invalid_field', key, `${key} is not a finite number`);
    }
  }
  const ts = parseTs(obj.ts as string | number);
  if (ts === null) return refuse(id, 'ts_invalid', 'ts', 'ts must be RFC 3339 with an offset, or epoch milliseconds');
  if (ts > now + MAX_FUTURE_MS) return refuse(id, 'ts_future', 'ts', 'ts is more than 5 minutes in the future');
  if (ts < now - MAX_AGE_MS) return refuse(id, 'ts_too_old', 'ts', 'ts is more than 365 days old');

  const values = normalise(type, obj);
  if (isRefusal(values)) return { ok: false, refusal: { ...values, id: id! } };
  return {
    ok: true,
    reading: {
      homeId: ids.homeId,
      deviceId: ids.deviceId,
      residentId: typeof obj.residentId === 'string' ? obj.residentId : null,
      id: id!,
      type,
      ts,
      receivedAt: now,
      values,
    },
  };
}

/** `ts` (RFC 3339 with an offset, or epoch ms) → epoch ms; null when invalid, impossible calendar dates included. */
export function parseTs(ts: string | number): number | null {
  if (typeof ts === 'number') return Number.isSafeInteger(ts) && ts > 0 ? ts : null;
  const m = RFC3339.exec(ts);
  if (!m) return null;
  // Date.parse rolls impossible dates over (2024-02-30 → 2024-03-01): check the calendar first.
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  const daysInMonth = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysInMonth || hour! > 23 || minute! > 59 || second! > 59) return null;
  const ms = Date.parse(ts.replace(' ', 'T'));
  return Number.isFinite(ms) ? ms : null;
}

type Values = Reading['values'];

// Key lists built once: an array literal in `normalise` would be a new array per reading.
const CLOCK_KEYS = ['clockUnreliable'] as const;
const PRESSURE_KEYS = ['systolic', 'diastolic', 'map'] as const;
const PULSE_KEYS = ['pulse', 'irregularPulse'] as const;
const BP_RANGED_KEYS = ['systolic', 'diastolic', 'map', 'pulse'] as const;
const GLUCOSE_KEYS = ['context'] as const;
const FALL_KEYS = ['confidence', 'location', 'recovered'] as const;
const LOCATION_KEYS = ['location'] as const;
const HEARTBEAT_KEYS = ['battery', 'rssi'] as const;

/** The keys `obj` has, copied into `values`. */
function copyDefined(values: Values, obj: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of keys) if (obj[k] !== undefined) values[k] = obj[k] as number | string | boolean;
}

function normalise(type: ReadingType, obj: Record<string, unknown>): Values | Refusal {
  const values: Values = {};
  copyDefined(values, obj, CLOCK_KEYS);
  switch (type) {
    case 'blood_pressure': {
      const unit = obj.unit as PressureUnit;
      for (const k of PRESSURE_KEYS) {
        if (obj[k] !== undefined) values[k] = toMmHg(obj[k] as number, unit);
      }
      copyDefined(values, obj, PULSE_KEYS);
      if (unit !== 'mmHg') values.sourceUnit = unit;
      for (const k of BP_RANGED_KEYS) {
        const sent = k === 'pulse' || unit === 'mmHg' ? undefined : { value: obj[k] as number, unit, per: MMHG_PER_KPA };
        const bad = outOfRange(k, values[k] as number | undefined, RANGES[k], sent);
        if (bad) return bad;
      }
      if ((values.diastolic as number) >= (values.systolic as number)) {
        return { code: 'out_of_range', field: 'diastolic', detail: 'diastolic must be below systolic' };
      }
      return values;
    }
    case 'glucose': {
      const unit = obj.unit as GlucoseUnit;
      values.value = toMmolPerL(obj.value as number, unit);
      if (unit !== 'mmol/L') values.sourceUnit = unit;
      copyDefined(values, obj, GLUCOSE_KEYS);
      const sent = unit === 'mmol/L' ? undefined : { value: obj.value as number, unit, per: MGDL_PER_MMOLL };
      return outOfRange('value', values.value, RANGES.glucose, sent) ?? values;
    }
    case 'fall':
      copyDefined(values, obj, FALL_KEYS);
      return values;
    case 'sos':
    case 'motion':
      copyDefined(values, obj, LOCATION_KEYS);
      return values;
    case 'heartbeat':
      copyDefined(values, obj, HEARTBEAT_KEYS);
      return values;
  }
}

/**
 * A refusal when `value` (stored unit) is outside [min, max]. When the sender
 * used another unit (`sent`: its value, unit, and stored units per sent unit),
 * the message speaks the sender's unit too: "9 mg/dL" rounded to mmol/L read
 * "0.5 mmol/L is outside 0.5–45 mmol/L".
 */
function outOfRange(field: string, value: number | undefined, [min, max]: readonly [number, number], sent?: { value: number; unit: string; per: number }): Refusal | null {
  // Compare at a micro-unit: 810.72 mg/dL is 45 mmol/L, not 45.00000000000001.
  if (value === undefined) return null;
  const v = Math.round(value * 1e6) / 1e6;
  if (v >= min && v <= max) return null;
  const unit = field === 'value' ? 'mmol/L' : field === 'pulse' ? 'bpm' : 'mmHg';
  if (!sent) return { code: 'out_of_range', field, detail: `${field} ${round(value)} ${unit} is outside ${min}–${max} ${unit}` };
  // mg/dL per mmol/L multiplies into the sent unit; mmHg per kPa divides.
  const inSent = (x: number) => round(sent.unit === 'mg/dL' ? x * sent.per : x / sent.per);
  return {
    code: 'out_of_range', field,
    detail: `${field} ${sent.value} ${sent.unit} is outside ${inSent(min)}–${inSent(max)} ${sent.unit} (${min}–${max} ${unit})`,
  };
}

function isRefusal(v: Values | Refusal): v is Refusal {
  return typeof v.code === 'string' && typeof v.detail === 'string';
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

function refuse(id: string | undefined, code: RefusalCode, field: string | undefined, detail: string): ReadingOutcome {
  return { ok: false, refusal: { ...(id !== undefined && { id }), code, ...(field !== undefined && { field }), detail } };
}
