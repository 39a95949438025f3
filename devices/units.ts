/**
 * Unit conversions to the units the hub stores (SPEC §3): mmHg and mmol/L.
 * Values are kept at full precision; presentation rounds.
 */

/** 1 kPa = 7.50062 mmHg (conventional millimetre of mercury, 133.322 Pa). */
export const MMHG_PER_KPA = 7.50062;

/** Glucose molar mass 180.16 g/mol → 1 mmol/L = 18.016 mg/dL (SPEC §3). */
export const MGDL_PER_MMOLL = 18.016;

export const PRESSURE_UNITS = ['mmHg', 'kPa'] as const;
export const GLUCOSE_UNITS = ['mmol/L', 'mg/dL'] as const;
export type PressureUnit = (typeof PRESSURE_UNITS)[number];
export type GlucoseUnit = (typeof GLUCOSE_UNITS)[number];

export function toMmHg(value: number, unit: PressureUnit): number {
  return unit === 'kPa' ? value * MMHG_PER_KPA : value;
}

export function toMmolPerL(value: number, unit: GlucoseUnit): number {
  return unit === 'mg/dL' ? value / MGDL_PER_MMOLL : value;
}
