/**
 * Blood Pressure Measurement, 0x2A35 (Bluetooth SIG Blood Pressure Service 1.1;
 * field layout in the GATT Specification Supplement, "Blood Pressure
 * Measurement"): flags, systolic, diastolic, mean arterial pressure, then the
 * optional time stamp, pulse rate, user id and measurement status.
 */
import type { BloodPressureDraft } from '../definitions/types.js';
import { GattDecodeError } from './gattDecodeError.js';
import { DEFAULT_UTC_OFFSET_MINUTES, FrameReader, dateTimeToRfc3339 } from './frameReader.js';

const FLAG_KPA = 0x01;
const FLAG_TIMESTAMP = 0x02;
const FLAG_PULSE = 0x04;
const FLAG_USER = 0x08;
const FLAG_STATUS = 0x10;

/** 0xFF in the User ID field: the cuff does not know who was measured. */
export const UNKNOWN_USER = 0xff;

export const PULSE_RATE_RANGES = ['in_range', 'above_upper_limit', 'below_lower_limit', 'reserved'] as const;

/** Measurement Status bits 0–5; bits 6–15 are reserved and ignored. */
export interface MeasurementStatus {
  bodyMovement: boolean;
  cuffTooLoose: boolean;
  irregularPulse: boolean;
  pulseRate: (typeof PULSE_RATE_RANGES)[number];
  improperPosition: boolean;
}

export interface BloodPressureGattReading extends BloodPressureDraft {
  /** The cuff's user slot (0–254); absent when not sent or 0xFF (unknown user). Map it to a `residentId` per home. */
  userId?: number;
  measurementStatus?: MeasurementStatus;
  /** The frame carried a time stamp whose year, month or day is 0 ("not known"). */
  deviceTimeUnknown?: true;
}

export interface GattDecodeOptions {
  /** UTC offset of the devices' clocks in minutes; default 480 (China Standard Time). */
  utcOffsetMinutes?: number;
}

const WHAT = 'Blood Pressure Measurement (0x2A35)';

export function decodeBloodPressureMeasurement(data: Uint8Array, options: GattDecodeOptions = {}): BloodPressureGattReading {
  const r = new FrameReader(data, WHAT);
  const flags = r.u8('flags');
  const systolic = r.sfloat('systolic');
  const diastolicAt = r.offset;
  const diastolic = r.sfloat('diastolic');
  const mapAt = r.offset;
  const map = r.optionalSfloat('map');
  const time = flags & FLAG_TIMESTAMP ? r.dateTime('timestamp') : undefined;
  const pulse = flags & FLAG_PULSE ? r.optionalSfloat('pulse') : undefined;
  const userId = flags & FLAG_USER ? r.u8('userId') : undefined;
  const status = flags & FLAG_STATUS ? measurementStatus(r.u16('measurementStatus')) : undefined;
  r.end();

  if (diastolic >= systolic) {
    throw new GattDecodeError('inconsistent_field', diastolicAt, `diastolic ${diastolic} is not below systolic ${systolic}`, 'diastolic');
  }
  if (map !== undefined && (map < diastolic || map > systolic)) {
    throw new GattDecodeError('inconsistent_field', mapAt, `mean arterial pressure ${map} is outside diastolic–systolic ${diastolic}–${systolic}`, 'map');
  }

  const reading: BloodPressureGattReading = { type: 'blood_pressure', systolic, diastolic, unit: flags & FLAG_KPA ? 'kPa' : 'mmHg' };
  if (map !== undefined) reading.map = map;
  if (pulse !== undefined) reading.pulse = pulse;
  if (status) {
    reading.irregularPulse = status.irregularPulse;
    reading.measurementStatus = status;
  }
  if (userId !== undefined && userId !== UNKNOWN_USER) reading.userId = userId;
  if (time) {
    const ts = dateTimeToRfc3339(time, options.utcOffsetMinutes ?? DEFAULT_UTC_OFFSET_MINUTES);
    if (ts === undefined) reading.deviceTimeUnknown = true;
    else reading.ts = ts;
  }
  return reading;
}

function measurementStatus(bits: number): MeasurementStatus {
  return {
    bodyMovement: (bits & 0x01) !== 0,
    cuffTooLoose: (bits & 0x02) !== 0,
    irregularPulse: (bits & 0x04) !== 0,
    pulseRate: PULSE_RATE_RANGES[(bits >> 3) & 0x03]!,
    improperPosition: (bits & 0x20) !== 0,
  };
}
