/**
 * Who and where, for the person on the phone: name, age, address and how to
 * get in first (large), then contacts in calling order as `tel:` links,
 * conditions, doctor, latest vitals, missed measurements and devices.
 */
import { Fragment, type ComponentChildren } from 'preact';
import { clock, telHref, vitalsText } from '../lib/format';
import { CONDITION_TEXT, DEVICE_TEXT, RELATION_TEXT, useI18n, word } from '../lib/i18n';
import type { Device, Home, ReadingType, ResidentDetail, ResidentSummary } from '../lib/types';

export function ResidentCard(props: { resident: ResidentDetail; summary: ResidentSummary | null; home: Home; devices: Device[]; homeLevel?: boolean }) {
  const { t, lang } = useI18n();
  const r = props.resident;
  const s = props.summary;
  const sex = r.sex === 'F' || r.sex === 'female' ? t('sexF') : r.sex === 'M' || r.sex === 'male' ? t('sexM') : r.sex ?? '';
  return (
    <section class="panel resident" aria-label={t('resident')} data-testid="resident-card">
      {props.homeLevel && <p class="tag tag-info">{t('homeLevel')}</p>}
      <h2 class="resident-name">
        {r.name}
        <span class="resident-meta">{[sex, r.age === null ? null : t('age', { n: r.age })].filter(Boolean).join(' · ')}</span>
      </h2>
      <dl class="facts">
        <dt>{t('address')}</dt>
        <dd class="big">{props.home.address}</dd>
        <dt>{t('access')}</dt>
        <dd class={props.home.access ? 'access' : 'muted'}>{props.home.access ?? t('notRecorded')}</dd>
        <dt>{t('contacts')}</dt>
        <dd>
          <ol class="contacts">
            {r.contacts.map((c, i) => (
              <li key={i}>
                <a class="tel" href={telHref(c.phone)} data-testid={i === 0 ? 'first-contact' : undefined}>
                  <span class="contact-name">{c.name}</span>
                  {c.relation && <span class="muted">{lang === 'en' ? `(${word(RELATION_TEXT, c.relation, lang)})` : `（${word(RELATION_TEXT, c.relation, lang)}）`}</span>}
                  <span class="phone">{c.phone}</span>
                </a>
              </li>
            ))}
            {props.home.phone && (
              <li class="home-phone">
                <a class="tel" href={telHref(props.home.phone)}><span class="contact-name">{t('homePhone')}</span><span class="phone">{props.home.phone}</span></a>
              </li>
            )}
            {r.contacts.length === 0 && !props.home.phone && <li class="muted">{t('notRecorded')}</li>}
          </ol>
        </dd>
        <dt>{t('conditions')}</dt>
        <dd>{r.conditions.length ? r.conditions.map((c) => <span class="chip" key={c}>{word(CONDITION_TEXT, c, lang)}</span>) : <span class="muted">{t('notRecorded')}</span>}</dd>
        <dt>{t('doctor')}</dt>
        <dd>{s?.doctor ? (s.doctor.name ?? s.doctor.username) : r.doctor ?? <span class="muted">{t('notRecorded')}</span>}</dd>
      </dl>
      {s && <LatestVitals summary={s} />}
      <h3>{t('devices')}</h3>
      <ul class="devices">
        {props.devices.map((d) => <DeviceRow key={d.id} device={d} />)}
      </ul>
    </section>
  );
}

function LatestVitals({ summary }: { summary: ResidentSummary }) {
  const { t, lang } = useI18n();
  const rows: Array<[ReadingType, string]> = [['blood_pressure', t('bloodPressure')], ['glucose', t('glucose')], ['fall', t('lastFall')], ['sos', t('lastSos')], ['motion', t('lastMotion')]];
  const shown = rows.filter(([type]) => summary.latest[type]);
  return (
    <>
      <h3>{t('latestVitals')}</h3>
      {shown.length === 0 && <p class="muted">{t('noReadings')}</p>}
      <dl class="vitals-latest" data-testid="latest-vitals">
        {shown.map(([type, label]) => {
          const r = summary.latest[type]!;
          return (
            <Fragment key={type}>
              <dt>{label}</dt>
              <dd><strong>{vitalsText(type, r.values, lang)}</strong> <span class="muted">{clock(r.ts)}</span></dd>
            </Fragment>
          );
        })}
      </dl>
      {summary.missed.filter((m) => m.missedDays > 0).map((m) => (
        <p class="tag tag-warning" key={`${m.type}${m.time}`}>
          {t('missedDays', { type: m.type === 'glucose' ? t('glucose') : t('bloodPressure'), n: m.missedDays, time: m.time })}
        </p>
      ))}
    </>
  );
}

export function DeviceRow({ device: d, children }: { device: Device; children?: ComponentChildren }) {
  const { t, lang } = useI18n();
  const online = d.status?.online;
  const state = online === true ? 'online' : online === false ? 'offline' : 'unknown';
  const battery = d.status?.battery;
  return (
    <li class={`device device-${state}`} data-testid={`device-${d.id}`} data-state={state}>
      <span class={`dot dot-${state}`} aria-hidden="true" />
      <span class="device-type">{word(DEVICE_TEXT, d.type, lang)}</span>
      <span class="muted mono">{d.id}</span>
      <span class="device-state">{t(state)}</span>
      {battery !== null && battery !== undefined && (
        <span class={`battery${battery < 15 ? ' battery-low' : ''}`} aria-label={`${t('battery')} ${battery}%`}>{t('battery')} {battery}%</span>
      )}
      {d.status?.statusAt && <span class="muted">{clock(d.status.statusAt)}</span>}
      {children}
    </li>
  );
}
