/**
 * The emergency (120) hand-off: what an operator reads aloud to the dispatcher
 * once an alert is escalated to emergency rescue (SPEC §4 critical, §5).
 * Pure: same input, same text.
 *
 * Read-aloud order follows what a dispatcher asks, in turn: who, where, what
 * and when, how to get in, vitals, history, whom else to call. Lines are short
 * so an operator does not lose their place; a missing field is said to be
 * missing (未登记 / not recorded) rather than left out, so nobody waits for it.
 */
import type { ReadingType } from '../../devices/readingSchema.js';
import type { RuleId, Severity, Text } from '../rules/types.js';
import type { Contact, HomeRecord, ResidentRecord } from '../store/directoryStore.js';

/**
 * Takes only the directory fields it reads, so a `ResidentRecord` (plus the
 * age the caller computed) and a `HomeRecord` fit as they are and later
 * fields added to them do not ripple here.
 */
export interface HandoffInput {
  /**
   * Who the alert is about: its resident; or, for an alert of the home that
   * names nobody (an unbound fall sensor), every resident of the home.
   */
  residents: Array<Pick<ResidentRecord, 'name' | 'sex' | 'conditions' | 'contacts'> & { age: number | null }>;
  /** False when the alert names nobody and the home has several residents: which of them it is, is not known. */
  identified: boolean;
  home: Pick<HomeRecord, 'address' | 'phone' | 'access'>;
  alert: { rule: RuleId; severity: Severity; title: Text; createdAt: number; firstReadingAt?: number; count: number };
  /** The resident's, in stored units (mmHg, bpm, mmol/L); the newest of each type is shown. Not shown unless identified. */
  latestVitals: Array<{ type: ReadingType; ts: number; values: Record<string, number | string | boolean> }>;
  /** Epoch ms. */
  now: number;
  /** IANA zone of the home, e.g. `Asia/Shanghai`. */
  tz: string;
}

export interface HandoffPerson {
  name: string;
  sex: Text;
  age: number | null;
  conditions: Array<{ code: string; text: Text }>;
}

export interface HandoffFields {
  /** One, or every resident of the home when `identified` is false. */
  residents: HandoffPerson[];
  identified: boolean;
  address: string;
  access: string | null;
  homePhone: string | null;
  event: { rule: RuleId; severity: Severity; title: Text; at: number; localTime: string; minutesAgo: number; count: number };
  vitals: Array<{ type: ReadingType; at: number; localTime: string; minutesAgo: number; text: Text }>;
  /** Of every resident listed, each phone once. */
  contacts: Array<{ name: string; relation: Text | null; phone: string }>;
}

export interface HandoffSummary {
  'zh-CN': string;
  en: string;
  fields: HandoffFields;
}

const MISSING: Text = { 'zh-CN': '未登记', en: 'not recorded' };

const SEVERITY: Record<Severity, Text> = {
  critical: { 'zh-CN': '危急', en: 'critical' },
  urgent: { 'zh-CN': '紧急', en: 'urgent' },
  warning: { 'zh-CN': '关注', en: 'warning' },
  info: { 'zh-CN': '提示', en: 'info' },
};

/** Common chronic conditions of home-care residents; keys are normalised (lower case, `_`). */
const CONDITIONS: Array<[keys: string[], zh: string, en: string]> = [
  [['hypertension', 'high_blood_pressure'], '高血压', 'hypertension'],
  [['diabetes', 'diabetes_mellitus'], '糖尿病', 'diabetes'],
  [['type_2_diabetes', 't2dm'], '2型糖尿病', 'type 2 diabetes'],
  [['coronary_heart_disease', 'chd', 'coronary_artery_disease', 'cad'], '冠心病', 'coronary heart disease'],
  [['stroke'], '脑卒中（中风）', 'stroke'],
  [['copd'], '慢阻肺', 'COPD'],
  [['dementia'], '认知障碍', 'dementia'],
  [['atrial_fibrillation', 'af', 'afib'], '房颤', 'atrial fibrillation'],
  [['heart_failure', 'chf'], '心力衰竭', 'heart failure'],
  [['ckd', 'chronic_kidney_disease'], '慢性肾病', 'chronic kidney disease'],
  [['hyperlipidemia', 'dyslipidemia'], '高脂血症', 'hyperlipidaemia'],
  [['parkinsons', 'parkinson', 'parkinsons_disease'], '帕金森病', "Parkinson's disease"],
  [['osteoporosis'], '骨质疏松', 'osteoporosis'],
];

