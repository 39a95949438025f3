/**
 * The call-center console (SPEC §4–6): the live queue on the left, the
 * selected alert with its resident on the right, everything reachable by a
 * single key. A critical alert nobody has claimed sounds (after "Start shift"
 * unlocked audio) and flashes until someone claims it, on every console.
 * A supervisor (shift lead) gets the same console plus what is overdue and
 * who holds it (SupervisorPanel).
 *
 * Built for an alarm flood (thousands of unresolved alerts): the queue is kept
 * in order alert by alert (QueueIndex), only its head is drawn, the alarm and
 * the counts come from running totals, and the per-second clock reaches only
 * the parts that show a time (NowContext), so a new critical alert is on top
 * as fast with 10,000 alerts held as with one.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Header, ConnectionBadge } from '../components/Header';
import { KpiStrip } from '../components/KpiStrip';
import { AlarmSound, type AudioState } from '../lib/alarm';
import { api, ApiError } from '../lib/api';
import { useDebounced, useHotkeys, useLoad, useNow, useReconnects } from '../lib/hooks';
import { errorText, useI18n } from '../lib/i18n';
import { doctorUnreached, queueOrder } from '../lib/queue';
import { memo, NowContext } from '../lib/render';
import type { Alert, Handoff, Home, Outcome, Resident, User } from '../lib/types';
import { useLiveAlerts } from '../lib/useLiveAlerts';
import { AlertDetail, type ActionKind } from './operator/AlertDetail';
import { AlertQueue, QUEUE_DRAWN } from './operator/AlertQueue';
import { EscalateDialog, HandoffDialog, HelpDialog, ResolveDialog, SHORTCUTS } from './operator/Dialogs';
import { SupervisorPanel } from './operator/SupervisorPanel';

/** A new urgent alert chimes once; more within this time add no chime. */
const CHIME_GAP_MS = 2000;
const DIRECTORY_RELOAD_GAP_MS = 3000;

/** The selected alert's detail, redrawn when its own props change, not on every event of the flood around it. */
const Detail = memo(AlertDetail);

type DialogState =
  | { kind: 'doctor' | 'emergency' | 'resolve'; alert: Alert }
  | { kind: 'handoff'; handoff: Handoff }
  | { kind: 'help' };

