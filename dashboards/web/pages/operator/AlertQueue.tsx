/**
 * The queue: incidents most urgent first, their alerts inside. An unclaimed
 * critical alert flashes; an overdue one is outlined and says so in words
 * (colour is never the only signal).
 */
import { useEffect, useRef } from 'preact/hooks';
import { elapsed } from '../../lib/format';
import { severityId, stateId, useI18n } from '../../lib/i18n';
import { doctorUnreached, isOverdue, type Incident } from '../../lib/queue';
import type { Alert, Home, Resident } from '../../lib/types';

export function AlertQueue(props: {
  incidents: Incident[];
  selectedId: string | null;
  onSelect: (id: string) => void;
  residents: Map<string, Resident>;
  homes: Map<string, Home>;
  now: number;
}) {
  const { t } = useI18n();
  const list = useRef<HTMLDivElement>(null);
  useEffect(() => {
    list.current?.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: 'nearest' });
  }, [props.selectedId]);
  const total = props.incidents.reduce((n, i) => n + i.alerts.length, 0);
  return (
    <section class="queue" aria-labelledby="queue-title">
      <h2 id="queue-title" class="queue-title">{t('queue')} <span class="count-badge">{total}</span></h2>
      <div ref={list} class="queue-list" role="listbox" aria-labelledby="queue-title" aria-activedescendant={props.selectedId ? `q-${props.selectedId}` : undefined} data-testid="queue">
        {props.incidents.length === 0 && <p class="queue-empty">{t('queueEmpty')}</p>}
        {props.incidents.map((inc) => (
          <div class={`incident sev-${inc.severity}${inc.alerts.length > 1 ? ' multi' : ''}`} key={inc.id} data-incident={inc.id} role="group"
            aria-label={`${t('incident')}: ${props.homes.get(inc.homeId)?.address ?? inc.homeId}`}>
            {inc.alerts.length > 1 && (
              <div class="incident-head">
                <span>{t('incident')} · {props.homes.get(inc.homeId)?.address ?? inc.homeId}</span>
                <span>{t('alertsInIncident', { n: inc.alerts.length })}</span>
              </div>
            )}
            {inc.alerts.map((a) => (
              <QueueItem key={a.id} alert={a} selected={a.id === props.selectedId} onSelect={props.onSelect}
                resident={a.residentId ? props.residents.get(a.residentId) : undefined} home={props.homes.get(a.homeId)} now={props.now} />
            ))}
          </div>
        ))}
      </div>
    </section>
  );
}

function QueueItem(props: { alert: Alert; selected: boolean; onSelect: (id: string) => void; resident?: Resident; home?: Home; now: number }) {
  const { t, lang } = useI18n();
  const a = props.alert;
  const overdue = isOverdue(a, props.now);
  const unreached = doctorUnreached(a);
  const flashing = (a.severity === 'critical' && a.state === 'open') || unreached;
  const left = a.claimDeadline && a.state === 'open' ? Math.ceil((Date.parse(a.claimDeadline) - props.now) / 1000) : null;
  const cls = ['q-item', `sev-${a.severity}`, `state-${a.state}`, flashing && 'flash', overdue && 'overdue', props.selected && 'selected'].filter(Boolean).join(' ');
  return (
    <div id={`q-${a.id}`} class={cls} role="option" aria-selected={props.selected} tabIndex={-1}
      data-testid="queue-item" data-alert-id={a.id} data-severity={a.severity} data-state={a.state} data-overdue={overdue ? 'true' : 'false'}
      data-doctor-unreached={unreached ? 'true' : 'false'}
      onClick={() => props.onSelect(a.id)}>
      <span class="sev-badge">{t(severityId(a.severity))}</span>
      <div class="q-main">
        <div class="q-title">{a.titles[lang] ?? a.title}</div>
        <div class="q-sub">
          {props.resident ? <strong>{props.resident.name}</strong> : <span>{t('homeLevel')}</span>}
          <span class="muted"> · {props.home?.address ?? a.homeId}</span>
        </div>
        <div class="q-tags">
          <span class={`state-chip state-${a.state}`}>{t(stateId(a.state))}</span>
          {a.escalation?.target === 'emergency' && <span class="tag tag-critical">{t('escEmergency')}</span>}
          {a.escalation?.target === 'doctor' && <span class="tag tag-info">{t('escDoctor', { to: a.escalation.to ?? '' })}</span>}
          {a.escalation?.target === 'doctor' && a.escalation.delivery?.state === 'failed' && <span class="tag tag-critical">{t('doctorUnreached')}</span>}
          {a.assignee && <span class="muted">{t('assignee')}: <span data-testid="assignee">{a.assignee}</span></span>}
          {a.late && <span class="tag">{t('late')}</span>}
          {a.count > 1 && <span class="muted">{t('count', { n: a.count })}</span>}
        </div>
      </div>
      <div class="q-side">
        <time dateTime={a.createdAt} class="q-age">{elapsed(a.createdAt, props.now, lang)}</time>
        {overdue && <span class="overdue-badge">{t('overdue')}</span>}
        {!overdue && left !== null && left > 0 && <span class="countdown">{t('claimIn', { s: left })}</span>}
      </div>
    </div>
  );
}
