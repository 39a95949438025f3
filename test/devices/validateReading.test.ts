/** Telemetry validation (SPEC §3): ranges, units, timestamps, fields per type, batches, sizes. */
import { describe, expect, it } from 'vitest';
import { GLUCOSE_CONTEXTS, MAX_BATCH_READINGS, MAX_READING_BYTES } from '../../devices/readingSchema.js';
import { GLUCOSE_UNITS, MGDL_PER_MMOLL, MMHG_PER_KPA, PRESSURE_UNITS, toMmHg, toMmolPerL } from '../../devices/units.js';
import {
  MAX_AGE_MS,
  MAX_FUTURE_MS,
  RANGES,
  parseTelemetry,
  validateReading,
  type ReadingOutcome,
} from '../../devices/validateReading.js';

const NOW = Date.parse('2024-06-01T12:00:00Z');
const IDS = { homeId: 'h1', deviceId: 'd1' };

const bp = (o: Record<string, unknown> = {}) => ({ type: 'blood_pressure', id: 'r1', ts: NOW, systolic: 120, diastolic: 80, unit: 'mmHg', ...o });
const glucose = (o: Record<string, unknown> = {}) => ({ type: 'glucose', id: 'r1', ts: NOW, value: 5.6, unit: 'mmol/L', ...o });
const heartbeat = (o: Record<string, unknown> = {}) => ({ type: 'heartbeat', id: 'r1', ts: NOW, ...o });

const check = (doc: unknown) => validateReading(doc, IDS, NOW);
const parse = (text: string | Buffer) => parseTelemetry(typeof text === 'string' ? Buffer.from(text) : text, IDS, NOW);

function accepted(o: ReadingOutcome) {
  if (!o.ok) throw new Error(`expected acceptance, got ${JSON.stringify(o.refusal)}`);
  return o.reading;
}

function refused(o: ReadingOutcome) {
  if (o.ok) throw new Error(`expected a refusal, got ${JSON.stringify(o.reading)}`);
  return o.refusal;
}

describe('units', () => {
  it('uses the conventional conversion factors', () => {
    expect(MMHG_PER_KPA).toBe(7.50062);
    expect(MGDL_PER_MMOLL).toBe(18.016);
    expect(PRESSURE_UNITS).toEqual(['mmHg', 'kPa']);
    expect(GLUCOSE_UNITS).toEqual(['mmol/L', 'mg/dL']);
  });

  it.each([
    [16, 'kPa', 120.00992],
    [1, 'kPa', 7.50062],
    [120, 'mmHg', 120],
  ] as const)('toMmHg(%d, %s) = %d', (value, unit, mmHg) => {
    expect(toMmHg(value, unit)).toBeCloseTo(mmHg, 9);
  });

  it.each([
    [18.016, 'mg/dL', 1],
    [90.08, 'mg/dL', 5],
    [100, 'mg/dL', 5.550621669627],
    [5.6, 'mmol/L', 5.6],
  ] as const)('toMmolPerL(%d, %s) = %d', (value, unit, mmol) => {
    expect(toMmolPerL(value, unit)).toBeCloseTo(mmol, 9);
  });
});

