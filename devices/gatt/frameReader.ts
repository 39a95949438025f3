/**
 * A cursor over one characteristic value: little-endian fields in order, each
 * read checked against the frame's length, so a short frame fails at the
 * field it lacks and a long one fails at `end()`.
 */
import { GattDecodeError } from './gattDecodeError.js';
import { decodeSfloat, sfloatSpecial } from './ieee11073.js';

/** China Standard Time (UTC+8, no daylight saving): where Anxin's homes are. */
export const DEFAULT_UTC_OFFSET_MINUTES = 480;

/** A GATT Date Time (GSS "Date Time", 7 bytes); year, month or day 0 means "not known". */
export interface DateTimeParts {
  year: number;
  month: number;
  day: number;
  hours: number;
  minutes: number;
  seconds: number;
}

export class FrameReader {
  offset = 0;

  constructor(
    private readonly data: Uint8Array,
    /** What the frame is, for errors: `Blood Pressure Measurement (0x2A35)`. */
    private readonly what: string,
  ) {}

  u8(field: string): number {
    this.need(1, field);
    return this.data[this.offset++]!;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.data[this.offset]! | (this.data[this.offset + 1]! << 8);
    this.offset += 2;
    return v;
  }

  s16(field: string): number {
    const v = this.u16(field);
    return v >= 0x8000 ? v - 0x10000 : v;
  }

  /** An SFLOAT that must be a number; `shift` scales it by 10^shift exactly. */
  sfloat(field: string, shift = 0): number {
    const offset = this.offset;
    return decodeSfloat(this.u16(field), { shift, offset, field });
  }

  /**
   * An SFLOAT the device may leave out by sending NaN (the Blood Pressure
   * profile does so for a mean arterial pressure it did not compute): undefined
   * then. Every other special value is refused.
   */
  optionalSfloat(field: string): number | undefined {
    const offset = this.offset;
    const raw = this.u16(field);
    return sfloatSpecial(raw) === 'NaN' ? undefined : decodeSfloat(raw, { offset, field });
  }

  /** A Date Time, checked field by field against the calendar. */
  dateTime(field: string): DateTimeParts {
    const start = this.offset;
    this.need(7, field);
    const parts: DateTimeParts = {
      year: this.u16(`${field}.year`),
      month: this.u8(`${field}.month`),
      day: this.u8(`${field}.day`),
      hours: this.u8(`${field}.hours`),
      minutes: this.u8(`${field}.minutes`),
      seconds: this.u8(`${field}.seconds`),
    };
    const bad = (name: keyof DateTimeParts, at: number, allowed: string) => {
      throw new GattDecodeError('invalid_field', start + at, `${field}.${name} ${parts[name]} is outside ${allowed}`, `${field}.${name}`);
    };
    // GSS Date Time: year 1582–9999 or 0, month 1–12 or 0, day 1–31 or 0 (0: not known).
    if (parts.year !== 0 && (parts.year < 1582 || parts.year > 9999)) bad('year', 0, '1582–9999 (0: not known)');
    if (parts.month > 12) bad('month', 2, '1–12 (0: not known)');
    const days = parts.year && parts.month ? new Date(Date.UTC(parts.year, parts.month, 0)).getUTCDate() : 31;
    if (parts.day > days) bad('day', 3, `1–${days} (0: not known)`);
    if (parts.hours > 23) bad('hours', 4, '0–23');
    if (parts.minutes > 59) bad('minutes', 5, '0–59');
    if (parts.seconds > 59) bad('seconds', 6, '0–59');
    return parts;
  }

  /** Refuses bytes after the last field the flags announce. */
  end(): void {
    if (this.offset < this.data.length) {
      throw new GattDecodeError('too_long', this.offset,
        `${this.what} has ${this.data.length - this.offset} byte(s) after its last field; its flags announce ${this.offset} bytes`);
    }
  }

  private need(n: number, field: string): void {
    if (this.offset + n > this.data.length) {
      throw new GattDecodeError('truncated', this.offset,
        `${this.what} ends before ${field}: ${this.data.length} bytes, ${field} needs bytes ${this.offset}–${this.offset + n - 1}`, field);
    }
  }
}

/**
 * The device's wall-clock time as RFC 3339 with the home's UTC offset, plus
 * `minutesLater` (a glucose record's time offset); undefined when year, month
 * or day is not known.
 */
export function dateTimeToRfc3339(parts: DateTimeParts, utcOffsetMinutes: number, minutesLater = 0): string | undefined {
  if (parts.year === 0 || parts.month === 0 || parts.day === 0) return undefined;
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hours, parts.minutes, parts.seconds) + minutesLater * 60_000;
  // Date.UTC maps years 0–99 to 1900–1999; the checks above exclude them.
  const iso = new Date(wall).toISOString();
  if (!/^\d{4}-/.test(iso)) return undefined;
  const sign = utcOffsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(utcOffsetMinutes);
  return `${iso.slice(0, 19)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
