/**
 * Blood-pressure and pulse rules (SPEC §4) at and around every boundary, in
 * mmHg and in kPa converted as ingest converts (`toMmHg`: kPa × 7.50062).
 */
import { describe, expect, it } from 'vitest';
import { MMHG_PER_KPA, toMmHg } from '../../../devices/units.js';
import { bpCrisis, bpHigh, bpLow, bpSevere, meanArterialPressure, pulseAbnormal, type ReadingRuleFn } from '../../../server/rules/readingRules.js';
import { DEFAULT_RULE_CONFIG, thresholdsFor } from '../../../server/rules/ruleConfig.js';
import type { RuleId } from '../../../server/rules/types.js';
import { bp } from './ruleFixtures.js';

const t = (rule: RuleId) => thresholdsFor(DEFAULT_RULE_CONFIG, rule);
const STEP = 0.01;

type Op = '≥' | '<';
interface Boundary { rule: RuleId; fn: ReadingRuleFn; field: 'systolic' | 'diastolic' | 'map'; at: number; op: Op; severity: string; other: { systolic?: number; diastolic?: number } }

// `other` keeps the rule's other condition quiet, so each row tests one threshold.
const BOUNDARIES: Boundary[] = [
  { rule: 'bp_crisis', fn: bpCrisis, field: 'systolic', at: 180, op: '≥', severity: 'critical', other: { diastolic: 90 } },
  { rule: 'bp_crisis', fn: bpCrisis, field: 'diastolic', at: 120, op: '≥', severity: 'critical', other: { systolic: 150 } },
  { rule: 'bp_severe', fn: bpSevere, field: 'diastolic', at: 110, op: '≥', severity: 'urgent', other: { systolic: 150 } },
  { rule: 'bp_high', fn: bpHigh, field: 'systolic', at: 160, op: '≥', severity: 'warning', other: { diastolic: 80 } },
  { rule: 'bp_high', fn: bpHigh, field: 'diastolic', at: 100, op: '≥', severity: 'warning', other: { systolic: 130 } },
  { rule: 'bp_low', fn: bpLow, field: 'systolic', at: 90, op: '<', severity: 'urgent', other: { diastolic: 60 } },
  { rule: 'bp_low', fn: bpLow, field: 'map', at: 65, op: '<', severity: 'urgent', other: { systolic: 110, diastolic: 60 } },
];

function bpWith(b: Boundary, value: number, unit: 'mmHg' | 'kPa' = 'mmHg') {
  const k = unit === 'kPa' ? 1 / MMHG_PER_KPA : 1;
  const values = { systolic: 120, diastolic: 70, ...b.other, [b.field]: value };
  return bp(values.systolic * k, values.diastolic * k, b.field === 'map' ? { map: value * k } : {}, unit);
}

const fires = (op: Op, v: number, at: number) => (op === '≥' ? v >= at : v < at);

describe('blood pressure thresholds in mmHg: one step below, at, one step above', () => {
  const rows = BOUNDARIES.flatMap((b) => [b.at - STEP, b.at, b.at + STEP].map((v) => ({ ...b, v, hit: fires(b.op, v, b.at) })));
  it.each(rows)('$rule: $field $v ($op $at) → $hit', ({ fn, rule, v, hit, severity, ...b }) => {
    const match = fn(bpWith({ fn, rule, severity, ...b }, v), t(rule));
    expect(match?.rule ?? null).toBe(hit ? rule : null);
    if (hit) expect(match!.severity).toBe(severity);
  });
});

