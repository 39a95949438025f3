/**
 * zigbee2mqtt state messages → SPEC §3 readings, reacting to changes only
 * (SPEC §8). zigbee2mqtt republishes a device's whole state on every report, so
 * `fall_detected: true` seen twice is one fall, and a return to normal is no fall.
 */
import type { DeviceTypeDefinition, HeartbeatDraft, ReadingDraft, Z2mTrigger, Z2mValue } from './definitions/types.js';

/** SPEC §4 `battery_low`: below 15 %. Crossing it always reports, however small the step. */
export const BATTERY_LOW_PERCENT = 15;
/** Smallest battery change worth a heartbeat. */
export const BATTERY_STEP_PERCENT = 1;

type State = Record<string, unknown>;

/**
 * Readings for what changed between two consecutive state messages of one
 * device. `previous` undefined (the first message heard) counts every active
 * value as new: a fall present at start-up is reported rather than missed.
 * At most one reading per type per message; without `z2m` vocabulary, none.
 */
export function z2mStateChanges(
  previous: object | undefined,
  next: object,
  definition: Pick<DeviceTypeDefinition, 'z2m'>,
): ReadingDraft[] {
  const vocabulary = definition.z2m;
  if (!vocabulary) return [];
  const before = (previous ?? {}) as State;
  const after = next as State;
  const readings: ReadingDraft[] = [];
  const seen = new Set<string>();
  for (const trigger of vocabulary.triggers) {
    if (seen.has(trigger.reading) || !startsEvent(trigger, before, after)) continue;
    seen.add(trigger.reading);
    readings.push({ type: trigger.reading });
  }
  if (vocabulary.battery) {
    const heartbeat = batteryChange(before[vocabulary.battery], after[vocabulary.battery]);
    if (heartbeat) readings.push(heartbeat);
  }
  return readings;
}

function startsEvent(trigger: Z2mTrigger, before: State, after: State): boolean {
  if (!(trigger.property in after) || !isIn(after[trigger.property], trigger.active)) return false;
  return trigger.everyMessage === true || !isIn(before[trigger.property], trigger.active);
}

function isIn(value: unknown, values: readonly Z2mValue[]): boolean {
  if (typeof value === 'string') return values.some((v) => typeof v === 'string' && v.toLowerCase() === value.toLowerCase());
  return values.includes(value as Z2mValue);
}

function batteryChange(before: unknown, after: unknown): HeartbeatDraft | null {
  if (!isPercent(after)) return null;
  if (!isPercent(before)) return { type: 'heartbeat', battery: after };
  const crossed = before < BATTERY_LOW_PERCENT !== after < BATTERY_LOW_PERCENT;
  return crossed || Math.abs(after - before) >= BATTERY_STEP_PERCENT ? { type: 'heartbeat', battery: after } : null;
}

function isPercent(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 100;
}