describe('physiological ranges', () => {
  it('are the ones of SPEC §3', () => {
    expect(RANGES).toEqual({
      systolic: [40, 300],
      diastolic: [20, 200],
      map: [20, 250],
      pulse: [20, 250],
      glucose: [0.5, 45],
    });
  });

  // [case, reading, refused field or null when accepted]
  const cases: [string, Record<string, unknown>, string | null][] = [
    ['systolic 40', bp({ systolic: 40, diastolic: 30 }), null],
    ['systolic 300', bp({ systolic: 300 }), null],
    ['systolic 39.9', bp({ systolic: 39.9, diastolic: 30 }), 'systolic'],
    ['systolic 300.1', bp({ systolic: 300.1 }), 'systolic'],
    ['systolic 0', bp({ systolic: 0, diastolic: 30 }), 'systolic'],
    ['systolic negative', bp({ systolic: -120 }), 'systolic'],
    ['diastolic 20', bp({ diastolic: 20 }), null],
    ['diastolic 200', bp({ systolic: 250, diastolic: 200 }), null],
    ['diastolic 19.9', bp({ diastolic: 19.9 }), 'diastolic'],
    ['diastolic 200.1', bp({ systolic: 250, diastolic: 200.1 }), 'diastolic'],
    ['diastolic just below systolic', bp({ systolic: 120, diastolic: 119.9 }), null],
    ['diastolic equal to systolic', bp({ systolic: 120, diastolic: 120 }), 'diastolic'],
    ['diastolic above systolic', bp({ systolic: 80, diastolic: 120 }), 'diastolic'],
    ['systolic and diastolic at the floor', bp({ systolic: 40, diastolic: 20 }), null],
    ['pulse 20', bp({ pulse: 20 }), null],
    ['pulse 250', bp({ pulse: 250 }), null],
    ['pulse 19.9', bp({ pulse: 19.9 }), 'pulse'],
    ['pulse 250.1', bp({ pulse: 250.1 }), 'pulse'],
    ['map 20', bp({ map: 20 }), null],
    ['map 250', bp({ map: 250 }), null],
    ['map 19.9', bp({ map: 19.9 }), 'map'],
    ['map 250.1', bp({ map: 250.1 }), 'map'],
    ['glucose 0.5 mmol/L', glucose({ value: 0.5 }), null],
    ['glucose 45 mmol/L', glucose({ value: 45 }), null],
    ['glucose 0.49 mmol/L', glucose({ value: 0.49 }), 'value'],
    ['glucose 45.1 mmol/L', glucose({ value: 45.1 }), 'value'],
    ['glucose 0', glucose({ value: 0 }), 'value'],
    // Through other units: the ranges hold in stored units.
    ['systolic 300 mmHg sent in kPa', bp({ systolic: 300 / MMHG_PER_KPA, diastolic: 10, unit: 'kPa' }), null],
    ['systolic 40.01 kPa (300.1 mmHg)', bp({ systolic: 40.01, diastolic: 10, unit: 'kPa' }), 'systolic'],
    ['systolic 5.34 kPa (40.05 mmHg)', bp({ systolic: 5.34, diastolic: 3, unit: 'kPa' }), null],
    ['systolic 5.32 kPa (39.9 mmHg)', bp({ systolic: 5.32, diastolic: 3, unit: 'kPa' }), 'systolic'],
    ['diastolic 2.66 kPa (19.95 mmHg)', bp({ systolic: 16, diastolic: 2.66, unit: 'kPa' }), 'diastolic'],
    ['diastolic 26.67 kPa (200.04 mmHg)', bp({ systolic: 35, diastolic: 26.67, unit: 'kPa' }), 'diastolic'],
    ['map 33.34 kPa (250.07 mmHg)', bp({ systolic: 35, diastolic: 10, map: 33.34, unit: 'kPa' }), 'map'],
    ['diastolic equal to systolic in kPa', bp({ systolic: 16, diastolic: 16, unit: 'kPa' }), 'diastolic'],
    ['glucose 9.008 mg/dL (0.5 mmol/L)', glucose({ value: 9.008, unit: 'mg/dL' }), null],
    ['glucose 9 mg/dL (0.4996 mmol/L)', glucose({ value: 9, unit: 'mg/dL' }), 'value'],
    ['glucose 810 mg/dL (44.96 mmol/L)', glucose({ value: 810, unit: 'mg/dL' }), null],
    ['glucose 811 mg/dL (45.016 mmol/L)', glucose({ value: 811, unit: 'mg/dL' }), 'value'],
  ];

  it.each(cases)('%s', (_name, reading, field) => {
    const outcome = check(reading);
    if (field === null) {
      accepted(outcome);
    } else {
      expect(refused(outcome)).toMatchObject({ id: 'r1', code: 'out_of_range', field });
    }
  });

  // 810.72 / 18.016 is 45.00000000000001 in floating point: the range check compares at a micro-unit.
  it('accepts glucose 810.72 mg/dL, which is exactly 45 mmol/L', () => {
    accepted(check(glucose({ value: 810.72, unit: 'mg/dL' })));
  });

  it('names the value, the unit and the range in the detail', () => {
    expect(refused(check(bp({ systolic: 300.1 }))).detail).toBe('systolic 300.1 mmHg is outside 40–300 mmHg');
    expect(refused(check(glucose({ value: 811, unit: 'mg/dL' }))).detail).toBe('value 811 mg/dL is outside 9.01–810.72 mg/dL (0.5–45 mmol/L)');
    expect(refused(check(bp({ pulse: 251 }))).detail).toBe('pulse 251 bpm is outside 20–250 bpm');
  });

  it('speaks the sender\'s unit: 9 mg/dL is not "0.5 mmol/L outside 0.5–45 mmol/L"', () => {
    expect(refused(check(glucose({ value: 9, unit: 'mg/dL' }))).detail).toBe('value 9 mg/dL is outside 9.01–810.72 mg/dL (0.5–45 mmol/L)');
    expect(refused(check(bp({ systolic: 41, diastolic: 10, unit: 'kPa' }))).detail).toBe('systolic 41 kPa is outside 5.33–40 kPa (40–300 mmHg)');
  });

  it('names the units a type takes when the unit is unknown', () => {
    expect(refused(check(bp({ unit: 'psi' }))).detail).toBe('unit must be one of mmHg, kPa');
    expect(refused(check(glucose({ unit: 'mmol' }))).detail).toBe('unit must be one of mmol/L, mg/dL');
  });
});

