/** Times, durations and vitals as people read them, in the hub's time zone. */
import type { Lang, Values } from './types';

let zone = 'Asia/Shanghai';
/** The hub's zone (ANXIN_TZ): every time on screen is the homes' local time. */
export function setTimeZone(tz: string): void {
  zone = tz;
}
export const timeZone = () => zone;

const dateParts = (ms: number) => {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).formatToParts(ms);
  return Object.fromEntries(parts.map((p) => [p.type, p.value])) as Record<string, string>;
};

/** `14:03` today, `05-12 14:03` another day, `2024-05-12 14:03` another year. */
export function clock(iso: string | number, now = Date.now()): string {
  const ms = typeof iso === 'number' ? iso : Date.parse(iso);
  const p = dateParts(ms);
  const today = dateParts(now);
  const hm = `${p.hour}:${p.minute}`;
  if (p.year !== today.year) return `${p.year}-${p.month}-${p.day} ${hm}`;
  if (p.month !== today.month || p.day !== today.day) return `${p.month}-${p.day} ${hm}`;
  return hm;
}

/** `14:03:27` (history lines). */
export function clockSeconds(iso: string): string {
  const p = dateParts(Date.parse(iso));
  return `${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

/** Midnight today in the hub's zone, as a Date (the KPI's "today"). */
export function startOfToday(now = Date.now()): Date {
  const p = dateParts(now);
  const sinceMidnight = ((Number(p.hour) * 60 + Number(p.minute)) * 60 + Number(p.second)) * 1000 + (now % 1000);
  return new Date(now - sinceMidnight);
}

/** Elapsed time, compact: `45秒` / `3分12秒` / `2小时5分` / `3天` (en: `45 s`, `3 min 12 s`…). */
export function elapsed(fromIso: string, now: number, lang: Lang): string {
  const s = Math.max(0, Math.floor((now - Date.parse(fromIso)) / 1000));
  const zh = lang === 'zh-CN';
  if (s < 60) return zh ? `${s}秒` : `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return zh ? `${m}分${s % 60}秒` : `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return zh ? `${h}小时${m % 60}分` : `${h} h ${m % 60} min`;
  return zh ? `${Math.floor(h / 24)}天` : `${Math.floor(h / 24)} d`;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** One reading's values as a short line: `182/95 mmHg · 脉搏 88`, `5.6 mmol/L`. */
export function vitalsText(type: string, values: Values, lang: Lang): string {
  const zh = lang === 'zh-CN';
  if (type === 'blood_pressure') {
    const pulse = num(values.pulse);
    return `${Math.round(num(values.systolic) ?? 0)}/${Math.round(num(values.diastolic) ?? 0)} mmHg${pulse === null ? '' : ` · ${zh ? '脉搏' : 'pulse'} ${Math.round(pulse)}`}${values.irregularPulse === true ? (zh ? ' · 心律不齐' : ' · irregular') : ''}`;
  }
  if (type === 'glucose') return `${(num(values.value) ?? 0).toFixed(1)} mmol/L${typeof values.context === 'string' ? ` · ${contextText(values.context, lang)}` : ''}`;
  if (type === 'fall') return `${values.recovered === true ? (zh ? '已自行起身' : 'got up') : zh ? '跌倒' : 'fall'}${typeof values.location === 'string' ? ` · ${values.location}` : ''}`;
  if (type === 'sos') return `SOS${typeof values.location === 'string' ? ` · ${values.location}` : ''}`;
  if (type === 'heartbeat') return num(values.battery) === null ? '—' : `${zh ? '电量' : 'battery'} ${num(values.battery)}%`;
  if (type === 'motion') return typeof values.location === 'string' ? values.location : zh ? '有活动' : 'movement';
  return JSON.stringify(values);
}

function contextText(c: string, lang: Lang): string {
  const map: Record<string, [string, string]> = {
    fasting: ['空腹', 'fasting'], before_meal: ['餐前', 'before meal'], after_meal: ['餐后', 'after meal'], bedtime: ['睡前', 'bedtime'], random: ['随机', 'random'],
  };
  return map[c]?.[lang === 'en' ? 1 : 0] ?? c;
}

/** A phone number as a `tel:` URI (digits and a leading +). */
export function telHref(phone: string): string {
  return `tel:${phone.replace(/[^\d+]/g, '')}`;
}

const MONTHS_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** `11月24日` / `Nov 24`. */
const dayLabel = (p: Record<string, string>, lang: Lang) =>
  lang === 'en' ? `${MONTHS_EN[Number(p.month) - 1]} ${Number(p.day)}` : `${Number(p.month)}月${Number(p.day)}日`;

/**
 * Time-axis tick labels of a chart (`splits` in epoch seconds, `incr` the tick
 * spacing in seconds), 24-hour and in the screen's language: days as `11月24日`
 * / `Nov 24`; hours as `14:00`, with the day above the first tick of each day.
 * (uPlot's defaults are English 12-hour: `12pm`, `12am`.)
 */
export function chartTicks(splits: number[], incr: number, lang: Lang): string[] {
  let lastDay = '';
  return splits.map((sec) => {
    const p = dateParts(sec * 1000);
    const day = dayLabel(p, lang);
    if (incr >= 86400) return day;
    const hm = `${p.hour}:${p.minute}`;
    const first = day !== lastDay;
    lastDay = day;
    return first ? `${day}\n${hm}` : hm;
  });
}

/** A chart's cursor time (legend): `11月24日 14:05` / `Nov 24 14:05`. */
export function chartTime(sec: number, lang: Lang): string {
  const p = dateParts(sec * 1000);
  return `${dayLabel(p, lang)} ${p.hour}:${p.minute}`;
}
