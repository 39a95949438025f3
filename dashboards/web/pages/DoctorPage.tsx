/**
 * The family doctor's page: what the call center escalated to them (live),
 * their patients' other alerts, and their patients with latest vitals, missed
 * measurements, trends and personal targets.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ConnectionBadge, Header } from '../components/Header';
import { LoadError } from '../components/LoadError';
import { api } from '../lib/api';
import { clock, elapsed, vitalsText } from '../lib/format';
import { useDebounced, useLoad, useNow, useReconnects } from '../lib/hooks';
import { severityId, stateId, useI18n } from '../lib/i18n';
import { SEVERITY_ORDER, type Alert, type ResidentSummary, type User } from '../lib/types';
import { useLiveAlerts } from '../lib/useLiveAlerts';
import { DoctorAlertPanel } from './doctor/DoctorAlertPanel';
import { PatientPanel } from './doctor/PatientPanel';

type Selection = { kind: 'alert'; id: string } | { kind: 'patient'; id: string } | null;

export function DoctorPage(props: { user: User; onSignOut: () => void }) {
  const { t, lang } = useI18n();
  const now = useNow(5000);
  const [selection, setSelection] = useState<Selection>(null);
  const [readingTick, setReadingTick] = useState(0);
  const config = useLoad(() => api.config(), []);
  const patients = useLoad(() => api.patients(), []);
  const refreshPatients = useDebounced(patients.reload, 1500);
  const bumpReading = useDebounced(() => setReadingTick((n) => n + 1), 1000);

  const live = useLiveAlerts({
    onEvent: (e) => {
      if (e.type === 'reading') {
        bumpReading();
        refreshPatients();
      }
      // A patient moved to or away from this doctor (an admin's action): the list changes now, and
      // what was escalated to this doctor for a patient who left goes from the queue with them.
      if (e.type === 'resident.doctor_changed') {
        refreshPatients();
        if (e.data.from === props.user.username) live.reload();
      }
    },
    onAlertEvent: () => refreshPatients(),
  });

  // The stream is back after a drop: reload what may have failed or gone stale meanwhile (the panels refetch too).
  const reconnects = useReconnects(live.connection);
  useEffect(() => {
    if (reconnects === 0) return;
    patients.reload();
    if (config.error) config.reload();
  }, [reconnects]);

  const me = props.user.username;
  const all = [...live.alerts.values()].filter((a) => a.state !== 'resolved');
  const byUrgency = (a: Alert, b: Alert) => SEVERITY_ORDER[b.severity] - SEVERITY_ORDER[a.severity] || Date.parse(a.createdAt) - Date.parse(b.createdAt);
  const escalations = all.filter((a) => a.escalation?.target === 'doctor' && a.escalation.to === me).sort(byUrgency);
  const others = all.filter((a) => !escalations.includes(a)).sort(byUrgency);
  const patientList = patients.value ?? [];
  const patientMap = useMemo(() => new Map(patientList.map((p) => [p.resident.id, p])), [patients.value]);

  useEffect(() => {
    if (selection) return;
    if (escalations[0]) setSelection({ kind: 'alert', id: escalations[0].id });
    else if (patientList[0]) setSelection({ kind: 'patient', id: patientList[0].resident.id });
  }, [live.version, patients.value]);

  const selectedAlert = selection?.kind === 'alert' ? live.alerts.get(selection.id) ?? null : null;
  const patientId = selection?.kind === 'patient' ? selection.id : selectedAlert?.residentId ?? null;
  const patient = patientId ? patientMap.get(patientId) ?? null : null;

  const alertRow = (a: Alert) => (
    <li key={a.id}>
      <button type="button" class={`list-row sev-${a.severity}${selection?.kind === 'alert' && selection.id === a.id ? ' selected' : ''}`}
        onClick={() => setSelection({ kind: 'alert', id: a.id })} data-testid="doctor-alert-row" data-alert-id={a.id} data-state={a.state}>
        <span class="sev-badge">{t(severityId(a.severity))}</span>
        <span class="list-main">
          <span class="q-title">{a.titles[lang] ?? a.title}</span>
          <span class="muted">{a.residentId ? patientMap.get(a.residentId)?.resident.name ?? a.residentId : a.homeId} · {elapsed(a.createdAt, now, lang)} · {t(stateId(a.state))}</span>
        </span>
      </button>
    </li>
  );

  return (
    <div class="page doctor theme-light" data-testid="doctor-page">
      <Header page="pageDoctor" user={props.user} onSignOut={props.onSignOut}>
        <ConnectionBadge state={live.connection} />
      </Header>
      <main class="doctor-main">
        <aside class="sidebar">
          <section aria-labelledby="esc-title">
            <h2 id="esc-title">{t('myEscalations')} <span class="count-badge">{escalations.length}</span></h2>
            {escalations.length === 0 ? <p class="muted">{t('noEscalations')}</p> : <ul class="list" data-testid="escalations">{escalations.map(alertRow)}</ul>}
          </section>
          {others.length > 0 && (
            <section aria-labelledby="pa-title">
              <h2 id="pa-title">{t('patientAlerts')} <span class="count-badge">{others.length}</span></h2>
              <ul class="list">{others.map(alertRow)}</ul>
            </section>
          )}
          <section aria-labelledby="patients-title">
            <h2 id="patients-title">{t('patients')} <span class="count-badge">{patientList.length}</span></h2>
            <ul class="list" data-testid="patients">
              {patientList.map((p) => <PatientRow key={p.resident.id} p={p} selected={patientId === p.resident.id && selection?.kind === 'patient'} onSelect={() => setSelection({ kind: 'patient', id: p.resident.id })} />)}
            </ul>
          </section>
        </aside>
        <div class="doctor-detail">
          {/* Keyed by alert: a note or outcome typed for one alert must never be sent with another. */}
          {selectedAlert && <DoctorAlertPanel key={selectedAlert.id} alert={selectedAlert} user={props.user} reconnects={reconnects} onChanged={live.put} />}
          {patient && <PatientPanel key={patient.resident.id} summary={patient} config={config.value} refreshKey={`${readingTick}:${reconnects}`} onTargetsSaved={patients.reload} />}
          {!selectedAlert && !patient && (patients.error && !patients.value
            ? <LoadError error={patients.error} onRetry={patients.reload} testId="patients-error" />
            : <p class="empty-detail">{patients.loading ? t('loading') : t('selectAlert')}</p>)}
        </div>
      </main>
    </div>
  );
}

