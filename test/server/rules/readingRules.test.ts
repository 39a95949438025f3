/**
 * Glucose, battery, fall and SOS rules at their boundaries; the choice of the
 * most severe match; residents' targets; late readings (SPEC §4).
 */
import { describe, expect, it } from 'vitest';
import { MGDL_PER_MMOLL, toMmolPerL } from '../../../devices/units.js';
import {
  READING_RULES, batteryLow, evaluateReading, glucoseHigh, glucoseLow, glucoseSevereLow, glucoseVeryHigh, type ReadingRuleFn,
} from '../../../server/rules/readingRules.js';
import { DEFAULT_RULE_CONFIG, THRESHOLD_NAMES, thresholdsFor } from '../../../server/rules/ruleConfig.js';
import { RULE_IDS, type RuleId, type RuleReading, type Targets } from '../../../server/rules/types.js';
import { HOUR, MINUTE, T0, bp, glucose, reading } from './ruleFixtures.js';

const C = DEFAULT_RULE_CONFIG;
const t = (rule: RuleId) => thresholdsFor(C, rule);
const evaluate = (r: Parameters<typeof evaluateReading>[0], targets?: Targets, now?: number) => evaluateReading(r, C, targets, now);

const GLUCOSE: Array<{ rule: RuleId; fn: ReadingRuleFn; at: number; op: '<' | '>' | '≥'; severity: string }> = [
  { rule: 'glucose_severe_low', fn: glucoseSevereLow, at: 3.0, op: '<', severity: 'critical' },
  { rule: 'glucose_low', fn: glucoseLow, at: 3.9, op: '<', severity: 'urgent' },
  { rule: 'glucose_high', fn: glucoseHigh, at: 16.7, op: '>', severity: 'urgent' },
  { rule: 'glucose_very_high', fn: glucoseVeryHigh, at: 33.3, op: '≥', severity: 'critical' },
];
const fires = (op: string, v: number, at: number) => (op === '<' ? v < at : op === '>' ? v > at : v >= at);

describe('glucose thresholds in mmol/L: one step below, at, one step above', () => {
  const rows = GLUCOSE.flatMap((g) => [g.at - 0.01, g.at, g.at + 0.01].map((v) => ({ ...g, v: Number(v.toFixed(2)), hit: fires(g.op, v, g.at) })));
  it.each(rows)('$rule: $v ($op $at) → $hit', ({ fn, rule, v, hit, severity }) => {
    const m = fn(glucose(v), t(rule));
    expect(m?.rule ?? null).toBe(hit ? rule : null);
    if (hit) expect(m!.severity).toBe(severity);
  });
});

