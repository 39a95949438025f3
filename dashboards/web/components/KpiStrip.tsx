/**
 * Today at a glance: share of critical alerts claimed within 60 s (the telecare
 * target is 97.5 %, GET /api/v1/kpi) and open alerts per severity (live).
 */
import { useEffect } from 'preact/hooks';
import { api } from '../lib/api';
import { startOfToday } from '../lib/format';
import { useDebounced, useLoad } from '../lib/hooks';
import { severityId, useI18n } from '../lib/i18n';
import type { Severity } from '../lib/types';

const SHOWN: Severity[] = ['critical', 'urgent', 'warning', 'info'];

export function KpiStrip(props: { open: Record<Severity, number>; version: number }) {
  const { t } = useI18n();
  const kpi = useLoad(() => api.kpi(startOfToday()), []);
  const refresh = useDebounced(kpi.reload, 3000);
  useEffect(() => {
    if (props.version > 0) refresh();
  }, [props.version]);
  useEffect(() => {
    const id = setInterval(kpi.reload, 30_000);
    return () => clearInterval(id);
  }, []);
  const critical = kpi.value?.bySeverity.critical;
  const pct = critical?.claimedWithin60sPct;
  const target = kpi.value?.targets.claimedWithin60sPct ?? 97.5;
  return (
    <div class="kpi" data-testid="kpi">
      <span class={`kpi-item${pct !== null && pct !== undefined && pct < target ? ' kpi-bad' : ''}`} title={t('kpiTarget', { p: target })}>
        <span class="kpi-label">{t('kpiClaimed60')}</span>
        <strong class="kpi-value">{pct === null || pct === undefined ? '—' : `${pct}%`}</strong>
      </span>
      <span class="kpi-item" aria-label={t('openBySeverity')}>
        <span class="kpi-label">{t('openBySeverity')}</span>
        {SHOWN.map((s) => (
          <span key={s} class={`sev-count sev-${s}${props.open[s] ? '' : ' zero'}`} data-testid={`open-${s}`} title={t(severityId(s))}>
            {t(severityId(s))} {props.open[s]}
          </span>
        ))}
      </span>
    </div>
  );
}
