/** Sign-in (POST /api/v1/auth/login sets the session cookie). */
import { useState } from 'preact/hooks';
import { LangSwitch } from '../components/Header';
import { api, ApiError } from '../lib/api';
import { useI18n } from '../lib/i18n';
import type { User } from '../lib/types';

export function LoginPage(props: { onSignedIn: (u: User) => void }) {
  const { t } = useI18n();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.login(username.trim(), password);
      props.onSignedIn(r.user);
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      setError(status === 401 ? t('badCredentials') : status === 429 ? t('rateLimited') : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login theme-light">
      <form class="login-card" onSubmit={submit} aria-labelledby="login-title">
        <div class="login-brand">
          <span class="brand-mark big" aria-hidden="true">安</span>
          <div>
            <h1 id="login-title">{t('appName')}</h1>
            <p class="muted">{t('appTagline')}</p>
          </div>
        </div>
        <label for="username">{t('username')}</label>
        <input id="username" name="username" autocomplete="username" required autofocus value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        <label for="password">{t('password')}</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        {error && <p class="form-error" role="alert">{error}</p>}
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>{busy ? t('signingIn') : t('signIn')}</button>
        <div class="login-foot"><LangSwitch /></div>
      </form>
    </main>
  );
}
