/**
 * The selected alert: what happened and the action buttons (with their keys),
 * then the resident card, vitals charts and the alert's history. Reloads what
 * the stream says changed: the alert, the resident's readings, device status.
 */
import { useEffect, useState } from 'preact/hooks';
import { AlertHistory } from '../../components/AlertHistory';
import { LoadError } from '../../components/LoadError';
import { ResidentCard } from '../../components/ResidentCard';
import { VitalsPanel } from '../../components/VitalsPanel';
import { api } from '../../lib/api';
import { clock, elapsed } from '../../lib/format';
import { useLoad } from '../../lib/hooks';
import { severityId, stateId, useI18n } from '../../lib/i18n';
import { doctorUnreached, isOverdue } from '../../lib/queue';
import type { Alert, AlertDetail as Detail, ResidentDetail, ResidentSummary, HomeDetail } from '../../lib/types';

export type ActionKind = 'ack' | 'call' | 'doctor' | 'emergency' | 'resolve' | 'handoff';

interface Loaded {
  resident: ResidentDetail;
  summary: ResidentSummary | null;
  home: HomeDetail | null;
}

/** The resident part: loading (first time), loaded, or failed (kept apart from loading, so a failure never reads as "loading…"). */
type ResidentLoad = { status: 'loading' } | { status: 'loaded'; value: Loaded | null } | { status: 'failed'; error: unknown };

