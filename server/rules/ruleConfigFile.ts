/** Loads the rule configuration: the defaults, changed by an optional JSON file (`ANXIN_RULES_FILE`). */
import { readFileSync } from 'node:fs';
import { DEFAULT_RULE_CONFIG, loadRuleConfig, type RuleConfig } from './ruleConfig.js';

export function loadRuleConfigFile(path: string | undefined): RuleConfig {
  if (!path) return DEFAULT_RULE_CONFIG;
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`ANXIN_RULES_FILE ${path}: ${(err as Error).message}`, { cause: err });
  }
  return loadRuleConfig(doc);
}
