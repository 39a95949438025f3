/**
 * The 120 hand-off through the real API, from readings sent over real MQTT:
 * the vitals read out are the newest measured (not the last to arrive), and
 * an alert that names nobody in a two-person home names nobody in the
 * hand-off either.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, bp, district, listAlerts, MINUTE, send, startAlertHub, type AlertHub } from './helpers.js';

let h: AlertHub;
let cuff: MqttClient;
const op = () => h.tokens['op-zhang']!;
const escalate = (id: string) => api(h.t, op(), 'POST', `/api/v1/alerts/${id}/escalate?lang=zh-CN`, { target: 'emergency' });

beforeAll(async () => {
  const doc = district();
  // wh-0001 is a two-person home: its fall sensor is bound to nobody.
  doc.homes[0]!.residents.push({
    id: 'r-0009', name: '张建国', birthYear: 1939, sex: 'M', conditions: ['copd'], doctor: 'dr-li',
    contacts: [{ name: '张丽', relation: 'daughter', phone: '+86 138 0000 0009' }], targets: {},
  } as never);
  h = await startAlertHub({ doc });
  cuff = await h.connect('bp-0001');
});

afterAll(() => h?.close());

describe('120 hand-off', () => {
  it('reads out the newest measured blood pressure, not an older one a cuff synced afterwards', async () => {
    h.clock.advance(MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', bp(210, 125), h.clock.now());
    h.clock.advance(MINUTE);
    await send(cuff, 'wh-0001', 'bp-0001', bp(128, 78), h.clock.now() - 3 * 60 * MINUTE); // from the cuff's memory
    const [crisis] = (await listAlerts(h.t, op(), '?state=open')).filter((a) => a.rule === 'bp_crisis');
    const { status, body } = await escalate(crisis.id);
    expect(status).toBe(200);
    expect(body.handoff['zh-CN']).toMatch(/^老人：王秀英，女，\d+岁$/m);
    expect(body.handoff['zh-CN']).toContain('血压 210/125 mmHg');
    expect(body.handoff['zh-CN']).not.toContain('128/78');
  });

  it('for a fall that names nobody in a two-person home, lists both residents and reads no one\'s vitals', async () => {
    h.clock.advance(MINUTE);
    await send(await h.connect('fall-0001'), 'wh-0001', 'fall-0001', { type: 'fall', confidence: 0.95 }, h.clock.now());
    const [fall] = (await listAlerts(h.t, op(), '?state=open')).filter((a) => a.rule === 'fall');
    expect(fall.residentId).toBeNull();
    const { body } = await escalate(fall.id);
    const text: string = body.handoff['zh-CN'];
    expect(text).toContain('老人：不知是哪一位（本户登记 2 人）');
    expect(text).toMatch(/^ {2}\d\. 王秀英，女，\d+岁；病史：高血压、糖尿病$/m);
    expect(text).toMatch(/^ {2}\d\. 张建国，男，\d+岁；病史：慢阻肺$/m);
    expect(text).toContain('生命体征：不知是哪一位，未列出');
    expect(text).toContain('张丽（女儿）');
  });
});
