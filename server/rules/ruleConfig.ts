/**
 * The default rule set (SPEC §4) and alert timings (SPEC §5) in one readable,
 * validated place: every threshold is named, in stored units (mmHg, bpm,
 * mmol/L, %), with its clinical source next to it. Comparisons (≥, >, <, ≤)
 * are fixed by the rule functions and documented there; only numbers, severities
 * and timings are configured. A resident's targets override thresholds per rule
 * (`thresholdsFor`).
 */
import { Type, type Static, type TProperties, type TSchema } from 'typebox';
import { DEVICE_TYPES } from '../../devices/deviceTypes.js';
import { compileSchema, describeError } from '../../devices/schemaValidator.js';
import { isTimeOfDay, minutesOfDay } from './localTime.js';
import { RULE_IDS, SEVERITIES, type RuleId, type Severity, type Targets, type Thresholds } from './types.js';

const SeveritySchema = Type.Enum(SEVERITIES);
const Positive = Type.Number({ exclusiveMinimum: 0 });
const Count = Type.Integer({ minimum: 1 });
const TimeOfDay = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' });
/** Citation per setting name: every threshold must have one (checked in `semanticProblems`). */
const Citations = Type.Record(Type.String(), Type.String({ minLength: 1 }));

function entry<P extends TProperties>(properties: P) {
  return Type.Object({ ...properties, source: Citations }, { additionalProperties: false });
}

export const RulesSchema = Type.Object({
  fall: entry({ severity: SeveritySchema, recoveredSeverity: SeveritySchema }),
  sos: entry({ severity: SeveritySchema }),
  bp_crisis: entry({ severity: SeveritySchema, systolic: Positive, diastolic: Positive }),
  bp_severe: entry({ severity: SeveritySchema, diastolic: Positive }),
  bp_high: entry({ severity: SeveritySchema, systolic: Positive, diastolic: Positive }),
  bp_low: entry({ severity: SeveritySchema, systolic: Positive, map: Positive }),
  pulse_abnormal: entry({
    severity: SeveritySchema, criticalLow: Positive, criticalHigh: Positive,
    urgentSeverity: SeveritySchema, urgentLow: Positive, urgentHigh: Positive,
  }),
  glucose_severe_low: entry({ severity: SeveritySchema, value: Positive }),
  glucose_low: entry({ severity: SeveritySchema, value: Positive }),
  glucose_high: entry({ severity: SeveritySchema, value: Positive }),
  glucose_very_high: entry({ severity: SeveritySchema, value: Positive }),
  bp_trend: entry({ severity: SeveritySchema, systolic: Positive, count: Count, windowDays: Positive }),
  battery_low: entry({ severity: SeveritySchema, percent: Positive }),
  device_offline: entry({
    severity: SeveritySchema, lifeSafetySeverity: SeveritySchema,
    lifeSafetyDeviceTypes: Type.Array(Type.Enum(DEVICE_TYPES)),
    missedHeartbeats: Count, defaultHeartbeatSeconds: Positive,
  }),
  gateway_offline: entry({ severity: SeveritySchema, minutes: Positive }),
  reading_missed: entry({ severity: SeveritySchema, doctorSeverity: SeveritySchema, graceHours: Positive, doctorAfterDays: Count }),
  no_activity: entry({ severity: SeveritySchema, hours: Positive, dayStart: TimeOfDay, dayEnd: TimeOfDay }),
} satisfies Record<RuleId, TSchema>, { additionalProperties: false });

export const RuleConfigSchema = Type.Object({
  /** A reading arriving more than this after its measurement raises at most `warning` (SPEC §4). */
  lateAfterMinutes: Positive,
  /** Alerts of one home within this of each other form one incident (SPEC §5). */
  incidentWindowMinutes: Positive,
  /** Not acknowledged within this → `overdue` (SPEC §5); a severity without one has no deadline. */
  claimDeadlineSeconds: Type.Object({
    critical: Positive, urgent: Positive, warning: Type.Optional(Positive), info: Type.Optional(Positive),
  }, { additionalProperties: false }),
  rules: RulesSchema,
}, { additionalProperties: false });

