/**
 * Two time axes. *Wall* time is what readings are stamped with and when they
 * are sent: the hub judges a reading by its `ts` and calls only recent ones
 * critical (SPEC §4), so a stamp is never ahead of the real clock. *Virtual*
 * time decides what the residents do (a morning cuff measurement, a 03:00
 * glucose low); it runs `scale` times faster than the wall, so a demo shows a
 * day of home life in 24 minutes at scale 60.
 *
 * Local time is Asia/Shanghai (SPEC §7 `ANXIN_TZ` default): UTC+8 all year,
 * without daylight saving since 1991, so a fixed offset is exact.
 */
export const CHINA_UTC_OFFSET_MINUTES = 480;
const OFFSET_MS = CHINA_UTC_OFFSET_MINUTES * 60_000;
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export interface SimClockOptions {
  /** Wall time (epoch ms) at which the simulation starts. */
  wallStart: number;
  /** Virtual time (epoch ms) at that moment; default: `wallStart`. */
  virtualStart?: number;
  /** Virtual milliseconds per wall millisecond; default 1 (real time). */
  scale?: number;
}

export class SimClock {
  readonly wallStart: number;
  readonly virtualStart: number;
  readonly scale: number;

  constructor(options: SimClockOptions) {
    this.wallStart = options.wallStart;
    this.virtualStart = options.virtualStart ?? options.wallStart;
    this.scale = options.scale ?? 1;
    if (!(this.scale > 0) || !Number.isFinite(this.scale)) throw new RangeError(`time scale must be a positive number, got ${this.scale}`);
  }

  toVirtual(wall: number): number {
    return this.virtualStart + (wall - this.wallStart) * this.scale;
  }

  /** Rounded to the millisecond, so a stamp never depends on floating-point noise. */
  toWall(virtual: number): number {
    return Math.round(this.wallStart + (virtual - this.virtualStart) / this.scale);
  }

  /** The virtual span that `wallMs` of real time covers. */
  virtualSpan(wallMs: number): number {
    return wallMs * this.scale;
  }
}

/** Epoch ms of local midnight (Asia/Shanghai) of the day holding `ms`. */
export function localMidnight(ms: number): number {
  return Math.floor((ms + OFFSET_MS) / DAY) * DAY - OFFSET_MS;
}

/** Minutes since local midnight, fractional. */
export function localMinutes(ms: number): number {
  return (ms - localMidnight(ms)) / MINUTE;
}

/** `"HH:MM"` → epoch ms of that local time on the day starting at `midnight`. */
export function atLocalTime(midnight: number, hhmm: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  if (!m) throw new RangeError(`"${hhmm}" is not HH:MM`);
  return midnight + Number(m[1]) * HOUR + Number(m[2]) * MINUTE;
}

/** RFC 3339 with the local offset and milliseconds: `2024-05-31T07:45:00.000+08:00`. */
export function localRfc3339(ms: number): string {
  return `${new Date(ms + OFFSET_MS).toISOString().slice(0, 23)}+08:00`;
}

/** `HH:MM` of `ms` in local time. */
export function localHhmm(ms: number): string {
  return new Date(ms + OFFSET_MS).toISOString().slice(11, 16);
}
