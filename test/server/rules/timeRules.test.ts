/**
 * Time rules (SPEC §4) at explicit instants, in explicit zones: device and
 * gateway silence, daytime inactivity across midnight and DST, missed
 * scheduled measurements.
 */
import { describe, expect, it } from 'vitest';
import { DEVICE_TYPES } from '../../../devices/deviceTypes.js';
import { DEFAULT_RULE_CONFIG, loadRuleConfig } from '../../../server/rules/ruleConfig.js';
import {
  MAX_COUNTED_DAYS, daytimeMsBetween, deviceOffline, gatewayOffline, missedDays, noActivity, readingMissed,
} from '../../../server/rules/timeRules.js';
import { HOUR, MINUTE } from './ruleFixtures.js';

const C = DEFAULT_RULE_CONFIG;
const at = (iso: string) => Date.parse(iso);
const SH = 'Asia/Shanghai';
const BER = 'Europe/Berlin';

describe('device_offline: no message for 3 heartbeat intervals', () => {
  const LAST = at('2025-06-10T08:00:00+08:00');
  const EXPECTED = { bp_cuff: 'info', glucose_meter: 'info', fall_sensor: 'urgent', sos_button: 'urgent', motion_sensor: 'info' } as const;

  it.each(DEVICE_TYPES.flatMap((deviceType) => [
    { deviceType, silentMs: 15 * MINUTE - 1, severity: null },
    { deviceType, silentMs: 15 * MINUTE, severity: EXPECTED[deviceType] },
    { deviceType, silentMs: 3 * HOUR, severity: EXPECTED[deviceType] },
  ]))('$deviceType silent $silentMs ms → $severity', ({ deviceType, silentMs, severity }) => {
    const m = deviceOffline({ deviceType, heartbeatSeconds: null, lastSeenAt: LAST, now: LAST + silentMs }, C);
    expect(m?.severity ?? null).toBe(severity);
  });

  it.each([
    { heartbeatSeconds: 60, notYet: 3 * MINUTE - 1, raised: 3 * MINUTE },
    { heartbeatSeconds: 600, notYet: 30 * MINUTE - 1, raised: 30 * MINUTE },
    // No usable interval of its own: the default, 5 min.
    { heartbeatSeconds: null, notYet: 15 * MINUTE - 1, raised: 15 * MINUTE },
    { heartbeatSeconds: 0, notYet: 15 * MINUTE - 1, raised: 15 * MINUTE },
  ])('heartbeat $heartbeatSeconds s: raised at $raised ms, not at $notYet', ({ heartbeatSeconds, notYet, raised }) => {
    const input = { deviceType: 'bp_cuff' as const, heartbeatSeconds, lastSeenAt: LAST };
    expect(deviceOffline({ ...input, now: LAST + notYet }, C)).toBeNull();
    expect(deviceOffline({ ...input, now: LAST + raised }, C)?.rule).toBe('device_offline');
  });

  it('says which device and for how long', () => {
    const m = deviceOffline({ deviceType: 'sos_button', heartbeatSeconds: null, lastSeenAt: LAST, now: LAST + 20 * MINUTE }, C)!;
    expect(m.title).toEqual({ 'zh-CN': '紧急呼叫按钮离线', en: 'SOS pendant offline' });
    expect(m.explanation.en).toBe('No message for 20 min (≥ 3 heartbeat intervals of 5 min); a fall or a call may go unheard, contact the home');
  });

  it('follows the configured device list', () => {
    const c = loadRuleConfig({ rules: { device_offline: { lifeSafetyDeviceTypes: ['fall_sensor', 'sos_button', 'motion_sensor'] } } });
    expect(deviceOffline({ deviceType: 'motion_sensor', heartbeatSeconds: null, lastSeenAt: LAST, now: LAST + HOUR }, c)?.severity).toBe('urgent');
  });
});

describe('gateway_offline: offline for 10 min', () => {
  const SINCE = at('2025-06-10T08:00:00+08:00');
  it.each([
    { offlineSince: null, now: SINCE + HOUR, severity: null },
    { offlineSince: SINCE, now: SINCE + 10 * MINUTE - 1, severity: null },
    { offlineSince: SINCE, now: SINCE + 10 * MINUTE, severity: 'urgent' },
    { offlineSince: SINCE, now: SINCE + 2 * HOUR, severity: 'urgent' },
  ])('offline since $offlineSince, now $now → $severity', ({ offlineSince, now, severity }) => {
    expect(gatewayOffline({ offlineSince, now }, C)?.severity ?? null).toBe(severity);
  });

  it('says for how long', () => {
    expect(gatewayOffline({ offlineSince: SINCE, now: SINCE + 2 * HOUR }, C)!.explanation['zh-CN']).toMatch(/^网关已离线 2 小时（≥ 10 分钟）/);
  });
});

