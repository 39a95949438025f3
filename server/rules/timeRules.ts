/**
 * Time rules (SPEC §4): judgements about silence — a device, a gateway, a home,
 * a scheduled measurement — at an explicit `now` in an explicit IANA zone.
 * Pure: the watchdog owns the clock, the last-seen times and the open alerts.
 */
import { DEVICE_TYPE_DEFINITIONS, type DeviceType } from '../../devices/deviceTypes.js';
import type { ReadingType } from '../../devices/readingSchema.js';
import { addDays, formatLocal, localDate, minutesOfDay, startOfLocalDay, zonedInstant } from './localTime.js';
import type { RuleConfig } from './ruleConfig.js';
import { READING_LABEL, duration, limit, neverConnectedText, text } from './ruleText.js';
import type { RuleMatch } from './types.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;

export interface DeviceOfflineInput {
  deviceType: DeviceType;
  /** The device's own heartbeat interval; null: the configured default. */
  heartbeatSeconds: number | null;
  /** Last message of any kind; pass the hub's start time when nothing was heard since, so a restart is not silence. */
  lastSeenAt: number;
  now: number;
  /** Set when the device was never heard from at all: the finding is an installation to check, and says so. */
  neverConnected?: NeverConnected;
}

/** A device or gateway provisioned but never heard from: when it was provisioned, shown in `tz`. */
export interface NeverConnected {
  provisionedAt: number;
  tz: string;
}

/**
 * Silent for at least `missedHeartbeats` × interval (exactly 3 intervals raises).
 * Fall sensors and SOS pendants (`lifeSafetyDeviceTypes`): urgent, because a
 * fall or a call would go unheard; other devices: info.
 */
export function deviceOffline(input: DeviceOfflineInput, config: RuleConfig): RuleMatch | null {
  const r = config.rules.device_offline;
  const intervalMs = (input.heartbeatSeconds && input.heartbeatSeconds > 0 ? input.heartbeatSeconds : r.defaultHeartbeatSeconds) * 1000;
  const silentMs = input.now - input.lastSeenAt;
  if (silentMs < r.missedHeartbeats * intervalMs) return null;
  const lifeSafety = r.lifeSafetyDeviceTypes.includes(input.deviceType);
  const label = DEVICE_TYPE_DEFINITIONS[input.deviceType]?.label ?? text(input.deviceType, input.deviceType);
  const severity = lifeSafety ? r.lifeSafetySeverity : r.severity;
  if (input.neverConnected) {
    const consequence = lifeSafety ? text('，跌倒或呼叫无法送达', ', so a fall or a call would go unheard') : text('', '');
    return { rule: 'device_offline', severity, ...neverConnectedText(label, formatLocal(input.neverConnected.provisionedAt, input.neverConnected.tz), consequence) };
  }
  const silent = duration(silentMs);
  const interval = duration(intervalMs);
  return {
    rule: 'device_offline',
    severity,
    title: text(`${label['zh-CN']}离线`, `${label.en} offline`),
    explanation: text(
      `${silent['zh-CN']}未收到消息（≥ ${r.missedHeartbeats} 个心跳间隔，每个 ${interval['zh-CN']}）${lifeSafety ? '；跌倒或呼叫可能无法送达，请联系家中' : '；请技术跟进'}`,
      `No message for ${silent.en} (≥ ${r.missedHeartbeats} heartbeat intervals of ${interval.en})${lifeSafety ? '; a fall or a call may go unheard, contact the home' : '; for technical follow-up'}`,
    ),
  };
}

/**
 * The home's gateway offline (last will or silence) for at least `minutes` → urgent: the whole home is unheard.
 * A gateway never heard from since it was provisioned (`neverConnected`) counts from then: the same
 * alert, worded as an installation for the installer to check rather than a home gone quiet.
 */
export function gatewayOffline(input: { offlineSince: number | null; now: number; neverConnected?: NeverConnected }, config: RuleConfig): RuleMatch | null {
  const r = config.rules.gateway_offline;
  if (input.offlineSince === null) return null;
  const offlineMs = input.now - input.offlineSince;
  if (offlineMs < r.minutes * MINUTE) return null;
  if (input.neverConnected) {
    const provisioned = formatLocal(input.neverConnected.provisionedAt, input.neverConnected.tz);
    const consequence = text('，家中所有设备的消息都无法送达', ', so nothing from this home reaches us');
    return { rule: 'gateway_offline', severity: r.severity, ...neverConnectedText(text('家庭网关', 'Home gateway'), provisioned, consequence) };
  }
  const d = duration(offlineMs);
  return {
    rule: 'gateway_offline',
    severity: r.severity,
    title: text('家庭网关离线', 'Home gateway offline'),
    explanation: text(
      `网关已离线 ${d['zh-CN']}（≥ ${limit(r.minutes)} 分钟）：家中所有设备的消息都无法送达，请电话联系`,
      `Gateway offline for ${d.en} (≥ ${limit(r.minutes)} min): nothing from this home reaches us, call the resident`,
    ),
  };
}

/**
 * Milliseconds of the interval [from, to] that fall between `dayStart` and
 * `dayEnd` (HH:MM) local time in `tz`, over as many days as it spans. Each
 * day's window is placed by the wall clock of that day, so a DST change moves
 * it with the clock (07:00 is 07:00 the morning after spring-forward).
 */
