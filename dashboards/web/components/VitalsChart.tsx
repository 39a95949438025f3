/**
 * A resident's blood pressure or glucose over 7/30/90 days (uPlot), with their
 * own target band drawn behind the lines: the range between the low and the
 * high rule (the resident's targets over the configured defaults), and dashed
 * lines at the critical thresholds, so a reading is read against *this*
 * person's limits. `data-points` on the figure says how many readings it drew.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../lib/api';
import { chartTicks, chartTime, timeZone } from '../lib/format';
import { useI18n, type T } from '../lib/i18n';
import { LoadError } from './LoadError';
import type { Reading } from '../lib/types';

export type ChartType = 'blood_pressure' | 'glucose';
type Thresholds = Record<string, Record<string, number>>;

interface Band { from: number; to: number; label: string }
interface Line { at: number; color: string; label: string }

/** A colour from the page's theme (CSS custom properties on the page element). */
let themeOf: Element = document.documentElement;
const css = (name: string) => getComputedStyle(themeOf).getPropertyValue(name).trim() || '#888';

export function VitalsChart(props: { residentId: string; type: ChartType; days: number; thresholds: Thresholds; refreshKey?: string | number; height?: number }) {
  const { t, lang } = useI18n();
  const box = useRef<HTMLDivElement>(null);
  const [readings, setReadings] = useState<Reading[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [retries, setRetries] = useState(0);

  useEffect(() => {
    let live = true;
    const from = new Date(Date.now() - props.days * 86400_000);
    api.readings(props.residentId, props.type, from).then(
      (r) => { if (live) { setReadings(r); setError(null); } },
      (e: unknown) => { if (live) setError(e); },
    );
    return () => { live = false; };
  }, [props.residentId, props.type, props.days, props.refreshKey, retries]);

  useEffect(() => {
    const el = box.current;
    if (!el || !readings) return;
    themeOf = el;
    const spec = chartSpec(props.type, readings, props.thresholds, t);
    const from = Date.now() / 1000 - props.days * 86400;
    const to = Date.now() / 1000;
    const height = props.height ?? 220;
    const text = css('--fg-muted');
    const grid = css('--grid');
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), timeZone()),
      scales: {
        x: { time: true, range: () => [from, to] },
        y: { range: () => spec.yRange },
      },
      axes: [
        {
          stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 56, space: 80,
          // 24-hour, localized labels; also left on the figure (`data-x-ticks`) for tests and support.
          values: (_u: uPlot, splits: number[], _axis: number, _space: number, incr: number) => {
            const labels = chartTicks(splits, incr, lang);
            el.closest('figure')?.setAttribute('data-x-ticks', labels.join('|').replaceAll('\n', ' '));
            return labels;
          },
        },
        { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 48 },
      ],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      series: [
        { label: lang === 'en' ? 'Time' : '时间', value: (_u: uPlot, sec: number | null) => (sec === null ? '--' : chartTime(sec, lang)) },
        ...spec.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: true, points: { show: true, size: 7, fill: s.color } })),
      ],
      hooks: { drawClear: [(u: uPlot) => drawTargets(u, spec.bands, spec.lines, css('--band'))] },
    };
    const plot = new uPlot(opts, spec.data, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [readings, props.thresholds, lang, props.days]);

  const title = props.type === 'blood_pressure' ? t('bloodPressure') : t('glucose');
  return (
    <figure class="chart" data-testid={`chart-${props.type}`} data-points={readings?.length ?? ''} data-series={readings ? (props.type === 'blood_pressure' ? 3 : 1) : ''} aria-label={`${title}: ${t('chartPoints', { n: readings?.length ?? 0 })}`}>
      <figcaption>
        <span class="chart-title">{title}</span>
        <span class="muted">{readings ? t('chartPoints', { n: readings.length }) : error ? '' : t('loading')}</span>
        <span class="chart-key">
          {/* The blood-pressure band is the systolic target only (bp_low..bp_high systolic): say so. */}
          <span class="swatch swatch-band" aria-hidden="true" />{props.type === 'blood_pressure' ? t('systolicTarget') : t('targetBand')}
          <span class="swatch swatch-line" aria-hidden="true" />{t('criticalLine')}
          {props.type === 'blood_pressure' && <><span class="swatch swatch-line high" aria-hidden="true" />{t('highLine')}</>}
        </span>
      </figcaption>
      {error !== null && <LoadError error={error} onRetry={() => { setError(null); setRetries((n) => n + 1); }} testId={`chart-error-${props.type}`} compact />}
      <div ref={box} class="chart-plot" />
    </figure>
  );
}