export type RuleConfig = Static<typeof RuleConfigSchema>;

const LOCAL = 'SPEC §4 (local operating threshold)';

export const DEFAULT_RULE_CONFIG: RuleConfig = deepFreeze({
  lateAfterMinutes: 60, // SPEC §4: "more than 1 hour after it was measured"
  incidentWindowMinutes: 10, // SPEC §5
  claimDeadlineSeconds: { critical: 60, urgent: 600 }, // SPEC §4–5; warning and info: none
  rules: {
    fall: {
      severity: 'critical', recoveredSeverity: 'urgent',
      source: { severity: 'SPEC §4: a fall is answered at once', recoveredSeverity: 'SPEC §4: got up by themself → call back' },
    },
    sos: { severity: 'critical', source: { severity: 'SPEC §4: the resident asked for help' } },
    // Comparisons: systolic ≥, diastolic ≥ (SPEC §4; the guidelines write "> 180 and/or > 120").
    bp_crisis: {
      severity: 'critical', systolic: 180, diastolic: 120,
      source: { systolic: 'ACC/AHA 2017, 中国高血压防治指南 2018', diastolic: 'ACC/AHA 2017, 中国高血压防治指南 2018' },
    },
    // diastolic ≥: grade 3 hypertension (its systolic ≥ 180 is already the crisis line).
    bp_severe: { severity: 'urgent', diastolic: 110, source: { diastolic: 'ESC/ESH 2018, 中国高血压防治指南 2018 (grade 3)' } },
    // systolic ≥, diastolic ≥: grade 2 hypertension.
    bp_high: {
      severity: 'warning', systolic: 160, diastolic: 100,
      source: { systolic: 'ESC/ESH 2018, 中国高血压防治指南 2018 (grade 2)', diastolic: 'ESC/ESH 2018, 中国高血压防治指南 2018 (grade 2)' },
    },
    // systolic <, MAP <.
    bp_low: {
      severity: 'urgent', systolic: 90, map: 65,
      source: { systolic: 'NEWS2 (RCP 2017): systolic ≤ 90 scores 3', map: 'Surviving Sepsis Campaign 2021: MAP 65 mmHg' },
    },
    // pulse ≤ criticalLow or ≥ criticalHigh: severity; < urgentLow or > urgentHigh: urgentSeverity.
    pulse_abnormal: {
      severity: 'critical', criticalLow: 40, criticalHigh: 131,
      urgentSeverity: 'urgent', urgentLow: 50, urgentHigh: 120,
      source: {
        criticalLow: 'NEWS2 (RCP 2017) score 3', criticalHigh: 'NEWS2 (RCP 2017) score 3',
        urgentLow: LOCAL, urgentHigh: LOCAL,
      },
    },
    // value <
    glucose_severe_low: { severity: 'critical', value: 3.0, source: { value: 'ADA Standards of Care: level 2 hypoglycaemia' } },
    // value <
    glucose_low: { severity: 'urgent', value: 3.9, source: { value: 'ADA Standards of Care, 中国2型糖尿病防治指南 2020: level 1 hypoglycaemia' } },
    // value >
    glucose_high: { severity: 'urgent', value: 16.7, source: { value: 'local action threshold: check ketones' } },
    // value ≥
    glucose_very_high: { severity: 'critical', value: 33.3, source: { value: 'HHS range (ADA hyperglycaemic crises)' } },
    // count readings with systolic ≥, measured within windowDays.
    bp_trend: {
      severity: 'warning', systolic: 140, count: 3, windowDays: 7,
      source: { systolic: 'ESC/ESH 2018, 中国高血压防治指南 2018: hypertension', count: 'SPEC §4', windowDays: 'SPEC §4' },
    },
    // battery <
    battery_low: { severity: 'info', percent: 15, source: { percent: LOCAL } },
    // silent for ≥ missedHeartbeats × interval (the device's own, else defaultHeartbeatSeconds).
    device_offline: {
      severity: 'info', lifeSafetySeverity: 'urgent', lifeSafetyDeviceTypes: ['fall_sensor', 'sos_button'],
      missedHeartbeats: 3, defaultHeartbeatSeconds: 300,
      source: { missedHeartbeats: 'SPEC §4', defaultHeartbeatSeconds: 'SPEC §4', lifeSafetySeverity: 'SPEC §4: falls and SOS would go unheard' },
    },
    // offline for ≥ minutes
    gateway_offline: { severity: 'urgent', minutes: 10, source: { minutes: 'SPEC §4: the whole home is unheard' } },
    // nothing measured by slot + graceHours; doctorSeverity from doctorAfterDays consecutive misses.
    reading_missed: {
      severity: 'info', doctorSeverity: 'warning', graceHours: 2, doctorAfterDays: 3,
      source: { graceHours: 'SPEC §4', doctorAfterDays: 'SPEC §4' },
    },
    // ≥ hours without motion, counting only dayStart–dayEnd local time.
    no_activity: {
      severity: 'urgent', hours: 12, dayStart: '07:00', dayEnd: '22:00',
      source: { hours: LOCAL, dayStart: 'SPEC §4', dayEnd: 'SPEC §4' },
    },
  },
});

