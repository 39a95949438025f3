/** Vitals charts with the 7/30/90-day switch, for one type or both. */
import { useState } from 'preact/hooks';
import { useI18n } from '../lib/i18n';
import { VitalsChart, type ChartType } from './VitalsChart';

const RANGES = [7, 30, 90] as const;

export function VitalsPanel(props: {
  residentId: string;
  thresholds: Record<string, Record<string, number>>;
  /** Shown first (e.g. the type of the selected alert); the other is one click away unless `both`. */
  initial?: ChartType;
  both?: boolean;
  /** Any change refetches the charts (a live reading, the connection coming back). */
  refreshKey?: string | number;
  height?: number;
}) {
  const { t } = useI18n();
  const [days, setDays] = useState<number>(7);
  const [type, setType] = useState<ChartType>(props.initial ?? 'blood_pressure');
  const types: ChartType[] = props.both ? ['blood_pressure', 'glucose'] : [type];
  return (
    <section class="panel vitals" aria-label={t('vitalsChart')}>
      <div class="panel-head">
        <h3>{t('vitalsChart')}</h3>
        {!props.both && (
          <div class="seg" role="group" aria-label={t('type')}>
            {(['blood_pressure', 'glucose'] as const).map((k) => (
              <button type="button" class={`seg-btn${type === k ? ' on' : ''}`} aria-pressed={type === k} onClick={() => setType(k)}>
                {k === 'blood_pressure' ? t('bloodPressure') : t('glucose')}
              </button>
            ))}
          </div>
        )}
        <div class="seg" role="group" aria-label={t('time')}>
          {RANGES.map((d) => (
            <button type="button" class={`seg-btn${days === d ? ' on' : ''}`} aria-pressed={days === d} data-testid={`range-${d}`} onClick={() => setDays(d)}>
              {t('days', { n: d })}
            </button>
          ))}
        </div>
      </div>
      {types.map((k) => (
        <VitalsChart key={`${props.residentId}-${k}`} residentId={props.residentId} type={k} days={days} thresholds={props.thresholds} refreshKey={props.refreshKey} height={props.height} />
      ))}
    </section>
  );
}
