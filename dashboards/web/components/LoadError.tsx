/** A load that failed: what went wrong, in the screen's language, and a button to try again. */
import { errorText, useI18n } from '../lib/i18n';

export function LoadError(props: { error: unknown; onRetry: () => void; testId?: string; compact?: boolean }) {
  const { t, lang } = useI18n();
  return (
    <div class={`load-error${props.compact ? ' compact' : ''}`} role="alert" data-testid={props.testId ?? 'load-error'}>
      <span>{t('loadFailed', { m: errorText(props.error, lang) })}</span>
      <button type="button" class="btn btn-small" onClick={props.onRetry} data-testid="retry">{t('retry')}</button>
    </div>
  );
}