/** Names of the numeric thresholds of each rule, read off the schema (one description, not two). */
export const THRESHOLD_NAMES = fieldNames((s) => s.type === 'number' || s.type === 'integer');
/** Names of the severity settings of each rule (`severity`, `recoveredSeverity`, …). */
export const SEVERITY_NAMES = fieldNames((s) => Array.isArray(s.enum) && s.enum.every((v: unknown) => (SEVERITIES as readonly unknown[]).includes(v)));

function fieldNames(pick: (s: { type?: unknown; enum?: unknown }) => boolean): Record<RuleId, readonly string[]> {
  const props = RulesSchema.properties as unknown as Record<RuleId, { properties: Record<string, { type?: unknown; enum?: unknown }> }>;
  return Object.fromEntries(RULE_IDS.map((id) => [id, Object.freeze(
    Object.entries(props[id].properties).filter(([, s]) => pick(s)).map(([name]) => name),
  )])) as Record<RuleId, readonly string[]>;
}

export interface ConfigProblem {
  path: string;
  message: string;
}

/** Every problem of a rule configuration, each named by its dotted path. */
export class RuleConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(`invalid rule configuration: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`);
    this.name = 'RuleConfigError';
  }
}

const validateConfig = compileSchema<RuleConfig>(RuleConfigSchema, { allErrors: true });

/**
 * `partial` deep-merged over `DEFAULT_RULE_CONFIG` (objects merge, arrays and
 * values replace), validated by the schema and for coherence (crisis above high,
 * deadlines, times of day). Throws `RuleConfigError` naming every bad path.
 */
export function loadRuleConfig(partial: unknown): RuleConfig {
  if (partial !== undefined && partial !== null && !isPlainObject(partial)) {
    throw new RuleConfigError([{ path: 'rules configuration', message: 'must be an object' }]);
  }
  const merged = deepMerge(DEFAULT_RULE_CONFIG, partial ?? {});
  if (!validateConfig(merged)) {
    throw new RuleConfigError(dedupe((validateConfig.errors ?? []).map((e) => {
      const p = describeError(e);
      return { path: dotted(p.path), message: humanMessage(e.keyword, e.params, p.message) };
    })));
  }
  const problems = semanticProblems(merged);
  if (problems.length > 0) throw new RuleConfigError(problems);
  return deepFreeze(merged);
}

