/**
 * Shared vocabulary of the rules engine and the alert service (SPEC §4–5).
 * Rules are pure functions over the data listed in their inputs; the engine
 * owns every piece of state (open alerts, counts, windows, timers).
 */
import type { ReadingType } from '../../devices/readingSchema.js';

export const SEVERITIES = ['info', 'warning', 'urgent', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Higher is more severe; compare with this, never with string order. */
export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, urgent: 2, critical: 3 };

export const RULE_IDS = [
  'fall', 'sos',
  'bp_crisis', 'bp_severe', 'bp_high', 'bp_low', 'pulse_abnormal',
  'glucose_severe_low', 'glucose_low', 'glucose_high', 'glucose_very_high',
  'bp_trend', 'battery_low',
  'device_offline', 'gateway_offline', 'reading_missed', 'no_activity',
] as const;
export type RuleId = (typeof RULE_IDS)[number];

/** Text shown to people, in both UI languages. */
export interface Text {
  'zh-CN': string;
  en: string;
}

/** What a rule found: which rule, how severe, and why, in words an operator reads. */
export interface RuleMatch {
  rule: RuleId;
  severity: Severity;
  /** Short title, e.g. "血压危象 180/95 mmHg" / "Hypertensive crisis 180/95 mmHg". */
  title: Text;
  /** Which threshold was crossed and its clinical source. */
  explanation: Text;
  /** True when the reading arrived more than `lateAfterMinutes` after it was measured (SPEC §4). */
  late?: boolean;
}

/** A reading as rules see it: stored units (mmHg, bpm, mmol/L). */
export interface RuleReading {
  type: ReadingType;
  /** Measurement time, epoch ms. */
  ts: number;
  /** Arrival time at the hub, epoch ms. */
  receivedAt: number;
  values: Record<string, number | string | boolean>;
}

/** Numeric thresholds of one rule, by name (e.g. `{ systolic: 180, diastolic: 120 }`). */
export type Thresholds = Record<string, number>;

/** Per-rule threshold overrides of one resident, set by their doctor (SPEC §4). */
export type Targets = Partial<Record<RuleId, Thresholds>>;
