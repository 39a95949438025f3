/**
 * What a supervisor (call-center shift lead) sees above the console's queue
 * (SPEC §5: an alert not claimed in time is overdue, "supervisors see it"):
 * every unresolved alert that went past its claim deadline, who claimed it or
 * that nobody has yet, and for how long it has been overdue, live from the
 * console's own stream. An alert leaves the panel when it is resolved. `O`
 * jumps to the panel; each row's button selects the alert in the console,
 * where the usual keys act on it.
 *
 * In an alarm flood every one of thousands of gateway alerts goes overdue
 * together: the panel draws the first SUPERVISOR_DRAWN rows and sums up the
 * rest (by severity, by type when one type is most of them, and how many of
 * them nobody has claimed). The rows are worked out again when an alert
 * changes or the next claim deadline passes, not on every tick of the clock.
 */
import { Fragment } from 'preact';
import { useRef } from 'preact/hooks';
import { elapsed } from '../../lib/format';
import { useHotkeys } from '../../lib/hooks';
import { formatCount, RULE_TEXT, severityId, stateId, useI18n, word } from '../../lib/i18n';
import { dominantRule, isOverdue, severitiesOf, tally, type Tally } from '../../lib/queue';
import { memo, useClock } from '../../lib/render';
import type { Alert, Home, Resident } from '../../lib/types';

/** Rows drawn: the panel is a quarter of the screen (some six rows); the rest are summed up under them. */
export const SUPERVISOR_DRAWN = 50;

export interface OverdueRow {
  alert: Alert;
  /** When its claim deadline passed. */
  since: number;
  /** Who claimed it (after the deadline), or null while nobody has. */
  claimedBy: string | null;
  claimedAt: number | null;
}

/** One row per alert version, so a redraw finds the rows of unchanged alerts identical (memoised). */
const rowCache = new WeakMap<Alert, OverdueRow | null>();

/** The alert's row if it is overdue at `now` (open past its deadline, or claimed late and unresolved). */
function rowOf(a: Alert, now: number): OverdueRow | null {
  if (a.state === 'open') {
    const deadline = a.claimDeadline ?? a.overdueAt;
    if (!isOverdue(a, now) || !deadline) return null;
  } else if (a.state === 'resolved' || !a.overdueAt) return null;
  let row = rowCache.get(a);
  if (!row) {
    row = a.state === 'open'
      ? { alert: a, since: Date.parse((a.claimDeadline ?? a.overdueAt)!), claimedBy: null, claimedAt: null }
      // Claiming clears the deadline; the hub keeps when the alert became overdue.
      : { alert: a, since: Date.parse(a.overdueAt!), claimedBy: a.assignee ?? '—', claimedAt: a.acknowledgedAt ? Date.parse(a.acknowledgedAt) : null };
    rowCache.set(a, row);
  }
  return row;
}

/** Unclaimed first, then the longest overdue. */
const rowOrder = (x: OverdueRow, y: OverdueRow) => Number(x.claimedBy !== null) - Number(y.claimedBy !== null) || x.since - y.since;

/**
 * The alerts a supervisor follows up: open past their claim deadline (the
 * hub's `overdue`, or the clock's, whichever comes first), and those claimed
 * late, until resolved. Unclaimed first, then the longest overdue.
 */
export function overdueRows(alerts: Iterable<Alert>, now: number): OverdueRow[] {
  return overdueView(alerts, now, Infinity).rows;
}

export interface OverdueView {
  /** The first `limit` rows, in order. */
  rows: OverdueRow[];
  /** Every overdue alert: drawn or not. */
  total: number;
  /** The overdue alerts not drawn, and how many of those nobody has claimed. */
  hidden: Tally;
  hiddenUnclaimed: number;
  /** When the next open alert's claim deadline passes (the rows change then), null if none is pending. */
  nextDue: number | null;
}

/** `overdueRows`, of which only the first `limit` are sorted and kept; the others counted. */
export function overdueView(alerts: Iterable<Alert>, now: number, limit: number): OverdueView {
  const rows: OverdueRow[] = [];
  const overdue: Alert[] = [];
  let nextDue: number | null = null;
  for (const a of alerts) {
    const row = rowOf(a, now);
    if (!row) {
      if (a.state === 'open' && !a.overdue && a.claimDeadline) {
        const at = Date.parse(a.claimDeadline);
        if (nextDue === null || at < nextDue) nextDue = at;
      }
      continue;
    }
    overdue.push(a);
    // Keep the best `limit` in order: a binary-searched insert, the worst falls off.
    if (rows.length >= limit && rowOrder(row, rows[rows.length - 1]!) >= 0) continue;
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (rowOrder(rows[mid]!, row) <= 0) lo = mid + 1;
      else hi = mid;
    }
    rows.splice(lo, 0, row);
    if (rows.length > limit) rows.pop();
  }
  const drawn = new Set(rows.map((r) => r.alert));
  const rest = overdue.length > rows.length ? overdue.filter((a) => !drawn.has(a)) : [];
  return { rows, total: overdue.length, hidden: tally(rest), hiddenUnclaimed: rest.filter((a) => a.state === 'open').length, nextDue };
}