/** A rule's thresholds for one resident: the configured ones, each overridden by the resident's target if set. */
export function thresholdsFor(config: RuleConfig, rule: RuleId, targets?: Targets): Thresholds {
  const configured = config.rules[rule] as unknown as Record<string, number>;
  const own = targets?.[rule];
  const out: Thresholds = {};
  for (const name of THRESHOLD_NAMES[rule]) {
    const target = own?.[name];
    out[name] = typeof target === 'number' && Number.isFinite(target) ? target : configured[name]!;
  }
  return out;
}

/** Names of the thresholds of `rule` that the resident's targets override. */
export function targetedNames(rule: RuleId, targets?: Targets): string[] {
  const own = targets?.[rule];
  return own ? THRESHOLD_NAMES[rule].filter((n) => typeof own[n] === 'number' && Number.isFinite(own[n])) : [];
}

/** The severity settings of a rule, e.g. `{ severity: 'critical', recoveredSeverity: 'urgent' }`. */
export function severitiesFor(config: RuleConfig, rule: RuleId): Record<string, Severity> {
  const configured = config.rules[rule] as unknown as Record<string, Severity>;
  return Object.fromEntries(SEVERITY_NAMES[rule].map((n) => [n, configured[n]!]));
}

/** The citation of each setting of a rule. */
export function sourcesFor(config: RuleConfig, rule: RuleId): Record<string, string> {
  return config.rules[rule].source;
}

/** Claim deadline of a severity in ms, or null when it has none (SPEC §5). */
export function claimDeadlineMs(config: RuleConfig, severity: Severity): number | null {
  const s = config.claimDeadlineSeconds[severity];
  return s === undefined ? null : s * 1000;
}

const thresholdValidators = Object.fromEntries(RULE_IDS.map((id) => {
  const props = (RulesSchema.properties[id] as unknown as { properties: Record<string, TSchema> }).properties;
  return [id, Object.fromEntries(THRESHOLD_NAMES[id].map((n) => [n, compileSchema<number>(props[n]!)]))];
})) as Record<RuleId, Record<string, ReturnType<typeof compileSchema<number>>>>;

/**
 * Problems of a resident's targets (as stored, imported or sent to the API):
 * only known rules, only that rule's threshold names, values the configuration
 * itself would accept. Paths are JSON Pointers relative to the targets object
 * (`/bp_high/systolic`), as in the import and API problem lists.
 */
export function validateTargets(targets: unknown): ConfigProblem[] {
  if (!isPlainObject(targets)) return [{ path: '/', message: 'must be an object' }];
  const problems: ConfigProblem[] = [];
  for (const [rule, own] of Object.entries(targets)) {
    const at = `/${pointerSegment(rule)}`;
    if (!(RULE_IDS as readonly string[]).includes(rule)) {
      problems.push({ path: at, message: 'is not a known rule' });
      continue;
    }
    const names = THRESHOLD_NAMES[rule as RuleId];
    if (names.length === 0) {
      problems.push({ path: at, message: `has no thresholds to override` });
      continue;
    }
    if (!isPlainObject(own)) {
      problems.push({ path: at, message: 'must be an object of thresholds' });
      continue;
    }
    for (const [name, value] of Object.entries(own)) {
      const path = `${at}/${pointerSegment(name)}`;
      const validate = thresholdValidators[rule as RuleId][name];
      if (!validate) {
        problems.push({ path, message: `is not a threshold of ${rule} (known: ${names.join(', ')})` });
      } else if (typeof value !== 'number' || !Number.isFinite(value)) {
        problems.push({ path, message: 'must be a number' });
      } else if (!validate(value)) {
        const e = validate.errors![0]!;
        problems.push({ path, message: humanMessage(e.keyword, e.params, describeError(e).message) });
      }
    }
  }
  return problems;
}

