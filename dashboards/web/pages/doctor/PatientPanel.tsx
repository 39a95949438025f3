/** One patient for their doctor: who, latest vitals and missed measurements, trends, targets. */
import { Fragment } from 'preact';
import { VitalsPanel } from '../../components/VitalsPanel';
import { clock, vitalsText } from '../../lib/format';
import { CONDITION_TEXT, useI18n, word } from '../../lib/i18n';
import type { HubConfig, ResidentSummary } from '../../lib/types';
import { TargetsEditor } from './TargetsEditor';

export function PatientPanel(props: { summary: ResidentSummary; config: HubConfig | null; refreshKey: string | number; onTargetsSaved: () => void }) {
  const { t, lang } = useI18n();
  const s = props.summary;
  const r = s.resident;
  const sex = r.sex === 'F' ? t('sexF') : r.sex === 'M' ? t('sexM') : r.sex ?? '';
  return (
    <div class="patient" data-testid="patient-panel" data-resident-id={r.id}>
      <section class="panel patient-head">
        <h2 class="resident-name">
          {r.name}
          <span class="resident-meta">{[sex, r.age === null ? null : t('age', { n: r.age })].filter(Boolean).join(' · ')}</span>
        </h2>
        <p>{r.conditions.map((c) => <span class="chip" key={c}>{word(CONDITION_TEXT, c, lang)}</span>)}</p>
        <dl class="vitals-latest">
          {(['blood_pressure', 'glucose'] as const).map((type) => {
            const v = s.latest[type];
            return (
              <Fragment key={type}>
                <dt>{type === 'glucose' ? t('glucose') : t('bloodPressure')}</dt>
                <dd>{v ? <><strong>{vitalsText(type, v.values, lang)}</strong> <span class="muted">{clock(v.ts)}</span></> : <span class="muted">{t('noReadings')}</span>}</dd>
              </Fragment>
            );
          })}
        </dl>
        {s.missed.filter((m) => m.missedDays > 0).map((m) => (
          <p class="tag tag-warning" key={m.type + m.time} data-testid="missed">
            {t('missedDays', { type: m.type === 'glucose' ? t('glucose') : t('bloodPressure'), n: m.missedDays, time: m.time })}
          </p>
        ))}
      </section>
      <VitalsPanel residentId={r.id} thresholds={s.thresholds} both refreshKey={props.refreshKey} height={180} />
      <TargetsEditor residentId={r.id} targets={r.targets} config={props.config} onSaved={props.onTargetsSaved} />
    </div>
  );
}