function chartSpec(type: ChartType, readings: Reading[], th: Thresholds, t: T) {
  const xs = readings.map((r) => Date.parse(r.ts) / 1000);
  const val = (r: Reading, k: string) => (typeof r.values[k] === 'number' ? (r.values[k] as number) : null);
  if (type === 'blood_pressure') {
    const sys = readings.map((r) => val(r, 'systolic'));
    const dia = readings.map((r) => val(r, 'diastolic'));
    const pulse = readings.map((r) => val(r, 'pulse'));
    const low = th.bp_low?.systolic ?? 90;
    const high = th.bp_high?.systolic ?? 160;
    const crisisSys = th.bp_crisis?.systolic ?? 180;
    const crisisDia = th.bp_crisis?.diastolic ?? 120;
    const highDia = th.bp_high?.diastolic ?? 100;
    const values = [...sys, ...dia, ...pulse].filter((v): v is number => v !== null);
    return {
      data: [xs, sys, dia, pulse] as uPlot.AlignedData,
      series: [
        { label: t('systolic'), color: css('--series-1') },
        { label: t('diastolic'), color: css('--series-2') },
        { label: t('pulse'), color: css('--series-3') },
      ],
      bands: [{ from: low, to: high, label: 'systolic' }] as Band[],
      lines: [
        { at: crisisSys, color: css('--critical'), label: 'crisis systolic' },
        { at: crisisDia, color: css('--critical'), label: 'crisis diastolic' },
        { at: highDia, color: css('--warning'), label: 'high diastolic' },
      ] as Line[],
      yRange: [Math.min(40, ...values) - 5, Math.max(crisisSys, ...values) + 10] as [number, number],
    };
  }
  const g = readings.map((r) => val(r, 'value'));
  const low = th.glucose_low?.value ?? 3.9;
  const high = th.glucose_high?.value ?? 16.7;
  const severeLow = th.glucose_severe_low?.value ?? 3.0;
  const veryHigh = th.glucose_very_high?.value ?? 33.3;
  const values = g.filter((v): v is number => v !== null);
  const top = Math.max(high + 2, ...values.map((v) => v + 2));
  return {
    data: [xs, g] as uPlot.AlignedData,
    series: [{ label: `${t('glucose')} mmol/L`, color: css('--series-1') }],
    bands: [{ from: low, to: high, label: 'glucose' }] as Band[],
    lines: [
      { at: severeLow, color: css('--critical'), label: 'severe low' },
      ...(veryHigh <= top ? [{ at: veryHigh, color: css('--critical'), label: 'very high' }] : []),
    ] as Line[],
    yRange: [0, top] as [number, number],
  };
}

/** Target band and threshold lines, drawn under the series. */
function drawTargets(u: uPlot, bands: Band[], lines: Line[], bandColor: string): void {
  const { ctx, bbox } = u;
  ctx.save();
  ctx.beginPath();
  ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
  ctx.clip();
  for (const b of bands) {
    const y1 = u.valToPos(b.to, 'y', true);
    const y2 = u.valToPos(b.from, 'y', true);
    ctx.fillStyle = bandColor;
    ctx.fillRect(bbox.left, y1, bbox.width, y2 - y1);
  }
  ctx.lineWidth = 1.5 * devicePixelRatio;
  ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
  for (const l of lines) {
    const y = Math.round(u.valToPos(l.at, 'y', true)) + 0.5;
    ctx.strokeStyle = l.color;
    ctx.beginPath();
    ctx.moveTo(bbox.left, y);
    ctx.lineTo(bbox.left + bbox.width, y);
    ctx.stroke();
  }
  ctx.restore();
}
