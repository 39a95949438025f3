/**
 * Bluetooth SIG health characteristics → SPEC §3 reading payloads (SPEC §8).
 * The result has no `id` and carries the device's own time only when the frame
 * holds a valid one; the gateway numbers it and applies `applyDeviceClock`.
 */
import type { GattCharacteristic } from '../definitions/types.js';
import { decodeBloodPressureMeasurement, type BloodPressureGattReading, type GattDecodeOptions } from './bloodPressureMeasurement.js';
import { GattDecodeError } from './gattDecodeError.js';
import { decodeGlucoseMeasurement, type GlucoseGattReading } from './glucoseMeasurement.js';

export { GATT_ERROR_CODES, GattDecodeError, type GattErrorCode } from './gattDecodeError.js';
export { SPECIAL_VALUES, decodeFloat, decodeSfloat, floatSpecial, sfloatSpecial, type SpecialValue } from './ieee11073.js';
export { DEFAULT_UTC_OFFSET_MINUTES } from './frameReader.js';
export {
  PULSE_RATE_RANGES, UNKNOWN_USER, decodeBloodPressureMeasurement,
  type BloodPressureGattReading, type GattDecodeOptions, type MeasurementStatus,
} from './bloodPressureMeasurement.js';
export { SAMPLE_LOCATIONS, SAMPLE_TYPES, SENSOR_STATUS, decodeGlucoseMeasurement, type GlucoseGattReading, type SensorStatus } from './glucoseMeasurement.js';

export type GattReading = BloodPressureGattReading | GlucoseGattReading;

const DECODERS: Record<GattCharacteristic, (data: Uint8Array, options?: GattDecodeOptions) => GattReading> = {
  '2A35': decodeBloodPressureMeasurement,
  '2A18': decodeGlucoseMeasurement,
};

/** Bluetooth Base UUID, for 128-bit spellings of 16-bit UUIDs. */
const BASE_UUID = /^0000([0-9a-f]{4})-0000-1000-8000-00805f9b34fb$/;

/**
 * `'2A35'`, `'2a35'`, `'0x2A35'` or `'00002a35-0000-1000-8000-00805f9b34fb'` →
 * `'2A35'`; undefined for anything we do not decode.
 */
export function gattCharacteristic(characteristic: string): GattCharacteristic | undefined {
  const s = characteristic.trim().toLowerCase();
  const short = BASE_UUID.exec(s)?.[1] ?? s.replace(/^0x/, '');
  const upper = short.toUpperCase();
  return upper in DECODERS ? (upper as GattCharacteristic) : undefined;
}

/**
 * Decodes one notification or indication.
 * @throws GattDecodeError with a `code` and the byte `offset` for every frame it refuses.
 */
export function decodeGattNotification(characteristic: string, data: Uint8Array, options: GattDecodeOptions = {}): GattReading {
  const c = gattCharacteristic(characteristic);
  if (!c) {
    throw new GattDecodeError('unsupported_characteristic', 0,
      `characteristic ${JSON.stringify(characteristic)} is not one Anxin decodes (2A35 Blood Pressure Measurement, 2A18 Glucose Measurement)`);
  }
  return DECODERS[c](data, options);
}

/** `"1E8A00…"` (as on the gateway's JSON lines; spaces and colons between bytes allowed) → bytes. */
export function hexToBytes(hex: string): Uint8Array {
  const digits = hex.replace(/[\s:]/g, '');
  const bad = digits.search(/[^0-9a-fA-F]/);
  if (bad >= 0) throw new GattDecodeError('invalid_hex', Math.floor(bad / 2), `hex has ${JSON.stringify(digits[bad])}, not a hex digit`);
  if (digits.length % 2) throw new GattDecodeError('invalid_hex', digits.length >> 1, `hex has an odd number of digits (${digits.length})`);
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}
