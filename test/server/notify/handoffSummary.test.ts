/** The 120 hand-off an operator reads aloud: snapshots of a full and a sparse record, in both languages. */
import { describe, expect, it } from 'vitest';
import { handoffSummary, type HandoffInput } from '../../../server/notify/handoffSummary.js';
import type { HomeRecord, ResidentRecord } from '../../../server/store/directoryStore.js';

const TZ = 'Asia/Shanghai';
/** 2025-03-05 14:32 in Weihai (UTC+8). */
const NOW = Date.UTC(2025, 2, 5, 6, 32);
const minutesAgo = (m: number) => NOW - m * 60_000;

const wang = {
  name: '王秀英', age: 84, sex: 'F',
  conditions: ['hypertension', 'Diabetes', 'atrial fibrillation', 'stroke', '青光眼'],
  contacts: [
    { name: '王强', relation: 'son', phone: '+86 139 0000 0002' },
    { name: '李梅', relation: 'neighbour', phone: '+86 139 0000 0003' },
    { name: '张护工', phone: '+86 139 0000 0004' },
  ],
};

const full: HandoffInput = {
  residents: [wang],
  identified: true,
  home: { address: '山东省威海市环翠区文化西路 88 号 3 单元 502 室', phone: '+86 631 5200 000', access: '密码锁 2580#；备用钥匙在 501 邻居李梅家' },
  alert: {
    rule: 'bp_crisis', severity: 'critical', count: 3,
    title: { 'zh-CN': '血压危象 186/98 mmHg', en: 'Hypertensive crisis 186/98 mmHg' },
    createdAt: minutesAgo(11), firstReadingAt: minutesAgo(12),
  },
  latestVitals: [
    { type: 'blood_pressure', ts: minutesAgo(40), values: { systolic: 172, diastolic: 95, pulse: 80 } },
    { type: 'blood_pressure', ts: minutesAgo(2), values: { systolic: 186, diastolic: 98, pulse: 92, irregularPulse: true } },
    { type: 'glucose', ts: minutesAgo(442), values: { value: 5.62, context: 'fasting' } },
    { type: 'fall', ts: minutesAgo(5), values: { recovered: false } },
  ],
  now: NOW,
  tz: TZ,
};

const sparse: HandoffInput = {
  residents: [{ name: '刘建国', age: null, sex: null, conditions: [], contacts: [] }],
  identified: true,
  home: { address: '威海市文登区龙山路 1 号', phone: null, access: null },
  alert: { rule: 'sos', severity: 'critical', count: 1, title: { 'zh-CN': '紧急呼叫', en: 'SOS pressed' }, createdAt: minutesAgo(0.5) },
  latestVitals: [{ type: 'blood_pressure', ts: NOW - 26 * 3_600_000, values: { systolic: 150, diastolic: 90 } }],
  now: NOW,
  tz: TZ,
};

