/** bp_trend (SPEC §4): 3 readings with systolic ≥ 140 within 7 days → warning. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_RULE_CONFIG, thresholdsFor } from '../../../server/rules/ruleConfig.js';
import { ruleContext } from '../../../server/rules/ruleMatch.js';
import { bpTrend } from '../../../server/rules/trendRules.js';
import { DAY, T0 } from './ruleFixtures.js';

const t = thresholdsFor(DEFAULT_RULE_CONFIG, 'bp_trend');
const NOW = T0;
const at = (daysAgo: number, systolic: number) => ({ ts: NOW - daysAgo * DAY, systolic });

describe('bpTrend', () => {
  it.each([
    { name: 'two high readings', recent: [at(1, 150), at(0, 150)], hit: false },
    { name: 'three high readings', recent: [at(2, 150), at(1, 150), at(0, 150)], hit: true },
    { name: 'one of three at 139.99', recent: [at(2, 139.99), at(1, 150), at(0, 150)], hit: false },
    { name: 'three exactly at 140', recent: [at(2, 140), at(1, 140), at(0, 140)], hit: true },
    { name: 'three at 140.01', recent: [at(2, 140.01), at(1, 140.01), at(0, 140.01)], hit: true },
    { name: 'oldest exactly 7 days before now (included)', recent: [at(7, 150), at(1, 150), at(0, 150)], hit: true },
    { name: 'oldest 7 days + 1 ms before now (outside)', recent: [{ ts: NOW - 7 * DAY - 1, systolic: 150 }, at(1, 150), at(0, 150)], hit: false },
    { name: 'one measured after now (outside)', recent: [{ ts: NOW + 1, systolic: 150 }, at(1, 150), at(0, 150)], hit: false },
    { name: 'normal readings in between do not matter', recent: [at(5, 150), at(4, 120), at(3, 150), at(2, 118), at(1, 150)], hit: true },
    { name: 'nothing', recent: [], hit: false },
  ])('$name → $hit', ({ recent, hit }) => {
    const m = bpTrend(recent, NOW, t);
    expect(m?.rule ?? null).toBe(hit ? 'bp_trend' : null);
    if (m) expect(m.severity).toBe('warning');
  });

  it('counts, names the highest value and the window', () => {
    const m = bpTrend([at(3, 151), at(2, 166.4), at(1, 142)], NOW, t)!;
    expect(m.title).toEqual({ 'zh-CN': '血压持续偏高：7 天内 3 次', en: 'Blood pressure repeatedly high: 3 times in 7 days' });
    expect(m.explanation.en).toMatch(/^3 readings with systolic ≥ 140 mmHg in 7 days \(threshold 3\), highest 166 mmHg \(sustained, for the doctor; ESC\/ESH 2018/);
  });

  it("follows a resident's targets", () => {
    const targets = { bp_trend: { systolic: 150, count: 2 } };
    const own = thresholdsFor(DEFAULT_RULE_CONFIG, 'bp_trend', targets);
    const ctx = ruleContext(DEFAULT_RULE_CONFIG, 'bp_trend', targets);
    expect(bpTrend([at(1, 149), at(0, 151)], NOW, own, ctx)).toBeNull();
    expect(bpTrend([at(1, 150), at(0, 151)], NOW, own, ctx)?.explanation.en).toContain("resident's target");
  });
});
