/** Blood Pressure Measurement (0x2A35): published vectors, every flag combination, every refusal. */
import { describe, expect, it } from 'vitest';
import { applyDeviceClock } from '../../../devices/deviceClock.js';
import { decodeBloodPressureMeasurement, type BloodPressureGattReading } from '../../../devices/gatt/index.js';
import { validateReading } from '../../../devices/validateReading.js';
import { bpFrame, fromHex, sfloat, type BpFields, refusal } from './frames.js';

const NOW = Date.parse('2024-06-01T12:00:00Z');
const decode = (h: string | Uint8Array) => decodeBloodPressureMeasurement(typeof h === 'string' ? fromHex(h) : h);

describe('published vectors', () => {
  it.each<{ name: string; hex: string; expected: BloodPressureGattReading }>([
    {
      // NordicSemiconductor/Android-BLE-Common-Library ble-common/src/test/java/no/nordicsemi/android/ble/common/
      // callback/bps/BloodPressureMeasurementDataCallbackTest.java onBloodPressureMeasurementReceived_full
      // (also the SPEC §8 JSON-lines example "1E8A00…"). Year 0 = unknown.
      name: 'Nordic _full: every field, year unknown',
      hex: '1E 8A00 5800 7800 0000 04 11 14 29 3B 3C00 01 2700',
      expected: {
        type: 'blood_pressure', systolic: 138, diastolic: 88, map: 120, unit: 'mmHg', pulse: 60, userId: 1, irregularPulse: true,
        measurementStatus: { bodyMovement: true, cuffTooLoose: true, irregularPulse: true, pulseRate: 'in_range', improperPosition: true },
        deviceTimeUnknown: true,
      },
    },
    {
      // Same file, onBloodPressureMeasurementReceived_some: kPa, pulse, status 0b010010.
      name: 'Nordic _some: kPa, pulse below its lower limit, cuff loose',
      hex: '15 BDF0 0B00 9FF0 3C00 1200',
      expected: {
        type: 'blood_pressure', systolic: 18.9, diastolic: 11, map: 15.9, unit: 'kPa', pulse: 60, irregularPulse: false,
        measurementStatus: { bodyMovement: false, cuffTooLoose: true, irregularPulse: false, pulseRate: 'below_lower_limit', improperPosition: false },
      },
    },
    {
      // Same file, onBloodPressureMeasurementReceived_minimal.
      name: 'Nordic _minimal: the three pressures only',
      hex: '00 BDF0 0B00 9FF0',
      expected: { type: 'blood_pressure', systolic: 18.9, diastolic: 11, map: 15.9, unit: 'mmHg' },
    },
  ])('$name', ({ hex, expected }) => {
    expect(decode(hex)).toEqual(expected);
  });

  it.each([
    // Same Nordic file, onInvalidDataReceived_toShort: 6 bytes.
    ['Nordic _toShort', '010203040506', 'truncated', 5],
    // Same Nordic file, onInvalidDataReceived_noTimestamp: flags 3 announce a time stamp, 7 bytes carry none.
    ['Nordic _noTimestamp', '03020304050607', 'truncated', 7],
  ])('%s is refused', (_name, hex, code, offset) => {
    expect(refusal(() => decode(hex))).toMatchObject({ code, offset });
  });

  it('decodes a public test frame whose SFLOATs carry exponent −8 to micro-mmHg, which the hub refuses', () => {
    // RonanB96/bluetooth-sig-python tests/gatt/characteristics/test_blood_pressure_measurement.py "Basic 120/80 mmHg":
    // 78 80 is 0x8078 = 120 × 10^−8, not 120. Decoded faithfully; validateReading refuses it as out of range.
    const r = decode('00 7880 5080 5A80');
    expect(r).toMatchObject({ systolic: 1.2e-6, diastolic: 8e-7, map: 9e-7 });
    const outcome = validateReading({ ...applyDeviceClock(r, NOW), id: 'r1' }, { homeId: 'h', deviceId: 'd' }, NOW);
    expect(outcome).toMatchObject({ ok: false, refusal: { code: 'out_of_range', field: 'systolic' } });
  });
});

