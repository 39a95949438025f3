/** Device clock rules (SPEC §8): keep a sound device time, replace a plainly wrong one and say so. */
import { describe, expect, it } from 'vitest';
import { applyDeviceClock, deviceClock } from '../../devices/deviceClock.js';
import type { BloodPressureGattReading } from '../../devices/gatt/index.js';

const NOW = Date.parse('2024-06-01T12:00:00Z');
const RECEIVED = '2024-06-01T12:00:00.000Z';

describe('deviceClock', () => {
  it.each<[string, string | undefined, boolean]>([
    ['no usable device time (year, month or day unknown)', undefined, true],
    ['an hour ago, China Standard Time', '2024-06-01T19:00:00+08:00', false],
    ['an hour ago, UTC', '2024-06-01T11:00:00Z', false],
    ['a month ago', '2024-05-01T12:00:00+08:00', false],
    ['exactly 5 minutes ahead', '2024-06-01T20:05:00+08:00', false],
    ['5 minutes and 1 second ahead', '2024-06-01T20:05:01+08:00', true],
    ['a day ahead', '2024-06-02T12:00:00Z', true],
    ['the first instant of 2020', '2020-01-01T00:00:00+08:00', false],
    ['the last second of 2019', '2019-12-31T23:59:59+08:00', true],
    ['a reset clock, 2000-01-01', '2000-01-01T00:00:00+08:00', true],
    ['not RFC 3339 (no offset)', '2024-06-01T11:00:00', true],
    ['not a time', 'yesterday', true],
    ['month 13', '2024-13-01T00:00:00Z', true],
    ['30 February (Date.parse would roll it over)', '2024-02-30T00:00:00Z', true],
  ])('%s → unreliable %s', (_name, decoded, unreliable) => {
    expect(deviceClock(decoded, NOW)).toEqual(unreliable ? { ts: RECEIVED, clockUnreliable: true } : { ts: decoded, clockUnreliable: false });
  });
});

describe('applyDeviceClock', () => {
  const bp: BloodPressureGattReading = { type: 'blood_pressure', systolic: 120, diastolic: 80, unit: 'mmHg' };

  it.each<[string, BloodPressureGattReading, object]>([
    ['no time in the frame: measured as it arrived, unmarked', { ...bp }, { ...bp, ts: RECEIVED }],
    ['a sound device time: kept', { ...bp, ts: '2024-06-01T19:00:00+08:00' }, { ...bp, ts: '2024-06-01T19:00:00+08:00' }],
    ['a time stamp with year 0: receive time, marked', { ...bp, deviceTimeUnknown: true }, { ...bp, ts: RECEIVED, clockUnreliable: true }],
    ['a clock 2 hours ahead: receive time, marked', { ...bp, ts: '2024-06-01T22:00:00+08:00' }, { ...bp, ts: RECEIVED, clockUnreliable: true }],
    ['a clock in 2019: receive time, marked', { ...bp, ts: '2019-02-27T11:05:30+08:00' }, { ...bp, ts: RECEIVED, clockUnreliable: true }],
  ])('%s', (_name, reading, expected) => {
    expect(applyDeviceClock(reading, NOW)).toEqual(expected);
  });
});
