/** The operator's dialogs: escalate (doctor, 120), the 120 hand-off, resolve, and the shortcut help. */
import { useState } from 'preact/hooks';
import { copyText } from '../../lib/clipboard';
import { Dialog } from '../../components/Dialog';
import { OUTCOME_TEXT, useI18n, word, type MessageId } from '../../lib/i18n';
import { OUTCOMES, type Alert, type Handoff, type Outcome } from '../../lib/types';

export function EscalateDialog(props: {
  target: 'doctor' | 'emergency'; busy: boolean;
  /** Why the hub refused, in the screen's language, shown in the dialog (a toast would be hidden behind it). */
  error: string | null;
  /** The next step when no doctor can take it: switch to calling 120. */
  onEmergency?: () => void;
  onClose: () => void; onConfirm: (note: string) => void;
}) {
  const { t } = useI18n();
  const [note, setNote] = useState('');
  const emergency = props.target === 'emergency';
  return (
    <Dialog title={emergency ? t('confirmEmergency') : t('confirmDoctor')} onClose={props.onClose} onSubmit={() => props.onConfirm(note)}
      submitLabel={emergency ? t('actEmergency') : t('actDoctor')} submitClass={emergency ? 'btn-danger' : 'btn-primary'} focusSubmit busy={props.busy}
      testId={`dialog-${props.target}`}>
      {emergency && <p class="lead">{t('confirmEmergencyBody')}</p>}
      <label for="esc-note">{t('note')}</label>
      <textarea id="esc-note" rows={2} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
      {props.error && (
        <div class="form-error" role="alert" data-testid="dialog-error">
          {props.error}
          {props.onEmergency && <button type="button" class="btn btn-danger btn-small" onClick={props.onEmergency} data-testid="dialog-call-120">{t('actEmergency')}</button>}
        </div>
      )}
    </Dialog>
  );
}

/** What to read to the 120 dispatcher, large, in the screen's language (the other below). */
export function HandoffDialog(props: { handoff: Handoff; onClose: () => void }) {
  const { t, lang } = useI18n();
  const [copied, setCopied] = useState(false);
  const text = props.handoff[lang];
  return (
    <Dialog title={t('handoffTitle')} onClose={props.onClose} wide testId="dialog-handoff">
      <div class="handoff-actions">
        <a class="btn btn-danger btn-big" href="tel:120">{t('dial120')}</a>
        <button type="button" class="btn" onClick={() => { void copyText(text).then(() => setCopied(true)); }}>{copied ? t('copied') : t('copy')}</button>
      </div>
      <pre class="handoff" lang={lang} data-testid="handoff-text">{text}</pre>
    </Dialog>
  );
}

export function ResolveDialog(props: { alert: Alert; busy: boolean; error: string | null; onClose: () => void; onConfirm: (outcome: Outcome, note: string) => void }) {
  const { t, lang } = useI18n();
  const [outcome, setOutcome] = useState<Outcome>('handled');
  const [note, setNote] = useState('');
  const noteRequired = props.alert.state === 'open' && props.alert.severity !== 'info';
  const missing = noteRequired && !note.trim();
  return (
    <Dialog title={t('actResolve')} onClose={props.onClose} onSubmit={() => { if (!missing) props.onConfirm(outcome, note); }} submitLabel={t('actResolve')} submitKey="Ctrl+Enter" busy={props.busy || missing} testId="dialog-resolve">
      <label for="resolve-outcome">{t('outcome')}</label>
      <select id="resolve-outcome" data-autofocus value={outcome} onChange={(e) => setOutcome(e.currentTarget.value as Outcome)}>
        {OUTCOMES.map((o) => <option value={o} key={o}>{word(OUTCOME_TEXT, o, lang)}</option>)}
      </select>
      <label for="resolve-note">{t('note')}{noteRequired && ' *'}</label>
      <textarea id="resolve-note" rows={3} value={note} aria-required={noteRequired} aria-describedby={noteRequired ? 'resolve-note-hint' : undefined} onInput={(e) => setNote(e.currentTarget.value)} />
      {noteRequired && <p id="resolve-note-hint" class="hint">{t('noteRequired')}</p>}
      {props.error && <p class="form-error" role="alert" data-testid="dialog-error">{props.error}</p>}
    </Dialog>
  );
}

export const SHORTCUTS: Array<[string, MessageId]> = [
  ['J / K / ↑ / ↓', 'keySelect'],
  ['A', 'keyAck'],
  ['C', 'keyCall'],
  ['D', 'keyDoctor'],
  ['E', 'keyEmergency'],
  ['H', 'keyHandoff'],
  ['R', 'keyResolve'],
  ['L', 'keyLang'],
  ['?', 'keyHelp'],
  ['Esc', 'keyEsc'],
];

/** A supervisor's console has one more: the panel of overdue alerts (SupervisorPanel). */
export const SUPERVISOR_SHORTCUTS: Array<[string, MessageId]> = [['O', 'supervisorFocus']];

export function HelpDialog(props: { onClose: () => void; supervisor?: boolean }) {
  const { t } = useI18n();
  const keys = props.supervisor ? [...SHORTCUTS.slice(0, -1), ...SUPERVISOR_SHORTCUTS, SHORTCUTS.at(-1)!] : SHORTCUTS;
  return (
    <Dialog title={t('shortcuts')} onClose={props.onClose} testId="dialog-help">
      <table class="keys">
        <tbody>
          {keys.map(([k, id]) => <tr key={k}><th><kbd>{k}</kbd></th><td>{t(id)}</td></tr>)}
        </tbody>
      </table>
    </Dialog>
  );
}
