/** Glucose Measurement (0x2A18): published vectors, every flag combination, units, sample codes, refusals. */
import { describe, expect, it } from 'vitest';
import { applyDeviceClock } from '../../../devices/deviceClock.js';
import { SENSOR_STATUS, decodeGlucoseMeasurement, type GlucoseGattReading } from '../../../devices/gatt/index.js';
import { validateReading } from '../../../devices/validateReading.js';
import { fromHex, glucoseFrame, sfloat, type GlucoseFields, refusal } from './frames.js';

const NOW = Date.parse('2024-06-01T12:00:00Z');
const decode = (h: string | Uint8Array) => decodeGlucoseMeasurement(typeof h === 'string' ? fromHex(h) : h);

describe('published vectors', () => {
  // NordicSemiconductor/Android-BLE-Common-Library ble-common/src/test/java/no/nordicsemi/android/ble/common/
  // callback/glucose/GlucoseMeasurementDataCallbackTest.java onGlucoseMeasurementReceived:
  // flags 0b011011, seq 1, 2019-02-27 11:10:30, offset −5 min, 30 kg/L, type 2 / location 1, status 0x0105.
  const NORDIC = '1B 0100 E307 02 1B 0B 0A 1E FBFF 1E00 12 0501';

  it('Nordic onGlucoseMeasurementReceived: every field', () => {
    expect(decode(NORDIC)).toEqual({
      type: 'glucose', value: 3_000_000, unit: 'mg/dL', ts: '2019-02-27T11:05:30+08:00', timeOffsetMinutes: -5,
      sequenceNumber: 1, contextFollows: true, sampleType: 'capillary_plasma', sampleLocation: 'finger',
      sensorStatus: ['device_battery_low', 'sample_size_insufficient', 'temperature_too_low'],
    } satisfies GlucoseGattReading);
  });

  it('Nordic onGlucoseMeasurementReceived: 30 kg/L is no human value; the hub refuses it, with the 2019 clock replaced', () => {
    const r = applyDeviceClock(decode(NORDIC), NOW);
    expect(r).toMatchObject({ ts: '2024-06-01T12:00:00.000Z', clockUnreliable: true });
    const outcome = validateReading({ ...r, id: 'g1' }, { homeId: 'h', deviceId: 'd' }, NOW);
    expect(outcome).toMatchObject({ ok: false, refusal: { code: 'out_of_range', field: 'value' } });
  });

  it('Nordic onInvalidDataReceived: the time offset its flags announce is missing → truncated', () => {
    // Same file: {0b011011, 0, 0, 0xE2, 0x07, 4, 26, 11, 9, 30, 30, 0, 0x12, 0b101, 0b1}.
    expect(refusal(() => decode('1B 0000 E207 04 1A 0B 09 1E 1E00 12 05 01'))).toMatchObject({ code: 'truncated', offset: 15, field: 'sensorStatus' });
  });

  it('a public test frame with a concentration its flags do not announce → too long', () => {
    // RonanB96/bluetooth-sig-python tests/gatt/characteristics/test_glucose_measurement.py "Basic 120.0 mg/dL":
    // flags 0x00 (no concentration) followed by 78 80 anyway.
    expect(refusal(() => decode('00 2A00 E807 03 0F 0E 1E 2D 7880'))).toMatchObject({ code: 'too_long', offset: 10 });
  });
});

describe('every flag combination', () => {
  const combos = Array.from({ length: 32 }, (_, flags) => flags).filter((f) => f & 2);

  it.each(combos)('flags %i', (flags) => {
    const mol = (flags & 4) !== 0;
    const fields: GlucoseFields = {
      sequence: 513,
      base: [2024, 5, 31, 7, 45, 0],
      ...(flags & 1 && { offset: 30 }),
      // 5.6 mmol/L as 0.0056 mol/L; 101 mg/dL as 0.00101 kg/L.
      concentration: { raw: mol ? sfloat(56, -4) : sfloat(101, -5), mol, typeAndLocation: 0x11 },
      ...(flags & 8 && { status: 0x0001 }),
      ...(flags & 16 && { context: true }),
    };
    const frame = glucoseFrame(fields);
    expect(frame[0]).toBe(flags);
    const expected: GlucoseGattReading = {
      type: 'glucose', value: mol ? 5.6 : 101, unit: mol ? 'mmol/L' : 'mg/dL', sequenceNumber: 513,
      ts: flags & 1 ? '2024-05-31T08:15:00+08:00' : '2024-05-31T07:45:00+08:00',
      contextFollows: (flags & 16) !== 0, sampleType: 'capillary_whole_blood', sampleLocation: 'finger',
    };
    if (flags & 1) expected.timeOffsetMinutes = 30;
    if (flags & 8) expected.sensorStatus = ['device_battery_low'];
    expect(decode(frame)).toEqual(expected);
  });

  it.each(Array.from({ length: 32 }, (_, flags) => flags).filter((f) => !(f & 2)))('flags %i (no concentration): no measurement', (flags) => {
    const frame = glucoseFrame({
      sequence: 9, base: [2024, 5, 31, 7, 45, 0], ...(flags & 1 && { offset: 0 }), ...(flags & 8 && { status: 0x0400 }), ...(flags & 16 && { context: true }),
    });
    // Bit 2 (units) means nothing without a concentration; the builder leaves it clear.
    const e = refusal(() => decode(frame));
    expect(e.code).toBe('no_measurement');
    if (flags & 8) expect(e.message).toContain('general_device_fault');
  });
});

