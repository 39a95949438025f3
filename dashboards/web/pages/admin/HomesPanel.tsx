/**
 * Homes with their gateway, residents and devices, with live status, and
 * "New secret" per device or gateway (POST /api/v1/devices/:id/secret): the
 * secret is shown once, with a copy button.
 */
import { useState } from 'preact/hooks';
import { Dialog } from '../../components/Dialog';
import { DeviceRow } from '../../components/ResidentCard';
import { api } from '../../lib/api';
import { clock } from '../../lib/format';
import { useI18n } from '../../lib/i18n';
import type { ClientStatus, Credential, HomeOverview } from '../../lib/types';
import { CopyButton } from './ImportPanel';

export function HomesPanel(props: { homes: HomeOverview[]; loading: boolean }) {
  const { t } = useI18n();
  const [confirm, setConfirm] = useState<string | null>(null);
  const [secret, setSecret] = useState<Credential | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const rotate = async (id: string) => {
    setBusy(true);
    setError(null);
    try {
      setSecret(await api.rotateSecret(id));
      setConfirm(null);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="panel" aria-labelledby="homes-title" data-testid="homes-panel">
      <h2 id="homes-title">{t('homes')} <span class="count-badge">{props.homes.length}</span></h2>
      {props.loading && props.homes.length === 0 && <p class="muted">{t('loading')}</p>}
      <div class="homes">
        {props.homes.map((h) => (
          <article class="home" key={h.id} data-testid={`home-${h.id}`}>
            <header class="home-head">
              <span class="mono">{h.id}</span>
              <strong>{h.address}</strong>
            </header>
            <p class="home-residents">
              {t('residents')}: {h.residents.length ? h.residents.map((r) => `${r.name}（${r.id}）`).join('、') : t('none')}
            </p>
            <ul class="devices">
              {h.gatewayId && (
                <GatewayRow id={h.gatewayId} status={h.gatewayStatus} onRotate={() => setConfirm(h.gatewayId)} />
              )}
              {h.devices.map((d) => (
                <DeviceRow key={d.id} device={d}>
                  <button type="button" class="btn btn-small push-end" onClick={() => setConfirm(d.id)} data-testid={`rotate-${d.id}`}>{t('rotate')}</button>
                </DeviceRow>
              ))}
            </ul>
          </article>
        ))}
      </div>
      {error && <p class="form-error" role="alert">{error}</p>}
      {confirm && (
        <Dialog title={t('rotate')} onClose={() => setConfirm(null)} onSubmit={() => rotate(confirm)} submitLabel={t('rotate')} submitClass="btn-danger" focusSubmit busy={busy} testId="dialog-rotate">
          <p class="lead">{t('rotateConfirm', { id: confirm })}</p>
        </Dialog>
      )}
      {secret && (
        <Dialog title={t('newSecret', { id: secret.username })} onClose={() => setSecret(null)} testId="dialog-secret">
          <p class="tag tag-warning">{t('secretsOnce')}</p>
          <p><code class="secret big" data-testid="new-secret">{secret.password}</code></p>
          <CopyButton text={secret.password} testId="copy-secret" />
        </Dialog>
      )}
    </section>
  );
}

function GatewayRow(props: { id: string; status: ClientStatus | null; onRotate: () => void }) {
  const { t } = useI18n();
  const state = props.status?.online === true ? 'online' : props.status?.online === false ? 'offline' : 'unknown';
  return (
    <li class={`device device-${state}`} data-testid={`device-${props.id}`} data-state={state}>
      <span class={`dot dot-${state}`} aria-hidden="true" />
      <span class="device-type">{t('gateway')}</span>
      <span class="muted mono">{props.id}</span>
      <span class="device-state">{t(state)}</span>
      {props.status?.outboxDepth ? <span class="muted">outbox {props.status.outboxDepth}</span> : null}
      {props.status?.statusAt && <span class="muted">{clock(props.status.statusAt)}</span>}
      <button type="button" class="btn btn-small push-end" onClick={props.onRotate} data-testid={`rotate-${props.id}`}>{t('rotate')}</button>
    </li>
  );
}
