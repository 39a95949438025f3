/** An alert's append-only history (SPEC §5): who did what, when, with which note. */
import { clockSeconds, vitalsText } from '../lib/format';
import { OUTCOME_TEXT, useI18n, word } from '../lib/i18n';
import type { AlertDetail, Lang } from '../lib/types';

const ACTIONS: Record<string, [string, string]> = {
  created: ['告警产生', 'raised'],
  acknowledged: ['认领', 'claimed'],
  'doctor.acknowledged': ['医生确认收到', 'doctor acknowledged'],
  'escalated.doctor': ['升级给家庭医生', 'escalated to the doctor'],
  'escalated.emergency': ['呼叫 120', 'escalated to 120'],
  resolved: ['结束', 'resolved'],
  commented: ['备注', 'comment'],
  'severity.raised': ['级别升高', 'severity raised'],
  overdue: ['超时未认领', 'overdue'],
  'condition.cleared': ['情况已恢复', 'condition cleared'],
};

function actionText(action: string, lang: Lang): string {
  const hit = ACTIONS[action];
  return hit ? hit[lang === 'en' ? 1 : 0] : action;
}

export function AlertHistory({ detail }: { detail: AlertDetail }) {
  const { t, lang } = useI18n();
  return (
    <section class="panel history" aria-label={t('history')}>
      <h3>{t('explanation')}</h3>
      <p class="explanation">{detail.explanation[lang]}</p>
      {detail.readings.length > 0 && (
        <>
          <h3>{t('readingsOfAlert')}</h3>
          <ul class="alert-readings">
            {detail.readings.slice(-5).map((r) => (
              <li key={`${r.deviceId}/${r.id}`}><span class="muted">{clockSeconds(r.ts)}</span> {vitalsText(r.type, r.values, lang)}</li>
            ))}
          </ul>
        </>
      )}
      <h3>{t('history')}</h3>
      <ol class="timeline" data-testid="alert-history">
        {detail.history.map((h) => (
          <li key={h.seq} data-action={h.action}>
            <span class="muted mono">{clockSeconds(h.at)}</span>
            <span class="actor">{h.actor === 'system' ? (lang === 'en' ? 'system' : '系统') : h.actor}</span>
            <span class="action">{actionText(h.action, lang)}</span>
            {typeof h.detail?.outcome === 'string' && <span class="chip">{word(OUTCOME_TEXT, h.detail.outcome, lang)}</span>}
            {typeof h.detail?.to === 'string' && h.action === 'escalated.doctor' && <span class="chip">{h.detail.to}</span>}
            {h.action === 'severity.raised' && typeof h.detail?.to === 'string' && <span class="chip">{String(h.detail.from)} → {h.detail.to}</span>}
            {h.note && <p class="note">“{h.note}”</p>}
          </li>
        ))}
      </ol>
    </section>
  );
}