describe('fields', () => {
  const base = (o: Partial<GlucoseFields> = {}): GlucoseFields => ({
    sequence: 1, base: [2024, 6, 1, 0, 3, 0], concentration: { raw: sfloat(62, -4), mol: true, typeAndLocation: 0x11 }, ...o,
  });

  it.each([
    ['−5 min across midnight', -5, '2024-05-31T23:58:00+08:00'],
    ['+90 min', 90, '2024-06-01T01:33:00+08:00'],
    ['−32768 min (sint16 minimum)', -32768, '2024-05-09T05:55:00+08:00'],
  ])('time offset %s', (_name, offset, ts) => {
    expect(decode(glucoseFrame(base({ offset })))).toMatchObject({ ts, timeOffsetMinutes: offset });
  });

  it('base time with year 0: no ts, deviceTimeUnknown', () => {
    const r = decode(glucoseFrame(base({ base: [0, 6, 1, 0, 3, 0] })));
    expect(r.deviceTimeUnknown).toBe(true);
    expect(r).not.toHaveProperty('ts');
  });

  it.each([
    [0x1, 'capillary_whole_blood'], [0x2, 'capillary_plasma'], [0x3, 'venous_whole_blood'], [0x4, 'venous_plasma'],
    [0x5, 'arterial_whole_blood'], [0x6, 'arterial_plasma'], [0x7, 'undetermined_whole_blood'], [0x8, 'undetermined_plasma'],
    [0x9, 'interstitial_fluid'], [0x0, 'reserved_0'], [0xb, 'reserved_11'], [0xf, 'reserved_15'],
  ])('type nibble %i → %s', (type, name) => {
    expect(decode(glucoseFrame(base({ concentration: { raw: sfloat(62, -4), mol: true, typeAndLocation: 0x10 | type } }))).sampleType).toBe(name);
  });

  it.each([
    [0x1, 'finger'], [0x2, 'alternate_site'], [0x3, 'earlobe'], [0x0, 'reserved_0'], [0x5, 'reserved_5'], [0xf, undefined],
  ])('location nibble %i → %s', (location, name) => {
    expect(decode(glucoseFrame(base({ concentration: { raw: sfloat(62, -4), mol: true, typeAndLocation: (location << 4) | 1 } }))).sampleLocation).toBe(name);
  });

  it.each(SENSOR_STATUS.map((name, bit) => [bit, name] as const))('sensor status bit %i → %s', (bit, name) => {
    expect(decode(glucoseFrame(base({ status: 1 << bit }))).sensorStatus).toEqual([name]);
  });

  it('ignores the reserved sensor status bits 12–15', () => {
    expect(decode(glucoseFrame(base({ status: 0xf000 }))).sensorStatus).toEqual([]);
  });
});

describe('refusals', () => {
  const full: GlucoseFields = {
    sequence: 1, base: [2024, 5, 31, 7, 45, 0], offset: 5, concentration: { raw: sfloat(101, -5), typeAndLocation: 0x11 }, status: 0,
  };
  const frame = glucoseFrame(full);
  const FIELD_STARTS = [0, 1, 3, 10, 12, 14, 15];

  it.each(Array.from({ length: frame.length }, (_, n) => n))('cut to %d bytes: truncated at the field it lacks', (n) => {
    expect(refusal(() => decode(frame.slice(0, n)))).toMatchObject({ code: 'truncated', offset: Math.max(...FIELD_STARTS.filter((s) => s <= n)) });
  });

  it('one byte more than its flags announce: too long', () => {
    expect(refusal(() => decode(new Uint8Array([...frame, 0])))).toMatchObject({ code: 'too_long', offset: 17 });
  });

  it.each([
    [0x07ff, 'NaN'], [0x0800, 'NRes'], [0x07fe, '+INF'], [0x0802, '−INF'], [0x0801, 'reserved special value'],
  ])('concentration %i (%s): special value refused', (raw, name) => {
    const e = refusal(() => decode(glucoseFrame({ ...full, concentration: { raw, typeAndLocation: 0x11 } })));
    expect(e).toMatchObject({ code: 'special_value', offset: 12, field: 'concentration' });
    expect(e.message).toContain(name);
  });

  it.each([
    ['type 10: control solution', 0x1a],
    ['location 4: control solution', 0x41],
  ])('%s: not a measurement of the person', (_name, typeAndLocation) => {
    expect(refusal(() => decode(glucoseFrame({ ...full, concentration: { raw: sfloat(101, -5), typeAndLocation } }))))
      .toMatchObject({ code: 'control_solution', offset: 14 });
  });

  it.each<[string, GlucoseFields['base'], number]>([
    ['month 13', [2024, 13, 1, 0, 0, 0], 5],
    ['31 April', [2024, 4, 31, 0, 0, 0], 6],
    ['hour 24', [2024, 4, 30, 24, 0, 0], 7],
  ])('base time with %s: invalid', (_name, base, offset) => {
    expect(refusal(() => decode(glucoseFrame({ ...full, base })))).toMatchObject({ code: 'invalid_field', offset });
  });
});
