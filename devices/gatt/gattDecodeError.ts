/**
 * The one error a Bluetooth frame decoder throws. It names what went wrong
 * (`code`), where (`offset`, the byte index in the frame) and which field, so
 * the gateway can log it and refuse the frame instead of guessing a value.
 */

export const GATT_ERROR_CODES = [
  /** Not a characteristic we decode (only 0x2A35 and 0x2A18). */
  'unsupported_characteristic',
  /** The JSON line's `hex` is not an even number of hex digits. */
  'invalid_hex',
  /** The frame ends before a field its flags announce. */
  'truncated',
  /** Bytes left over after every field its flags announce. */
  'too_long',
  /** An IEEE-11073 special value (NaN, NRes, ±INF, reserved) where a number is needed. */
  'special_value',
  /** A field outside what the specification allows (month 13, hour 24…). */
  'invalid_field',
  /** Fields that contradict each other (diastolic ≥ systolic…). */
  'inconsistent_field',
  /** A glucose record without a concentration (flags bit 1 clear): nothing to report. */
  'no_measurement',
  /** A glucose meter's control-solution test: a check of the meter, not of the person. */
  'control_solution',
] as const;
export type GattErrorCode = (typeof GATT_ERROR_CODES)[number];

export class GattDecodeError extends Error {
  override readonly name = 'GattDecodeError';

  constructor(
    readonly code: GattErrorCode,
    /** Byte index in the frame (or in the hex string's bytes) where the problem starts. */
    readonly offset: number,
    detail: string,
    /** The field being decoded, e.g. `systolic`, `timestamp.month`. */
    readonly field?: string,
  ) {
    super(`${detail} (byte ${offset})`);
  }
}