describe('every flag combination', () => {
  const MMHG = { systolic: sfloat(120), diastolic: sfloat(80), map: sfloat(93) };
  const KPA = { systolic: sfloat(160, -1), diastolic: sfloat(107, -1), map: sfloat(124, -1) };
  const combos = Array.from({ length: 32 }, (_, flags) => flags);

  it.each(combos)('flags %i', (flags) => {
    const fields: BpFields = {
      ...(flags & 1 ? { ...KPA, kpa: true } : MMHG),
      ...(flags & 2 && { time: [2024, 5, 31, 8, 15, 30] }),
      ...(flags & 4 && { pulse: sfloat(72) }),
      ...(flags & 8 && { userId: 2 }),
      ...(flags & 16 && { status: 0x0004 }),
    };
    const frame = bpFrame(fields);
    expect(frame[0]).toBe(flags);
    expect(frame.length).toBe(7 + (flags & 2 ? 7 : 0) + (flags & 4 ? 2 : 0) + (flags & 8 ? 1 : 0) + (flags & 16 ? 2 : 0));
    const expected: BloodPressureGattReading = flags & 1
      ? { type: 'blood_pressure', systolic: 16, diastolic: 10.7, map: 12.4, unit: 'kPa' }
      : { type: 'blood_pressure', systolic: 120, diastolic: 80, map: 93, unit: 'mmHg' };
    if (flags & 2) expected.ts = '2024-05-31T08:15:30+08:00';
    if (flags & 4) expected.pulse = 72;
    if (flags & 8) expected.userId = 2;
    if (flags & 16) {
      expected.irregularPulse = true;
      expected.measurementStatus = { bodyMovement: false, cuffTooLoose: false, irregularPulse: true, pulseRate: 'in_range', improperPosition: false };
    }
    expect(decode(frame)).toEqual(expected);
  });

  it('ignores the reserved flag bits 5–7 when no bytes follow', () => {
    expect(decode(bpFrame({ ...MMHG, extraFlags: 0xe0 }))).toEqual({ type: 'blood_pressure', systolic: 120, diastolic: 80, map: 93, unit: 'mmHg' });
  });
});

describe('optional parts', () => {
  const base = { systolic: sfloat(120), diastolic: sfloat(80), map: sfloat(93) };
  it.each<[string, Partial<BpFields>, Partial<BloodPressureGattReading> | null, string[]]>([
    ['MAP NaN: the cuff computed none', { map: 0x07ff }, null, ['map']],
    ['pulse NaN: no pulse measured', { pulse: 0x07ff }, null, ['pulse']],
    ['user 0xFF: unknown user', { userId: 0xff }, null, ['userId']],
    ['user 0', { userId: 0 }, { userId: 0 }, []],
    ['pulse rate range 1: above its upper limit', { status: 0x0008 }, { measurementStatus: { bodyMovement: false, cuffTooLoose: false, irregularPulse: false, pulseRate: 'above_upper_limit', improperPosition: false } }, []],
    ['pulse rate range 3: reserved', { status: 0x0018 }, { measurementStatus: { bodyMovement: false, cuffTooLoose: false, irregularPulse: false, pulseRate: 'reserved', improperPosition: false } }, []],
    ['status bits 6–15 are reserved and ignored', { status: 0xffc0 }, { irregularPulse: false, measurementStatus: { bodyMovement: false, cuffTooLoose: false, irregularPulse: false, pulseRate: 'in_range', improperPosition: false } }, []],
    ['month 0: time not known', { time: [2024, 0, 31, 8, 0, 0] }, { deviceTimeUnknown: true }, ['ts']],
    ['day 0: time not known', { time: [2024, 5, 0, 8, 0, 0] }, { deviceTimeUnknown: true }, ['ts']],
    ['29 February of a leap year', { time: [2024, 2, 29, 23, 59, 59] }, { ts: '2024-02-29T23:59:59+08:00' }, []],
  ])('%s', (_name, fields, expected, absent) => {
    const r = decode(bpFrame({ ...base, ...fields }));
    if (expected) expect(r).toMatchObject(expected);
    for (const k of absent) expect(r).not.toHaveProperty(k);
  });

  it('writes the time with the offset it is given', () => {
    const frame = bpFrame({ ...base, time: [2024, 5, 31, 8, 15, 30] });
    expect(decodeBloodPressureMeasurement(frame, { utcOffsetMinutes: 0 }).ts).toBe('2024-05-31T08:15:30+00:00');
    expect(decodeBloodPressureMeasurement(frame, { utcOffsetMinutes: -330 }).ts).toBe('2024-05-31T08:15:30-05:30');
  });
});

