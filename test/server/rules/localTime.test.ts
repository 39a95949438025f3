/** Wall-clock arithmetic in explicit zones, and honest rounding of shown values. */
import { describe, expect, it } from 'vitest';
import { addDays, localDateTime, minutesOfDay, startOfLocalDay, zonedInstant } from '../../../server/rules/localTime.js';
import { formatValue, limit } from '../../../server/rules/ruleText.js';

describe('zonedInstant', () => {
  it.each([
    { tz: 'Asia/Shanghai', date: '2025-06-10', hhmm: '10:00', iso: '2025-06-10T02:00:00Z' },
    { tz: 'Europe/Berlin', date: '2025-03-29', hhmm: '07:00', iso: '2025-03-29T06:00:00Z' },
    { tz: 'Europe/Berlin', date: '2025-03-30', hhmm: '07:00', iso: '2025-03-30T05:00:00Z' },
    { tz: 'Europe/Berlin', date: '2025-03-30', hhmm: '01:59', iso: '2025-03-30T00:59:00Z' },
    // Skipped by spring-forward: the same wall time after the jump, 03:30 CEST.
    { tz: 'Europe/Berlin', date: '2025-03-30', hhmm: '02:30', iso: '2025-03-30T01:30:00Z' },
    // Shown twice by fall-back: the first one, 02:30 CEST.
    { tz: 'Europe/Berlin', date: '2025-10-26', hhmm: '02:30', iso: '2025-10-26T00:30:00Z' },
    { tz: 'Europe/Berlin', date: '2025-10-26', hhmm: '07:00', iso: '2025-10-26T06:00:00Z' },
    { tz: 'America/New_York', date: '2025-03-09', hhmm: '07:00', iso: '2025-03-09T11:00:00Z' },
  ])('$hhmm on $date in $tz is $iso', ({ tz, date, hhmm, iso }) => {
    const [year, month, day] = date.split('-').map(Number) as [number, number, number];
    expect(new Date(zonedInstant({ year, month, day }, minutesOfDay(hhmm), tz)).toISOString()).toBe(new Date(iso).toISOString());
  });

  it('knows the start of a local day and the day after month ends', () => {
    expect(startOfLocalDay({ year: 2025, month: 6, day: 10 }, 'Asia/Shanghai')).toBe(Date.parse('2025-06-09T16:00:00Z'));
    expect(addDays({ year: 2024, month: 2, day: 28 }, 1)).toEqual({ year: 2024, month: 2, day: 29 });
    expect(addDays({ year: 2025, month: 1, day: 1 }, -1)).toEqual({ year: 2024, month: 12, day: 31 });
    expect(localDateTime(Date.parse('2025-06-09T16:00:00Z'), 'Asia/Shanghai')).toEqual({ year: 2025, month: 6, day: 10, hour: 0, minute: 0, second: 0 });
  });

  it.each(['7:00', '24:00', '12:60', '', '12:00:00'])('refuses time of day %j', (s) => {
    expect(() => minutesOfDay(s)).toThrow(RangeError);
  });
});

describe('formatValue: rounded, never onto the wrong side of the threshold', () => {
  it.each([
    { v: 182.4, d: 0, at: 180, shown: '182' },
    { v: 179.99, d: 0, at: 180, shown: '179.99' },
    { v: 180, d: 0, at: 180, shown: '180' },
    { v: 180.01488, d: 0, at: 180, shown: '180.01' },
    { v: 89.996, d: 0, at: 90, shown: '89.996' },
    { v: 3.85, d: 1, at: 3.9, shown: '3.85' },
    { v: 16.71, d: 1, at: 16.7, shown: '16.71' },
    { v: 2.84, d: 1, at: 3.0, shown: '2.8' },
    { v: 179.6, d: 0, at: undefined, shown: '180' },
  ])('$v (threshold $at) → $shown', ({ v, d, at, shown }) => {
    expect(formatValue(v, d, at)).toBe(shown);
  });

  it('shows thresholds without noise', () => {
    expect(limit(180)).toBe('180');
    expect(limit(3, 1)).toBe('3.0');
    expect(limit(3.95, 1)).toBe('3.95');
    expect(limit(0.1 + 0.2)).toBe('0.3');
  });
});
