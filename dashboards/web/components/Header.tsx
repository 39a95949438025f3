/** The top bar of every signed-in page: brand, page, live connection, language, user. */
import type { ComponentChildren } from 'preact';
import { useI18n, type MessageId } from '../lib/i18n';
import type { ConnectionState } from '../lib/stream';
import type { User } from '../lib/types';

const CONN: Record<ConnectionState, MessageId> = {
  connecting: 'connConnecting',
  connected: 'connConnected',
  reconnecting: 'connReconnecting',
  offline: 'connOffline',
};

export function ConnectionBadge({ state }: { state: ConnectionState }) {
  const { t } = useI18n();
  return (
    <span class={`conn conn-${state}`} role="status" aria-live="polite" aria-label={`${t('connLabel')}: ${t(CONN[state])}`} data-testid="connection" data-state={state}>
      <span class="conn-dot" aria-hidden="true" />
      {t(CONN[state])}
    </span>
  );
}

export function LangSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <button type="button" class="btn btn-ghost" lang={lang === 'en' ? 'zh-CN' : 'en'} aria-label={t('langSwitchLabel')} data-testid="lang-switch"
      onClick={() => setLang(lang === 'en' ? 'zh-CN' : 'en')}>
      {t('langSwitch')}
    </button>
  );
}

export function Header(props: { page: MessageId; user: User; onSignOut: () => void; children?: ComponentChildren }) {
  const { t } = useI18n();
  return (
    <header class="topbar">
      <div class="brand">
        <span class="brand-mark" aria-hidden="true">安</span>
        <span class="brand-name">{t('appName')}</span>
        <h1 class="page-name">{t(props.page)}</h1>
      </div>
      <div class="topbar-middle">{props.children}</div>
      <div class="topbar-end">
        <LangSwitch />
        <span class="who" title={props.user.username}>{props.user.name ?? props.user.username}</span>
        <button type="button" class="btn btn-ghost" onClick={props.onSignOut}>{t('signOut')}</button>
      </div>
    </header>
  );
}