const RELATIONS: Array<[keys: string[], zh: string, en: string]> = [
  [['son'], '儿子', 'son'],
  [['daughter'], '女儿', 'daughter'],
  [['wife'], '妻子', 'wife'],
  [['husband'], '丈夫', 'husband'],
  [['spouse'], '配偶', 'spouse'],
  [['grandson'], '孙子', 'grandson'],
  [['granddaughter'], '孙女', 'granddaughter'],
  [['daughter_in_law'], '儿媳', 'daughter-in-law'],
  [['son_in_law'], '女婿', 'son-in-law'],
  [['brother'], '兄弟', 'brother'],
  [['sister'], '姐妹', 'sister'],
  [['neighbour', 'neighbor'], '邻居', 'neighbour'],
  [['caregiver', 'carer'], '护工', 'caregiver'],
  [['friend'], '朋友', 'friend'],
];

const GLUCOSE_CONTEXT: Record<string, Text> = {
  fasting: { 'zh-CN': '空腹', en: 'fasting' },
  before_meal: { 'zh-CN': '餐前', en: 'before meal' },
  after_meal: { 'zh-CN': '餐后', en: 'after meal' },
  bedtime: { 'zh-CN': '睡前', en: 'bedtime' },
  random: { 'zh-CN': '随机', en: 'random' },
};

export function handoffSummary(input: HandoffInput): HandoffSummary {
  const { residents, home, alert, now } = input;
  const identified = input.identified && residents.length === 1;
  const clock = localClock(input.tz, now);
  const eventAt = alert.firstReadingAt ?? alert.createdAt;
  const contacts = new Map<string, Contact>();
  for (const c of residents.flatMap((r) => r.contacts)) if (!contacts.has(c.phone)) contacts.set(c.phone, c);
  const fields: HandoffFields = {
    residents: residents.map((r) => ({
      name: r.name, sex: sexText(r.sex), age: r.age,
      conditions: r.conditions.filter((c) => c.trim()).map((code) => ({ code, text: lookup(CONDITIONS, code) })),
    })),
    identified,
    address: home.address,
    access: blankToNull(home.access),
    homePhone: blankToNull(home.phone),
    event: {
      rule: alert.rule, severity: alert.severity, title: alert.title, at: eventAt,
      localTime: clock(eventAt), minutesAgo: minutesBetween(eventAt, now), count: alert.count,
    },
    vitals: !identified ? [] : newestPerType(input.latestVitals).flatMap((v) => {
      const text = vitalText(v.type, v.values);
      return text ? [{ type: v.type, at: v.ts, localTime: clock(v.ts), minutesAgo: minutesBetween(v.ts, now), text }] : [];
    }),
    contacts: [...contacts.values()].map((c) => ({ name: c.name, relation: c.relation?.trim() ? lookup(RELATIONS, c.relation) : null, phone: c.phone })),
  };
  return { 'zh-CN': renderZh(fields), en: renderEn(fields), fields };
}

