/**
 * IEEE 11073-20601 SFLOAT (16-bit) and FLOAT (32-bit) as the Bluetooth SIG
 * health profiles use them (GATT Specification Supplement §2.2 "medfloat16" /
 * "medfloat32"; IEEE 11073-20601 Annex F.8): value = mantissa × 10^exponent,
 * both two's complement. Five raw values are not numbers; they are refused,
 * never turned into 2047 mmHg.
 */
import { GattDecodeError } from './gattDecodeError.js';

export const SPECIAL_VALUES = ['NaN', 'NRes', '+INF', '-INF', 'reserved'] as const;
export type SpecialValue = (typeof SPECIAL_VALUES)[number];

const SFLOAT_SPECIAL: ReadonlyMap<number, SpecialValue> = new Map([
  [0x07ff, 'NaN'],
  [0x0800, 'NRes'],
  [0x07fe, '+INF'],
  [0x0802, '-INF'],
  [0x0801, 'reserved'],
]);

const FLOAT_SPECIAL: ReadonlyMap<number, SpecialValue> = new Map([
  [0x007fffff, 'NaN'],
  [0x00800000, 'NRes'],
  [0x007ffffe, '+INF'],
  [0x00800002, '-INF'],
  [0x00800001, 'reserved'],
]);

const MEANING: Record<SpecialValue, string> = {
  NaN: 'NaN (not a number: the device has no value)',
  NRes: 'NRes (not at this resolution)',
  '+INF': '+INF (above what the device can measure)',
  '-INF': '−INF (below what the device can measure)',
  reserved: 'a reserved special value',
};

export interface DecodeNumberOptions {
  /** Multiply by 10^shift exactly (kg/L → mg/dL is 5, mol/L → mmol/L is 3). */
  shift?: number;
  /** Byte offset of the value in its frame, for the error. */
  offset?: number;
  /** Field name, for the error. */
  field?: string;
}

/** The special value a raw SFLOAT stands for, if any. */
export function sfloatSpecial(raw: number): SpecialValue | undefined {
  return SFLOAT_SPECIAL.get(raw);
}

/** The special value a raw FLOAT stands for, if any. */
export function floatSpecial(raw: number): SpecialValue | undefined {
  return FLOAT_SPECIAL.get(raw);
}

/**
 * Decodes a raw 16-bit SFLOAT (as read little-endian from the frame).
 * @throws GattDecodeError `special_value` for NaN, NRes, ±INF and the reserved value.
 */
export function decodeSfloat(raw: number, options: DecodeNumberOptions = {}): number {
  checkRaw(raw, 0xffff, 'SFLOAT');
  refuseSpecial(SFLOAT_SPECIAL.get(raw), raw, 4, options);
  return scale(signed(raw & 0x0fff, 12), signed(raw >> 12, 4) + (options.shift ?? 0));
}

/**
 * Decodes a raw 32-bit FLOAT (as read little-endian from the frame).
 * @throws GattDecodeError `special_value` for NaN, NRes, ±INF and the reserved value.
 */
export function decodeFloat(raw: number, options: DecodeNumberOptions = {}): number {
  checkRaw(raw, 0xffffffff, 'FLOAT');
  refuseSpecial(FLOAT_SPECIAL.get(raw), raw, 8, options);
  return scale(signed(raw & 0x00ffffff, 24), signed(raw >>> 24, 8) + (options.shift ?? 0));
}

function checkRaw(raw: number, max: number, what: string): void {
  if (!Number.isInteger(raw) || raw < 0 || raw > max) throw new RangeError(`a raw ${what} is an integer 0–${max}, got ${raw}`);
}

function refuseSpecial(special: SpecialValue | undefined, raw: number, digits: number, o: DecodeNumberOptions): void {
  if (special === undefined) return;
  const hex = `0x${raw.toString(16).toUpperCase().padStart(digits, '0')}`;
  throw new GattDecodeError('special_value', o.offset ?? 0, `${o.field ?? 'value'} is ${MEANING[special]}, ${hex}`, o.field);
}

function signed(value: number, bits: number): number {
  return value >= 2 ** (bits - 1) ? value - 2 ** bits : value;
}

/**
 * mantissa × 10^exponent with one rounding: dividing by an exact power of ten
 * gives the double nearest the decimal (10.1, not 10.100000000000001).
 */
function scale(mantissa: number, exponent: number): number {
  return exponent >= 0 ? mantissa * 10 ** exponent : mantissa / 10 ** -exponent;
}
