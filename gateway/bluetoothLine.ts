/**
 * A raw Bluetooth notification on a JSON line (SPEC §8),
 * `{"device":"bp-0001","characteristic":"2A35","hex":"1E8A00…"}`, becomes a
 * SPEC §3 reading: decoded by the shared GATT decoders (IEEE-11073 special
 * values are refused, never turned into numbers), with the device's own time
 * unless it is plainly wrong (then the receive time, `clockUnreliable: true`).
 */
import { applyDeviceClock } from '../devices/deviceClock.js';
import { decodeGattNotification, GattDecodeError, hexToBytes } from '../devices/gatt/index.js';
import { PAYLOAD_SCHEMAS, type ReadingType } from '../devices/readingSchema.js';
import type { BluetoothDecoder } from './intake.js';

/** Fields of each reading type's wire schema: decoder extras (cuff user slot, measurement status) stay local. */
const WIRE_FIELDS = Object.fromEntries(
  Object.entries(PAYLOAD_SCHEMAS).map(([type, schema]) => [type, new Set(Object.keys((schema as { properties: object }).properties))]),
) as Record<ReadingType, Set<string>>;

export const decodeBluetoothLine: BluetoothDecoder = (line, receivedAt) => {
  if (typeof line.characteristic !== 'string') return { ok: false, error: 'missing_field', field: 'characteristic', detail: 'characteristic must be a string such as "2A35"' };
  if (typeof line.hex !== 'string') return { ok: false, error: 'missing_field', field: 'hex', detail: 'hex must be a string of hex digits' };
  let decoded;
  try {
    decoded = decodeGattNotification(line.characteristic, hexToBytes(line.hex));
  } catch (err) {
    if (err instanceof GattDecodeError) {
      return { ok: false, error: err.code, detail: err.message, ...(err.field !== undefined && { field: err.field }) };
    }
    return { ok: false, error: 'invalid_frame', detail: (err as Error).message };
  }
  const reading = applyDeviceClock(decoded, receivedAt) as Record<string, unknown> & { type: ReadingType };
  const fields = WIRE_FIELDS[reading.type];
  const wire = Object.fromEntries(Object.entries(reading).filter(([k]) => fields?.has(k)));
  return { deviceId: line.device, reading: wire };
};