describe('daytimeMsBetween 07:00–22:00', () => {
  it.each([
    { name: 'inside one day', tz: SH, from: '2025-06-10T08:00:00+08:00', to: '2025-06-10T10:00:00+08:00', hours: 2 },
    { name: 'from before the window', tz: SH, from: '2025-06-10T05:00:00+08:00', to: '2025-06-10T08:00:00+08:00', hours: 1 },
    { name: 'night only', tz: SH, from: '2025-06-09T22:30:00+08:00', to: '2025-06-10T06:30:00+08:00', hours: 0 },
    { name: 'across midnight', tz: SH, from: '2025-06-09T21:00:00+08:00', to: '2025-06-10T08:00:00+08:00', hours: 2 },
    { name: 'several days', tz: SH, from: '2025-06-07T12:00:00+08:00', to: '2025-06-10T12:00:00+08:00', hours: 10 + 15 + 15 + 5 },
    { name: 'backwards', tz: SH, from: '2025-06-10T12:00:00+08:00', to: '2025-06-10T10:00:00+08:00', hours: 0 },
    // The DST days are 23 and 25 hours long; their daytime is still 07:00–22:00 on the clock.
    { name: 'Berlin spring-forward day', tz: BER, from: '2025-03-30T00:00:00+01:00', to: '2025-03-31T00:00:00+02:00', hours: 15 },
    { name: 'Berlin fall-back day', tz: BER, from: '2025-10-26T00:00:00+02:00', to: '2025-10-27T00:00:00+01:00', hours: 15 },
    { name: 'Berlin, 06:00–08:00 CEST on the spring-forward day', tz: BER, from: '2025-03-30T06:00:00+02:00', to: '2025-03-30T08:00:00+02:00', hours: 1 },
    { name: 'the same instants in Shanghai', tz: SH, from: '2025-03-30T06:00:00+02:00', to: '2025-03-30T08:00:00+02:00', hours: 2 },
  ])('$name → $hours h', ({ tz, from, to, hours }) => {
    expect(daytimeMsBetween(at(from), at(to), tz, '07:00', '22:00')).toBe(hours * HOUR);
  });

  it('refuses a window that ends before it starts, or a bad time', () => {
    expect(() => daytimeMsBetween(0, HOUR, SH, '22:00', '07:00')).toThrow(RangeError);
    expect(() => daytimeMsBetween(0, HOUR, SH, '7am', '22:00')).toThrow(RangeError);
  });
});

describe('no_activity: 12 h without motion between 07:00 and 22:00 local', () => {
  it.each([
    // 21:00–22:00 (1 h), then 07:00–18:00 the next day (11 h).
    { name: 'Shanghai, across midnight', tz: SH, last: '2025-06-09T21:00:00+08:00', raisedAt: '2025-06-10T18:00:00+08:00' },
    // 20:00–22:00 CET (2 h), then from 07:00 CEST, which came an hour early in UTC, 10 h: 17:00 CEST.
    { name: 'Berlin, across spring-forward', tz: BER, last: '2025-03-29T20:00:00+01:00', raisedAt: '2025-03-30T17:00:00+02:00' },
    // The same last motion is 03:00 on the 30th in Shanghai: 07:00–19:00.
    { name: 'Shanghai, same instant', tz: SH, last: '2025-03-29T20:00:00+01:00', raisedAt: '2025-03-30T19:00:00+08:00' },
    { name: 'Berlin, across fall-back', tz: BER, last: '2025-10-25T20:00:00+02:00', raisedAt: '2025-10-26T17:00:00+01:00' },
    { name: 'Shanghai, a night in between', tz: SH, last: '2025-06-09T23:30:00+08:00', raisedAt: '2025-06-10T19:00:00+08:00' },
  ])('$name: raised at $raisedAt, not 1 ms before', ({ tz, last, raisedAt }) => {
    const lastMotionAt = at(last);
    expect(noActivity({ lastMotionAt, now: at(raisedAt) - 1, tz }, C)).toBeNull();
    expect(noActivity({ lastMotionAt, now: at(raisedAt), tz }, C)).toMatchObject({ rule: 'no_activity', severity: 'urgent' });
  });

  it('the two zones disagree about the same instants', () => {
    const lastMotionAt = at('2025-03-29T19:00:00Z');
    const now = at('2025-03-30T14:30:00Z');
    expect(noActivity({ lastMotionAt, now, tz: BER }, C)).toBeNull();
    expect(noActivity({ lastMotionAt, now, tz: SH }, C)?.severity).toBe('urgent');
  });

  it('says how long and since when, in local time', () => {
    const m = noActivity({ lastMotionAt: at('2025-06-09T21:00:00+08:00'), now: at('2025-06-10T19:30:00+08:00'), tz: SH }, C)!;
    expect(m.explanation.en).toBe('No movement for 13 h of daytime (07:00–22:00, ≥ 12 h), last at 06-09 21:00; call the resident');
  });
});