/** A strictly ascending pair: `higher` must be above `lower`. */
const ASCENDING: ReadonlyArray<readonly [string, string]> = [
  ['bp_high.systolic', 'bp_crisis.systolic'],
  ['bp_high.diastolic', 'bp_severe.diastolic'],
  ['bp_severe.diastolic', 'bp_crisis.diastolic'],
  ['bp_low.systolic', 'bp_high.systolic'],
  ['pulse_abnormal.criticalLow', 'pulse_abnormal.urgentLow'],
  ['pulse_abnormal.urgentLow', 'pulse_abnormal.urgentHigh'],
  ['pulse_abnormal.urgentHigh', 'pulse_abnormal.criticalHigh'],
  ['glucose_severe_low.value', 'glucose_low.value'],
  ['glucose_low.value', 'glucose_high.value'],
  ['glucose_high.value', 'glucose_very_high.value'],
];

function semanticProblems(c: RuleConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const rules = c.rules as unknown as Record<string, Record<string, unknown>>;
  const at = (dottedName: string): number => {
    const [rule, name] = dottedName.split('.') as [string, string];
    return rules[rule]![name] as number;
  };
  for (const [lower, higher] of ASCENDING) {
    if (!(at(higher) > at(lower))) {
      problems.push({ path: `rules.${higher}`, message: `must be above rules.${lower} (${at(lower)})` });
    }
  }
  const { critical, urgent } = c.claimDeadlineSeconds;
  if (critical > urgent) {
    problems.push({ path: 'claimDeadlineSeconds.critical', message: `must not be longer than claimDeadlineSeconds.urgent (${urgent})` });
  }
  const { dayStart, dayEnd } = c.rules.no_activity;
  if (isTimeOfDay(dayStart) && isTimeOfDay(dayEnd) && minutesOfDay(dayEnd) <= minutesOfDay(dayStart)) {
    problems.push({ path: 'rules.no_activity.dayEnd', message: `must be after rules.no_activity.dayStart (${dayStart})` });
  }
  // Each day's slot is judged before the next one's: a grace of a day or more would merge them.
  if (c.rules.reading_missed.graceHours >= 24) {
    problems.push({ path: 'rules.reading_missed.graceHours', message: 'must be less than 24' });
  }
  for (const id of RULE_IDS) {
    const fields = Object.keys(rules[id]!).filter((k) => k !== 'source');
    const source = c.rules[id].source;
    for (const name of THRESHOLD_NAMES[id]) {
      if (!source[name]) problems.push({ path: `rules.${id}.source.${name}`, message: 'is required: cite the source of the threshold' });
    }
    for (const name of Object.keys(source)) {
      if (!fields.includes(name)) problems.push({ path: `rules.${id}.source.${name}`, message: `does not name a setting of ${id}` });
    }
  }
  return problems;
}

function humanMessage(keyword: string, params: Record<string, unknown>, fallback: string): string {
  switch (keyword) {
    case 'type': {
      const t = String(params.type);
      return t === 'integer' ? 'must be a whole number' : `must be ${/^[aeiou]/.test(t) ? 'an' : 'a'} ${t}`;
    }
    case 'enum': return `must be one of ${(params.allowedValues as unknown[]).join(', ')}`;
    case 'pattern': return 'must be a time of day HH:MM (00:00–23:59)';
    case 'exclusiveMinimum': return `must be greater than ${String(params.limit)}`;
    case 'minimum': return `must be at least ${String(params.limit)}`;
    case 'additionalProperties': return 'is not a known setting';
    case 'minLength': return 'must not be empty';
    default: return fallback;
  }
}

/** `/rules/bp_crisis/systolic` → `rules.bp_crisis.systolic`. */
function dotted(pointer: string): string {
  if (pointer === '/') return 'rules configuration';
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).join('.');
}

function pointerSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => !seen.has(`${p.path} ${p.message}`) && seen.add(`${p.path} ${p.message}`));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? structuredClone(base) : structuredClone(over);
  const out: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(base), ...Object.keys(over)])) {
    out[key] = key in over ? deepMerge(base[key], over[key]) : structuredClone(base[key]);
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
