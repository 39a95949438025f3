/**
 * Everyone with an account (GET /api/v1/users), with their role and whether
 * they may sign in; an admin changes a role, or disables and enables an
 * account (PUT /api/v1/users/{username}), each after a confirmation, since
 * either signs the person out at once. New people come in through the import.
 * A doctor who still has patients or open items is refused (409): the error
 * says how many and points to the Doctors panel, where they are moved.
 */
import { useState } from 'preact/hooks';
import { Dialog } from '../../components/Dialog';
import { LoadError } from '../../components/LoadError';
import { api, ApiError } from '../../lib/api';
import { useLoad } from '../../lib/hooks';
import { errorText, useI18n, type MessageId } from '../../lib/i18n';
import { ROLES, type Role, type UserAccount, type UserChange } from '../../lib/types';

const ROLE_TEXT: Record<Role, MessageId> = { operator: 'roleOperator', supervisor: 'roleSupervisor', doctor: 'roleDoctor', admin: 'roleAdmin' };

/** A change waiting for the admin's confirmation. */
type Pending = { user: UserAccount; change: UserChange };

export function UsersPanel(props: { me: string; refreshKey: number; onChanged?: () => void }) {
  const { t, lang } = useI18n();
  const users = useLoad(() => api.users(), [props.refreshKey]);
  /** Roles chosen in the selects, not yet applied. */
  const [drafts, setDrafts] = useState<Record<string, Role>>({});
  const [pending, setPending] = useState<Pending | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const ask = (p: Pending) => {
    setError(null);
    setNotice(null);
    setPending(p);
  };

  const apply = async ({ user, change }: Pending) => {
    setBusy(true);
    setError(null);
    try {
      await api.updateUser(user.username, change);
      setPending(null);
      setDrafts((d) => {
        const next = { ...d };
        delete next[user.username];
        return next;
      });
      setNotice(t('userChanged', { user: user.username }));
      users.reload();
      props.onChanged?.();
    } catch (e) {
      const code = e instanceof ApiError ? e.code : null;
      setError(code === 'last_admin' ? t('lastAdmin') : code === 'doctor_in_use' ? await doctorBusyText(user.username) : errorText(e, lang));
    } finally {
      setBusy(false);
    }
  };

  /** What the doctor still has, from the Doctors panel's source (the refusal's own sentence is English). */
  const doctorBusyText = async (username: string) => {
    const d = (await api.doctors().catch(() => [])).find((x) => x.username === username);
    return d ? t('doctorBusy', { user: username, p: d.patients, n: d.openItems, e: d.escalations, w: d.warnings }) : t('doctorInUse');
  };

  const list = users.value ?? [];
  return (
    <section class="panel" aria-labelledby="users-title" data-testid="users-panel">
      <h2 id="users-title">{t('usersTitle')} <span class="count-badge">{list.length}</span></h2>
      <p class="hint">{t('usersHelp')}</p>
      {users.error && <LoadError error={users.error} onRetry={users.reload} compact />}
      {notice && <p class="form-ok" role="status" data-testid="users-notice">{notice}</p>}
      <table class="table">
        <thead>
          <tr><th>{t('username')}</th><th>{t('colName')}</th><th>{t('colRole')}</th><th>{t('status')}</th><th /></tr>
        </thead>
        <tbody>
          {list.map((u) => {
            const draft = drafts[u.username] ?? u.role;
            return (
              <tr key={u.username} data-testid={`user-${u.username}`} data-role={u.role} data-disabled={u.disabled ? 'true' : 'false'}>
                <td class="mono nowrap">{u.username}{u.username === props.me && <span class="muted"> {t('you')}</span>}</td>
                <td>{u.name ?? '—'}</td>
                <td>
                  <div class="row">
                    <label for={`role-${u.username}`} class="sr-only">{t('roleOf', { user: u.username })}</label>
                    <select id={`role-${u.username}`} class="input-small" value={draft} data-testid={`role-select-${u.username}`}
                      onChange={(e) => setDrafts({ ...drafts, [u.username]: e.currentTarget.value as Role })}>
                      {ROLES.map((r) => <option key={r} value={r}>{t(ROLE_TEXT[r])}</option>)}
                    </select>
                    {draft !== u.role && (
                      <button type="button" class="btn btn-small btn-primary" data-testid={`role-apply-${u.username}`}
                        onClick={() => ask({ user: u, change: { role: draft } })}>{t('applyRole')}</button>
                    )}
                  </div>
                </td>
                <td>{u.disabled ? <span class="tag tag-critical">{t('userDisabled')}</span> : t('userEnabled')}</td>
                <td>
                  <button type="button" class="btn btn-small" data-testid={`toggle-${u.username}`}
                    onClick={() => ask({ user: u, change: { disabled: !u.disabled } })}>
                    {u.disabled ? t('enableUser') : t('disableUser')}
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {pending && <ConfirmChange pending={pending} busy={busy} error={error} onClose={() => setPending(null)} onConfirm={() => void apply(pending)} />}
    </section>
  );
}

function ConfirmChange(props: { pending: Pending; busy: boolean; error: string | null; onClose: () => void; onConfirm: () => void }) {
  const { t } = useI18n();
  const { user, change } = props.pending;
  const vars = { user: user.name ? `${user.name}（${user.username}）` : user.username };
  const [title, body, label]: [string, string, string] = change.role
    ? [t('confirmRole', { ...vars, from: t(ROLE_TEXT[user.role]), to: t(ROLE_TEXT[change.role]) }), t('confirmRoleBody', vars), t('applyRole')]
    : change.disabled
      ? [t('confirmDisable', vars), t('confirmDisableBody', vars), t('disableUser')]
      : [t('confirmEnable', vars), t('confirmEnableBody', vars), t('enableUser')];
  return (
    <Dialog title={title} onClose={props.onClose} onSubmit={props.onConfirm} submitLabel={label} submitClass={change.disabled ? 'btn-danger' : 'btn-primary'}
      focusSubmit busy={props.busy} testId="dialog-user">
      <p class="lead">{body}</p>
      {props.error && <p class="form-error" role="alert" data-testid="dialog-error">{props.error}</p>}
    </Dialog>
  );
}
