/**
 * Homes with their gateway, residents and devices, with live status, and the
 * admin's actions on them (server/api/routes/admin.ts, adminActions.ts):
 * a new secret for a device or gateway, replacing a home's gateway (the new
 * secret shown once, with a copy button), moving a resident or a device to
 * another home, retiring a device. Revoking actions ask for confirmation.
 */
import { useState } from 'preact/hooks';
import { Dialog } from '../../components/Dialog';
import { DeviceRow } from '../../components/ResidentCard';
import { api, ApiError } from '../../lib/api';
import { clock } from '../../lib/format';
import { errorText, useI18n, type MessageId } from '../../lib/i18n';
import type { ClientStatus, Credential, Device, HomeOverview, Lang } from '../../lib/types';
import { CopyButton } from './ImportPanel';

type Resident = HomeOverview['residents'][number];

type Action =
  | { kind: 'rotate'; id: string }
  | { kind: 'replaceGateway'; home: HomeOverview }
  | { kind: 'retire'; device: Device }
  | { kind: 'moveDevice'; device: Device }
  | { kind: 'moveResident'; resident: Resident; home: HomeOverview };

const MAX_RESIDENTS = 4;

/** The hub's refusals of these actions, said for the person at the screen (other codes: errorText). */
const REFUSALS: Record<string, MessageId> = {
  unresolved_alerts: 'errUnresolvedAlerts', home_full: 'errHomeFull', devices_bound: 'errDevicesBound',
  already_there: 'errAlreadyThere', id_taken: 'errIdTaken', retired: 'errRetired', no_gateway: 'errNoGateway',
};

function refusalText(e: unknown, lang: Lang, t: ReturnType<typeof useI18n>['t']): string {
  const id = e instanceof ApiError ? REFUSALS[e.code] : undefined;
  if (!id) return errorText(e, lang);
  return t(id, { n: (e as ApiError).errors.length });
}

