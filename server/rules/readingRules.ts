/**
 * Reading rules (SPEC §4): one small pure function per rule over one reading
 * in stored units, listed explicitly in `READING_RULES`. Comparisons are
 * exactly SPEC §4's; thresholds and their citations are in `ruleConfig.ts`.
 * The engine owns everything else (open alerts, counts, trends).
 */
import type { ReadingType } from '../../devices/readingSchema.js';
import { thresholdsFor, type RuleConfig } from './ruleConfig.js';
import { crossed, defaultContext, matchOf, ruleContext, type RuleContext } from './ruleMatch.js';
import { duration, limit, oneDecimal, text, whole } from './ruleText.js';
import { SEVERITY_RANK, type RuleId, type RuleMatch, type RuleReading, type Severity, type Targets, type Text, type Thresholds } from './types.js';

export type ReadingRuleFn = (reading: RuleReading, t: Thresholds, ctx?: RuleContext) => RuleMatch | null;

export interface ReadingRule {
  id: RuleId;
  appliesTo: readonly ReadingType[];
  evaluate: ReadingRuleFn;
}

const MMHG = text('mmHg', 'mmHg');
const BPM = text('次/分', 'bpm');
const MMOL = text('mmol/L', 'mmol/L');
const NONE = text('', '');
const SYSTOLIC = text('收缩压', 'systolic');
const DIASTOLIC = text('舒张压', 'diastolic');

/**
 * `v` at a resolution of 1e-6 of its unit. Unit conversion leaves binary noise
 * (70.2624 mg/dL is 3.9 mmol/L but divides to 3.8999999999999995), and noise
 * must not decide which side of a threshold a reading is on. No instrument
 * resolves a millionth of a mmHg or mmol/L, so nothing real is lost.
 */
