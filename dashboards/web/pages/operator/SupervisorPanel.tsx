/**
 * What a supervisor (call-center shift lead) sees above the console's queue
 * (SPEC §5: an alert not claimed in time is overdue, "supervisors see it"):
 * every unresolved alert that went past its claim deadline, who claimed it or
 * that nobody has yet, and for how long it has been overdue, live from the
 * console's own stream. An alert leaves the panel when it is resolved. `O`
 * jumps to the panel; each row's button selects the alert in the console,
 * where the usual keys act on it.
 */
import { useMemo, useRef } from 'preact/hooks';
import { elapsed } from '../../lib/format';
import { useHotkeys } from '../../lib/hooks';
import { severityId, stateId, useI18n } from '../../lib/i18n';
import { isOverdue } from '../../lib/queue';
import type { Alert, Home, Resident } from '../../lib/types';

export interface OverdueRow {
  alert: Alert;
  /** When its claim deadline passed. */
  since: number;
  /** Who claimed it (after the deadline), or null while nobody has. */
  claimedBy: string | null;
  claimedAt: number | null;
}

/**
 * The alerts a supervisor follows up: open past their claim deadline (the
 * hub's `overdue`, or the clock's, whichever comes first), and those claimed
 * late, until resolved. Unclaimed first, then the longest overdue.
 */
export function overdueRows(alerts: Iterable<Alert>, now: number): OverdueRow[] {
  const rows: OverdueRow[] = [];
  for (const a of alerts) {
    if (a.state === 'open') {
      const deadline = a.claimDeadline ?? a.overdueAt;
      if (isOverdue(a, now) && deadline) rows.push({ alert: a, since: Date.parse(deadline), claimedBy: null, claimedAt: null });
    } else if (a.state !== 'resolved' && a.overdueAt) {
      // Claiming clears the deadline; the hub keeps when the alert became overdue.
      rows.push({ alert: a, since: Date.parse(a.overdueAt), claimedBy: a.assignee ?? '—', claimedAt: a.acknowledgedAt ? Date.parse(a.acknowledgedAt) : null });
    }
  }
  return rows.sort((x, y) => Number(x.claimedBy !== null) - Number(y.claimedBy !== null) || x.since - y.since);
}

export function SupervisorPanel(props: {
  alerts: Map<string, Alert>;
  /** Bumped on every alert change (useLiveAlerts). */
  version: number;
  now: number;
  residents: Map<string, Resident>;
  homes: Map<string, Home>;
  onSelect: (id: string) => void;
}) {
  const { t, lang } = useI18n();
  const table = useRef<HTMLDivElement>(null);
  const rows = useMemo(() => overdueRows(props.alerts.values(), props.now), [props.version, props.now]);

  useHotkeys({ o: () => table.current?.querySelector<HTMLButtonElement>('button')?.focus() });

  return (
    <section class="panel supervisor" aria-labelledby="supervisor-title" data-testid="supervisor-panel">
      <div class="panel-head">
        <h2 id="supervisor-title">{t('supervisorTitle')} <span class="count-badge" data-testid="overdue-count">{rows.length}</span></h2>
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
              {rows.map(({ alert: a, since, claimedBy, claimedAt }) => {
                const resident = a.residentId ? props.residents.get(a.residentId) : undefined;
                const title = a.titles[lang] ?? a.title;
                const sinceIso = new Date(since).toISOString();
                return (
                  <tr key={a.id} class={`sev-${a.severity}`} data-testid="overdue-row" data-alert-id={a.id} data-claimed={claimedBy === null ? 'false' : 'true'}>
                    <td><span class="sev-badge">{t(severityId(a.severity))}</span></td>
                    <td>
                      <strong>{title}</strong>
                      <div class="muted">
                        {resident ? resident.name : t('homeLevel')} · {props.homes.get(a.homeId)?.address ?? a.homeId}
                      </div>
                    </td>
                    <td class="mono nowrap" data-testid="overdue-for">
                      {claimedBy === null
                        ? t('overdueFor', { d: elapsed(sinceIso, props.now, lang) })
                        : t('overdueClaimedAfter', { d: elapsed(sinceIso, claimedAt ?? props.now, lang) })}
                    </td>
                    <td data-testid="overdue-claimer">
                      {claimedBy === null ? <span class="overdue-badge">{t('overdueUnclaimed')}</span> : <strong>{claimedBy}</strong>}
                    </td>
                    <td><span class={`state-chip state-${a.state}`}>{t(stateId(a.state))}</span></td>
                    <td>
                      <button type="button" class="btn btn-small" aria-label={t('openInConsole', { title })} onClick={() => props.onSelect(a.id)}>{t('show')}</button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
