/**
 * The Grafana operations dashboard (dashboards/grafana/anxin-operations.json)
 * charts only metrics the hub exports: a renamed or removed metric would leave
 * a panel silently empty. Real hub, its real /metrics.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../../helpers/hub.js';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(() => t?.destroy());

it('every anxin_* metric a panel queries is exported by the hub', async () => {
  const dashboard = JSON.parse(readFileSync('dashboards/grafana/anxin-operations.json', 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr?: string }> }> };
  const exported = new Set([...(await t.hub.http.inject({ url: '/metrics' })).body.matchAll(/^# TYPE (anxin_\w+) /gm)].map((m) => m[1]!));
  const queried = dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((q) => [...(q.expr ?? '').matchAll(/\b(anxin_\w+)/g)].map((m) => ({ panel: p.title, metric: m[1]!.replace(/_(bucket|sum|count)$/, '') }))));
  expect(queried.length).toBeGreaterThan(10);
  expect(queried.filter((q) => !exported.has(q.metric))).toEqual([]);
  expect(queried.map((q) => q.metric)).toEqual(expect.arrayContaining([
    'anxin_notifications_pending', 'anxin_escalations_doctor_unreachable_total',
    'anxin_tls_certificate_expiry_timestamp_seconds', 'anxin_journal_rows_pruned_total', 'anxin_journal_retention_behind_seconds',
  ]));
});