describe('refusals', () => {
  const full: BpFields = { systolic: sfloat(120), diastolic: sfloat(80), map: sfloat(93), time: [2024, 5, 31, 8, 15, 30], pulse: sfloat(72), userId: 1, status: 0 };
  const FIELD_STARTS = [0, 1, 3, 5, 7, 14, 16, 17];
  const frame = bpFrame(full);

  it.each(Array.from({ length: frame.length }, (_, n) => n))('cut to %d bytes: truncated at the field it lacks', (n) => {
    const at = Math.max(...FIELD_STARTS.filter((s) => s <= n));
    expect(refusal(() => decode(frame.slice(0, n)))).toMatchObject({ code: 'truncated', offset: at });
  });

  it.each([
    ['one byte more than the flags announce', new Uint8Array([...frame, 0]), 19],
    ['a time stamp its flags do not announce', new Uint8Array([0x00, ...frame.slice(1, 14)]), 7],
  ])('%s: too long', (_name, bytes, offset) => {
    expect(refusal(() => decode(bytes))).toMatchObject({ code: 'too_long', offset });
  });

  it.each([
    ...(['NaN', 'NRes', '+INF', '-INF', 'reserved'] as const).flatMap((name, i) => {
      const raw = [0x07ff, 0x0800, 0x07fe, 0x0802, 0x0801][i]!;
      return [
        [`systolic ${name}`, { systolic: raw }, 1, 'systolic'],
        [`diastolic ${name}`, { diastolic: raw }, 3, 'diastolic'],
      ] as const;
    }),
    ...(['NRes', '+INF', '-INF', 'reserved'] as const).flatMap((name, i) => {
      const raw = [0x0800, 0x07fe, 0x0802, 0x0801][i]!;
      return [
        [`map ${name}`, { map: raw }, 5, 'map'],
        [`pulse ${name}`, { pulse: raw }, 14, 'pulse'],
      ] as const;
    }),
  ])('%s: special value refused', (_name, fields, offset, field) => {
    expect(refusal(() => decode(bpFrame({ ...full, ...fields })))).toMatchObject({ code: 'special_value', offset, field });
  });

  it.each<[string, Partial<BpFields>, number, string]>([
    ['diastolic = systolic', { diastolic: sfloat(120) }, 3, 'diastolic'],
    ['diastolic above systolic', { systolic: sfloat(80), diastolic: sfloat(120) }, 3, 'diastolic'],
    ['MAP above systolic', { map: sfloat(121) }, 5, 'map'],
    ['MAP below diastolic', { map: sfloat(79) }, 5, 'map'],
  ])('%s: inconsistent', (_name, fields, offset, field) => {
    expect(refusal(() => decode(bpFrame({ ...full, ...fields })))).toMatchObject({ code: 'inconsistent_field', offset, field });
  });

  it.each<[string, [number, number, number, number, number, number], number, string]>([
    ['month 13', [2024, 13, 1, 0, 0, 0], 9, 'timestamp.month'],
    ['day 32', [2024, 1, 32, 0, 0, 0], 10, 'timestamp.day'],
    ['30 February', [2024, 2, 30, 0, 0, 0], 10, 'timestamp.day'],
    ['29 February of a common year', [2023, 2, 29, 0, 0, 0], 10, 'timestamp.day'],
    ['hour 24', [2024, 5, 31, 24, 0, 0], 11, 'timestamp.hours'],
    ['minute 60', [2024, 5, 31, 8, 60, 0], 12, 'timestamp.minutes'],
    ['second 60', [2024, 5, 31, 8, 0, 60], 13, 'timestamp.seconds'],
    ['year 1581', [1581, 5, 31, 8, 0, 0], 7, 'timestamp.year'],
    ['year 10000', [10000, 5, 31, 8, 0, 0], 7, 'timestamp.year'],
  ])('time stamp with %s: invalid', (_name, time, offset, field) => {
    const e = refusal(() => decode(bpFrame({ ...full, time })));
    expect(e).toMatchObject({ code: 'invalid_field', offset, field });
    expect(e.message).toMatch(new RegExp(`^${field.replace('.', '\\.')} \\d+ is outside .*\\(byte ${offset}\\)$`));
  });
});