export function SupervisorPanel(props: {
  alerts: Map<string, Alert>;
  /** Bumped on every alert change (useLiveAlerts). */
  version: number;
  now: number;
  residents: Map<string, Resident>;
  homes: Map<string, Home>;
  onSelect: (id: string) => void;
  /** The console does not hold every unresolved alert (useLiveAlerts coverage): the count is of those it holds. */
  partial?: boolean;
}) {
  const { t, lang } = useI18n();
  const table = useRef<HTMLDivElement>(null);
  const cache = useRef<{ version: number; view: OverdueView } | null>(null);
  let view = cache.current;
  if (!view || view.version !== props.version || (view.view.nextDue !== null && props.now >= view.view.nextDue)) {
    view = { version: props.version, view: overdueView(props.alerts.values(), props.now, SUPERVISOR_DRAWN) };
    cache.current = view;
  }
  const { rows, total, hidden, hiddenUnclaimed } = view.view;

  useHotkeys({ o: () => table.current?.querySelector<HTMLButtonElement>('button')?.focus() });

  const rule = dominantRule(hidden);
  return (
    <section class="panel supervisor" aria-labelledby="supervisor-title" data-testid="supervisor-panel">
      <div class="panel-head">
        <h2 id="supervisor-title">{t('supervisorTitle')} <span class="count-badge" data-testid="overdue-count">{formatCount(total, lang)}</span></h2>
        {props.partial && <span class="partial-note" data-testid="supervisor-partial">{t('supervisorPartial')}</span>}
        <span class="muted">{t('supervisorHelp')}</span>
        <span class="muted"><kbd>O</kbd> {t('supervisorFocus')}</span>
      </div>
      {rows.length === 0 ? <p class="muted" data-testid="supervisor-empty">{t('supervisorEmpty')}</p> : (
        // At most a quarter of the screen: the queue and the alert below stay the console's main work.
        <div ref={table} class="supervisor-rows">
          <table class="table" aria-labelledby="supervisor-title">
            <thead>
              <tr><th>{t('colSeverity')}</th><th>{t('colAlert')}</th><th>{t('colOverdue')}</th><th>{t('colClaimedBy')}</th><th>{t('status')}</th><th /></tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <Row key={row.alert.id} row={row} resident={row.alert.residentId ? props.residents.get(row.alert.residentId) : undefined}
                  home={props.homes.get(row.alert.homeId)} onSelect={props.onSelect} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {hidden.alerts > 0 && (
        <p class="queue-hidden" data-testid="supervisor-hidden" data-hidden={hidden.alerts}>
          {t('supervisorHidden', { n: formatCount(hidden.alerts, lang) })}
          {severitiesOf(hidden).map(([s, n], i) => (
            <Fragment key={s}>{i > 0 && ' · '}<span class={`sev-count sev-${s}`}>{t(severityId(s))} {formatCount(n, lang)}</span></Fragment>
          ))}
          {rule && <span>{t('queueHiddenRule', { rule: word(RULE_TEXT, rule[0], lang), n: formatCount(rule[1], lang) })}</span>}
          {hiddenUnclaimed > 0 && <span>{t('supervisorHiddenUnclaimed', { n: formatCount(hiddenUnclaimed, lang) })}</span>}
        </p>
      )}
    </section>
  );
}

const Row = memo(function Row(props: { row: OverdueRow; resident?: Resident; home?: Home; onSelect: (id: string) => void }) {
  const { t, lang } = useI18n();
  const { alert: a, claimedBy } = props.row;
  const title = a.titles[lang] ?? a.title;
  return (
    <tr class={`sev-${a.severity}`} data-testid="overdue-row" data-alert-id={a.id} data-claimed={claimedBy === null ? 'false' : 'true'}>
      <td><span class="sev-badge">{t(severityId(a.severity))}</span></td>
      <td>
        <strong>{title}</strong>
        <div class="muted">
          {props.resident ? props.resident.name : t('homeLevel')} · {props.home?.address ?? a.homeId}
        </div>
      </td>
      <td class="mono nowrap" data-testid="overdue-for"><OverdueFor row={props.row} /></td>
      <td data-testid="overdue-claimer">
        {claimedBy === null ? <span class="overdue-badge">{t('overdueUnclaimed')}</span> : <strong>{claimedBy}</strong>}
      </td>
      <td><span class={`state-chip state-${a.state}`}>{t(stateId(a.state))}</span></td>
      <td>
        <button type="button" class="btn btn-small" aria-label={t('openInConsole', { title })} onClick={() => props.onSelect(a.id)}>{t('show')}</button>
      </td>
    </tr>
  );
});

/** How long overdue (unclaimed), or how late it was claimed: the part of a row the clock redraws. */
function OverdueFor(props: { row: OverdueRow }) {
  const { t, lang } = useI18n();
  const now = useClock();
  const { since, claimedBy, claimedAt } = props.row;
  const sinceIso = new Date(since).toISOString();
  return claimedBy === null
    ? <>{t('overdueFor', { d: elapsed(sinceIso, now, lang) })}</>
    : <>{t('overdueClaimedAfter', { d: elapsed(sinceIso, claimedAt ?? now, lang) })}</>;
}
