/**
 * The inverse of `devices/gatt`: builds Blood Pressure Measurement (0x2A35)
 * and Glucose Measurement (0x2A18) values the way a Bluetooth SIG cuff or
 * meter sends them, so the simulators can feed the gateway raw frames. For
 * simulators and tests only: the gateway and the hub never encode.
 * Layouts: GATT Specification Supplement, "Blood Pressure Measurement" and
 * "Glucose Measurement"; numbers are IEEE 11073-20601 SFLOAT.
 */
import type { DateTimeParts } from '../gatt/frameReader.js';
import { DEFAULT_UTC_OFFSET_MINUTES, SAMPLE_LOCATIONS, SAMPLE_TYPES } from '../gatt/index.js';

const BP_KPA = 0x01, BP_TIMESTAMP = 0x02, BP_PULSE = 0x04, BP_USER = 0x08, BP_STATUS = 0x10;
const GLU_TIME_OFFSET = 0x01, GLU_CONCENTRATION = 0x02, GLU_MOL_PER_L = 0x04;
/** SFLOAT NaN: "no value", which a cuff sends for a mean arterial pressure it did not compute. */
export const SFLOAT_NAN = 0x07ff;
/** Raw SFLOATs that stand for NaN, NRes, ±INF and the reserved value (exponent 0). */
const SPECIAL_RAW = new Set([0x07ff, 0x0800, 0x07fe, 0x0802, 0x0801]);

/**
 * `value` as a raw SFLOAT with `decimals` decimal places, its exponent
 * lowered by `shift` (a glucose concentration in kg/L or mol/L is the mg/dL
 * or mmol/L value × 10^-5 or 10^-3).
 * @throws RangeError when the value does not fit 12 bits of mantissa or would read as a special value.
 */
export function encodeSfloat(value: number, decimals = 0, shift = 0): number {
  const mantissa = Math.round(value * 10 ** decimals);
  const exponent = -decimals - shift;
  if (!Number.isFinite(mantissa) || mantissa < -2046 || mantissa > 2045 || exponent < -8 || exponent > 7) {
    throw new RangeError(`${value} with ${decimals} decimal(s) does not fit an SFLOAT`);
  }
  const raw = ((exponent & 0x0f) << 12) | (mantissa & 0x0fff);
  if (SPECIAL_RAW.has(raw)) throw new RangeError(`${value} would encode as a special SFLOAT value`);
  return raw;
}

/** The wall-clock fields of a GATT Date Time for epoch `ms` on a clock at `utcOffsetMinutes` (default China). */
export function dateTimeParts(ms: number, utcOffsetMinutes = DEFAULT_UTC_OFFSET_MINUTES): DateTimeParts {
  const d = new Date(ms + utcOffsetMinutes * 60_000);
  return {
    year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(),
    hours: d.getUTCHours(), minutes: d.getUTCMinutes(), seconds: d.getUTCSeconds(),
  };
}

export interface BloodPressureFrame {
  systolic: number;
  diastolic: number;
  /** Omitted: sent as NaN, as cuffs that do not compute it do. */
  map?: number;
  unit: 'mmHg' | 'kPa';
  time?: DateTimeParts;
  pulse?: number;
  userId?: number;
  /** Sets the Measurement Status field with its irregular-pulse bit. */
  irregularPulse?: boolean;
}

export function encodeBloodPressureMeasurement(m: BloodPressureFrame): Uint8Array {
  // mmHg in whole units, kPa to a tenth: what cuffs display.
  const decimals = m.unit === 'kPa' ? 1 : 0;
  const flags = (m.unit === 'kPa' ? BP_KPA : 0) | (m.time ? BP_TIMESTAMP : 0) | (m.pulse !== undefined ? BP_PULSE : 0)
    | (m.userId !== undefined ? BP_USER : 0) | (m.irregularPulse !== undefined ? BP_STATUS : 0);
  const out = new ByteWriter();
  out.u8(flags);
  out.u16(encodeSfloat(m.systolic, decimals));
  out.u16(encodeSfloat(m.diastolic, decimals));
  out.u16(m.map === undefined ? SFLOAT_NAN : encodeSfloat(m.map, decimals));
  if (m.time) out.dateTime(m.time);
  if (m.pulse !== undefined) out.u16(encodeSfloat(m.pulse));
  if (m.userId !== undefined) out.u8(m.userId);
  if (m.irregularPulse !== undefined) out.u16(m.irregularPulse ? 0x04 : 0);
  return out.bytes();
}

export interface GlucoseFrame {
  sequenceNumber: number;
  /** Base time: the meter's clock when the sample was taken. */
  time: DateTimeParts;
  timeOffsetMinutes?: number;
  /** mg/dL in whole units, mmol/L to a tenth, as meters display them. */
  value: number;
  unit: 'mg/dL' | 'mmol/L';
  sampleType?: (typeof SAMPLE_TYPES)[number];
  sampleLocation?: (typeof SAMPLE_LOCATIONS)[number];
}

export function encodeGlucoseMeasurement(m: GlucoseFrame): Uint8Array {
  const mol = m.unit === 'mmol/L';
  const flags = GLU_CONCENTRATION | (mol ? GLU_MOL_PER_L : 0) | (m.timeOffsetMinutes !== undefined ? GLU_TIME_OFFSET : 0);
  const type = SAMPLE_TYPES.indexOf(m.sampleType ?? 'capillary_whole_blood');
  const location = SAMPLE_LOCATIONS.indexOf(m.sampleLocation ?? 'finger');
  const out = new ByteWriter();
  out.u8(flags);
  out.u16(m.sequenceNumber);
  out.dateTime(m.time);
  if (m.timeOffsetMinutes !== undefined) out.u16(m.timeOffsetMinutes & 0xffff);
  // mol/L = mmol/L × 10^-3; kg/L = mg/dL × 10^-5.
  out.u16(mol ? encodeSfloat(m.value, 1, 3) : encodeSfloat(m.value, 0, 5));
  out.u8((location << 4) | type);
  return out.bytes();
}

/** Upper-case hex without separators, as on the gateway's JSON lines. */
export function bytesToHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).toUpperCase().padStart(2, '0')).join('');
}

/** Little-endian fields in order. */
class ByteWriter {
  private readonly out: number[] = [];

  u8(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`${v} is not a byte`);
    this.out.push(v);
  }

  u16(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`${v} is not a 16-bit value`);
    this.out.push(v & 0xff, v >> 8);
  }

  dateTime(t: DateTimeParts): void {
    this.u16(t.year);
    for (const v of [t.month, t.day, t.hours, t.minutes, t.seconds]) this.u8(v);
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}