export function daytimeMsBetween(from: number, to: number, tz: string, dayStart: string, dayEnd: string): number {
  const startMin = minutesOfDay(dayStart);
  const endMin = minutesOfDay(dayEnd);
  if (endMin <= startMin) throw new RangeError(`dayEnd ${dayEnd} must be after dayStart ${dayStart}`);
  if (!(to > from)) return 0;
  let total = 0;
  const last = localDate(to, tz);
  for (let day = localDate(from, tz); ; day = addDays(day, 1)) {
    const s = zonedInstant(day, startMin, tz);
    const e = zonedInstant(day, endMin, tz);
    total += Math.max(0, Math.min(e, to) - Math.max(s, from));
    if (day.year === last.year && day.month === last.month && day.day === last.day) return total;
  }
}

/**
 * A home with motion sensors (the watchdog decides which) has reported no
 * motion for at least `hours` counted only between `dayStart` and `dayEnd`
 * local time → urgent. Night hours neither count nor reset the count.
 */
export function noActivity(input: { lastMotionAt: number; now: number; tz: string }, config: RuleConfig): RuleMatch | null {
  const r = config.rules.no_activity;
  const quietMs = daytimeMsBetween(input.lastMotionAt, input.now, input.tz, r.dayStart, r.dayEnd);
  if (quietMs < r.hours * HOUR) return null;
  const d = duration(quietMs);
  const last = formatLocal(input.lastMotionAt, input.tz);
  return {
    rule: 'no_activity',
    severity: r.severity,
    title: text('长时间无活动', 'No movement at home'),
    explanation: text(
      `白天（${r.dayStart}–${r.dayEnd}）累计 ${d['zh-CN']}未检测到活动（≥ ${limit(r.hours)} 小时），最后一次活动 ${last}；请电话联系`,
      `No movement for ${d.en} of daytime (${r.dayStart}–${r.dayEnd}, ≥ ${limit(r.hours)} h), last at ${last}; call the resident`,
    ),
  };
}

export interface ReadingMissedInput {
  /** Measured daily at `time` local (e.g. blood pressure by 10:00), set per resident. */
  schedule: { type: ReadingType; time: string };
  /** Measurement time of the latest reading of that type, or null if none. */
  lastReadingAt: number | null;
  now: number;
  tz: string;
  /** When the schedule began (or monitoring did): earlier slots are not counted. Default: no limit. */
  since?: number | null;
}

/** `missedDays` stops counting here when there was never a reading and no `since`. */
export const MAX_COUNTED_DAYS = 366;

/**
 * How many daily slots in a row, up to now, were missed. A slot is missed when
 * its deadline (slot time + `graceHours`) has passed and nothing was measured
 * since the local midnight that began its day. So:
 * - today's slot before its deadline is not counted, neither missed nor done
 *   (at 08:00, a 10:00 slot has not come yet; yesterday's may still be missed);
 * - a reading measured any time on a slot's day, even late, means that day was
 *   measured, and a reading on a later day ends the run of missed days.
 * A slot whose deadline runs past midnight (23:00 + 2 h) is judged by the day
 * of its slot time.
 */
export function missedDays(input: ReadingMissedInput, config: RuleConfig): number {
  const slotMin = minutesOfDay(input.schedule.time);
  const graceMs = config.rules.reading_missed.graceHours * HOUR;
  let count = 0;
  for (let day = localDate(input.now, input.tz), i = 0; i <= MAX_COUNTED_DAYS + 1; day = addDays(day, -1), i++) {
    if (input.lastReadingAt !== null && input.lastReadingAt >= startOfLocalDay(day, input.tz)) break;
    const slotAt = zonedInstant(day, slotMin, input.tz);
    if (input.since !== undefined && input.since !== null && slotAt < input.since) break;
    if (slotAt + graceMs > input.now) continue;
    if (++count >= MAX_COUNTED_DAYS) break;
  }
  return count;
}

/**
 * The scheduled measurement has not arrived `graceHours` after its time → info,
 * a reminder call; missed on `doctorAfterDays` consecutive days → warning, for
 * the doctor.
 */
export function readingMissed(input: ReadingMissedInput, config: RuleConfig): RuleMatch | null {
  const r = config.rules.reading_missed;
  const n = missedDays(input, config);
  if (n === 0) return null;
  const doctor = n >= r.doctorAfterDays;
  const what = READING_LABEL[input.schedule.type];
  const What = what.en.charAt(0).toUpperCase() + what.en.slice(1);
  const time = input.schedule.time;
  const lastZh = input.lastReadingAt === null ? '尚无记录' : formatLocal(input.lastReadingAt, input.tz);
  const lastEn = input.lastReadingAt === null ? 'none yet' : formatLocal(input.lastReadingAt, input.tz);
  const days = n >= MAX_COUNTED_DAYS ? `${n}+` : String(n);
  return {
    rule: 'reading_missed',
    severity: doctor ? r.doctorSeverity : r.severity,
    title: n === 1
      ? text(`未按时测量${what['zh-CN']}（${time}）`, `${What} not measured (due ${time})`)
      : text(`连续 ${days} 天未测量${what['zh-CN']}`, `${What} not measured for ${days} days`),
    explanation: text(
      `每日 ${time} 的${what['zh-CN']}测量在 ${limit(r.graceHours)} 小时内未收到，最近一次：${lastZh}${doctor ? `；已连续 ${days} 天（≥ ${r.doctorAfterDays} 天），请医生查看` : '；请电话提醒'}`,
      `The daily ${time} ${what.en} reading did not arrive within ${limit(r.graceHours)} h, last: ${lastEn}${doctor ? `; missed ${days} days in a row (≥ ${r.doctorAfterDays}), for the doctor` : '; call to remind'}`,
    ),
  };
}