describe('unit conversion of accepted readings', () => {
  it('stores blood pressure in mmHg and remembers the source unit', () => {
    const r = accepted(check(bp({ systolic: 16, diastolic: 10.5, map: 12, pulse: 70, unit: 'kPa' })));
    expect(r.values.systolic).toBeCloseTo(16 * 7.50062, 9);
    expect(r.values.diastolic).toBeCloseTo(10.5 * 7.50062, 9);
    expect(r.values.map).toBeCloseTo(12 * 7.50062, 9);
    expect(r.values.pulse).toBe(70); // bpm, never converted
    expect(r.values.sourceUnit).toBe('kPa');
  });

  it('stores mmHg as sent, without a source unit', () => {
    const r = accepted(check(bp({ pulse: 72, irregularPulse: true })));
    expect(r.values).toEqual({ systolic: 120, diastolic: 80, pulse: 72, irregularPulse: true });
  });

  it('stores glucose in mmol/L and remembers the source unit', () => {
    const r = accepted(check(glucose({ value: 108, unit: 'mg/dL', context: 'fasting' })));
    expect(r.values.value).toBeCloseTo(108 / 18.016, 9);
    expect(r.values.sourceUnit).toBe('mg/dL');
    expect(r.values.context).toBe('fasting');
  });

  it('stores mmol/L as sent, without a source unit', () => {
    expect(accepted(check(glucose({ value: 5.6 }))).values).toEqual({ value: 5.6 });
  });

  it.each([
    ['pressure in cmHg', bp({ unit: 'cmHg' })],
    ['pressure in mmhg (case matters)', bp({ unit: 'mmhg' })],
    ['pressure without unit text', bp({ unit: 1 })],
    ['glucose in mg/dl (case matters)', glucose({ unit: 'mg/dl' })],
    ['glucose in mmHg', glucose({ unit: 'mmHg' })],
  ])('refuses %s as unknown_unit', (_name, reading) => {
    expect(refused(check(reading))).toMatchObject({ id: 'r1', code: 'unknown_unit', field: 'unit' });
  });
});

