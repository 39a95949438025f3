/**
 * What every rule needs besides its thresholds: its configured severities and
 * the citation of each threshold (or "the resident's target"), and one way of
 * turning "what was crossed" into a calm, bilingual `RuleMatch`.
 */
import { DEFAULT_RULE_CONFIG, severitiesFor, sourcesFor, targetedNames, type RuleConfig } from './ruleConfig.js';
import { joinText, limit, text } from './ruleText.js';
import type { RuleId, RuleMatch, Severity, Targets, Text } from './types.js';

export interface RuleContext {
  /** The rule's severity settings, e.g. `{ severity: 'critical', urgentSeverity: 'urgent' }`. */
  severity: Record<string, Severity>;
  /** Citation per threshold name. */
  source: Record<string, string>;
  /** Thresholds taken from the resident's targets: cited as such, not as the guideline. */
  targeted: readonly string[];
}

export function ruleContext(config: RuleConfig, rule: RuleId, targets?: Targets): RuleContext {
  return { severity: severitiesFor(config, rule), source: sourcesFor(config, rule), targeted: targetedNames(rule, targets) };
}

const defaults = new Map<RuleId, RuleContext>();

/** The context of the default configuration, for calling a rule on its own. */
export function defaultContext(rule: RuleId): RuleContext {
  let ctx = defaults.get(rule);
  if (!ctx) {
    ctx = ruleContext(DEFAULT_RULE_CONFIG, rule);
    defaults.set(rule, ctx);
  }
  return ctx;
}

/** One crossed threshold, e.g. systolic 182 mmHg ≥ 180. */
export interface Crossed {
  /** Threshold name in the rule's configuration (`systolic`), for the citation. */
  threshold: string;
  label: Text;
  /** Value as shown, with its unit: "182 mmHg". */
  shown: Text;
  op: '≥' | '>' | '<' | '≤';
  /** The threshold as shown: "180", "3.0", "15%". */
  limit: string;
  unit: Text;
}

/** `limitShown` defaults to the threshold without trailing zeros. */
export function crossed(threshold: string, label: Text, shown: string, op: Crossed['op'], at: number, unit: Text, limitShown = limit(at)): Crossed {
  return { threshold, label, shown: text(shown, shown), op, limit: limitShown, unit };
}

/** Where a threshold comes from: its configured citation, or the resident's target. */
export function cite(ctx: RuleContext, threshold: string): Text {
  if (ctx.targeted.includes(threshold)) return text('个人目标（医生设定）', "resident's target set by their doctor");
  const s = ctx.source[threshold] ?? '';
  return text(s, s);
}

const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * A match whose explanation states each crossed threshold, what it means
 * clinically and where the threshold comes from:
 * "收缩压 182 mmHg ≥ 180（高血压危象；ACC/AHA 2017, 中国高血压防治指南 2018）" /
 * "Systolic 182 mmHg ≥ 180 (hypertensive crisis; ACC/AHA 2017, 中国高血压防治指南 2018)".
 */
export function matchOf(rule: RuleId, severity: Severity, title: Text, found: readonly Crossed[], meaning: Text, ctx: RuleContext): RuleMatch {
  const sentences = found.map((c) => text(
    `${c.label['zh-CN']} ${c.shown['zh-CN']} ${c.unit['zh-CN']} ${c.op} ${c.limit}`.replace(/ +/g, ' ').trim(),
    `${c.label.en} ${c.shown.en} ${c.unit.en} ${c.op} ${c.limit}`.replace(/ +/g, ' ').trim(),
  ));
  const cites: Text[] = [];
  for (const c of found) {
    const t = cite(ctx, c.threshold);
    if (t.en && !cites.some((x) => x.en === t.en)) cites.push(t);
  }
  const what = joinText(sentences);
  const why = [meaning, ...cites];
  return {
    rule,
    severity,
    title,
    explanation: text(
      `${what['zh-CN']}（${why.map((w) => w['zh-CN']).join('；')}）`,
      `${capitalise(what.en)} (${why.map((w) => w.en).join('; ')})`,
    ),
  };
}