export function HomesPanel(props: { homes: HomeOverview[]; loading: boolean }) {
  const { t, lang } = useI18n();
  const [action, setAction] = useState<Action | null>(null);
  const [secret, setSecret] = useState<Credential | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  // The page reloads homes on status events; after an action this panel reloads them at once
  // itself, until the page hands it a newer list.
  const [fresh, setFresh] = useState<{ from: HomeOverview[]; homes: HomeOverview[] } | null>(null);
  const homes = fresh && fresh.from === props.homes ? fresh.homes : props.homes;

  const open = (a: Action) => {
    setError(null);
    setAction(a);
  };

  /** Runs an action; on success closes its dialog, says what was done (if anything to say), and reloads the homes. */
  const run = async (work: () => Promise<string | null>) => {
    setBusy(true);
    setError(null);
    try {
      const done = await work();
      setAction(null);
      setNotice(done);
      const from = props.homes;
      setFresh({ from, homes: await api.homesOverview() });
    } catch (e) {
      setError(refusalText(e, lang, t));
    } finally {
      setBusy(false);
    }
  };
  const resolvedNote = (ids: string[]) => (ids.length ? ` ${t('doneAlertsResolved', { n: ids.length })}` : '');

  return (
    <section class="panel" aria-labelledby="homes-title" data-testid="homes-panel">
      <h2 id="homes-title">{t('homes')} <span class="count-badge">{homes.length}</span></h2>
      {props.loading && homes.length === 0 && <p class="muted">{t('loading')}</p>}
      {notice && <p class="form-ok" role="status" data-testid="homes-notice">{notice}</p>}
      <div class="homes">
        {homes.map((h) => (
          <article class="home" key={h.id} data-testid={`home-${h.id}`}>
            <header class="home-head">
              <span class="mono">{h.id}</span>
              <strong>{h.address}</strong>
            </header>
            <p class="home-residents">
              {t('residents')}: {h.residents.length === 0 && t('none')}
              {h.residents.map((r, i) => (
                <span key={r.id} data-testid={`resident-${r.id}`}>
                  {i > 0 && '、'}{r.name}（{r.id}）{' '}
                  <button type="button" class="btn btn-small" onClick={() => open({ kind: 'moveResident', resident: r, home: h })} data-testid={`move-resident-${r.id}`}
                    aria-label={`${t('actMove')} ${r.name}`}>{t('actMove')}</button>
                </span>
              ))}
            </p>
            <ul class="devices">
              {h.gatewayId && (
                <GatewayRow id={h.gatewayId} status={h.gatewayStatus} onRotate={() => open({ kind: 'rotate', id: h.gatewayId! })}
                  onReplace={() => open({ kind: 'replaceGateway', home: h })} />
              )}
              {h.devices.map((d) => (
                <DeviceRow key={d.id} device={d}>
                  <span class="push-end row">
                    <button type="button" class="btn btn-small" onClick={() => open({ kind: 'rotate', id: d.id })} data-testid={`rotate-${d.id}`}>{t('rotate')}</button>
                    <button type="button" class="btn btn-small" onClick={() => open({ kind: 'moveDevice', device: d })} data-testid={`move-${d.id}`}
                      aria-label={`${t('actMove')} ${d.id}`}>{t('actMove')}</button>
                    <button type="button" class="btn btn-small" onClick={() => open({ kind: 'retire', device: d })} data-testid={`retire-${d.id}`}
                      aria-label={`${t('actRetire')} ${d.id}`}>{t('actRetire')}</button>
                  </span>
                </DeviceRow>
              ))}
            </ul>
          </article>
        ))}
      </div>
      {action?.kind === 'rotate' && (
        <Dialog title={t('rotate')} onClose={() => setAction(null)} onSubmit={() => run(async () => {
          setSecret(await api.rotateSecret(action.id));
          return null;
        })} submitLabel={t('rotate')} submitClass="btn-danger" focusSubmit busy={busy} testId="dialog-rotate">
          <p class="lead">{t('rotateConfirm', { id: action.id })}</p>
          <DialogError error={error} />
        </Dialog>
      )}
      {action?.kind === 'retire' && (
        <Dialog title={t('retireTitle', { id: action.device.id })} onClose={() => setAction(null)} onSubmit={() => run(async () => {
          const r = await api.retireDevice(action.device.id);
          return t('doneRetired', { id: r.id }) + resolvedNote(r.resolvedAlerts);
        })} submitLabel={t('actRetire')} submitClass="btn-danger" focusSubmit busy={busy} testId="dialog-retire">
          <p class="lead">{t('retireConfirm', { id: action.device.id })}</p>
          <DialogError error={error} />
        </Dialog>
      )}
      {action?.kind === 'replaceGateway' && (
        <ReplaceGatewayDialog home={action.home} busy={busy} error={error} onClose={() => setAction(null)} onConfirm={(id) => run(async () => {
          const r = await api.replaceGateway(action.home.id, id);
          setSecret(r.credential);
          return t('doneReplaced', { home: r.homeId, id: r.gatewayId });
        })} />
      )}
      {action?.kind === 'moveDevice' && (
        <MoveDeviceDialog device={action.device} homes={homes} busy={busy} error={error} onClose={() => setAction(null)} onConfirm={(homeId, resident) => run(async () => {
          const r = await api.moveDevice(action.device.id, homeId, resident);
          return t('doneMovedDevice', { id: r.device.id, home: r.device.homeId }) + resolvedNote(r.resolvedAlerts);
        })} />
      )}
      {action?.kind === 'moveResident' && (
        <MoveResidentDialog resident={action.resident} home={action.home} homes={homes} busy={busy} error={error} onClose={() => setAction(null)}
          onConfirm={(homeId, devices) => run(async () => {
            const r = await api.moveResident(action.resident.id, homeId, devices);
            return t('doneMovedResident', { id: r.resident.id, home: r.resident.homeId }) + resolvedNote(r.resolvedAlerts);
          })} />
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

function DialogError(props: { error: string | null }) {
  return props.error ? <p class="form-error" role="alert" data-testid="dialog-error">{props.error}</p> : null;
}

/** The homes a resident or device may move to: every other one, full ones (for a resident) shown but not selectable. */
function HomeSelect(props: { homes: HomeOverview[]; except: string; value: string; onChange: (id: string) => void; forResident?: boolean }) {
  const { t } = useI18n();
  return (
    <>
      <label for="move-home">{t('targetHome')}</label>
      <select id="move-home" data-autofocus data-testid="move-home" value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        <option value="">{t('chooseHome')}</option>
        {props.homes.filter((h) => h.id !== props.except).map((h) => (
          <option key={h.id} value={h.id} disabled={props.forResident && h.residents.length >= MAX_RESIDENTS}>
            {t('homeOption', { id: h.id, address: h.address, n: h.residents.length })}
          </option>
        ))}
      </select>
    </>
  );
}

function MoveDeviceDialog(props: { device: Device; homes: HomeOverview[]; busy: boolean; error: string | null; onClose: () => void; onConfirm: (homeId: string, resident?: string) => void }) {
  const { t } = useI18n();
  const [homeId, setHomeId] = useState('');
  const [resident, setResident] = useState('');
  const target = props.homes.find((h) => h.id === homeId);
  return (
    <Dialog title={t('moveDeviceTitle', { id: props.device.id })} onClose={props.onClose} onSubmit={() => { if (homeId) props.onConfirm(homeId, resident || undefined); }}
      submitLabel={t('actMove')} busy={props.busy || !homeId} testId="dialog-move-device">
      <p class="hint">{t('moveDeviceHelp')}</p>
      <HomeSelect homes={props.homes} except={props.device.homeId} value={homeId} onChange={(id) => { setHomeId(id); setResident(''); }} />
      <label for="move-resident">{t('bindResident')}</label>
      <select id="move-resident" data-testid="move-resident" value={resident} disabled={!target} onChange={(e) => setResident(e.currentTarget.value)}>
        <option value="">{t('notBound')}</option>
        {target?.residents.map((r) => <option key={r.id} value={r.id}>{r.name}（{r.id}）</option>)}
      </select>
      <DialogError error={props.error} />
    </Dialog>
  );
}

function MoveResidentDialog(props: {
  resident: Resident; home: HomeOverview; homes: HomeOverview[]; busy: boolean; error: string | null;
  onClose: () => void; onConfirm: (homeId: string, devices?: 'move' | 'unbind') => void;
}) {
  const { t } = useI18n();
  const [homeId, setHomeId] = useState('');
  const [devices, setDevices] = useState<'move' | 'unbind'>('move');
  const bound = props.home.devices.filter((d) => d.residentId === props.resident.id).map((d) => d.id);
  return (
    <Dialog title={t('moveResidentTitle', { name: props.resident.name, id: props.resident.id })} onClose={props.onClose}
      onSubmit={() => { if (homeId) props.onConfirm(homeId, bound.length ? devices : undefined); }}
      submitLabel={t('actMove')} busy={props.busy || !homeId} testId="dialog-move-resident">
      <p class="hint">{t('moveResidentHelp')}</p>
      <HomeSelect homes={props.homes} except={props.home.id} value={homeId} onChange={setHomeId} forResident />
      {bound.length > 0 && (
        <>
          <label for="move-bound">{t('boundDevices', { ids: bound.join('、') })}</label>
          <select id="move-bound" data-testid="move-bound" value={devices} onChange={(e) => setDevices(e.currentTarget.value as 'move' | 'unbind')}>
            <option value="move">{t('boundMove')}</option>
            <option value="unbind">{t('boundUnbind')}</option>
          </select>
        </>
      )}
      <DialogError error={props.error} />
    </Dialog>
  );
}

function ReplaceGatewayDialog(props: { home: HomeOverview; busy: boolean; error: string | null; onClose: () => void; onConfirm: (id: string) => void }) {
  const { t } = useI18n();
  const [id, setId] = useState('');
  const valid = /^[a-z0-9][a-z0-9-]{0,63}$/.test(id);
  return (
    <Dialog title={t('replaceGatewayTitle', { home: props.home.id })} onClose={props.onClose} onSubmit={() => { if (valid) props.onConfirm(id); }}
      submitLabel={t('actReplaceGateway')} submitClass="btn-danger" busy={props.busy || !valid} testId="dialog-replace-gateway">
      <p class="lead">{t('replaceGatewayHelp', { id: props.home.gatewayId ?? '' })}</p>
      <label for="new-gateway-id">{t('newGatewayId')}</label>
      <input id="new-gateway-id" data-autofocus data-testid="new-gateway-id" autocomplete="off" spellcheck={false} value={id}
        aria-describedby="new-gateway-id-hint" onInput={(e) => setId(e.currentTarget.value.trim())} />
      <p id="new-gateway-id-hint" class="hint">{t('idHint')}</p>
      <DialogError error={props.error} />
    </Dialog>
  );
}

function GatewayRow(props: { id: string; status: ClientStatus | null; onRotate: () => void; onReplace: () => void }) {
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
      <span class="push-end row">
        <button type="button" class="btn btn-small" onClick={props.onRotate} data-testid={`rotate-${props.id}`}>{t('rotate')}</button>
        <button type="button" class="btn btn-small" onClick={props.onReplace} data-testid={`replace-${props.id}`}>{t('actReplaceGateway')}</button>
      </span>
    </li>
  );
}
