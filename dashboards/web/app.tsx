/**
 * The app shell: who is signed in (the session cookie, GET /api/v1/auth/me),
 * the language, and which page to show. Each role has one page, at a path
 * the hub serves (server/api/routes/ui.ts): operator → `/operator`, doctor →
 * `/doctor`, admin → `/admin`; anything else goes to the role's own page. A
 * supervisor (shift lead) works on the operator console, which adds their panel.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, setApiLang, setUnauthenticatedHandler } from './lib/api';
import { setTimeZone } from './lib/format';
import { initialLang, LangContext, translate } from './lib/i18n';
import type { Lang, Role, User } from './lib/types';
import { AdminPage } from './pages/AdminPage';
import { DoctorPage } from './pages/DoctorPage';
import { LoginPage } from './pages/LoginPage';
import { OperatorPage } from './pages/OperatorPage';

export const HOME_OF: Record<Role, string> = { operator: '/operator', supervisor: '/operator', doctor: '/doctor', admin: '/admin' };

export function App() {
  const [lang, setLangState] = useState<Lang>(initialLang());
  const [user, setUser] = useState<User | null | undefined>(undefined);

  const setLang = (l: Lang) => {
    localStorage.setItem('anxin.lang', l);
    setLangState(l);
  };

  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = `${translate(lang, 'appName')} · ${translate(lang, 'appTagline')}`;
    setApiLang(lang);
  }, [lang]);

  useEffect(() => {
    setUnauthenticatedHandler(() => setUser(null));
    api.me().then((r) => setUser(r.user), () => setUser(null));
    api.config().then((c) => setTimeZone(c.tz), () => {});
  }, []);

  const signedIn = (u: User) => {
    api.config().then((c) => setTimeZone(c.tz), () => {});
    setUser(u);
  };

  const signOut = () => {
    api.logout().finally(() => setUser(null));
  };

  // The address bar follows the page shown: `/login`, or the role's own page.
  useEffect(() => {
    if (user === undefined) return;
    const path = user ? HOME_OF[user.role] : '/login';
    if (location.pathname !== path) history.replaceState(null, '', path);
    if (user) document.body.dataset.role = user.role;
    else delete document.body.dataset.role;
  }, [user]);

  let page;
  if (user === undefined) page = <p class="splash">{translate(lang, 'loading')}</p>;
  else if (user === null) page = <LoginPage onSignedIn={signedIn} />;
  else if (user.role === 'operator' || user.role === 'supervisor') page = <OperatorPage user={user} onSignOut={signOut} />;
  else if (user.role === 'doctor') page = <DoctorPage user={user} onSignOut={signOut} />;
  else page = <AdminPage user={user} onSignOut={signOut} />;
  return <LangContext.Provider value={{ lang, setLang }}>{page}</LangContext.Provider>;
}
