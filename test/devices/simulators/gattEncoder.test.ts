/** The encoder is the decoders' inverse: every frame decodes to what was encoded, and the definitions' examples re-encode byte for byte. */
import { describe, expect, it } from 'vitest';
import { decodeGattNotification, decodeSfloat, hexToBytes, type BloodPressureGattReading } from '../../../devices/gatt/index.js';
import {
  bytesToHex, dateTimeParts, encodeBloodPressureMeasurement, encodeGlucoseMeasurement, encodeSfloat,
} from '../../../devices/simulators/gattEncoder.js';

const T = { year: 2024, month: 3, day: 15, hours: 14, minutes: 30, seconds: 45 };

describe('encodeSfloat', () => {
  it.each([[138, 0], [0, 0], [-12, 0], [24.8, 1], [2045, 0], [6.2, 1]])('%d with %d decimal(s) round-trips', (value, decimals) => {
    expect(decodeSfloat(encodeSfloat(value, decimals))).toBe(value);
  });

  it('shifts the exponent for concentrations in kg/L and mol/L', () => {
    expect(decodeSfloat(encodeSfloat(101, 0, 5), { shift: 5 })).toBe(101);
    expect(encodeSfloat(101, 0, 5)).toBe(0xb065);
    expect(encodeSfloat(6.2, 1, 3)).toBe(0xc03e);
  });

  it('refuses what does not fit, and never produces a special value', () => {
    expect(() => encodeSfloat(2047)).toThrow(RangeError);
    expect(() => encodeSfloat(-2048)).toThrow(RangeError);
    expect(() => encodeSfloat(5000)).toThrow(RangeError);
    expect(() => encodeSfloat(Number.NaN)).toThrow(RangeError);
  });
});

describe('Blood Pressure Measurement (0x2A35)', () => {
  it('re-encodes the bpCuff definition example "time stamp 2024-03-15 14:30:45"', () => {
    expect(bytesToHex(encodeBloodPressureMeasurement({ systolic: 140, diastolic: 90, map: 110, unit: 'mmHg', time: T })))
      .toBe('028C005A006E00E807030F0E1E2D');
  });

  it.each([
    { systolic: 186, diastolic: 112, map: 137, unit: 'mmHg' as const, time: T, pulse: 98 },
    { systolic: 24.8, diastolic: 14.9, map: 18.2, unit: 'kPa' as const, pulse: 60, irregularPulse: true },
    { systolic: 128, diastolic: 79, unit: 'mmHg' as const, userId: 2, irregularPulse: false },
  ])('decodes back: %o', (m) => {
    const decoded = decodeGattNotification('2A35', encodeBloodPressureMeasurement(m)) as BloodPressureGattReading;
    expect(decoded).toMatchObject({ type: 'blood_pressure', systolic: m.systolic, diastolic: m.diastolic, unit: m.unit });
    expect(decoded.map).toBe(m.map);
    if ('pulse' in m) expect(decoded.pulse).toBe(m.pulse);
    if ('irregularPulse' in m) expect(decoded.irregularPulse).toBe(m.irregularPulse);
    if ('userId' in m) expect((decoded as { userId?: number }).userId).toBe(m.userId);
    expect(decoded.ts).toBe('time' in m ? '2024-03-15T14:30:45+08:00' : undefined);
  });
});

describe('Glucose Measurement (0x2A18)', () => {
  it('re-encodes the glucoseMeter definition example "101 mg/dL"', () => {
    const time = { year: 2024, month: 5, day: 31, hours: 7, minutes: 45, seconds: 0 };
    expect(bytesToHex(encodeGlucoseMeasurement({ sequenceNumber: 7, time, value: 101, unit: 'mg/dL' })))
      .toBe('020700E807051F072D0065B011');
    expect(hexToBytes('02 0700 E807 05 1F 07 2D 00 65B0 11')).toEqual(encodeGlucoseMeasurement({ sequenceNumber: 7, time, value: 101, unit: 'mg/dL' }));
  });

  it.each([
    { value: 2.7, unit: 'mmol/L' as const },
    { value: 49, unit: 'mg/dL' as const },
    { value: 17.4, unit: 'mmol/L' as const, timeOffsetMinutes: -30 },
  ])('decodes back: %o', (m) => {
    const decoded = decodeGattNotification('2A18', encodeGlucoseMeasurement({ sequenceNumber: 300, time: T, ...m }));
    expect(decoded).toMatchObject({ type: 'glucose', value: m.value, unit: m.unit, sequenceNumber: 300, sampleType: 'capillary_whole_blood', sampleLocation: 'finger' });
    const minutes = ('timeOffsetMinutes' in m ? m.timeOffsetMinutes : undefined) ?? 0;
    expect(Date.parse(decoded.ts!)).toBe(Date.parse('2024-03-15T14:30:45+08:00') + minutes * 60_000);
  });
});

it('dateTimeParts gives the China wall clock of an instant', () => {
  expect(dateTimeParts(Date.parse('2024-03-15T06:30:45Z'))).toEqual(T);
  expect(dateTimeParts(Date.parse('2024-12-31T16:00:00Z'))).toEqual({ year: 2025, month: 1, day: 1, hours: 0, minutes: 0, seconds: 0 });
});