describe('ts', () => {
  const at = (ts: unknown) => check(heartbeat({ ts }));

  it.each([
    ['RFC 3339 with Z', '2024-06-01T11:00:00Z', NOW - 3600_000],
    ['RFC 3339 with lower-case z', '2024-06-01t11:00:00z', NOW - 3600_000],
    ['RFC 3339 with +08:00', '2024-06-01T19:00:00+08:00', NOW - 3600_000],
    ['RFC 3339 with -05:00', '2024-06-01T06:00:00-05:00', NOW - 3600_000],
    ['RFC 3339 with a space for T', '2024-06-01 11:00:00Z', NOW - 3600_000],
    ['fractional seconds', '2024-06-01T11:00:00.250Z', NOW - 3600_000 + 250],
    ['one fractional digit', '2024-06-01T11:00:00.5+08:00', NOW - 9 * 3600_000 + 500],
    ['nanoseconds', '2024-06-01T11:00:00.123456789Z', NOW - 3600_000 + 123],
    ['epoch ms', NOW - 1234, NOW - 1234],
  ])('accepts %s', (_name, ts, expected) => {
    expect(accepted(at(ts)).ts).toBe(expected);
  });

  it.each([
    ['without an offset', '2024-06-01T11:00:00'],
    ['a date only', '2024-06-01'],
    ['a time only', '11:00:00Z'],
    ['words', 'yesterday'],
    ['an offset without colon', '2024-06-01T11:00:00+0800'],
    ['month 13', '2024-13-01T11:00:00Z'],
    ['minute 60', '2024-06-01T11:60:00Z'],
    ['epoch ms as text', String(NOW)],
    ['an empty string', ''],
    ['a negative epoch', -1],
    ['epoch 0', 0],
  ])('refuses %s as ts_invalid', (_name, ts) => {
    expect(refused(at(ts))).toMatchObject({ id: 'r1', code: 'ts_invalid', field: 'ts' });
  });

  it.each([
    ['a float epoch', NOW + 0.5],
    ['a boolean', true],
    ['null', null],
    ['an object', { ms: NOW }],
  ])('refuses %s as invalid_field', (_name, ts) => {
    expect(refused(at(ts))).toMatchObject({ id: 'r1', code: 'invalid_field', field: 'ts' });
  });

  // Date.parse alone would roll 30 February over to 1 March and store another day.
  it('refuses an impossible calendar date (30 February)', () => {
    refused(at('2024-02-30T12:00:00Z'));
  });

  it.each([
    ['exactly 5 min ahead', NOW + MAX_FUTURE_MS, null],
    ['5 min + 1 ms ahead', NOW + MAX_FUTURE_MS + 1, 'ts_future'],
    ['5 min ahead as RFC 3339', '2024-06-01T20:05:00+08:00', null],
    ['5 min + 1 ms ahead as RFC 3339', '2024-06-01T12:05:00.001Z', 'ts_future'],
    ['exactly 365 days old', NOW - MAX_AGE_MS, null],
    ['365 days + 1 ms old', NOW - MAX_AGE_MS - 1, 'ts_too_old'],
    ['365 days old as RFC 3339', '2023-06-02T12:00:00Z', null],
    ['366 days old as RFC 3339', '2023-06-01T12:00:00Z', 'ts_too_old'],
    ['epoch seconds mistaken for ms', Math.floor(NOW / 1000), 'ts_too_old'],
  ])('%s', (_name, ts, code) => {
    if (code === null) accepted(at(ts));
    else expect(refused(at(ts))).toMatchObject({ id: 'r1', code, field: 'ts' });
  });

  it('has the limits of SPEC §3', () => {
    expect(MAX_FUTURE_MS).toBe(5 * 60 * 1000);
    expect(MAX_AGE_MS).toBe(365 * 24 * 60 * 60 * 1000);
  });
});