describe('glucose thresholds in mg/dL (÷ 18.016)', () => {
  // The exact mg/dL equivalent of a threshold is judged at the threshold. Division
  // leaves binary noise (70.2624 / 18.016 = 3.8999999999999995); the rules compare at
  // 1e-6 mmol/L, so noise never decides a boundary.
  it.each(GLUCOSE)('$rule: $at mmol/L sent as $at × 18.016 mg/dL is judged at the threshold', ({ rule, fn, at, op }) => {
    expect(toMmolPerL(at * MGDL_PER_MMOLL, 'mg/dL')).toBeCloseTo(at, 12);
    expect(fn(glucose(at * MGDL_PER_MMOLL, 'mg/dL'), t(rule))?.rule ?? null).toBe(op === '≥' ? rule : null);
  });

  // Meters resolve 1 mg/dL. The thresholds are SPEC's mmol/L values, so ADA's own mg/dL
  // cut-offs (< 54, < 70) land one level worse: 54 mg/dL is 2.997 mmol/L, 70 is 3.885.
  it.each([
    { mgdl: 54, mmol: 2.997, rule: 'glucose_severe_low' },
    { mgdl: 55, mmol: 3.053, rule: 'glucose_low' },
    { mgdl: 70, mmol: 3.885, rule: 'glucose_low' },
    { mgdl: 71, mmol: 3.941, rule: null },
    { mgdl: 300, mmol: 16.652, rule: null },
    { mgdl: 301, mmol: 16.707, rule: 'glucose_high' },
    { mgdl: 599, mmol: 33.248, rule: 'glucose_high' },
    { mgdl: 600, mmol: 33.304, rule: 'glucose_very_high' },
  ])('$mgdl mg/dL = $mmol mmol/L → $rule', ({ mgdl, mmol, rule }) => {
    expect(toMmolPerL(mgdl, 'mg/dL')).toBeCloseTo(mmol, 3);
    expect(evaluate(glucose(mgdl, 'mg/dL'))?.rule ?? null).toBe(rule);
  });

  it('shows mmol/L with one decimal, and the threshold too', () => {
    expect(evaluate(glucose(3.46))!.explanation.en).toMatch(/^Glucose 3.5 mmol\/L < 3.9 \(level 1 hypoglycaemia/);
    expect(evaluate(glucose(2.84))!.title).toEqual({ 'zh-CN': '严重低血糖 2.8 mmol/L', en: 'Severe hypoglycaemia 2.8 mmol/L' });
    expect(evaluate(glucose(2.84))!.explanation['zh-CN']).toMatch(/^血糖 2.8 mmol\/L < 3.0（/);
    // 3.8999 would round to 3.9 next to "< 3.9": it keeps its decimals.
    expect(evaluate(glucose(3.8999))!.title.en).toBe('Low blood glucose 3.8999 mmol/L');
  });
});

describe('battery_low: heartbeat battery < 15', () => {
  it.each([[14.99, true], [15, false], [15.01, false], [0, true]] as const)('battery %s%% → %s', (battery, hit) => {
    expect(batteryLow(reading('heartbeat', { battery }), t('battery_low'))?.severity ?? null).toBe(hit ? 'info' : null);
  });

  it('ignores a heartbeat without battery level', () => {
    expect(evaluate(reading('heartbeat', { rssi: -60 }))).toBeNull();
  });

  it('reads "Battery low 12%"', () => {
    const m = evaluate(reading('heartbeat', { battery: 12 }))!;
    expect(m.title).toEqual({ 'zh-CN': '电量低 12%', en: 'Battery low 12%' });
    expect(m.explanation.en).toMatch(/^Battery 12% < 15% \(/);
  });
});

describe('fall and SOS', () => {
  it.each<{ values: RuleReading['values']; severity: string }>([
    { values: {}, severity: 'critical' },
    { values: { recovered: false }, severity: 'critical' },
    { values: { recovered: true }, severity: 'urgent' },
    // Only a boolean says the person got up; anything else is a fall as reported.
    { values: { recovered: 'true' }, severity: 'critical' },
    { values: { confidence: 0.4, location: 'bathroom' }, severity: 'critical' },
  ])('fall $values → $severity', ({ values, severity }) => {
    const m = evaluate(reading('fall', values))!;
    expect(m).toMatchObject({ rule: 'fall', severity });
    expect(m.late).toBeUndefined();
  });

  it('names the place and the confidence', () => {
    const m = evaluate(reading('fall', { confidence: 0.85, location: 'bathroom' }))!;
    expect(m.title.en).toBe('Fall · bathroom');
    expect(m.explanation.en).toBe('Fall reported, location: bathroom, confidence 85%; call at once');
  });

  it('SOS is critical', () => {
    expect(evaluate(reading('sos', { location: 'bedroom' }))).toMatchObject({ rule: 'sos', severity: 'critical', title: { en: 'SOS · bedroom' } });
  });

  it('motion raises nothing', () => {
    expect(evaluate(reading('motion', { location: 'hall' }))).toBeNull();
  });
});

describe('only the most severe match of a reading', () => {
  it.each([
    { name: '185/125: crisis, not severe or high', r: bp(185, 125), rule: 'bp_crisis', severity: 'critical' },
    { name: '150/112: severe, not high', r: bp(150, 112), rule: 'bp_severe', severity: 'urgent' },
    { name: '165/95: high', r: bp(165, 95), rule: 'bp_high', severity: 'warning' },
    { name: 'pulse 35 with normal pressure', r: bp(120, 80, { pulse: 35 }), rule: 'pulse_abnormal', severity: 'critical' },
    { name: 'pulse 125 beats a warning', r: bp(165, 95, { pulse: 125 }), rule: 'pulse_abnormal', severity: 'urgent' },
    { name: 'critical tie: crisis listed before pulse', r: bp(185, 95, { pulse: 35 }), rule: 'bp_crisis', severity: 'critical' },
    { name: 'critical pulse beats urgent severe', r: bp(150, 112, { pulse: 140 }), rule: 'pulse_abnormal', severity: 'critical' },
    { name: 'urgent tie: severe listed before pulse', r: bp(150, 112, { pulse: 125 }), rule: 'bp_severe', severity: 'urgent' },
    { name: 'urgent tie: low pressure listed before pulse', r: bp(85, 50, { pulse: 125 }), rule: 'bp_low', severity: 'urgent' },
    { name: 'normal', r: bp(120, 80, { pulse: 70 }), rule: null, severity: null },
    { name: 'glucose 2.5: level 2, not level 1', r: glucose(2.5), rule: 'glucose_severe_low', severity: 'critical' },
    { name: 'glucose 40: HHS range, not just high', r: glucose(40), rule: 'glucose_very_high', severity: 'critical' },
    { name: 'glucose 6', r: glucose(6), rule: null, severity: null },
  ])('$name → $rule', ({ r, rule, severity }) => {
    const m = evaluate(r);
    expect(m?.rule ?? null).toBe(rule);
    expect(m?.severity ?? null).toBe(severity);
  });

  it('lists every reading rule once, for its reading type', () => {
    const ids = READING_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    const elsewhere: RuleId[] = ['bp_trend', 'device_offline', 'gateway_offline', 'reading_missed', 'no_activity'];
    expect([...ids].sort()).toEqual(RULE_IDS.filter((id) => !elsewhere.includes(id)).sort());
    for (const rule of READING_RULES) expect(rule.appliesTo.length).toBeGreaterThan(0);
  });
});

describe("a resident's targets", () => {
  const targets: Targets = { bp_high: { systolic: 170 } };

  it.each([
    { r: bp(165, 80), rule: null },
    { r: bp(169.99, 80), rule: null },
    { r: bp(170, 80), rule: 'bp_high' },
    { r: bp(172, 80), rule: 'bp_high' },
    // Other thresholds of the rule keep their defaults…
    { r: bp(150, 100), rule: 'bp_high' },
    // …and other rules are untouched.
    { r: bp(180, 80), rule: 'bp_crisis' },
    { r: bp(150, 110), rule: 'bp_severe' },
    { r: bp(85, 60), rule: 'bp_low' },
  ])('bp_high systolic 170: $r.values.systolic/$r.values.diastolic → $rule', ({ r, rule }) => {
    expect(evaluate(r, targets)?.rule ?? null).toBe(rule);
  });

  it('without targets 165 is high', () => {
    expect(evaluate(bp(165, 80))?.rule).toBe('bp_high');
  });

  it("cites the resident's target, not the guideline", () => {
    const m = evaluate(bp(172, 80), targets)!;
    expect(m.explanation.en).toBe("Systolic 172 mmHg ≥ 170 (grade 2 hypertension, for the doctor; resident's target set by their doctor)");
    expect(m.explanation['zh-CN']).toContain('个人目标（医生设定）');
    expect(evaluate(bp(150, 101), targets)!.explanation.en).toContain('ESC/ESH 2018');
  });

  it('applies to glucose too', () => {
    expect(evaluate(glucose(4.2), { glucose_low: { value: 4.4 } })?.rule).toBe('glucose_low');
    expect(evaluate(glucose(4.2))).toBeNull();
    expect(evaluate(glucose(17), { glucose_low: { value: 4.4 } })?.rule).toBe('glucose_high');
  });

  it('ignores a target that is not a finite number', () => {
    const bad = { bp_high: { systolic: Number.NaN } } as Targets;
    expect(evaluate(bp(165, 80), bad)?.rule).toBe('bp_high');
  });

  it('thresholdsFor merges per threshold', () => {
    expect(thresholdsFor(C, 'bp_high', targets)).toEqual({ systolic: 170, diastolic: 100 });
    expect(thresholdsFor(C, 'bp_crisis', targets)).toEqual({ systolic: 180, diastolic: 120 });
    for (const id of RULE_IDS) expect(Object.keys(thresholdsFor(C, id))).toEqual(THRESHOLD_NAMES[id]);
  });
});

describe('late readings: more than 60 min after measurement', () => {
  const at = (r: ReturnType<typeof reading>, delayMs: number) => ({ ...r, receivedAt: T0 + delayMs });
  const LATE = 60 * MINUTE + 1;

  it.each([
    { name: 'crisis', r: bp(185, 125), rule: 'bp_crisis', onTime: 'critical', late: 'warning' },
    { name: 'severe', r: bp(150, 112), rule: 'bp_severe', onTime: 'urgent', late: 'warning' },
    { name: 'high', r: bp(165, 95), rule: 'bp_high', onTime: 'warning', late: 'warning' },
    { name: 'low pressure', r: bp(85, 50), rule: 'bp_low', onTime: 'urgent', late: 'warning' },
    { name: 'pulse', r: bp(120, 80, { pulse: 35 }), rule: 'pulse_abnormal', onTime: 'critical', late: 'warning' },
    { name: 'glucose 2.5', r: glucose(2.5), rule: 'glucose_severe_low', onTime: 'critical', late: 'warning' },
    { name: 'glucose 40', r: glucose(40), rule: 'glucose_very_high', onTime: 'critical', late: 'warning' },
    { name: 'battery', r: reading('heartbeat', { battery: 5 }), rule: 'battery_low', onTime: 'info', late: 'info' },
    { name: 'fall', r: reading('fall', {}), rule: 'fall', onTime: 'critical', late: 'critical' },
    { name: 'fall, got up', r: reading('fall', { recovered: true }), rule: 'fall', onTime: 'urgent', late: 'urgent' },
    { name: 'SOS', r: reading('sos', {}), rule: 'sos', onTime: 'critical', late: 'critical' },
  ])('$name: $onTime on time (60 min), $late when late (60 min + 1 ms)', ({ r, rule, onTime, late }) => {
    const onTimeMatch = evaluate(at(r, 60 * MINUTE))!;
    expect(onTimeMatch).toMatchObject({ rule, severity: onTime });
    expect(onTimeMatch.late).toBeUndefined();
    expect(evaluate(at(r, LATE))).toMatchObject({ rule, severity: late, late: true });
  });

  it('keeps the most severe rule, then caps it', () => {
    expect(evaluate(at(bp(185, 125, { pulse: 35 }), 2 * HOUR))).toMatchObject({ rule: 'bp_crisis', severity: 'warning', late: true });
  });

  it('says how late, and who reviews it', () => {
    const capped = evaluate(at(bp(185, 125), 2 * HOUR))!;
    expect(capped.explanation.en).toMatch(/; received 2 h after it was measured, for the doctor to review$/);
    expect(capped.explanation['zh-CN']).toMatch(/；测量后 2 小时才收到，请医生查看$/);
    const fall = evaluate(at(reading('fall', {}), 75 * MINUTE))!;
    expect(fall.explanation.en).toMatch(/; received 75 min after it happened$/);
  });

  it('is judged at `now` when the hub evaluates after arrival (restart, replay)', () => {
    expect(evaluate(bp(185, 125), undefined, T0 + 30 * MINUTE)).toMatchObject({ severity: 'critical' });
    expect(evaluate(bp(185, 125), undefined, T0 + 61 * MINUTE)).toMatchObject({ severity: 'warning', late: true });
  });

  it('a device clock slightly ahead is not late', () => {
    expect(evaluate(at(bp(185, 125), -3 * MINUTE))).toMatchObject({ severity: 'critical' });
  });
});