function renderZh(f: HandoffFields): string {
  const e = f.event;
  const lines = [
    '【120 交接】安心 家庭养老床位',
    ...whoZh(f),
    `地址：${f.address}`,
    `事件：${e.title['zh-CN']}（${SEVERITY[e.severity]['zh-CN']}）`,
    `时间：${e.localTime}，${agoZh(e.minutesAgo)}${e.count > 1 ? `；共 ${e.count} 次` : ''}`,
    `【如何进门】${f.access ?? (f.contacts.length ? '未登记，请先联系家属' : '未登记')}`,
  ];
  if (!f.identified) lines.push('生命体征：不知是哪一位，未列出');
  else if (f.vitals.length === 0) lines.push('生命体征：无记录');
  else lines.push('生命体征：', ...f.vitals.map((v) => `  ${v.text['zh-CN']}（${v.localTime}，${agoZh(v.minutesAgo)}）`));
  if (f.identified) lines.push(`病史：${historyZh(f.residents[0]!)}`);
  if (f.contacts.length === 0) lines.push(`联系人：${MISSING['zh-CN']}`);
  else lines.push('联系人：', ...f.contacts.map((c, i) => `  ${i + 1}. ${c.name}${c.relation ? `（${c.relation['zh-CN']}）` : ''} ${c.phone}`));
  lines.push(`家中电话：${f.homePhone ?? MISSING['zh-CN']}`);
  return lines.join('\n');
}

function renderEn(f: HandoffFields): string {
  const e = f.event;
  const lines = [
    '[120 HANDOFF] Anxin home care bed',
    ...whoEn(f),
    `Address: ${f.address}`,
    `Event: ${e.title.en} (${SEVERITY[e.severity].en})`,
    `Time: ${e.localTime}, ${agoEn(e.minutesAgo)}${e.count > 1 ? `; ${e.count} readings` : ''}`,
    `HOW TO GET IN: ${f.access ?? (f.contacts.length ? 'not recorded, call a contact first' : 'not recorded')}`,
  ];
  if (!f.identified) lines.push('Vitals: not listed (not known which resident)');
  else if (f.vitals.length === 0) lines.push('Vitals: none recorded');
  else lines.push('Vitals:', ...f.vitals.map((v) => `  ${v.text.en} (${v.localTime}, ${agoEn(v.minutesAgo)})`));
  if (f.identified) lines.push(`History: ${historyEn(f.residents[0]!)}`);
  if (f.contacts.length === 0) lines.push(`Contacts: ${MISSING.en}`);
  else lines.push('Contacts:', ...f.contacts.map((c, i) => `  ${i + 1}. ${c.name}${c.relation ? ` (${c.relation.en})` : ''} ${c.phone}`));
  lines.push(`Home phone: ${f.homePhone ?? MISSING.en}`);
  return lines.join('\n');
}

/** Who: the resident; or, not knowing which, every resident of the home with their history. */
function whoZh(f: HandoffFields): string[] {
  const person = (p: HandoffPerson) => `${p.name}，${p.sex['zh-CN']}，${p.age === null ? '年龄未登记' : `${p.age}岁`}`;
  if (f.identified) return [`老人：${person(f.residents[0]!)}`];
  return [`老人：不知是哪一位（本户登记 ${f.residents.length} 人）`, ...f.residents.map((p, i) => `  ${i + 1}. ${person(p)}；病史：${historyZh(p)}`)];
}

function whoEn(f: HandoffFields): string[] {
  const person = (p: HandoffPerson) => `${p.name}, ${p.sex.en}, ${p.age === null ? 'age not recorded' : `${p.age} years`}`;
  if (f.identified) return [`Resident: ${person(f.residents[0]!)}`];
  return [`Resident: NOT KNOWN WHICH ONE (${f.residents.length} live here)`, ...f.residents.map((p, i) => `  ${i + 1}. ${person(p)}; history: ${historyEn(p)}`)];
}

const historyZh = (p: HandoffPerson) => (p.conditions.length ? p.conditions.map((c) => c.text['zh-CN']).join('、') : MISSING['zh-CN']);
const historyEn = (p: HandoffPerson) => (p.conditions.length ? p.conditions.map((c) => c.text.en).join(', ') : MISSING.en);