describe('fields per reading type', () => {
  const base = { id: 'r1', ts: NOW };
  const ok: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['blood_pressure, minimal', bp(), { systolic: 120, diastolic: 80 }],
    ['blood_pressure, every field', bp({ map: 93, pulse: 64, irregularPulse: false }), { systolic: 120, diastolic: 80, map: 93, pulse: 64, irregularPulse: false }],
    ['glucose, minimal', glucose(), { value: 5.6 }],
    ...GLUCOSE_CONTEXTS.map((context): [string, Record<string, unknown>, Record<string, unknown>] =>
      [`glucose, context ${context}`, glucose({ context }), { value: 5.6, context }]),
    ['fall, minimal', { ...base, type: 'fall' }, {}],
    ['fall, confidence 0', { ...base, type: 'fall', confidence: 0 }, { confidence: 0 }],
    ['fall, every field', { ...base, type: 'fall', confidence: 1, location: 'bathroom', recovered: true }, { confidence: 1, location: 'bathroom', recovered: true }],
    ['sos, minimal', { ...base, type: 'sos' }, {}],
    ['sos, location', { ...base, type: 'sos', location: 'bedroom' }, { location: 'bedroom' }],
    ['heartbeat, minimal', heartbeat(), {}],
    ['heartbeat, battery 0 and rssi -150', heartbeat({ battery: 0, rssi: -150 }), { battery: 0, rssi: -150 }],
    ['heartbeat, battery 100 and rssi 20', heartbeat({ battery: 100, rssi: 20 }), { battery: 100, rssi: 20 }],
    ['motion, minimal', { ...base, type: 'motion' }, {}],
    ['motion, location', { ...base, type: 'motion', location: 'kitchen' }, { location: 'kitchen' }],
    ['a gateway-corrected clock', heartbeat({ clockUnreliable: true }), { clockUnreliable: true }],
    ['unknown extra fields, which are not stored', heartbeat({ vendor: 'acme', battery: 50 }), { battery: 50 }],
  ];

  it.each(ok)('accepts %s', (_name, reading, values) => {
    const r = accepted(check(reading));
    expect(r).toEqual({
      homeId: 'h1',
      deviceId: 'd1',
      residentId: null,
      id: 'r1',
      type: reading.type,
      ts: NOW,
      receivedAt: NOW,
      values,
    });
  });

  const bad: [string, unknown, { code: string; field?: string; id?: string }][] = [
    ['type missing', { id: 'r1', ts: NOW }, { code: 'missing_field', field: 'type', id: 'r1' }],
    ['type unknown', heartbeat({ type: 'temperature' }), { code: 'unknown_type', field: 'type', id: 'r1' }],
    ['type not a string', heartbeat({ type: 7 }), { code: 'unknown_type', field: 'type', id: 'r1' }],
    ['type in capitals', heartbeat({ type: 'HEARTBEAT' }), { code: 'unknown_type', field: 'type', id: 'r1' }],
    ['id missing', { type: 'heartbeat', ts: NOW }, { code: 'missing_field', field: 'id' }],
    ['id empty', heartbeat({ id: '' }), { code: 'invalid_field', field: 'id', id: '' }],
    ['id of 65 characters', heartbeat({ id: 'x'.repeat(65) }), { code: 'invalid_field', field: 'id', id: 'x'.repeat(65) }],
    ['id a number', heartbeat({ id: 7 }), { code: 'invalid_field', field: 'id' }],
    ['ts missing', { type: 'heartbeat', id: 'r1' }, { code: 'missing_field', field: 'ts', id: 'r1' }],
    ['residentId empty', heartbeat({ residentId: '' }), { code: 'invalid_field', field: 'residentId', id: 'r1' }],
    ['clockUnreliable not a boolean', heartbeat({ clockUnreliable: 'yes' }), { code: 'invalid_field', field: 'clockUnreliable', id: 'r1' }],
    ['systolic missing', bp({ systolic: undefined }), { code: 'missing_field', field: 'systolic', id: 'r1' }],
    ['diastolic missing', bp({ diastolic: undefined }), { code: 'missing_field', field: 'diastolic', id: 'r1' }],
    ['pressure unit missing', bp({ unit: undefined }), { code: 'missing_field', field: 'unit', id: 'r1' }],
    ['systolic as text', bp({ systolic: '120' }), { code: 'invalid_field', field: 'systolic', id: 'r1' }],
    ['pulse as text', bp({ pulse: '70' }), { code: 'invalid_field', field: 'pulse', id: 'r1' }],
    ['irregularPulse not a boolean', bp({ irregularPulse: 1 }), { code: 'invalid_field', field: 'irregularPulse', id: 'r1' }],
    ['glucose value missing', glucose({ value: undefined }), { code: 'missing_field', field: 'value', id: 'r1' }],
    ['glucose unit missing', glucose({ unit: undefined }), { code: 'missing_field', field: 'unit', id: 'r1' }],
    ['glucose context unknown', glucose({ context: 'lunch' }), { code: 'invalid_field', field: 'context', id: 'r1' }],
    ['fall confidence -0.01', { id: 'r1', ts: NOW, type: 'fall', confidence: -0.01 }, { code: 'out_of_range', field: 'confidence', id: 'r1' }],
    ['fall confidence 1.01', { id: 'r1', ts: NOW, type: 'fall', confidence: 1.01 }, { code: 'out_of_range', field: 'confidence', id: 'r1' }],
    ['fall confidence as text', { id: 'r1', ts: NOW, type: 'fall', confidence: 'high' }, { code: 'invalid_field', field: 'confidence', id: 'r1' }],
    ['fall recovered not a boolean', { id: 'r1', ts: NOW, type: 'fall', recovered: 'yes' }, { code: 'invalid_field', field: 'recovered', id: 'r1' }],
    ['fall location of 65 characters', { id: 'r1', ts: NOW, type: 'fall', location: 'x'.repeat(65) }, { code: 'invalid_field', field: 'location', id: 'r1' }],
    ['sos location not text', { id: 'r1', ts: NOW, type: 'sos', location: 3 }, { code: 'invalid_field', field: 'location', id: 'r1' }],
    ['motion location not text', { id: 'r1', ts: NOW, type: 'motion', location: false }, { code: 'invalid_field', field: 'location', id: 'r1' }],
    ['heartbeat battery -1', heartbeat({ battery: -1 }), { code: 'out_of_range', field: 'battery', id: 'r1' }],
    ['heartbeat battery 101', heartbeat({ battery: 101 }), { code: 'out_of_range', field: 'battery', id: 'r1' }],
    ['heartbeat rssi not an integer', heartbeat({ rssi: -70.5 }), { code: 'invalid_field', field: 'rssi', id: 'r1' }],
    ['heartbeat rssi -151', heartbeat({ rssi: -151 }), { code: 'out_of_range', field: 'rssi', id: 'r1' }],
    ['heartbeat rssi 21', heartbeat({ rssi: 21 }), { code: 'out_of_range', field: 'rssi', id: 'r1' }],
  ];

  it.each(bad)('refuses %s', (_name, reading, expected) => {
    const r = refused(check(reading));
    expect({ code: r.code, field: r.field, id: r.id }).toEqual(expected);
    expect(r.detail).toMatch(new RegExp(`^${expected.field} `));
  });

  it('passes residentId through, and leaves it null when absent', () => {
    expect(accepted(check(bp({ residentId: 'r-0002' }))).residentId).toBe('r-0002');
    expect(accepted(check(bp())).residentId).toBeNull();
  });

  it('takes home and device from the topic, not from the payload', () => {
    const r = accepted(validateReading(heartbeat({ homeId: 'other', deviceId: 'other' }), { homeId: 'h7', deviceId: 'd7' }, NOW));
    expect(r).toMatchObject({ homeId: 'h7', deviceId: 'd7' });
  });

  it.each([
    ['null', null],
    ['an array', [bp()]],
    ['a string', 'blood_pressure'],
    ['a number', 120],
    ['a boolean', true],
  ])('refuses %s as not_object', (_name, doc) => {
    expect(refused(check(doc))).toEqual({ code: 'not_object', detail: 'a reading must be a JSON object' });
  });
});

