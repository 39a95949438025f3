/**
 * Local wall-clock arithmetic in an explicit IANA time zone, with `Intl` only
 * (no date library, no ambient zone): the rules that speak of "07:00–22:00" or
 * "daily at 10:00" mean the resident's clock, which moves with DST in some homes.
 */

/** A calendar date, no time zone attached. */
export interface LocalDate {
  year: number;
  month: number;
  day: number;
}

export interface LocalDateTime extends LocalDate {
  hour: number;
  minute: number;
  second: number;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Minutes after local midnight of an `HH:MM` time of day (00:00–23:59); throws on anything else. */
export function minutesOfDay(hhmm: string): number {
  const m = HHMM.exec(hhmm);
  if (!m) throw new RangeError(`"${hhmm}" is not a time of day HH:MM`);
  return Number(m[1]) * 60 + Number(m[2]);
}

export function isTimeOfDay(s: string): boolean {
  return HHMM.test(s);
}

// Building a formatter is costly; one per zone, reused. A memo, not state: same input, same output.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23',
      year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** Wall-clock reading of instant `ms` in zone `tz`. */
export function localDateTime(ms: number, tz: string): LocalDateTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(ms)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year!, month: parts.month!, day: parts.day!,
    hour: parts.hour! % 24, minute: parts.minute!, second: parts.second!,
  };
}

/** Offset of `tz` from UTC at instant `ms`, in ms (Asia/Shanghai: +8 h). */
function offsetAt(ms: number, tz: string): number {
  const l = localDateTime(ms, tz);
  return Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second) - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant at which clocks in `tz` show `minutes` after midnight of `date`.
 * Tries the offsets in force half a day before and after (zones change offset
 * at most once in that span). A wall time shown twice (autumn) maps to its
 * first occurrence; one skipped by spring-forward (02:30 in Berlin) to the
 * same time after the jump (03:30).
 */
export function zonedInstant(date: LocalDate, minutes: number, tz: string): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day, 0, minutes);
  const candidates = [wall - offsetAt(wall - 12 * 3_600_000, tz), wall - offsetAt(wall + 12 * 3_600_000, tz)];
  const shown = candidates.filter((t) => t + offsetAt(t, tz) === wall);
  return shown.length > 0 ? Math.min(...shown) : Math.max(...candidates);
}

export function localDate(ms: number, tz: string): LocalDate {
  const { year, month, day } = localDateTime(ms, tz);
  return { year, month, day };
}

/** The calendar date `n` days after `date` (negative: before). */
export function addDays(date: LocalDate, n: number): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + n));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** Start of the local day `date` (not always 00:00 UTC+offset of the previous day: DST). */
export function startOfLocalDay(date: LocalDate, tz: string): number {
  return zonedInstant(date, 0, tz);
}

/** `MM-DD HH:MM` in `tz`, for titles ("last motion 03-29 20:15"). */
export function formatLocal(ms: number, tz: string): string {
  const l = localDateTime(ms, tz);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(l.month)}-${p(l.day)} ${p(l.hour)}:${p(l.minute)}`;
}
