import { GattDecodeError } from '../../../devices/gatt/index.js';
/**
 * Builds GATT frames field by field, for hand-crafted vectors: every flag
 * combination, every special value, every truncation. Little-endian, as on air.
 */

/** [mantissa, exponent] → raw SFLOAT (12-bit mantissa, 4-bit exponent, two's complement). */
export function sfloat(mantissa: number, exponent = 0): number {
  return ((exponent & 0x0f) << 12) | (mantissa & 0x0fff);
}

export const u16 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff];

export type DateTime = [year: number, month: number, day: number, hours: number, minutes: number, seconds: number];
export const dateTime = ([y, mo, d, h, mi, s]: DateTime): number[] => [...u16(y), mo, d, h, mi, s];

export interface BpFields {
  kpa?: boolean;
  systolic: number;
  diastolic: number;
  map: number;
  time?: DateTime;
  pulse?: number;
  userId?: number;
  status?: number;
  /** Extra flag bits (the reserved 0xE0). */
  extraFlags?: number;
}

/** A Blood Pressure Measurement (0x2A35); SFLOAT fields are raw values. */
export function bpFrame(f: BpFields): Uint8Array {
  const flags = (f.kpa ? 1 : 0) | (f.time ? 2 : 0) | (f.pulse !== undefined ? 4 : 0) | (f.userId !== undefined ? 8 : 0)
    | (f.status !== undefined ? 16 : 0) | (f.extraFlags ?? 0);
  return new Uint8Array([
    flags, ...u16(f.systolic), ...u16(f.diastolic), ...u16(f.map),
    ...(f.time ? dateTime(f.time) : []),
    ...(f.pulse !== undefined ? u16(f.pulse) : []),
    ...(f.userId !== undefined ? [f.userId] : []),
    ...(f.status !== undefined ? u16(f.status) : []),
  ]);
}

export interface GlucoseFields {
  sequence: number;
  base: DateTime;
  offset?: number;
  /** Raw SFLOAT concentration and the type-location byte; absent: flags bit 1 clear. */
  concentration?: { raw: number; mol?: boolean; typeAndLocation: number };
  status?: number;
  context?: boolean;
}

/** A Glucose Measurement (0x2A18). */
export function glucoseFrame(f: GlucoseFields): Uint8Array {
  const c = f.concentration;
  const flags = (f.offset !== undefined ? 1 : 0) | (c ? 2 : 0) | (c?.mol ? 4 : 0) | (f.status !== undefined ? 8 : 0) | (f.context ? 16 : 0);
  return new Uint8Array([
    flags, ...u16(f.sequence), ...dateTime(f.base),
    ...(f.offset !== undefined ? u16(f.offset & 0xffff) : []),
    ...(c ? [...u16(c.raw), c.typeAndLocation] : []),
    ...(f.status !== undefined ? u16(f.status) : []),
  ]);
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex').toUpperCase();
export const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s/g, ''), 'hex'));

/** The decoder's refusal of `fn`; fails the test when it returns or throws anything else. */
export function refusal(fn: () => unknown): GattDecodeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GattDecodeError) return e;
    throw e;
  }
  throw new Error('expected a GattDecodeError');
}
