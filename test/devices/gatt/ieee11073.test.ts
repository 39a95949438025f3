/** IEEE 11073-20601 SFLOAT and FLOAT: values, exact decimal scaling, special values refused. */
import { describe, expect, it } from 'vitest';
import { decodeFloat, decodeSfloat, floatSpecial, sfloatSpecial } from '../../../devices/gatt/index.js';
import { refusal } from './frames.js';

const hex4 = (raw: number) => `0x${raw.toString(16).toUpperCase().padStart(4, '0')}`;

describe('decodeSfloat', () => {
  it.each([
    // NordicSemiconductor/Android-BLE-Library ble/src/test/java/no/nordicsemi/android/ble/data/DataTest.java
    // setValue_SFLOAT_hex: 10.1 is written as bytes 65 F0.
    [0xf065, 10.1, 'Nordic DataTest setValue_SFLOAT_hex'],
    // NordicSemiconductor/Android-BLE-Common-Library …/bps/BloodPressureMeasurementDataCallbackTest.java: 138, 18.9, 15.9.
    [0x008a, 138, 'Nordic BPM test, systolic 138'],
    [0xf0bd, 18.9, 'Nordic BPM test, systolic 18.9 kPa'],
    [0xf09f, 15.9, 'Nordic BPM test, MAP 15.9 kPa'],
    // Hand-crafted: the edges of the 12-bit mantissa and 4-bit exponent.
    [0x0000, 0, 'zero'],
    [0x07fd, 2045, 'largest positive mantissa that is not special'],
    [0x0803, -2045, 'most negative mantissa that is not special'],
    [0x0fff, -1, 'mantissa −1'],
    [0x7001, 1e7, 'exponent +7'],
    [0x8001, 1e-8, 'exponent −8'],
    [0xb065, 0.00101, '101 × 10^−5 (a glucose concentration in kg/L)'],
    // Special values exist only with exponent 0: with exponent 1 these are ordinary numbers.
    [0x17ff, 20470, '0x7FF mantissa with exponent 1 is not NaN'],
    [0x1800, -20480, '0x800 mantissa with exponent 1 is not NRes'],
  ].map(([raw, value, why]) => [hex4(raw as number), value as number, why as string, raw as number]))('%s → %s (%s)', (_hex, value, _why, raw) => {
    expect(decodeSfloat(raw)).toBe(value);
  });

  it.each([
    [0x065, -5, 5, 101],
    [0x03e, -4, 3, 6.2],
    [0x001e, 0, 5, 3_000_000],
    [0x07d, -1, 3, 12500],
  ])('mantissa %d × 10^%d scaled by 10^%d is exactly %d', (mantissa, exponent, shift, value) => {
    expect(decodeSfloat(((exponent & 0xf) << 12) | mantissa, { shift })).toBe(value);
  });

  it.each([
    [0x07ff, 'NaN', /NaN \(not a number/],
    [0x0800, 'NRes', /NRes \(not at this resolution/],
    [0x07fe, '+INF', /\+INF \(above/],
    [0x0802, '-INF', /−INF \(below/],
    [0x0801, 'reserved', /reserved special value/],
  ] as const)('%i is %s: refused, never a number', (raw, name, message) => {
    expect(sfloatSpecial(raw)).toBe(name);
    const e = refusal(() => decodeSfloat(raw, { offset: 3, field: 'diastolic' }));
    expect(e).toMatchObject({ code: 'special_value', offset: 3, field: 'diastolic' });
    expect(e.message).toMatch(message);
    expect(e.message).toContain(hex4(raw));
    expect(e.message).toMatch(/^diastolic is .*\(byte 3\)$/);
  });

  it.each([-1, 0x10000, 1.5, Number.NaN])('refuses %d as a raw 16-bit value', (raw) => {
    expect(() => decodeSfloat(raw)).toThrow(RangeError);
  });
});

describe('decodeFloat', () => {
  it.each([
    // NordicSemiconductor/Android-BLE-Library …/data/DataTest.java setValue_FLOAT_hex: 12345.67 → 87 D6 12 FE.
    [0xfe12d687, 12345.67],
    // …/DataTest.java setValue_FLOAT_basic: 1.0 → 01 00 00 00.
    [0x00000001, 1],
    // Hand-crafted: negative mantissa, positive exponent.
    [0x02ffffff, -100],
  ])('%i → %d', (raw, value) => {
    expect(decodeFloat(raw)).toBe(value);
  });

  it.each([
    [0x007fffff, 'NaN'],
    [0x00800000, 'NRes'],
    [0x007ffffe, '+INF'],
    [0x00800002, '-INF'],
    [0x00800001, 'reserved'],
  ] as const)('%i is %s: refused', (raw, name) => {
    expect(floatSpecial(raw)).toBe(name);
    expect(refusal(() => decodeFloat(raw)).code).toBe('special_value');
  });
});