function PatientRow(props: { p: ResidentSummary; selected: boolean; onSelect: () => void }) {
  const { t, lang } = useI18n();
  const { resident: r, latest, missed, openAlerts, thresholds } = props.p;
  const bp = latest.blood_pressure;
  const high = typeof bp?.values.systolic === 'number' && bp.values.systolic >= (thresholds.bp_high?.systolic ?? 160);
  const missedDays = Math.max(0, ...missed.map((m) => m.missedDays));
  const open = openAlerts.critical + openAlerts.urgent + openAlerts.warning + openAlerts.info;
  return (
    <li>
      <button type="button" class={`list-row patient-row${props.selected ? ' selected' : ''}`} onClick={props.onSelect} data-testid="patient-row" data-resident-id={r.id}>
        <span class="list-main">
          <span class="q-title">{r.name} <span class="muted">{r.age === null ? '' : t('age', { n: r.age })}</span></span>
          <span class={high ? 'value-high' : 'muted'}>
            {bp ? `${vitalsText('blood_pressure', bp.values, lang)} · ${clock(bp.ts)}` : t('noReadings')}
            {latest.glucose ? ` · ${vitalsText('glucose', latest.glucose.values, lang)}` : ''}
          </span>
        </span>
        <span class="list-side">
          {missedDays > 0 && <span class="tag tag-warning">{t('missed')} {missedDays}</span>}
          {open > 0 && <span class="tag tag-critical">{t('open')} {open}</span>}
        </span>
      </button>
    </li>
  );
}