export function OperatorPage(props: { user: User; onSignOut: () => void }) {
  const { t, lang, setLang } = useI18n();
  const now = useNow(1000);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [dialog, setDialog] = useState<DialogState | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<{ text: string; error: boolean } | null>(null);
  /** An action's failure while its dialog is open: shown in the dialog (a toast would sit behind its backdrop). */
  const [dialogError, setDialogError] = useState<{ text: string; code: string | null } | null>(null);
  const [readingTick, setReadingTick] = useState(0);
  const [deviceTick, setDeviceTick] = useState(0);
  const [audio, setAudio] = useState<{ audio: AudioState; sounding: boolean }>({ audio: 'locked', sounding: false });
  const [shift, setShift] = useState(false);
  const alarm = useRef<AlarmSound | null>(null);
  alarm.current ??= new AlarmSound(setAudio);
  const selectedRef = useRef<Alert | null>(null);
  const lastChime = useRef(0);
  const lastDirectoryLoad = useRef(0);
  // A gateway flushing its backlog sends hundreds of readings at once: refetch once a second at most.
  const bumpReading = useDebounced(() => setReadingTick((n) => n + 1), 1000);
  const bumpDevice = useDebounced(() => setDeviceTick((n) => n + 1), 1000);

  const residents = useLoad(() => api.residents(), []);
  const homes = useLoad(() => api.homes(), []);
  const residentMap = useMemo(() => new Map<string, Resident>((residents.value ?? []).map((r) => [r.id, r])), [residents.value]);
  const homeMap = useMemo(() => new Map<string, Home>((homes.value ?? []).map((h) => [h.id, h])), [homes.value]);

  const live = useLiveAlerts({
    onAlertEvent: (a, created) => {
      // One chime per burst: a flood of urgent alerts (a district's outage) must not ring thousands of times.
      if (created && a.severity === 'urgent' && Date.now() - lastChime.current > CHIME_GAP_MS) {
        lastChime.current = Date.now();
        alarm.current?.notify();
      }
      // A new critical alert takes the selection, unless the operator is on another critical one or in a dialog.
      const sel = selectedRef.current;
      if (created && a.severity === 'critical' && !dialog && !(sel && sel.severity === 'critical' && sel.state !== 'resolved')) setSelectedId(a.id);
      // An alert of a home enrolled since the directory loaded: load it again, at most every few seconds
      // (a flood from a newly enrolled district would otherwise fetch the whole directory per alert).
      if (residents.value && homes.value && ((a.residentId && !residentMap.has(a.residentId)) || !homeMap.has(a.homeId))
        && Date.now() - lastDirectoryLoad.current > DIRECTORY_RELOAD_GAP_MS) {
        lastDirectoryLoad.current = Date.now();
        residents.reload();
        homes.reload();
      }
    },
    onEvent: (e) => {
      const sel = selectedRef.current;
      if (!sel) return;
      if (e.type === 'reading' && (e.data.residentId === sel.residentId || (!sel.residentId && e.data.homeId === sel.homeId))) bumpReading();
      if (e.type === 'device.status' && e.data.homeId === sel.homeId) bumpDevice();
    },
  });

  // The stream is back after a drop (hub restart, network): reload what failed meanwhile; the detail does the same.
  const reconnects = useReconnects(live.connection);
  useEffect(() => {
    if (reconnects === 0) return;
    if (residents.error) residents.reload();
    if (homes.error) homes.reload();
  }, [reconnects]);

  // What the queue draws; keyboard selection walks the same (the selected alert's incident stays drawn).
  const view = useMemo(() => live.queue.view(QUEUE_DRAWN, selectedId), [live.version, selectedId]);
  const order = useMemo(() => queueOrder(view.pinned ? [...view.drawn, view.pinned.incident] : view.drawn), [view]);
  const selected = (selectedId && live.alerts.get(selectedId)) || null;
  selectedRef.current = selected;

  // Only the selected resident's readings (or, for an alert of no resident, its home's) refresh the card:
  // the hub sends no others, which on a city's stream is nearly all of them.
  const watchKey = selected ? (selected.residentId ? `r:${selected.residentId}` : `h:${selected.homeId}`) : '';
  useEffect(() => {
    if (!selected) live.watch({ residents: [], homes: [] });
    else live.watch(selected.residentId ? { residents: [selected.residentId] } : { homes: [selected.homeId] });
  }, [watchKey]);

  // Keep a selection: the top of the queue when nothing (or a resolved alert) is selected.
  useEffect(() => {
    if (!selected || selected.state === 'resolved') setSelectedId(order[0]?.id ?? null);
  }, [order, selected?.state]);

  // The alarm: on while a critical alert is unclaimed, or any alert overdue, once the shift has started (every alert held, drawn or not).
  const alarmNeeded = live.queue.alarm(now);
  useEffect(() => {
    alarm.current!.set(shift && alarmNeeded);
  }, [shift, alarmNeeded]);
  useEffect(() => () => {
    alarm.current?.close();
    document.body.classList.remove('alarm-flash');
    delete document.body.dataset.alarm;
    delete document.body.dataset.audio;
  }, []);
  useEffect(() => {
    document.body.dataset.audio = audio.audio;
    document.body.dataset.alarm = audio.sounding ? 'sounding' : 'silent';
    document.body.classList.toggle('alarm-flash', alarmNeeded);
  }, [audio, alarmNeeded]);

  const startShift = async () => {
    const state = await alarm.current!.unlock();
    setShift(state !== 'unavailable');
  };

  /**
   * No family doctor would receive this alert (the hub's rule, alertService.doctorFor):
   * the resident's own, or for a home-level alert the one doctor of the home's residents.
   * Unknown while the directory is not loaded: then the hub decides and the dialog says why.
   */
  const noDoctor = (a: Alert): boolean => {
    if (!residents.value) return false;
    if (a.residentId) {
      const r = residentMap.get(a.residentId);
      return r !== undefined && !r.doctor;
    }
    const doctors = new Set(residents.value.filter((r) => r.homeId === a.homeId && r.doctor).map((r) => r.doctor));
    return doctors.size !== 1;
  };

  const say = (text: string, error = false) => {
    setNotice({ text, error });
    if (!error) setTimeout(() => setNotice((n) => (n?.text === text ? null : n)), 4000);
  };

  const act = async (fn: () => Promise<{ alert: Alert; handoff?: Handoff }>, done?: (r: { alert: Alert; handoff?: Handoff }) => void) => {
    setBusy(true);
    setDialogError(null);
    try {
      const r = await fn();
      live.put(r.alert);
      setDialog(null);
      done?.(r);
    } catch (e) {
      const text = errorText(e, lang);
      if (dialog && dialog.kind !== 'help' && dialog.kind !== 'handoff') setDialogError({ text, code: e instanceof ApiError ? e.code : null });
      else say(t('actionFailed', { m: text }), true);
    } finally {
      setBusy(false);
    }
  };

  const action = (kind: ActionKind) => {
    const a = selected;
    if (!a) return;
    switch (kind) {
      case 'ack':
        // An escalation whose doctor nobody could tell is acknowledged the same way: the operator phones the doctor.
        if (a.state === 'open' || doctorUnreached(a)) void act(() => api.ack(a.id), () => say(`${t('actAck')} ✓`));
        break;
      case 'call': {
        const tel = document.querySelector<HTMLAnchorElement>('[data-testid="resident-card"] a.tel');
        if (tel) tel.click();
        else say(t('callUnavailable'), true);
        break;
      }
      case 'doctor':
        if (a.state === 'resolved' || a.state === 'escalated') break;
        if (noDoctor(a)) say(t('noDoctorNext'), true);
        else openEscalate('doctor', a);
        break;
      case 'emergency':
        if (a.state !== 'resolved' && a.escalation?.target !== 'emergency') openEscalate('emergency', a);
        else if (a.escalation?.target === 'emergency') action('handoff');
        break;
      case 'resolve':
        if (a.state !== 'resolved') {
          setDialogError(null);
          setDialog({ kind: 'resolve', alert: a });
        }
        break;
      case 'handoff':
        // Only an alert escalated to 120 has a hand-off to show again.
        if (a.escalation?.target !== 'emergency') say(t('noHandoff'));
        else api.handoff(a.id).then((h) => setDialog({ kind: 'handoff', handoff: h }), (e: unknown) => say(t('actionFailed', { m: errorText(e, lang) }), true));
        break;
    }
  };

  // Stable for the memoised detail; calls the current `action`.
  const actionRef = useRef(action);
  actionRef.current = action;
  const onAction = useCallback((k: ActionKind) => actionRef.current(k), []);
  // A home-level alert asks every resident of the directory: once per selection, not per render.
  const selectedNoDoctor = useMemo(() => (selected ? noDoctor(selected) : false), [selected, residents.value]);

  const openEscalate = (kind: 'doctor' | 'emergency', a: Alert) => {
    setDialogError(null);
    setDialog({ kind, alert: a });
  };

  const move = (delta: number) => {
    if (order.length === 0) return;
    const i = order.findIndex((a) => a.id === selectedId);
    const next = order[Math.min(order.length - 1, Math.max(0, (i < 0 ? 0 : i + delta)))];
    if (next) setSelectedId(next.id);
  };

  useHotkeys({
    j: () => move(1), ArrowDown: () => move(1), k: () => move(-1), ArrowUp: () => move(-1),
    a: () => action('ack'), c: () => action('call'), d: () => action('doctor'), e: () => action('emergency'),
    r: () => action('resolve'), h: () => action('handoff'), '?': () => setDialog({ kind: 'help' }),
    l: () => setLang(lang === 'en' ? 'zh-CN' : 'en'),
  });

  const open = live.queue.bySeverity;
  return (
    <div class="page operator theme-dark" data-testid="operator-page">
      <Header page={props.user.role === 'supervisor' ? 'pageSupervisor' : 'pageOperator'} user={props.user} onSignOut={props.onSignOut}>
        <KpiStrip open={open} version={live.version} />
        <ConnectionBadge state={live.connection} />
        <span class={`audio-state${shift && audio.audio === 'unlocked' ? ' on' : ''}`} data-testid="audio-state">
          <SpeakerIcon on={shift && audio.audio === 'unlocked'} /> {shift && audio.audio === 'unlocked' ? t('audioOn') : t('audioOff')}
        </span>
      </Header>
      {(!shift || audio.audio !== 'unlocked') && (
        <div class="banner banner-warn" role="alert" data-testid="audio-locked">
          <SpeakerIcon on={false} /> {audio.audio === 'unavailable' ? t('audioUnavailable') : t('audioLocked')}
          <button type="button" class="btn btn-shift" onClick={startShift} data-testid="start-shift">{t('startShift')}</button>
        </div>
      )}
      {alarmNeeded && (
        <div class="banner banner-alarm" role="alert" data-testid="alarm-banner">
          {live.queue.doctorUnreached > 0 ? t('alarmDoctorUnreached') : t('alarmSounding')}
          {audio.sounding && <button type="button" class="btn btn-ghost" onClick={() => alarm.current?.mute(60_000)}>{t('mute')}</button>}
        </div>
      )}
      <NowContext.Provider value={now}>
        {props.user.role === 'supervisor' && (
          <SupervisorPanel alerts={live.alerts} version={live.version} now={now} residents={residentMap} homes={homeMap} onSelect={setSelectedId}
            partial={live.coverage.truncated} />
        )}
        <main class="console">
          <AlertQueue view={view} selectedId={selectedId} onSelect={setSelectedId} residents={residentMap} homes={homeMap}
            total={live.coverage.total} held={live.coverage.held} />
          <div class="console-detail">
            {selected ? (
              <Detail key={selected.id} alert={selected} now={now} readingTick={readingTick} deviceTick={deviceTick} reconnects={reconnects}
                noDoctor={selectedNoDoctor} onAction={onAction} busy={busy} />
            ) : (
              <p class="empty-detail">{t('selectAlert')}</p>
            )}
          </div>
        </main>
      </NowContext.Provider>
      <footer class="shortcut-bar" aria-label={t('shortcuts')}>
        {SHORTCUTS.filter(([k]) => k !== 'Esc').map(([k, id]) => <span key={k}><kbd>{k}</kbd> {t(id)}</span>)}
      </footer>
      {notice && <div class={`toast${notice.error ? ' toast-error' : ''}`} role={notice.error ? 'alert' : 'status'} onClick={() => setNotice(null)}>{notice.text}</div>}
      {dialog?.kind === 'help' && <HelpDialog supervisor={props.user.role === 'supervisor'} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'handoff' && <HandoffDialog handoff={dialog.handoff} onClose={() => setDialog(null)} />}
      {(dialog?.kind === 'doctor' || dialog?.kind === 'emergency') && (
        <EscalateDialog key={dialog.kind} target={dialog.kind} busy={busy} error={dialogError?.text ?? null} onClose={() => setDialog(null)}
          onEmergency={dialogError?.code === 'no_doctor' || dialogError?.code === 'doctor_disabled' ? () => openEscalate('emergency', dialog.alert) : undefined}
          onConfirm={(note) => void act(() => api.escalate(dialog.alert.id, dialog.kind as 'doctor' | 'emergency', note.trim() || undefined), (r) => {
            if (r.handoff) setDialog({ kind: 'handoff', handoff: r.handoff });
            else say(`${t('actDoctor')} ✓`);
          })} />
      )}
      {dialog?.kind === 'resolve' && (
        <ResolveDialog alert={dialog.alert} busy={busy} error={dialogError?.text ?? null} onClose={() => setDialog(null)}
          onConfirm={(outcome: Outcome, note) => void act(() => api.resolve(dialog.alert.id, outcome, note.trim() || undefined), () => say(`${t('actResolve')} ✓`))} />
      )}
    </div>
  );
}

function SpeakerIcon({ on }: { on: boolean }) {
  return (
    <svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
      <path d="M11 5 6 9H3v6h3l5 4z" fill="currentColor" />
      {on ? <path d="M15.5 8.5a5 5 0 0 1 0 7M18.5 5.5a9 9 0 0 1 0 13" /> : <path d="m16 9 5 6M21 9l-5 6" />}
    </svg>
  );
}
