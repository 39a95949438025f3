/**
 * Family doctors with their number of patients and open items (GET
 * /api/v1/doctors), and moving all or some of one doctor's patients to
 * another (POST /api/v1/doctors/{username}/patients/move) when a doctor
 * leaves, goes on leave, or districts are redrawn: what is escalated to the
 * first doctor and their patients' warnings go along. Two steps, by keyboard:
 * choose (the target doctor, all or some patients), then a confirmation that
 * states the counts; the result says what moved and what is left.
 */
import { useState } from 'preact/hooks';
import { Dialog } from '../../components/Dialog';
import { LoadError } from '../../components/LoadError';
import { api, ApiError } from '../../lib/api';
import { useLoad } from '../../lib/hooks';
import { errorText, useI18n } from '../../lib/i18n';
import type { DoctorOverview, DoctorPatient, PatientsMoved } from '../../lib/types';

const display = (d: Pick<DoctorOverview, 'username' | 'name'>) => (d.name ? `${d.name}（${d.username}）` : d.username);

export function DoctorsPanel(props: { refreshKey: number; onMoved?: () => void }) {
  const { t, lang } = useI18n();
  const doctors = useLoad(() => api.doctors(), [props.refreshKey]);
  const [moving, setMoving] = useState<DoctorOverview | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const list = doctors.value ?? [];
  const done = (from: DoctorOverview, to: DoctorOverview, r: PatientsMoved) => {
    setMoving(null);
    setNotice(t('moveDone', {
      n: r.residents.length, to: display(to), e: r.escalations.length, w: r.warnings.length,
      from: display(from), p: r.remaining.patients, r: r.remaining.openItems,
    }));
    doctors.reload();
    props.onMoved?.();
  };

  return (
    <section class="panel" aria-labelledby="doctors-title" data-testid="doctors-panel">
      <h2 id="doctors-title">{t('doctorsTitle')} <span class="count-badge">{list.filter((d) => d.role === 'doctor').length}</span></h2>
      <p class="hint">{t('doctorsHelp')}</p>
      {doctors.error && <LoadError error={doctors.error} onRetry={doctors.reload} compact />}
      {notice && <p class="form-ok" role="status" data-testid="doctors-notice">{notice}</p>}
      <table class="table">
        <thead>
          <tr><th>{t('username')}</th><th>{t('colPatients')}</th><th>{t('colOpenItems')}</th><th /></tr>
        </thead>
        <tbody>
          {list.map((d) => {
            // The missed-care state: nobody can sign in to see this queue.
            const orphaned = d.disabled && d.patients + d.openItems > 0;
            return (
              <tr key={d.username} data-testid={`doctor-${d.username}`} data-patients={d.patients} data-open-items={d.openItems}>
                <td>
                  <span class="mono">{d.username}</span> {d.name ?? ''}
                  {d.disabled && !orphaned && <span class="tag"> {t('userDisabled')}</span>}
                  {orphaned && <span class="tag tag-critical" data-testid={`orphaned-${d.username}`}>{t('doctorQueueOrphaned')}</span>}
                </td>
                <td>{d.patients}</td>
                <td>{t('openItemsOf', { n: d.openItems, e: d.escalations, w: d.warnings })}</td>
                <td>
                  <button type="button" class="btn btn-small" data-testid={`move-patients-${d.username}`} disabled={d.patients + d.escalations === 0}
                    aria-label={t('movePatientsOf', { user: display(d) })} onClick={() => { setNotice(null); setMoving(d); }}>
                    {t('movePatients')}
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {moving && (
        <MoveDialog from={moving} doctors={list} onClose={() => setMoving(null)} onDone={(to, r) => done(moving, to, r)} errorOf={(e) => moveErrorText(e, t, lang)} />
      )}
    </section>
  );
}

function moveErrorText(e: unknown, t: ReturnType<typeof useI18n>['t'], lang: ReturnType<typeof useI18n>['lang']): string {
  if (e instanceof ApiError && e.code === 'doctor_disabled') return t('moveTargetDisabled');
  if (e instanceof ApiError && e.code === 'invalid_request' && e.field === 'residents' && e.errors.length > 0) return t('moveNotTheirs', { n: e.errors.length });
  return errorText(e, lang);
}

/** Choose the target and the patients, then confirm the counts. */
function MoveDialog(props: {
  from: DoctorOverview; doctors: DoctorOverview[]; onClose: () => void;
  onDone: (to: DoctorOverview, r: PatientsMoved) => void; errorOf: (e: unknown) => string;
}) {
  const { t } = useI18n();
  const { from } = props;
  const targets = props.doctors.filter((d) => d.role === 'doctor' && !d.disabled && d.username !== from.username);
  const [to, setTo] = useState('');
  const [scope, setScope] = useState<'all' | 'some'>('all');
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [stage, setStage] = useState<'choose' | 'confirm'>('choose');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const patients = useLoad<DoctorPatient[]>(() => (scope === 'some' ? api.doctorPatients(from.username) : Promise.resolve([])), [scope]);

  const target = targets.find((d) => d.username === to);
  const picked = (patients.value ?? []).filter((p) => chosen.has(p.id));
  // Moving all takes every escalation to the doctor (home-level ones too), so its counts are the doctor's own.
  const counts = scope === 'all'
    ? { n: from.patients, e: from.escalations, w: from.warnings }
    : { n: picked.length, e: picked.reduce((s, p) => s + p.escalations, 0), w: picked.reduce((s, p) => s + p.warnings, 0) };
  const ready = !!target && (scope === 'all' || picked.length > 0);

  const submit = async () => {
    if (!ready) return;
    if (stage === 'choose') {
      setError(null);
      setStage('confirm');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      props.onDone(target, await api.moveDoctorPatients(from.username, target.username, scope === 'some' ? picked.map((p) => p.id) : undefined));
    } catch (e) {
      setError(props.errorOf(e));
      setStage('choose');
    } finally {
      setBusy(false);
    }
  };

  const toggle = (id: string) => {
    const next = new Set(chosen);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setChosen(next);
  };

  const vars = { from: display(from), to: target ? display(target) : '', ...counts };
  return (
    <Dialog title={stage === 'confirm' ? t('moveConfirmTitle') : t('movePatientsTitle', { user: display(from) })} onClose={props.onClose}
      onSubmit={() => void submit()} submitLabel={stage === 'confirm' ? t('movePatients') : t('next')}
      submitClass={stage === 'confirm' ? 'btn-danger' : 'btn-primary'} submitKey={stage === 'confirm' ? 'Enter' : 'Ctrl+Enter'}
      focusSubmit={stage === 'confirm'} busy={busy || !ready} testId="dialog-move-patients" key={stage}>
      {stage === 'choose' ? (
        <>
          <label for="move-target">{t('moveTarget')}</label>
          {targets.length === 0 && <p class="form-error" role="alert">{t('noOtherDoctor')}</p>}
          <select id="move-target" data-autofocus data-testid="move-target" value={to} onChange={(e) => setTo(e.currentTarget.value)}>
            <option value="">{t('chooseDoctor')}</option>
            {targets.map((d) => <option key={d.username} value={d.username}>{t('doctorOption', { name: d.name ?? d.username, username: d.username, n: d.patients })}</option>)}
          </select>
          <fieldset class="row choices">
            <legend class="sr-only">{t('moveScope')}</legend>
            <label class="row choice">
              <input type="radio" name="move-scope" value="all" checked={scope === 'all'} data-testid="move-scope-all" onChange={() => setScope('all')} />
              {t('moveScopeAll')}（{from.patients}）
            </label>
            <label class="row choice">
              <input type="radio" name="move-scope" value="some" checked={scope === 'some'} data-testid="move-scope-some" onChange={() => setScope('some')} />
              {t('moveScopeSome')}
            </label>
          </fieldset>
          {scope === 'some' && (
            <ul class="list choice-list" data-testid="move-patient-list">
              {patients.loading && <li class="muted">{t('loading')}</li>}
              {(patients.value ?? []).map((p) => (
                <li key={p.id}>
                  <label class="row choice">
                    <input type="checkbox" checked={chosen.has(p.id)} data-testid={`move-patient-${p.id}`} onChange={() => toggle(p.id)} />
                    {t('patientOption', { name: p.name, id: p.id, home: p.homeId })}
                    {p.escalations + p.warnings > 0 && <span class="tag tag-warning">{t('patientOpenItems', { e: p.escalations, w: p.warnings })}</span>}
                  </label>
                </li>
              ))}
            </ul>
          )}
        </>
      ) : (
        <>
          <p class="lead" data-testid="move-confirm">{t('moveConfirmBody', vars)}</p>
          <p class="hint">{t('moveConfirmHint')}</p>
          <button type="button" class="btn btn-small" onClick={() => setStage('choose')}>{t('back')}</button>
        </>
      )}
      {error && <p class="form-error" role="alert" data-testid="dialog-error">{error}</p>}
    </Dialog>
  );
}