export function AlertDetail(props: {
  alert: Alert; now: number; readingTick: number; deviceTick: number;
  /** Bumped when the live connection comes back: whatever failed meanwhile is fetched again. */
  reconnects: number;
  /** No family doctor is recorded for whom this alert is about: `D` cannot work, say so and what to do instead. */
  noDoctor: boolean;
  onAction: (k: ActionKind) => void; busy: boolean;
}) {
  const { t, lang } = useI18n();
  const a = props.alert;
  const detail = useLoad<Detail>(() => api.alert(a.id), [a.id, a.updatedAt, props.reconnects]);
  const [res, setRes] = useState<ResidentLoad>({ status: 'loading' });
  const [retries, setRetries] = useState(0);

  useEffect(() => {
    let live = true;
    const load = async (): Promise<Loaded | null> => {
      if (a.residentId) {
        const [resident, summary] = await Promise.all([api.resident(a.residentId), api.summary(a.residentId).catch(() => null)]);
        return { resident, summary, home: null };
      }
      // A home-level alert (gateway offline, no activity): the home and its first resident.
      const home = await api.home(a.homeId);
      const first = home.residents[0];
      if (!first) return null;
      const summary = await api.summary(first.id).catch(() => null);
      return { resident: { ...first, home, devices: home.devices }, summary, home };
    };
    // A refetch keeps what is on screen until it answers; only a failure with nothing shown replaces it.
    load().then(
      (value) => { if (live) setRes({ status: 'loaded', value }); },
      (error: unknown) => { if (live) setRes((prev) => (prev.status === 'loaded' && prev.value ? prev : { status: 'failed', error })); },
    );
    return () => { live = false; };
  }, [a.residentId, a.homeId, props.readingTick, props.deviceTick, props.reconnects, retries]);

  const retry = () => {
    setRes({ status: 'loading' });
    setRetries((n) => n + 1);
    detail.reload();
  };
  const loaded = res.status === 'loaded' ? res.value : null;

  const overdue = isOverdue(a, props.now);
  const unreached = doctorUnreached(a);
  const delivery = a.escalation?.target === 'doctor' ? a.escalation.delivery : null;
  const can = {
    ack: a.state === 'open' || unreached,
    doctor: a.state !== 'resolved' && a.state !== 'escalated' && !props.noDoctor,
    emergency: a.state !== 'resolved' && a.escalation?.target !== 'emergency',
    resolve: a.state !== 'resolved',
    handoff: a.escalation?.target === 'emergency',
  };
  const residentMatches = loaded && (a.residentId ? loaded.resident.id === a.residentId : loaded.home?.id === a.homeId);
  const chartType = a.rule.startsWith('glucose') ? 'glucose' : 'blood_pressure';

  return (
    <div class="detail" data-testid="alert-detail" data-alert-id={a.id}>
      <section class={`alert-head sev-${a.severity}${overdue ? ' overdue' : ''}`} aria-live="polite">
        <div class="alert-head-main">
          <span class="sev-badge big">{t(severityId(a.severity))}</span>
          <div>
            <h2 class="alert-title" data-testid="alert-title">{a.titles[lang] ?? a.title}</h2>
            <p class="alert-meta">
              <span class={`state-chip state-${a.state}`} data-testid="alert-state">{t(stateId(a.state))}</span>
              <span>{clock(a.createdAt)} · {elapsed(a.createdAt, props.now, lang)}</span>
              {overdue && <span class="overdue-badge">{t('overdue')}</span>}
              {a.assignee && <span>{t('assignee')}: {a.assignee}</span>}
              {a.escalation?.target === 'doctor' && (
                <span class={`tag ${delivery?.state === 'failed' ? 'tag-critical' : 'tag-info'}`} data-testid="doctor-delivery" data-delivery={delivery?.state ?? ''}>
                  {t('escDoctor', { to: a.escalation.to ?? '' })}
                  {delivery && ` · ${t(delivery.state === 'failed' ? 'doctorUnreached' : delivery.state === 'delivered' ? 'doctorNotified' : 'doctorNotifying')}`}
                  {a.escalation.doctorAcknowledgedAt ? ` · ${t('doctorAcked')}` : ''}
                </span>
              )}
              {a.escalation?.target === 'emergency' && <span class="tag tag-critical">{t('escEmergency')}</span>}
            </p>
          </div>
        </div>
        <div class="actions" role="toolbar" aria-label={t('shortcuts')}>
          <button type="button" class="btn btn-primary" disabled={!can.ack || props.busy} onClick={() => props.onAction('ack')} data-testid="act-ack">{t('actAck')} <kbd>A</kbd></button>
          <button type="button" class="btn" onClick={() => props.onAction('call')} data-testid="act-call">{t('actCall')} <kbd>C</kbd></button>
          <button type="button" class="btn" disabled={!can.doctor || props.busy} onClick={() => props.onAction('doctor')} data-testid="act-doctor"
            aria-describedby={props.noDoctor ? 'no-doctor-hint' : undefined} title={props.noDoctor ? t('noDoctor') : undefined}>{t('actDoctor')} <kbd>D</kbd></button>
          <button type="button" class="btn btn-danger" disabled={!can.emergency || props.busy} onClick={() => props.onAction('emergency')} data-testid="act-emergency">{t('actEmergency')} <kbd>E</kbd></button>
          {can.handoff && <button type="button" class="btn" onClick={() => props.onAction('handoff')} data-testid="act-handoff">{t('actHandoff')} <kbd>H</kbd></button>}
          <button type="button" class="btn" disabled={!can.resolve || props.busy} onClick={() => props.onAction('resolve')} data-testid="act-resolve">{t('actResolve')} <kbd>R</kbd></button>
        </div>
        {delivery?.state === 'failed' && a.state === 'escalated' && (
          <div class={`doctor-unreached${unreached ? ' unacked' : ''}`} role="alert" data-testid="doctor-unreached" data-acknowledged={unreached ? 'false' : 'true'}>
            <div class="doctor-unreached-text">
              <strong lang={lang}>{delivery.message?.[lang] ?? t('doctorUnreachedGeneric')}</strong>
              {lang !== 'en' && delivery.message && <span class="doctor-unreached-en" lang="en">{delivery.message.en}</span>}
            </div>
            {unreached
              ? <button type="button" class="btn" disabled={props.busy} onClick={() => props.onAction('ack')} data-testid="ack-unreached">{t('doctorUnreachedAck')} <kbd>A</kbd></button>
              : <span>{t('doctorUnreachedAcked', { who: delivery.acknowledgedBy ?? '' })}</span>}
          </div>
        )}
        {props.noDoctor && a.state !== 'resolved' && a.state !== 'escalated' && (
          <p class="hint no-doctor" id="no-doctor-hint" data-testid="no-doctor">{t('noDoctorNext')}</p>
        )}
      </section>
      <div class="detail-grid">
        <div class="detail-col">
          {residentMatches && loaded ? (
            <ResidentCard resident={loaded.resident} summary={loaded.summary} home={loaded.home ?? loaded.resident.home} devices={loaded.resident.devices} homeLevel={!a.residentId} />
          ) : res.status === 'failed' ? (
            <div class="panel"><LoadError error={res.error} onRetry={retry} testId="resident-error" /></div>
          ) : (
            <p class="panel muted">{t('loading')}</p>
          )}
        </div>
        <div class="detail-col">
          {residentMatches && loaded && (
            <VitalsPanel key={loaded.resident.id} residentId={loaded.resident.id} thresholds={loaded.summary?.thresholds ?? {}} initial={chartType}
              refreshKey={`${props.readingTick}:${props.reconnects}`} height={200} />
          )}
          {detail.value && detail.value.alert.id === a.id ? <AlertHistory detail={detail.value} />
            : detail.error && <div class="panel"><LoadError error={detail.error} onRetry={detail.reload} testId="history-error" /></div>}
        </div>
      </div>
    </div>
  );
}