describe('blood pressure thresholds in kPa', () => {
  // The exact kPa equivalent of each threshold: X / 7.50062 × 7.50062 comes back as exactly X
  // for every default (checked here), so a reading at the threshold is judged at the threshold.
  it.each(BOUNDARIES)('$rule: $at mmHg sent as $at / 7.50062 kPa is judged at the threshold ($op)', (b) => {
    expect(toMmHg(b.at / MMHG_PER_KPA, 'kPa')).toBe(b.at);
    const match = b.fn(bpWith(b, b.at, 'kPa'), t(b.rule));
    expect(match?.rule ?? null).toBe(b.op === '≥' ? b.rule : null);
  });

  // Devices resolve 0.1 kPa (0.75 mmHg); no such reading lands exactly on a threshold.
  // 24.0 kPa is 180.01488 mmHg: above the crisis line, so a crisis; 23.9 kPa (179.26) is not.
  const DEVICE_STEPS: Array<{ rule: RuleId; fn: ReadingRuleFn; field: Boundary['field']; kPa: number; mmHg: number; hit: boolean }> = [
    { rule: 'bp_crisis', fn: bpCrisis, field: 'systolic', kPa: 23.9, mmHg: 179.26, hit: false },
    { rule: 'bp_crisis', fn: bpCrisis, field: 'systolic', kPa: 24.0, mmHg: 180.01, hit: true },
    { rule: 'bp_crisis', fn: bpCrisis, field: 'diastolic', kPa: 15.9, mmHg: 119.26, hit: false },
    { rule: 'bp_crisis', fn: bpCrisis, field: 'diastolic', kPa: 16.0, mmHg: 120.01, hit: true },
    { rule: 'bp_severe', fn: bpSevere, field: 'diastolic', kPa: 14.6, mmHg: 109.51, hit: false },
    { rule: 'bp_severe', fn: bpSevere, field: 'diastolic', kPa: 14.7, mmHg: 110.26, hit: true },
    { rule: 'bp_high', fn: bpHigh, field: 'systolic', kPa: 21.3, mmHg: 159.76, hit: false },
    { rule: 'bp_high', fn: bpHigh, field: 'systolic', kPa: 21.4, mmHg: 160.51, hit: true },
    { rule: 'bp_high', fn: bpHigh, field: 'diastolic', kPa: 13.3, mmHg: 99.76, hit: false },
    { rule: 'bp_high', fn: bpHigh, field: 'diastolic', kPa: 13.4, mmHg: 100.51, hit: true },
    { rule: 'bp_low', fn: bpLow, field: 'systolic', kPa: 11.9, mmHg: 89.26, hit: true },
    // 12.0 kPa is 90.007 mmHg: not below 90.
    { rule: 'bp_low', fn: bpLow, field: 'systolic', kPa: 12.0, mmHg: 90.01, hit: false },
    { rule: 'bp_low', fn: bpLow, field: 'map', kPa: 8.6, mmHg: 64.51, hit: true },
    { rule: 'bp_low', fn: bpLow, field: 'map', kPa: 8.7, mmHg: 65.26, hit: false },
  ];
  it.each(DEVICE_STEPS)('$rule: $field $kPa kPa = $mmHg mmHg → $hit', ({ rule, fn, field, kPa, mmHg, hit }) => {
    expect(toMmHg(kPa, 'kPa')).toBeCloseTo(mmHg, 2);
    const b = BOUNDARIES.find((x) => x.rule === rule && x.field === field)!;
    const reading = bpWith(b, kPa * MMHG_PER_KPA, 'mmHg');
    const viaKpa = bpWith(b, kPa * MMHG_PER_KPA, 'kPa');
    expect(fn(viaKpa, t(rule))?.rule ?? null).toBe(hit ? rule : null);
    expect(fn(reading, t(rule))?.rule ?? null).toBe(hit ? rule : null);
  });

  // Rounded to whole mmHg a value sits exactly on the line, so it keeps the decimals that show which side it is on.
  it('explains a kPa reading in mmHg, rounded honestly: 24 kPa is shown as 180.01', () => {
    const m = bpCrisis(bp(24, 12, {}, 'kPa'), t('bp_crisis'))!;
    expect(m.explanation.en).toMatch(/^Systolic 180.01 mmHg ≥ 180 \(/);
    expect(m.title['zh-CN']).toBe('高血压危象 180.01/90 mmHg');
    expect(bpCrisis(bp(24.5, 12, {}, 'kPa'), t('bp_crisis'))!.title.en).toBe('Hypertensive crisis 184/90 mmHg');
  });
});

describe('mean arterial pressure', () => {
  it.each([
    { sys: 100, dia: 47.5, map: undefined, expected: 65, low: false },
    { sys: 100, dia: 47.49, map: undefined, expected: 64.99333, low: true },
    { sys: 100, dia: 47.51, map: undefined, expected: 65.00667, low: false },
    // The device's own MAP wins over the estimate.
    { sys: 100, dia: 47.49, map: 70, expected: 70, low: false },
    { sys: 120, dia: 80, map: 64.99, expected: 64.99, low: true },
  ])('$sys/$dia map=$map → MAP $expected, low $low', ({ sys, dia, map, expected, low }) => {
    const r = bp(sys, dia, map === undefined ? {} : { map });
    expect(meanArterialPressure(r)).toBeCloseTo(expected, 4);
    expect(bpLow(r, t('bp_low'))?.rule ?? null).toBe(low ? 'bp_low' : null);
  });
});

describe('pulse_abnormal: ≤ 40 or ≥ 131 critical (NEWS2 3), < 50 or > 120 urgent', () => {
  it.each([
    [39.99, 'critical'], [40, 'critical'], [40.01, 'urgent'],
    [49.99, 'urgent'], [50, null], [50.01, null],
    [119.99, null], [120, null], [120.01, 'urgent'],
    [130.99, 'urgent'], [131, 'critical'], [131.01, 'critical'],
  ] as const)('pulse %s → %s', (pulse, severity) => {
    const m = pulseAbnormal(bp(120, 80, { pulse }), t('pulse_abnormal'));
    expect(m?.severity ?? null).toBe(severity);
  });

  it('needs a pulse', () => {
    expect(pulseAbnormal(bp(120, 80), t('pulse_abnormal'))).toBeNull();
  });

  it('says which way and cites the source', () => {
    const slow = pulseAbnormal(bp(120, 80, { pulse: 35 }), t('pulse_abnormal'))!;
    expect(slow.title).toEqual({ 'zh-CN': '脉搏过慢 35 次/分', en: 'Slow pulse 35 bpm' });
    expect(slow.explanation.en).toBe('Pulse 35 bpm ≤ 40 (bradycardia; NEWS2 (RCP 2017) score 3)');
    const fast = pulseAbnormal(bp(120, 80, { pulse: 125 }), t('pulse_abnormal'))!;
    expect(fast.explanation['zh-CN']).toBe('脉搏 125 次/分 > 120（心动过速；SPEC §4 (local operating threshold)）');
  });
});

describe('words', () => {
  it('states values, the threshold crossed and its source, in both languages', () => {
    const m = bpCrisis(bp(182, 95), t('bp_crisis'))!;
    expect(m.title).toEqual({ 'zh-CN': '高血压危象 182/95 mmHg', en: 'Hypertensive crisis 182/95 mmHg' });
    expect(m.explanation['zh-CN']).toMatch(/^收缩压 182 mmHg ≥ 180（高血压危象/);
    expect(m.explanation.en).toMatch(/^Systolic 182 mmHg ≥ 180 \(hypertensive crisis/);
    expect(m.explanation.en).toContain('ACC/AHA 2017');
  });

  it('names both readings when both cross', () => {
    const m = bpCrisis(bp(185, 125), t('bp_crisis'))!;
    expect(m.explanation.en).toMatch(/^Systolic 185 mmHg ≥ 180, diastolic 125 mmHg ≥ 120 \(/);
  });

  it('never rounds a value onto the wrong side of its threshold', () => {
    expect(bpLow(bp(89.996, 60), t('bp_low'))!.explanation.en).toMatch(/^Systolic 89.996 mmHg < 90/);
    expect(bpHigh(bp(159.9, 100), t('bp_high'))!.title.en).toBe('High blood pressure 159.9/100 mmHg');
  });
});
