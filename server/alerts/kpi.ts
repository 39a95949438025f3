/**
 * Response KPIs of the call center (SPEC §5, issue: telecare standards'
 * figures 97.5 % of calls claimed within 60 s, 99 % within 180 s), per
 * severity, over alerts created in a time range.
 */
import type { Db } from '../store/sqliteDb.js';
import { SEVERITIES } from '../rules/types.js';

export function computeKpi(db: Db, from: number, to: number, now: number) {
  const rows = db.prepare('SELECT severity, state, created_at, acknowledged_at, escalated_at, resolved_at FROM alerts WHERE created_at >= ? AND created_at <= ?')
    .all(from, to) as Array<{ severity: string; state: string; created_at: number; acknowledged_at: number | null; escalated_at: number | null; resolved_at: number | null }>;
  const bySeverity = Object.fromEntries(SEVERITIES.map((severity) => {
    const mine = rows.filter((r) => r.severity === severity);
    // An alert never claimed counts against the target with the time it has waited so far.
    const claim = mine.map((r) => (r.acknowledged_at ?? r.escalated_at ?? (r.state === 'resolved' ? r.resolved_at : null) ?? now) - r.created_at);
    const resolved = mine.filter((r) => r.resolved_at !== null).map((r) => r.resolved_at! - r.created_at);
    return [severity, {
      count: mine.length,
      open: mine.filter((r) => r.state !== 'resolved').length,
      claimedWithin60sPct: pct(claim.filter((ms) => ms <= 60_000).length, claim.length),
      claimedWithin180sPct: pct(claim.filter((ms) => ms <= 180_000).length, claim.length),
      medianSecondsToClaim: median(claim),
      medianSecondsToResolve: median(resolved),
    }];
  }));
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    targets: { claimedWithin60sPct: 97.5, claimedWithin180sPct: 99 },
    bySeverity,
  };
}

function pct(n: number, of: number): number | null {
  return of === 0 ? null : Math.round((n / of) * 1000) / 10;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const ms = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return Math.round(ms / 100) / 10;
}
