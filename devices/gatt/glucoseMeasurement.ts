/**
 * Glucose Measurement, 0x2A18 (Bluetooth SIG Glucose Service 1.0; field
 * layout in the GATT Specification Supplement, "Glucose Measurement"): flags,
 * sequence number, base time, then the optional time offset, concentration
 * with type and sample location, and sensor status annunciation.
 */
import type { GlucoseDraft } from '../definitions/types.js';
import type { GattDecodeOptions } from './bloodPressureMeasurement.js';
import { GattDecodeError } from './gattDecodeError.js';
import { DEFAULT_UTC_OFFSET_MINUTES, FrameReader, dateTimeToRfc3339 } from './frameReader.js';

const FLAG_TIME_OFFSET = 0x01;
const FLAG_CONCENTRATION = 0x02;
const FLAG_MOL_PER_L = 0x04;
const FLAG_STATUS = 0x08;
const FLAG_CONTEXT = 0x10;

/** Type nibble (least significant 4 bits); index = value, `undefined` = reserved. */
export const SAMPLE_TYPES = [
  undefined, 'capillary_whole_blood', 'capillary_plasma', 'venous_whole_blood', 'venous_plasma',
  'arterial_whole_blood', 'arterial_plasma', 'undetermined_whole_blood', 'undetermined_plasma',
  'interstitial_fluid', 'control_solution',
] as const;

/** Sample Location nibble (most significant 4 bits); 15 = not available. */
export const SAMPLE_LOCATIONS = [undefined, 'finger', 'alternate_site', 'earlobe', 'control_solution'] as const;

/** Sensor Status Annunciation, bit i = SENSOR_STATUS[i]; bits 12–15 are reserved. */
export const SENSOR_STATUS = [
  'device_battery_low', 'sensor_malfunction', 'sample_size_insufficient', 'strip_insertion_error',
  'strip_type_incorrect', 'result_too_high', 'result_too_low', 'temperature_too_high',
  'temperature_too_low', 'strip_pulled_too_soon', 'general_device_fault', 'time_fault',
] as const;
export type SensorStatus = (typeof SENSOR_STATUS)[number];

export interface GlucoseGattReading extends GlucoseDraft {
  sequenceNumber: number;
  /** Minutes added to the base time to give `ts`, as the meter sent them. */
  timeOffsetMinutes?: number;
  /** A Glucose Measurement Context (0x2A34) with the same sequence number follows (meal, exercise…). */
  contextFollows: boolean;
  /** e.g. `capillary_whole_blood`; `reserved_11` for a value this version of the specification does not name. */
  sampleType?: string;
  /** e.g. `finger`; absent when the meter says "not available" (15). */
  sampleLocation?: string;
  /** Every annunciation bit set; `result_too_high` means the true value is above the one sent. */
  sensorStatus?: SensorStatus[];
  deviceTimeUnknown?: true;
}

const WHAT = 'Glucose Measurement (0x2A18)';

export function decodeGlucoseMeasurement(data: Uint8Array, options: GattDecodeOptions = {}): GlucoseGattReading {
  const r = new FrameReader(data, WHAT);
  const flags = r.u8('flags');
  const sequenceNumber = r.u16('sequenceNumber');
  const base = r.dateTime('baseTime');
  const timeOffsetMinutes = flags & FLAG_TIME_OFFSET ? r.s16('timeOffset') : undefined;
  const mol = (flags & FLAG_MOL_PER_L) !== 0;
  // kg/L × 100 000 = mg/dL; mol/L × 1 000 = mmol/L: scaled exactly on the decimal exponent.
  const value = flags & FLAG_CONCENTRATION ? r.sfloat('concentration', mol ? 3 : 5) : undefined;
  const typeAt = r.offset;
  const typeAndLocation = flags & FLAG_CONCENTRATION ? r.u8('typeAndLocation') : undefined;
  const status = flags & FLAG_STATUS ? r.u16('sensorStatus') : undefined;
  r.end();

  const sensorStatus = status === undefined ? undefined : SENSOR_STATUS.filter((_, bit) => (status & (1 << bit)) !== 0);
  if (value === undefined || typeAndLocation === undefined) {
    const why = sensorStatus?.length ? `; sensor status: ${sensorStatus.join(', ')}` : '';
    throw new GattDecodeError('no_measurement', 0, `record ${sequenceNumber} carries no concentration (flags bit 1 clear)${why}`, 'flags');
  }
  const typeCode = typeAndLocation & 0x0f;
  const locationCode = typeAndLocation >> 4;
  const sampleType = SAMPLE_TYPES[typeCode] ?? `reserved_${typeCode}`;
  const sampleLocation = locationCode === 15 ? undefined : SAMPLE_LOCATIONS[locationCode] ?? `reserved_${locationCode}`;
  if (sampleType === 'control_solution' || sampleLocation === 'control_solution') {
    throw new GattDecodeError('control_solution', typeAt, `record ${sequenceNumber} is a control-solution test, not a measurement of the person`, 'typeAndLocation');
  }

  const reading: GlucoseGattReading = {
    type: 'glucose',
    value,
    unit: mol ? 'mmol/L' : 'mg/dL',
    sequenceNumber,
    contextFollows: (flags & FLAG_CONTEXT) !== 0,
    sampleType,
  };
  if (sampleLocation !== undefined) reading.sampleLocation = sampleLocation;
  if (timeOffsetMinutes !== undefined) reading.timeOffsetMinutes = timeOffsetMinutes;
  if (sensorStatus) reading.sensorStatus = sensorStatus;
  const ts = dateTimeToRfc3339(base, options.utcOffsetMinutes ?? DEFAULT_UTC_OFFSET_MINUTES, timeOffsetMinutes);
  if (ts === undefined) reading.deviceTimeUnknown = true;
  else reading.ts = ts;
  return reading;
}
