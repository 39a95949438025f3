/** Readings as rules see them (stored units), built the way ingest builds them. */
import type { ReadingType } from '../../../devices/readingSchema.js';
import { toMmHg, toMmolPerL, type GlucoseUnit, type PressureUnit } from '../../../devices/units.js';
import type { RuleReading } from '../../../server/rules/types.js';

export const T0 = Date.parse('2025-06-10T02:00:00Z');
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export function reading(type: ReadingType, values: RuleReading['values'], receivedAfterMs = 2_000): RuleReading {
  return { type, ts: T0, receivedAt: T0 + receivedAfterMs, values };
}

/** Blood pressure sent in `unit`, stored in mmHg as ingest does (`devices/units.ts`). */
export function bp(systolic: number, diastolic: number, extra: { pulse?: number; map?: number } = {}, unit: PressureUnit = 'mmHg'): RuleReading {
  const values: RuleReading['values'] = { systolic: toMmHg(systolic, unit), diastolic: toMmHg(diastolic, unit) };
  if (extra.pulse !== undefined) values.pulse = extra.pulse;
  if (extra.map !== undefined) values.map = toMmHg(extra.map, unit);
  return reading('blood_pressure', values);
}

/** Glucose sent in `unit`, stored in mmol/L as ingest does. */
export function glucose(value: number, unit: GlucoseUnit = 'mmol/L'): RuleReading {
  return reading('glucose', { value: toMmolPerL(value, unit) });
}