function vitalText(type: ReadingType, values: Record<string, number | string | boolean>): Text | null {
  if (type === 'blood_pressure') {
    const sys = num(values.systolic);
    const dia = num(values.diastolic);
    if (sys === null || dia === null) return null;
    const pulse = num(values.pulse);
    const irregular = values.irregularPulse === true;
    return {
      'zh-CN': `血压 ${Math.round(sys)}/${Math.round(dia)} mmHg${pulse === null ? '' : `，脉搏 ${Math.round(pulse)} 次/分`}${irregular ? '，心律不齐' : ''}`,
      en: `BP ${Math.round(sys)}/${Math.round(dia)} mmHg${pulse === null ? '' : `, pulse ${Math.round(pulse)}/min`}${irregular ? ', irregular pulse' : ''}`,
    };
  }
  if (type === 'glucose') {
    const value = num(values.value);
    if (value === null) return null;
    const context = typeof values.context === 'string' ? GLUCOSE_CONTEXT[values.context] : undefined;
    return {
      'zh-CN': `血糖 ${value.toFixed(1)} mmol/L${context ? `，${context['zh-CN']}` : ''}`,
      en: `glucose ${value.toFixed(1)} mmol/L${context ? `, ${context.en}` : ''}`,
    };
  }
  return null; // falls, SOS, motion, heartbeats are events, not vitals
}

function newestPerType<T extends { type: ReadingType; ts: number }>(readings: T[]): T[] {
  const newest = new Map<ReadingType, T>();
  for (const r of readings) {
    const seen = newest.get(r.type);
    if (!seen || r.ts > seen.ts) newest.set(r.type, r);
  }
  const order: ReadingType[] = ['blood_pressure', 'glucose'];
  return [...newest.values()].sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
}

function sexText(sex: string | null): Text {
  const s = sex?.trim().toLowerCase();
  if (!s) return { 'zh-CN': '性别未登记', en: 'sex not recorded' };
  if (s === 'f' || s === 'female' || s === '女') return { 'zh-CN': '女', en: 'female' };
  if (s === 'm' || s === 'male' || s === '男') return { 'zh-CN': '男', en: 'male' };
  return { 'zh-CN': sex!.trim(), en: sex!.trim() };
}

/** Known terms in both languages (by English key or Chinese name); anything else verbatim. */
function lookup(table: Array<[string[], string, string]>, raw: string): Text {
  const trimmed = raw.trim();
  const key = trimmed.toLowerCase().replace(/[\s'’-]+/g, '_');
  const hit = table.find(([keys, zh]) => keys.includes(key) || zh === trimmed);
  return hit ? { 'zh-CN': hit[1], en: hit[2] } : { 'zh-CN': trimmed, en: trimmed };
}

function minutesBetween(then: number, now: number): number {
  return Math.max(0, Math.floor((now - then) / 60_000));
}

function agoZh(minutes: number): string {
  if (minutes < 1) return '刚刚';
  if (minutes < 60) return `${minutes}分钟前`;
  if (minutes < 48 * 60) return `${Math.floor(minutes / 60)}小时${minutes % 60 ? `${minutes % 60}分钟` : ''}前`;
  return `${Math.floor(minutes / 1440)}天前`;
}

function agoEn(minutes: number): string {
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min ago`;
  if (minutes < 48 * 60) return `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''} ago`;
  return `${Math.floor(minutes / 1440)} days ago`;
}

/**
 * `HH:mm` in the home's zone, with `MM-DD` in front when not today there. An
 * unknown zone falls back to UTC, labelled, rather than failing the hand-off.
 */
function localClock(tz: string, now: number): (ts: number) => string {
  let zone = tz;
  try {
    new Intl.DateTimeFormat('en-CA', { timeZone: tz });
  } catch {
    zone = 'UTC';
  }
  const fmt = new Intl.DateTimeFormat('en-CA', { timeZone: zone, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const parts = (ts: number) => Object.fromEntries(fmt.formatToParts(ts).map((p) => [p.type, p.value]));
  const today = parts(now);
  const suffix = zone === tz ? '' : ' UTC';
  return (ts) => {
    const p = parts(ts);
    const sameDay = p.month === today.month && p.day === today.day;
    return `${sameDay ? '' : `${p.month}-${p.day} `}${p.hour}:${p.minute}${suffix}`;
  };
}

function num(v: number | string | boolean | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function blankToNull(s: string | null): string | null {
  return s?.trim() ? s.trim() : null;
}