describe('handoffSummary', () => {
  it('reads a full record in dispatcher order (zh-CN)', () => {
    expect(handoffSummary(full)['zh-CN']).toMatchInlineSnapshot(`
      "【120 交接】安心 家庭养老床位
      老人：王秀英，女，84岁
      地址：山东省威海市环翠区文化西路 88 号 3 单元 502 室
      事件：血压危象 186/98 mmHg（危急）
      时间：14:20，12分钟前；共 3 次
      【如何进门】密码锁 2580#；备用钥匙在 501 邻居李梅家
      生命体征：
        血压 186/98 mmHg，脉搏 92 次/分，心律不齐（14:30，2分钟前）
        血糖 5.6 mmol/L，空腹（07:10，7小时22分钟前）
      病史：高血压、糖尿病、房颤、脑卒中（中风）、青光眼
      联系人：
        1. 王强（儿子） +86 139 0000 0002
        2. 李梅（邻居） +86 139 0000 0003
        3. 张护工 +86 139 0000 0004
      家中电话：+86 631 5200 000"
    `);
  });

  it('reads a full record in dispatcher order (en)', () => {
    expect(handoffSummary(full).en).toMatchInlineSnapshot(`
      "[120 HANDOFF] Anxin home care bed
      Resident: 王秀英, female, 84 years
      Address: 山东省威海市环翠区文化西路 88 号 3 单元 502 室
      Event: Hypertensive crisis 186/98 mmHg (critical)
      Time: 14:20, 12 min ago; 3 readings
      HOW TO GET IN: 密码锁 2580#；备用钥匙在 501 邻居李梅家
      Vitals:
        BP 186/98 mmHg, pulse 92/min, irregular pulse (14:30, 2 min ago)
        glucose 5.6 mmol/L, fasting (07:10, 7 h 22 min ago)
      History: hypertension, diabetes, atrial fibrillation, stroke, 青光眼
      Contacts:
        1. 王强 (son) +86 139 0000 0002
        2. 李梅 (neighbour) +86 139 0000 0003
        3. 张护工 +86 139 0000 0004
      Home phone: +86 631 5200 000"
    `);
  });

  it('says what is missing in a sparse record (zh-CN)', () => {
    expect(handoffSummary(sparse)['zh-CN']).toMatchInlineSnapshot(`
      "【120 交接】安心 家庭养老床位
      老人：刘建国，性别未登记，年龄未登记
      地址：威海市文登区龙山路 1 号
      事件：紧急呼叫（危急）
      时间：14:31，刚刚
      【如何进门】未登记
      生命体征：
        血压 150/90 mmHg（03-04 12:32，26小时前）
      病史：未登记
      联系人：未登记
      家中电话：未登记"
    `);
  });

  it('says what is missing in a sparse record (en)', () => {
    expect(handoffSummary(sparse).en).toMatchInlineSnapshot(`
      "[120 HANDOFF] Anxin home care bed
      Resident: 刘建国, sex not recorded, age not recorded
      Address: 威海市文登区龙山路 1 号
      Event: SOS pressed (critical)
      Time: 14:31, just now
      HOW TO GET IN: not recorded
      Vitals:
        BP 150/90 mmHg (03-04 12:32, 26 h ago)
      History: not recorded
      Contacts: not recorded
      Home phone: not recorded"
    `);
  });

  it('gives the same facts as structured fields', () => {
    const { fields } = handoffSummary(full);
    expect(fields).toMatchObject({
      residents: [{ name: '王秀英', age: 84, sex: { 'zh-CN': '女', en: 'female' } }], identified: true, homePhone: '+86 631 5200 000',
      event: { rule: 'bp_crisis', severity: 'critical', at: minutesAgo(12), localTime: '14:20', minutesAgo: 12, count: 3 },
    });
    expect(fields.vitals.map((v) => [v.type, v.localTime])).toEqual([['blood_pressure', '14:30'], ['glucose', '07:10']]);
    expect(fields.residents[0]!.conditions.map((c) => c.text['zh-CN'])).toEqual(['高血压', '糖尿病', '房颤', '脑卒中（中风）', '青光眼']);
    expect(fields.contacts[2]).toEqual({ name: '张护工', relation: null, phone: '+86 139 0000 0004' });
  });

  it('puts the way in right after the event, before vitals', () => {
    const lines = handoffSummary(full)['zh-CN'].split('\n');
    const order = ['老人：', '地址：', '事件：', '时间：', '【如何进门】', '生命体征：', '病史：', '联系人：', '家中电话：'].map((p) => lines.findIndex((l) => l.startsWith(p)));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it.each([
    ['coronary heart disease', '冠心病'], ['CHD', '冠心病'], ['COPD', '慢阻肺'], ['dementia', '认知障碍'],
    ['heart_failure', '心力衰竭'], ['CKD', '慢性肾病'], ['chronic-kidney-disease', '慢性肾病'], ['gout', 'gout'],
  ])('translates condition %s as %s', (code, zh) => {
    const { fields } = handoffSummary({ ...sparse, residents: [{ ...sparse.residents[0]!, conditions: [code] }] });
    expect(fields.residents[0]!.conditions[0]!.text['zh-CN']).toBe(zh);
  });

  it('takes directory records as they are (checked by tsc)', () => {
    const fromDirectory = (resident: ResidentRecord, home: HomeRecord): HandoffInput => ({ ...full, residents: [{ ...resident, age: 84 }], home });
    expect(fromDirectory).toBeTypeOf('function');
  });

  it('does not guess who it is when the alert names nobody and two live in the home: lists both, no vitals', () => {
    const zhang = { name: '张建国', age: 87, sex: 'M', conditions: ['COPD'], contacts: [{ name: '王强', relation: 'son', phone: '+86 139 0000 0002' }, { name: '张丽', relation: 'daughter', phone: '+86 139 0000 0005' }] };
    const fall: HandoffInput = {
      ...full, residents: [wang, zhang], identified: false,
      alert: { rule: 'fall', severity: 'critical', count: 1, title: { 'zh-CN': '跌倒 · 卫生间', en: 'Fall · bathroom' }, createdAt: minutesAgo(3) },
    };
    const h = handoffSummary(fall);
    expect(h['zh-CN'].split('\n').slice(1, 4)).toEqual([
      '老人：不知是哪一位（本户登记 2 人）',
      '  1. 王秀英，女，84岁；病史：高血压、糖尿病、房颤、脑卒中（中风）、青光眼',
      '  2. 张建国，男，87岁；病史：慢阻肺',
    ]);
    expect(h['zh-CN']).toContain('生命体征：不知是哪一位，未列出');
    expect(h['zh-CN']).not.toContain('血压 186/98');
    expect(h['zh-CN']).not.toMatch(/^病史：/m);
    expect(h.en.split('\n')[1]).toBe('Resident: NOT KNOWN WHICH ONE (2 live here)');
    expect(h.fields).toMatchObject({ identified: false, vitals: [] });
    expect(h.fields.contacts.map((c) => c.name)).toEqual(['王强', '李梅', '张护工', '张丽']); // 王强 once
  });

  it('falls back to labelled UTC for an unknown time zone rather than failing', () => {
    expect(handoffSummary({ ...full, tz: 'Mars/Olympus' }).fields.event.localTime).toBe('06:20 UTC');
  });
});
