/**
 * The queue: incidents most urgent first, their alerts inside. An unclaimed
 * critical alert flashes; an overdue one is outlined and says so in words
 * (colour is never the only signal).
 *
 * In an alarm flood (a district's network outage: thousands of gateways
 * silent at once) only the first QUEUE_DRAWN incidents are drawn, with a
 * summary of the rest by severity (and by type when one type is most of
 * them) always in view under the list; the count is of every unresolved
 * alert, and when the console could not even load them all it says so above
 * the list. A new critical alert still comes first, so it is always drawn.
 */
import { Fragment } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { elapsed } from '../../lib/format';
import { formatCount, RULE_TEXT, severityId, stateId, useI18n, word, type T } from '../../lib/i18n';
import { doctorUnreached, dominantRule, severitiesOf, type Incident, type QueueView, type Tally } from '../../lib/queue';
import { memo, useClock, usePassed } from '../../lib/render';
import type { Alert, Home, Lang, Resident } from '../../lib/types';

/**
 * How many incidents the queue draws. The 1366×768 console shows about seven
 * at a time, so 100 is some fourteen screens of scrolling and more than a shift
 * works through before the order changes; beyond it each is the same kind of
 * line the summary already counts. With 100 drawn the idle console's main
 * thread works about 10 ms a second (their clocks), against 120–130 ms drawing
 * 2,000, and a new alert costs the same at 10,000 held as at none
 * (bench/flood.ts).
 */
export const QUEUE_DRAWN = 100;

const fmt = formatCount;

export const AlertQueue = memo(function AlertQueue(props: {
  view: QueueView;
  selectedId: string | null;
  onSelect: (id: string) => void;
  residents: Map<string, Resident>;
  homes: Map<string, Home>;
  /** Unresolved alerts the hub has (that this user may see), and of those how many the console holds. */
  total: number;
  held: number;
}) {
  const { t, lang } = useI18n();
  const list = useRef<HTMLDivElement>(null);
  useEffect(() => {
    list.current?.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: 'nearest' });
  }, [props.selectedId]);
  const { drawn, pinned, hidden } = props.view;
  const group = (inc: Incident) => (
    <IncidentGroup key={inc.id} incident={inc} selectedId={inc.alerts.some((a) => a.id === props.selectedId) ? props.selectedId : null}
      onSelect={props.onSelect} residents={props.residents} homes={props.homes} />
  );
  return (
    <section class="queue" aria-labelledby="queue-title">
      <h2 id="queue-title" class="queue-title">{t('queue')} <span class="count-badge" data-testid="queue-count">{fmt(props.total, lang)}</span></h2>
      {props.total > props.held && (
        <p class="queue-notice" data-testid="queue-truncated">
          {t('queueTruncated', { total: fmt(props.total, lang), held: fmt(props.held, lang), rest: fmt(props.total - props.held, lang) })}
        </p>
      )}
      <div ref={list} class="queue-list" role="listbox" aria-labelledby="queue-title" aria-activedescendant={props.selectedId ? `q-${props.selectedId}` : undefined} data-testid="queue">
        {drawn.length === 0 && <p class="queue-empty">{t('queueEmpty')}</p>}
        {drawn.map(group)}
        {pinned && (
          <>
            <p class="queue-pinned" data-testid="queue-pinned">{t('queuePinned', { n: fmt(pinned.position + 1, lang) })}</p>
            {group(pinned.incident)}
          </>
        )}
      </div>
      {hidden.alerts > 0 && <HiddenSummary hidden={hidden} t={t} lang={lang} />}
    </section>
  );
});

/** "另有 1,830 条告警未显示：紧急 1,800 · 警告 30（其中网关离线 1,790）": the alerts held and not drawn. */
function HiddenSummary(props: { hidden: Tally; t: T; lang: Lang }) {
  const { hidden, t, lang } = props;
  const rule = dominantRule(hidden);
  return (
    <p class="queue-hidden" data-testid="queue-hidden" data-hidden={hidden.alerts}>
      {t('queueHidden', { n: fmt(hidden.alerts, lang) })}
      {severitiesOf(hidden).map(([s, n], i) => (
        <Fragment key={s}>{i > 0 && ' · '}<span class={`sev-count sev-${s}`} data-testid={`hidden-${s}`}>{t(severityId(s))} {fmt(n, lang)}</span></Fragment>
      ))}
      {rule && <span data-testid="hidden-rule">{t('queueHiddenRule', { rule: word(RULE_TEXT, rule[0], lang), n: fmt(rule[1], lang) })}</span>}
    </p>
  );
}

/** One incident: redrawn only when its alerts or whether it holds the selection change. */
const IncidentGroup = memo(function IncidentGroup(props: {
  incident: Incident;
  /** The selected alert's id when it is in this incident, else null. */
  selectedId: string | null;
  onSelect: (id: string) => void;
  residents: Map<string, Resident>;
  homes: Map<string, Home>;
}) {
  const { t } = useI18n();
  const inc = props.incident;
  return (
    <div class={`incident sev-${inc.severity}${inc.alerts.length > 1 ? ' multi' : ''}`} data-incident={inc.id} role="group"
      aria-label={`${t('incident')}: ${props.homes.get(inc.homeId)?.address ?? inc.homeId}`}>
      {inc.alerts.length > 1 && (
        <div class="incident-head">
          <span>{t('incident')} · {props.homes.get(inc.homeId)?.address ?? inc.homeId}</span>
          <span>{t('alertsInIncident', { n: inc.alerts.length })}</span>
        </div>
      )}
      {inc.alerts.map((a) => (
        <QueueItem key={a.id} alert={a} selected={a.id === props.selectedId} onSelect={props.onSelect}
          resident={a.residentId ? props.residents.get(a.residentId) : undefined} home={props.homes.get(a.homeId)} />
      ))}
    </div>
  );
});

const deadlineOf = (a: Alert) => (a.claimDeadline && a.state === 'open' ? Date.parse(a.claimDeadline) : null);

/** One alert: redrawn when the alert or its selection changes, or once when its claim deadline passes. */
const QueueItem = memo(function QueueItem(props: { alert: Alert; selected: boolean; onSelect: (id: string) => void; resident?: Resident; home?: Home }) {
  const { t, lang } = useI18n();
  const a = props.alert;
  const deadline = deadlineOf(a);
  const passed = usePassed(deadline);
  const overdue = a.state === 'open' && (a.overdue || passed);
  const unreached = doctorUnreached(a);
  const flashing = (a.severity === 'critical' && a.state === 'open') || unreached;
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
        <Age createdAt={a.createdAt} />
        {overdue && <span class="overdue-badge">{t('overdue')}</span>}
        {!overdue && deadline !== null && <ClaimCountdown deadline={deadline} />}
      </div>
    </div>
  );
});

/** Time since the alert was raised: the part of a row the clock redraws. */
export function Age(props: { createdAt: string }) {
  const { lang } = useI18n();
  const now = useClock();
  return <time dateTime={props.createdAt} class="q-age">{elapsed(props.createdAt, now, lang)}</time>;
}

function ClaimCountdown(props: { deadline: number }) {
  const { t } = useI18n();
  const left = Math.ceil((props.deadline - useClock()) / 1000);
  return left > 0 ? <span class="countdown">{t('claimIn', { s: left })}</span> : null;
}
