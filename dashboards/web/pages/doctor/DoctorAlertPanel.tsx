/**
 * An alert on the doctor's page. What was escalated to them they acknowledge,
 * comment on and resolve (SPEC §5); their patients' other alerts they read.
 */
import { useState } from 'preact/hooks';
import { AlertHistory } from '../../components/AlertHistory';
import { LoadError } from '../../components/LoadError';
import { api } from '../../lib/api';
import { clock } from '../../lib/format';
import { useLoad } from '../../lib/hooks';
import { errorText, OUTCOME_TEXT, severityId, stateId, useI18n, word } from '../../lib/i18n';
import { OUTCOMES, type Alert, type Outcome, type User } from '../../lib/types';

/**
 * Holds the note and outcome being written for this one alert: the page keys
 * it by alert id, so they (and an error) never carry over to another alert.
 */
export function DoctorAlertPanel(props: { alert: Alert; user: User; reconnects: number; onChanged: (a: Alert) => void }) {
  const { t, lang } = useI18n();
  const a = props.alert;
  const detail = useLoad(() => api.alert(a.id), [a.id, a.updatedAt, props.reconnects]);
  const [note, setNote] = useState('');
  const [outcome, setOutcome] = useState<Outcome>('handled');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const mine = a.escalation?.target === 'doctor' && a.escalation.to === props.user.username && a.state === 'escalated';

  const run = async (fn: () => Promise<{ alert: Alert }>, clear = false) => {
    setBusy(true);
    setError(null);
    try {
      const r = await fn();
      props.onChanged(r.alert);
      if (clear) setNote('');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class={`panel doctor-alert sev-${a.severity}`} data-testid="doctor-alert" data-alert-id={a.id}>
      <div class="alert-head-main">
        <span class="sev-badge big">{t(severityId(a.severity))}</span>
        <div>
          <h2 class="alert-title">{a.titles[lang] ?? a.title}</h2>
          <p class="alert-meta">
            <span class={`state-chip state-${a.state}`} data-testid="alert-state">{t(stateId(a.state))}</span>
            <span>{clock(a.createdAt)}</span>
            {a.escalation?.doctorAcknowledgedAt && <span class="tag tag-info">{t('doctorAcked')}</span>}
            {a.assignee && <span>{t('assignee')}: {a.assignee}</span>}
          </p>
        </div>
      </div>
      {mine && (
        <div class="doctor-actions">
          {!a.escalation?.doctorAcknowledgedAt && (
            <button type="button" class="btn btn-primary" disabled={busy} onClick={() => run(() => api.ack(a.id))} data-testid="doctor-ack">{t('actAckDoctor')}</button>
          )}
          <label for="doc-note" class="sr-only">{t('note')}</label>
          <textarea id="doc-note" rows={2} placeholder={t('commentPlaceholder')} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
          <div class="row">
            <button type="button" class="btn" disabled={busy || !note.trim()} onClick={() => run(() => api.comment(a.id, note.trim()), true)} data-testid="doctor-comment">{t('actComment')}</button>
            <label for="doc-outcome" class="sr-only">{t('outcome')}</label>
            <select id="doc-outcome" value={outcome} onChange={(e) => setOutcome(e.currentTarget.value as Outcome)}>
              {OUTCOMES.map((o) => <option key={o} value={o}>{word(OUTCOME_TEXT, o, lang)}</option>)}
            </select>
            <button type="button" class="btn btn-primary" disabled={busy} onClick={() => run(() => api.resolve(a.id, outcome, note.trim() || undefined), true)} data-testid="doctor-resolve">{t('actResolve')}</button>
          </div>
        </div>
      )}
      {error !== null && <p class="form-error" role="alert" data-testid="doctor-error">{t('actionFailed', { m: errorText(error, lang) })}</p>}
      {detail.value && detail.value.alert.id === a.id ? <AlertHistory detail={detail.value} />
        : detail.error && <LoadError error={detail.error} onRetry={detail.reload} testId="history-error" />}
    </section>
  );
}
