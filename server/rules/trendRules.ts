/**
 * Trend rules: judgements over several readings the engine hands in (the
 * engine owns the history and its queries; the rule only counts).
 */
import { atResolution } from './readingRules.js';
import { cite, defaultContext, type RuleContext } from './ruleMatch.js';
import { limit, text, whole } from './ruleText.js';
import type { RuleMatch, Thresholds } from './types.js';

const DAY_MS = 24 * 3600_000;

/**
 * SPEC §4 `bp_trend`: at least `t.count` readings with systolic ≥ `t.systolic`
 * measured within the `t.windowDays` before `now` (both ends included:
 * now − windowDays ≤ ts ≤ now) → warning for the doctor. Pass `now` = the
 * measurement time of the reading being judged, so a replayed backlog is
 * judged as it happened.
 */
export function bpTrend(
  recent: ReadonlyArray<{ ts: number; systolic: number }>,
  now: number,
  t: Thresholds,
  ctx: RuleContext = defaultContext('bp_trend'),
): RuleMatch | null {
  const from = now - t.windowDays! * DAY_MS;
  const high = recent.filter((r) => Number.isFinite(r.systolic) && r.ts >= from && r.ts <= now && atResolution(r.systolic) >= t.systolic!);
  if (high.length < t.count!) return null;
  const n = high.length;
  const days = limit(t.windowDays!);
  const sys = limit(t.systolic!);
  const max = whole(Math.max(...high.map((r) => atResolution(r.systolic))), t.systolic);
  const cites = [cite(ctx, 'systolic'), cite(ctx, 'count')].filter((c, i, all) => all.findIndex((x) => x.en === c.en) === i);
  return {
    rule: 'bp_trend',
    severity: ctx.severity.severity!,
    title: text(`血压持续偏高：${days} 天内 ${n} 次`, `Blood pressure repeatedly high: ${n} times in ${days} days`),
    explanation: text(
      `${days} 天内 ${n} 次收缩压 ≥ ${sys} mmHg（阈值 ${limit(t.count!)} 次），最高 ${max} mmHg（持续偏高，请医生查看；${cites.map((c) => c['zh-CN']).join('；')}）`,
      `${n} readings with systolic ≥ ${sys} mmHg in ${days} days (threshold ${limit(t.count!)}), highest ${max} mmHg (sustained, for the doctor; ${cites.map((c) => c.en).join('; ')})`,
    ),
  };
}