export function atResolution(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

function num(r: RuleReading, key: string): number | undefined {
  const v = r.values[key];
  return typeof v === 'number' && Number.isFinite(v) ? atResolution(v) : undefined;
}

function str(r: RuleReading, key: string): string | undefined {
  const v = r.values[key];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

interface Bp { systolic: number; diastolic: number }

function bpOf(r: RuleReading): Bp | null {
  const systolic = num(r, 'systolic');
  const diastolic = num(r, 'diastolic');
  return systolic === undefined || diastolic === undefined ? null : { systolic, diastolic };
}

/** Mean arterial pressure: the device's own when it reports one, else (SBP + 2·DBP) / 3. */
export function meanArterialPressure(r: RuleReading): number | undefined {
  const bp = bpOf(r);
  return num(r, 'map') ?? (bp ? atResolution((bp.systolic + 2 * bp.diastolic) / 3) : undefined);
}

/** "高血压危象 182/95 mmHg" / "Hypertensive crisis 182/95 mmHg"; a value is rounded honestly against its threshold. */
function bpTitle(name: Text, bp: Bp, sysAt?: number, diaAt?: number): Text {
  const v = `${whole(bp.systolic, sysAt)}/${whole(bp.diastolic, diaAt)} mmHg`;
  return text(`${name['zh-CN']} ${v}`, `${name.en} ${v}`);
}

/** SPEC §4: fall reported → critical; urgent when the person got up by themself. */
export const fall: ReadingRuleFn = (r, _t, ctx = defaultContext('fall')) => {
  const recovered = r.values.recovered === true;
  const where = str(r, 'location');
  const confidence = num(r, 'confidence');
  const title = recovered ? text('跌倒（已自行起身）', 'Fall (got up by themself)') : text('跌倒', 'Fall');
  const place = where ? text(`，位置：${where}`, `, location: ${where}`) : NONE;
  const conf = confidence !== undefined ? text(`，置信度 ${whole(confidence * 100)}%`, `, confidence ${whole(confidence * 100)}%`) : NONE;
  const after = recovered ? text('；本人已自行起身，请回电确认', '; the person got up by themself, call back to check') : text('；请立即联系', '; call at once');
  return {
    rule: 'fall',
    severity: recovered ? ctx.severity.recoveredSeverity! : ctx.severity.severity!,
    title: where ? text(`${title['zh-CN']} · ${where}`, `${title.en} · ${where}`) : title,
    explanation: text(
      `设备报告跌倒${place['zh-CN']}${conf['zh-CN']}${after['zh-CN']}`,
      `Fall reported${place.en}${conf.en}${after.en}`,
    ),
  };
};

/** SPEC §4: SOS pressed → critical. */
export const sos: ReadingRuleFn = (r, _t, ctx = defaultContext('sos')) => {
  const where = str(r, 'location');
  return {
    rule: 'sos',
    severity: ctx.severity.severity!,
    title: where ? text(`紧急呼叫 · ${where}`, `SOS · ${where}`) : text('紧急呼叫', 'SOS'),
    explanation: text('老人按下了紧急呼叫按钮；请立即联系', 'The resident pressed the SOS button; call at once'),
  };
};

/** Which of systolic ≥ t.systolic and diastolic ≥ t.diastolic hold (bp_crisis, bp_high). */
function atOrAbove(bp: { systolic: number; diastolic: number }, t: Thresholds) {
  const found = [];
  if (bp.systolic >= t.systolic!) found.push(crossed('systolic', SYSTOLIC, whole(bp.systolic, t.systolic), '≥', t.systolic!, MMHG));
  if (bp.diastolic >= t.diastolic!) found.push(crossed('diastolic', DIASTOLIC, whole(bp.diastolic, t.diastolic), '≥', t.diastolic!, MMHG));
  return found;
}

/** systolic ≥ t.systolic or diastolic ≥ t.diastolic. */
export const bpCrisis: ReadingRuleFn = (r, t, ctx = defaultContext('bp_crisis')) => {
  const bp = bpOf(r);
  const found = bp ? atOrAbove(bp, t) : [];
  if (!bp || found.length === 0) return null;
  const name = text('高血压危象', 'Hypertensive crisis');
  return matchOf('bp_crisis', ctx.severity.severity!, bpTitle(name, bp, t.systolic, t.diastolic), found,
    text('高血压危象：询问症状，休息 5 分钟后复测', 'hypertensive crisis: ask for symptoms, re-measure after 5 min rest'), ctx);
};

/** diastolic ≥ t.diastolic. */
export const bpSevere: ReadingRuleFn = (r, t, ctx = defaultContext('bp_severe')) => {
  const bp = bpOf(r);
  if (!bp || !(bp.diastolic >= t.diastolic!)) return null;
  return matchOf('bp_severe', ctx.severity.severity!, bpTitle(text('重度高血压', 'Severe hypertension'), bp, undefined, t.diastolic),
    [crossed('diastolic', DIASTOLIC, whole(bp.diastolic, t.diastolic), '≥', t.diastolic!, MMHG)],
    text('3 级高血压', 'grade 3 hypertension'), ctx);
};

/** systolic ≥ t.systolic or diastolic ≥ t.diastolic. */
export const bpHigh: ReadingRuleFn = (r, t, ctx = defaultContext('bp_high')) => {
  const bp = bpOf(r);
  const found = bp ? atOrAbove(bp, t) : [];
  if (!bp || found.length === 0) return null;
  return matchOf('bp_high', ctx.severity.severity!, bpTitle(text('血压偏高', 'High blood pressure'), bp, t.systolic, t.diastolic), found,
    text('2 级高血压，请医生查看', 'grade 2 hypertension, for the doctor'), ctx);
};

/** systolic < t.systolic or MAP < t.map. */
export const bpLow: ReadingRuleFn = (r, t, ctx = defaultContext('bp_low')) => {
  const bp = bpOf(r);
  const map = meanArterialPressure(r);
  if (!bp || map === undefined) return null;
  const found = [];
  if (bp.systolic < t.systolic!) found.push(crossed('systolic', SYSTOLIC, whole(bp.systolic, t.systolic), '<', t.systolic!, MMHG));
  if (map < t.map!) found.push(crossed('map', text('平均动脉压', 'mean arterial pressure'), whole(map, t.map), '<', t.map!, MMHG));
  if (found.length === 0) return null;
  return matchOf('bp_low', ctx.severity.severity!, bpTitle(text('血压过低', 'Low blood pressure'), bp, t.systolic), found,
    text('低血压：询问头晕、乏力', 'hypotension: ask about dizziness and weakness'), ctx);
};

/** pulse ≤ criticalLow or ≥ criticalHigh → severity; < urgentLow or > urgentHigh → urgentSeverity. */
export const pulseAbnormal: ReadingRuleFn = (r, t, ctx = defaultContext('pulse_abnormal')) => {
  const pulse = num(r, 'pulse');
  if (pulse === undefined) return null;
  const label = text('脉搏', 'pulse');
  const band: [string, '≤' | '≥' | '<' | '>', number, Severity] | null =
    pulse <= t.criticalLow! ? ['criticalLow', '≤', t.criticalLow!, ctx.severity.severity!]
    : pulse >= t.criticalHigh! ? ['criticalHigh', '≥', t.criticalHigh!, ctx.severity.severity!]
    : pulse < t.urgentLow! ? ['urgentLow', '<', t.urgentLow!, ctx.severity.urgentSeverity!]
    : pulse > t.urgentHigh! ? ['urgentHigh', '>', t.urgentHigh!, ctx.severity.urgentSeverity!]
    : null;
  if (!band) return null;
  const [name, op, at, severity] = band;
  const slow = name.endsWith('Low');
  const shown = whole(pulse, at);
  const title = slow ? text(`脉搏过慢 ${shown} 次/分`, `Slow pulse ${shown} bpm`) : text(`脉搏过快 ${shown} 次/分`, `Fast pulse ${shown} bpm`);
  return matchOf('pulse_abnormal', severity, title, [crossed(name, label, shown, op, at, BPM)],
    slow ? text('心动过缓', 'bradycardia') : text('心动过速', 'tachycardia'), ctx);
};

function glucoseRule(rule: RuleId, op: '<' | '>' | '≥', title: Text, meaning: Text): ReadingRuleFn {
  return (r, t, ctx = defaultContext(rule)) => {
    const v = num(r, 'value');
    const at = t.value!;
    if (v === undefined) return null;
    const hit = op === '<' ? v < at : op === '>' ? v > at : v >= at;
    if (!hit) return null;
    const shown = oneDecimal(v, at);
    return matchOf(rule, ctx.severity.severity!, text(`${title['zh-CN']} ${shown} mmol/L`, `${title.en} ${shown} mmol/L`),
      [crossed('value', text('血糖', 'glucose'), shown, op, at, MMOL, limit(at, 1))], meaning, ctx);
  };
}

/** value < t.value (mmol/L). */
export const glucoseSevereLow = glucoseRule('glucose_severe_low', '<', text('严重低血糖', 'Severe hypoglycaemia'),
  text('2 级低血糖：立即补充糖分并复测', 'level 2 hypoglycaemia: take sugar now and re-measure'));
/** value < t.value (mmol/L). */
export const glucoseLow = glucoseRule('glucose_low', '<', text('低血糖', 'Low blood glucose'),
  text('1 级低血糖：补充糖分，15 分钟后复测', 'level 1 hypoglycaemia: take sugar, re-measure in 15 min'));
/** value > t.value (mmol/L). */
export const glucoseHigh = glucoseRule('glucose_high', '>', text('血糖过高', 'High blood glucose'),
  text('请检查酮体', 'check ketones'));
/** value ≥ t.value (mmol/L). */
export const glucoseVeryHigh = glucoseRule('glucose_very_high', '≥', text('血糖极高', 'Very high blood glucose'),
  text('高渗高血糖状态范围', 'hyperosmolar hyperglycaemic state range'));

/** heartbeat battery < t.percent. */
export const batteryLow: ReadingRuleFn = (r, t, ctx = defaultContext('battery_low')) => {
  const battery = num(r, 'battery');
  if (battery === undefined || !(battery < t.percent!)) return null;
  const shown = `${whole(battery, t.percent)}%`;
  return matchOf('battery_low', ctx.severity.severity!, text(`电量低 ${shown}`, `Battery low ${shown}`),
    [crossed('percent', text('电量', 'battery'), shown, '<', t.percent!, NONE, `${limit(t.percent!)}%`)],
    text('请充电或更换电池', 'charge or replace the battery'), ctx);
};

/**
 * Every reading rule, in tie-break order: among matches of equal severity the
 * earlier one wins, so an event (fall, SOS) comes before a measurement, and a
 * worse finding before a milder one of the same kind (crisis, severe, high).
 */
export const READING_RULES: readonly ReadingRule[] = [
  { id: 'fall', appliesTo: ['fall'], evaluate: fall },
  { id: 'sos', appliesTo: ['sos'], evaluate: sos },
  { id: 'bp_crisis', appliesTo: ['blood_pressure'], evaluate: bpCrisis },
  { id: 'bp_severe', appliesTo: ['blood_pressure'], evaluate: bpSevere },
  { id: 'bp_high', appliesTo: ['blood_pressure'], evaluate: bpHigh },
  { id: 'bp_low', appliesTo: ['blood_pressure'], evaluate: bpLow },
  { id: 'pulse_abnormal', appliesTo: ['blood_pressure'], evaluate: pulseAbnormal },
  { id: 'glucose_severe_low', appliesTo: ['glucose'], evaluate: glucoseSevereLow },
  { id: 'glucose_very_high', appliesTo: ['glucose'], evaluate: glucoseVeryHigh },
  { id: 'glucose_low', appliesTo: ['glucose'], evaluate: glucoseLow },
  { id: 'glucose_high', appliesTo: ['glucose'], evaluate: glucoseHigh },
  { id: 'battery_low', appliesTo: ['heartbeat'], evaluate: batteryLow },
];

/** SPEC §4: a late reading raises at most this… */
export const LATE_SEVERITY_CAP: Severity = 'warning';
/** …except falls and SOS, which always reach the call center, marked late. */
export const LATE_EXEMPT_RULES: readonly RuleId[] = ['fall', 'sos'];

/**
 * Thresholds and context of a rule for one configuration and one resident's
 * targets, computed once: both are immutable (the config is frozen; a targets
 * object is replaced, never changed, when a doctor edits it), and this runs for
 * every rule of every reading.
 */
const inputsCache = new WeakMap<RuleConfig, WeakMap<Targets, Map<RuleId, [Thresholds, RuleContext]>>>();
const NO_TARGETS: Targets = Object.freeze({});

export function ruleInputs(config: RuleConfig, rule: RuleId, targets: Targets = NO_TARGETS): [Thresholds, RuleContext] {
  let byTargets = inputsCache.get(config);
  if (!byTargets) inputsCache.set(config, (byTargets = new WeakMap()));
  let byRule = byTargets.get(targets);
  if (!byRule) byTargets.set(targets, (byRule = new Map()));
  let inputs = byRule.get(rule);
  if (!inputs) byRule.set(rule, (inputs = [thresholdsFor(config, rule, targets), ruleContext(config, rule, targets)]));
  return inputs;
}

/** A rule ready to judge: its inputs, and the rank of the most severe match it can give (any of its configured severities). */
type PreparedRule = [rule: ReadingRule, thresholds: Thresholds, ctx: RuleContext, topRank: number];

/** The rules that judge a reading type, in READING_RULES order, prepared (cached as ruleInputs'). */
const rulesCache = new WeakMap<RuleConfig, WeakMap<Targets, Map<string, PreparedRule[]>>>();

function rulesFor(config: RuleConfig, targets: Targets, type: string): PreparedRule[] {
  let byTargets = rulesCache.get(config);
  if (!byTargets) rulesCache.set(config, (byTargets = new WeakMap()));
  let byType = byTargets.get(targets);
  if (!byType) byTargets.set(targets, (byType = new Map()));
  let rules = byType.get(type);
  if (!rules) {
    rules = READING_RULES.filter((r) => (r.appliesTo as readonly string[]).includes(type)).map((r) => {
      const [thresholds, ctx] = ruleInputs(config, r.id, targets);
      return [r, thresholds, ctx, topRank(ctx)];
    });
    byType.set(type, rules);
  }
  return rules;
}

/** The rank of the most severe match a rule with this context can give. */
export function topRank(ctx: RuleContext): number {
  return Math.max(...Object.values(ctx.severity).map((s) => SEVERITY_RANK[s]));
}

/**
 * The most severe match of one reading (SPEC §4: only it raises an alert), with
 * the resident's targets applied, or null. Late — arrived (`receivedAt`, or
 * `now` when the hub evaluates it even later, e.g. after a restart) more than
 * `lateAfterMinutes` after `ts` — caps the severity at `warning`, except fall and
 * SOS, which keep theirs; both are marked `late`.
 */
export function evaluateReading(reading: RuleReading, config: RuleConfig, targets: Targets = NO_TARGETS, now?: number): RuleMatch | null {
  let best: RuleMatch | null = null;
  for (const [rule, thresholds, ctx, top] of rulesFor(config, targets, reading.type)) {
    // A later rule wins only if strictly more severe: one that cannot be is not run (nor its wording built).
    if (best && top <= SEVERITY_RANK[best.severity]) continue;
    const match = rule.evaluate(reading, thresholds, ctx);
    if (match && (!best || SEVERITY_RANK[match.severity] > SEVERITY_RANK[best.severity])) best = match;
  }
  if (!best) return null;
  const delay = Math.max(reading.receivedAt, now ?? reading.receivedAt) - reading.ts;
  if (!(delay > config.lateAfterMinutes * 60_000)) return best;
  const exempt = LATE_EXEMPT_RULES.includes(best.rule);
  const severity = exempt || SEVERITY_RANK[best.severity] <= SEVERITY_RANK[LATE_SEVERITY_CAP] ? best.severity : LATE_SEVERITY_CAP;
  const d = duration(delay);
  const capped = severity !== best.severity;
  return {
    ...best,
    severity,
    late: true,
    explanation: text(
      `${best.explanation['zh-CN']}；${exempt ? '发生' : '测量'}后 ${d['zh-CN']}才收到${capped ? '，请医生查看' : ''}`,
      `${best.explanation.en}; received ${d.en} after it ${exempt ? 'happened' : 'was measured'}${capped ? ', for the doctor to review' : ''}`,
    ),
  };
}
