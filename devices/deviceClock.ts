/**
 * Device clock rules (SPEC §8), pure, for the gateway: a device's own time is
 * kept unless it is plainly wrong, in which case the gateway's receive time
 * replaces it and the reading says so (`clockUnreliable`).
 */
import { MAX_FUTURE_MS, parseTs } from './validateReading.js';

/** Devices in service report no earlier year; an earlier one is a reset clock (2000-01-01 is the usual). */
export const EARLIEST_PLAUSIBLE_YEAR = 2020;

export interface ClockDecision {
  ts: string;
  clockUnreliable: boolean;
}

/**
 * Keeps `decodedTs` unless it is unknown (undefined: year, month or day not
 * known, or not valid RFC 3339), before 2020, or more than 5 minutes ahead of
 * `receivedAt` (epoch ms); then `ts` is the receive time and `clockUnreliable` true.
 */
export function deviceClock(decodedTs: string | undefined, receivedAt: number): ClockDecision {
  const received = { ts: new Date(receivedAt).toISOString(), clockUnreliable: true };
  if (decodedTs === undefined) return received;
  const ms = parseTs(decodedTs);
  if (ms === null) return received;
  // The device's own calendar year, before any offset is applied.
  if (Number(decodedTs.slice(0, 4)) < EARLIEST_PLAUSIBLE_YEAR) return received;
  if (ms > receivedAt + MAX_FUTURE_MS) return received;
  return { ts: decodedTs, clockUnreliable: false };
}

/**
 * A decoded reading made ready to publish: its own time when it is sound, else
 * the receive time marked `clockUnreliable: true`. A reading that never had a
 * clock (no time stamp in the frame, a zigbee2mqtt event) was measured as it
 * arrived: it gets the receive time, unmarked. Drops `deviceTimeUnknown`.
 */
export function applyDeviceClock<R extends { ts?: string; deviceTimeUnknown?: true }>(
  reading: R,
  receivedAt: number,
): Omit<R, 'ts' | 'deviceTimeUnknown'> & { ts: string; clockUnreliable?: true } {
  const { ts, deviceTimeUnknown, ...rest } = reading;
  if (ts === undefined && !deviceTimeUnknown) return { ...rest, ts: new Date(receivedAt).toISOString() };
  const decision = deviceClock(ts, receivedAt);
  return decision.clockUnreliable ? { ...rest, ts: decision.ts, clockUnreliable: true } : { ...rest, ts: decision.ts };
}
