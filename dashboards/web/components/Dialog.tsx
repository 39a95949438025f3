/**
 * A modal on the native `<dialog>`: the browser traps focus, Esc closes it, and
 * screen readers announce it. `onSubmit` runs on Enter in the form.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { useI18n } from '../lib/i18n';

export function Dialog(props: {
  title: string;
  onClose: () => void;
  onSubmit?: () => void;
  submitLabel?: string;
  submitClass?: string;
  /** Put focus on the submit button, so Enter confirms at once. */
  focusSubmit?: boolean;
  /** The key shown on the submit button (a dialog whose main field is a note submits with Ctrl+Enter). */
  submitKey?: string;
  busy?: boolean;
  wide?: boolean;
  testId?: string;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const { t } = useI18n();
  useEffect(() => {
    const d = ref.current!;
    if (!d.open) d.showModal();
    const autofocus = d.querySelector<HTMLElement>('[data-autofocus]');
    autofocus?.focus();
    return () => d.close();
  }, []);
  return (
    <dialog
      ref={ref}
      class={`dialog${props.wide ? ' dialog-wide' : ''}`}
      aria-labelledby="dialog-title"
      data-testid={props.testId}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <form
        method="dialog"
        onKeyDown={(e) => {
          // Ctrl+Enter submits from a multi-line note too.
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            if (props.onSubmit && !props.busy) props.onSubmit();
          }
        }}
        onSubmit={(e) => {
          e.preventDefault();
          if (props.onSubmit && !props.busy) props.onSubmit();
          else if (!props.onSubmit) props.onClose();
        }}
      >
        <h2 id="dialog-title">{props.title}</h2>
        <div class="dialog-body">{props.children}</div>
        <div class="dialog-actions">
          <button type="button" class="btn" onClick={props.onClose}>
            {props.onSubmit ? t('cancel') : t('close')} <kbd>Esc</kbd>
          </button>
          {props.onSubmit && (
            <button type="submit" class={`btn ${props.submitClass ?? 'btn-primary'}`} disabled={props.busy} data-autofocus={props.focusSubmit ? '' : undefined}>
              {props.submitLabel ?? t('confirm')} <kbd>{props.submitKey ?? 'Enter'}</kbd>
            </button>
          )}
        </div>
      </form>
    </dialog>
  );
}