describe('reading_missed: daily at 10:00, 2 h grace; doctor after 3 days', () => {
  const bpAt10 = { type: 'blood_pressure' as const, time: '10:00' };
  const sh = (local: string) => at(`2025-06-${local}+08:00`);

  it.each([
    { name: "today's slot in its grace period, yesterday measured", last: sh('09T09:00'), now: sh('10T11:59:59.999'), days: 0 },
    { name: "today's slot missed", last: sh('09T09:00'), now: sh('10T12:00'), days: 1 },
    { name: "yesterday's slot missed, today's has not come yet", last: sh('08T09:00'), now: sh('10T08:00'), days: 1 },
    { name: 'measured early today', last: sh('10T08:30'), now: sh('10T13:00'), days: 0 },
    { name: 'measured late today', last: sh('10T12:30'), now: sh('10T13:00'), days: 0 },
    { name: 'measured at local midnight today', last: sh('10T00:00'), now: sh('10T12:00'), days: 0 },
    { name: 'measured late last night: not today', last: sh('09T23:59:59.999'), now: sh('10T12:00'), days: 1 },
    { name: 'two days missed, today not yet', last: sh('07T09:00'), now: sh('10T11:00'), days: 2 },
    { name: 'three days missed', last: sh('07T09:00'), now: sh('10T12:00'), days: 3 },
    { name: 'four days missed', last: sh('07T09:00'), now: sh('11T12:00'), days: 4 },
    { name: 'measured on a later day ends the run', last: sh('09T15:00'), now: sh('10T12:00'), days: 1 },
  ])('$name → $days', ({ last, now, days }) => {
    const input = { schedule: bpAt10, lastReadingAt: last, now, tz: SH };
    expect(missedDays(input, C)).toBe(days);
    const m = readingMissed(input, C);
    expect(m?.severity ?? null).toBe(days === 0 ? null : days >= 3 ? 'warning' : 'info');
  });

  it.each([
    { name: 'schedule began before yesterday’s slot', since: sh('09T08:00'), days: 2 },
    { name: 'schedule began after yesterday’s slot', since: sh('09T11:00'), days: 1 },
    { name: 'schedule began after today’s slot', since: sh('10T11:00'), days: 0 },
  ])('never measured, $name → $days', ({ since, days }) => {
    expect(missedDays({ schedule: bpAt10, lastReadingAt: null, now: sh('10T12:00'), tz: SH, since }, C)).toBe(days);
  });

  it(`never measured and no start: counts up to ${MAX_COUNTED_DAYS} days`, () => {
    const m = readingMissed({ schedule: bpAt10, lastReadingAt: null, now: sh('10T12:00'), tz: SH }, C)!;
    expect(m.severity).toBe('warning');
    expect(m.title.en).toBe(`Blood pressure not measured for ${MAX_COUNTED_DAYS}+ days`);
  });

  it('places the slot on the local clock across DST (Berlin, 30 March 2025)', () => {
    const input = { schedule: bpAt10, lastReadingAt: at('2025-03-29T09:00:00+01:00'), tz: BER };
    // 10:00 CEST + 2 h = 10:00 UTC; on CET it would have been 11:00 UTC.
    expect(missedDays({ ...input, now: at('2025-03-30T10:00:00Z') - 1 }, C)).toBe(0);
    expect(missedDays({ ...input, now: at('2025-03-30T10:00:00Z') }, C)).toBe(1);
  });

  it('judges a slot whose grace runs past midnight by the day of the slot', () => {
    const input = { schedule: { type: 'blood_pressure' as const, time: '23:00' }, lastReadingAt: sh('09T23:10'), tz: SH };
    expect(missedDays({ ...input, now: sh('11T00:59:59.999') }, C)).toBe(0);
    expect(missedDays({ ...input, now: sh('11T01:00') }, C)).toBe(1);
  });

  it('follows the configured grace and escalation', () => {
    const c = loadRuleConfig({ rules: { reading_missed: { graceHours: 1, doctorAfterDays: 2 } } });
    const input = { schedule: bpAt10, lastReadingAt: sh('08T09:00'), tz: SH };
    expect(readingMissed({ ...input, now: sh('10T10:59') }, c)?.severity).toBe('info');
    expect(readingMissed({ ...input, now: sh('10T11:00') }, c)?.severity).toBe('warning');
  });

  it('reads as a reminder, then as a note for the doctor', () => {
    const one = readingMissed({ schedule: bpAt10, lastReadingAt: sh('09T09:00'), now: sh('10T12:00'), tz: SH }, C)!;
    expect(one.title).toEqual({ 'zh-CN': '未按时测量血压（10:00）', en: 'Blood pressure not measured (due 10:00)' });
    expect(one.explanation.en).toBe('The daily 10:00 blood pressure reading did not arrive within 2 h, last: 06-09 09:00; call to remind');
    const three = readingMissed({ schedule: { type: 'glucose', time: '07:30' }, lastReadingAt: sh('07T07:00'), now: sh('10T10:00'), tz: SH }, C)!;
    expect(three.title).toEqual({ 'zh-CN': '连续 3 天未测量血糖', en: 'Blood glucose not measured for 3 days' });
    expect(three.explanation['zh-CN']).toMatch(/；已连续 3 天（≥ 3 天），请医生查看$/);
  });

  it('refuses a time that is not HH:MM', () => {
    expect(() => missedDays({ schedule: { type: 'glucose', time: '25:00' }, lastReadingAt: null, now: 0, tz: SH }, C)).toThrow(RangeError);
  });
});