describe('parseTelemetry', () => {
  const json = (v: unknown) => JSON.stringify(v);

  it('parses one reading', () => {
    const out = parse(json(bp()));
    expect(out).toHaveLength(1);
    expect(accepted(out[0]!).values).toEqual({ systolic: 120, diastolic: 80 });
  });

  it.each([
    ['truncated JSON', '{"type":"heartbeat"'],
    ['an empty payload', ''],
    ['plain text', 'systolic=120'],
    ['single quotes', "{'type':'heartbeat'}"],
  ])('refuses %s as invalid_json', (_name, text) => {
    const out = parse(text);
    expect(out).toHaveLength(1);
    expect(refused(out[0]!)).toMatchObject({ code: 'invalid_json' });
    expect(refused(out[0]!).id).toBeUndefined();
  });

  it.each([
    ['null', 'null'],
    ['a number', '42'],
    ['a string', '"hello"'],
  ])('refuses %s as not_object', (_name, text) => {
    expect(parse(text).map((o) => refused(o).code)).toEqual(['not_object']);
  });

  it.each([
    ['systolic', `{"type":"blood_pressure","id":"r1","ts":${NOW},"systolic":1e400,"diastolic":80,"unit":"mmHg"}`],
    ['diastolic', `{"type":"blood_pressure","id":"r1","ts":${NOW},"systolic":120,"diastolic":-1e400,"unit":"mmHg"}`],
    ['pulse', `{"type":"blood_pressure","id":"r1","ts":${NOW},"systolic":120,"diastolic":80,"pulse":1e400,"unit":"mmHg"}`],
    ['value', `{"type":"glucose","id":"r1","ts":${NOW},"value":1e400,"unit":"mmol/L"}`],
    ['ts', `{"type":"heartbeat","id":"r1","ts":1e400}`],
  ])('refuses an infinite %s (1e400) as invalid_field', (field, text) => {
    expect(parse(text).map(refused)).toEqual([{ id: 'r1', code: 'invalid_field', field, detail: `${field} is not a finite number` }]);
  });

  it(`accepts a batch of ${MAX_BATCH_READINGS}`, () => {
    const batch = Array.from({ length: 500 }, (_, i) => heartbeat({ id: `r${i}` }));
    const out = parse(json(batch));
    expect(out).toHaveLength(500);
    expect(out.map((o) => accepted(o).id)).toEqual(batch.map((r) => r.id));
  });

  it('refuses a batch of 501 with a single batch_too_large', () => {
    const batch = Array.from({ length: 501 }, (_, i) => heartbeat({ id: `r${i}` }));
    const out = parse(json(batch));
    expect(out).toHaveLength(1);
    expect(refused(out[0]!)).toMatchObject({ code: 'batch_too_large' });
    expect(refused(out[0]!).id).toBeUndefined();
  });

  it('judges each element of a batch on its own and keeps its id', () => {
    const out = parse(json([
      bp({ id: 'a' }),
      bp({ id: 'b', systolic: 500 }),
      heartbeat({ id: 'c', ts: '2024-06-01T11:00:00' }),
      glucose({ id: 'd', unit: 'mg/dl' }),
      { id: 'e', ts: NOW, type: 'temperature' },
      { id: 'f', ts: NOW },
      heartbeat({ id: 'g', ts: NOW + MAX_FUTURE_MS + 1 }),
      heartbeat({ id: 'h' }),
    ]));
    expect(out.map((o) => (o.ok ? { ok: o.reading.id } : { id: o.refusal.id, code: o.refusal.code }))).toEqual([
      { ok: 'a' },
      { id: 'b', code: 'out_of_range' },
      { id: 'c', code: 'ts_invalid' },
      { id: 'd', code: 'unknown_unit' },
      { id: 'e', code: 'unknown_type' },
      { id: 'f', code: 'missing_field' },
      { id: 'g', code: 'ts_future' },
      { ok: 'h' },
    ]);
  });

  it('refuses non-object elements of a batch one by one', () => {
    const out = parse(json([heartbeat({ id: 'a' }), 1, null, 'x', [heartbeat()], heartbeat({ id: 'b' })]));
    expect(out.map((o) => (o.ok ? o.reading.id : o.refusal.code))).toEqual(['a', 'not_object', 'not_object', 'not_object', 'not_object', 'b']);
  });

  it('answers an empty batch with nothing', () => {
    expect(parse('[]')).toEqual([]);
  });

  /** A heartbeat padded with an unknown field to exactly `bytes` bytes of JSON. */
  function readingOfBytes(bytes: number, id = 'big'): Record<string, unknown> {
    const r: Record<string, unknown> = heartbeat({ id, pad: '' });
    r.pad = 'x'.repeat(bytes - Buffer.byteLength(json(r)));
    expect(Buffer.byteLength(json(r))).toBe(bytes);
    return r;
  }

  it(`accepts a single reading of exactly ${MAX_READING_BYTES} bytes`, () => {
    accepted(parse(json(readingOfBytes(MAX_READING_BYTES)))[0]!);
  });

  it('refuses a single reading over 4 KiB as payload_too_large, naming its id', () => {
    const out = parse(json(readingOfBytes(MAX_READING_BYTES + 1)));
    expect(out).toHaveLength(1);
    expect(refused(out[0]!)).toMatchObject({ id: 'big', code: 'payload_too_large' });
  });

  it('counts bytes, not characters', () => {
    // 1366 CJK characters are 4098 bytes of UTF-8.
    const r = heartbeat({ id: 'cjk', pad: '跌'.repeat(1366) });
    expect(json(r).length).toBeLessThan(MAX_READING_BYTES);
    expect(refused(parse(json(r))[0]!)).toMatchObject({ id: 'cjk', code: 'payload_too_large' });
  });

  it('refuses an oversized element of a batch alone, naming its id', () => {
    const out = parse(json([heartbeat({ id: 'a' }), readingOfBytes(MAX_READING_BYTES + 1, 'big'), readingOfBytes(MAX_READING_BYTES, 'fits')]));
    expect(out.map((o) => (o.ok ? { ok: o.reading.id } : { id: o.refusal.id, code: o.refusal.code }))).toEqual([
      { ok: 'a' },
      { id: 'big', code: 'payload_too_large' },
      { ok: 'fits' },
    ]);
  });

  it('refuses a payload larger than a full batch can be without parsing it', () => {
    const huge = Buffer.alloc(MAX_READING_BYTES * MAX_BATCH_READINGS + 1, 0x20);
    const out = parse(huge);
    expect(out).toHaveLength(1);
    expect(refused(out[0]!)).toMatchObject({ code: 'payload_too_large' });
    expect(refused(out[0]!).id).toBeUndefined();
  });
});
