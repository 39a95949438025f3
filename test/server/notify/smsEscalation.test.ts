/**
 * End to end through a real hub (real broker, store and API) configured with
 * ANXIN_SMS_PROVIDER=http: an operator escalates an alert to a doctor who has
 * only a phone, and the SMS goes to a stand-in relay on loopback (no SMS
 * provider can run here; see smsStandIns.ts). The relay sends for dr-li's
 * number and refuses dr-wang's as invalid, so the call center sees one doctor
 * reached and the other not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, bp, district, listAlerts, send, startAlertHub, waitFor, type AlertHub } from '../alerts/helpers.js';
import { startRelay } from './smsStandIns.js';

const TOKEN = 'relay-token-e2e-41c7b0';
const LI = '+86 138 0000 0011';
const WANG = '+86 138 0000 0022';

describe('SMS escalation through a configured relay', () => {
  let h: AlertHub;
  let relay: Awaited<ReturnType<typeof startRelay>>;

  beforeAll(async () => {
    relay = await startRelay(TOKEN, (req) => (req.body.to === '+8613800000022' ? { status: 400, body: { error: 'invalid number' } } : { status: 200, body: { messageId: 'relay-1' } }));
    const doc = district();
    Object.assign(doc.users.find((u) => u.username === 'dr-li')!, { phone: LI });
    Object.assign(doc.users.find((u) => u.username === 'dr-wang')!, { phone: WANG });
    h = await startAlertHub({ doc, config: { smsProvider: 'http', smsUrl: relay.url, smsToken: TOKEN } });
  });
  afterAll(async () => {
    await h?.close();
    await relay?.close();
  });

  async function escalate(homeId: string, device: string): Promise<string> {
    await send(await h.connect(device), homeId, device, bp(187, 98), h.clock.now());
    const alert = (await listAlerts(h.t, h.tokens['op-zhang']!, '?state=open')).find((a) => a.homeId === homeId)!;
    const esc = await api(h.t, h.tokens['op-zhang']!, 'POST', `/api/v1/alerts/${alert.id}/escalate`, { target: 'doctor' });
    expect(esc.status).toBe(200);
    return alert.id;
  }
  const detail = async (id: string) => (await api(h.t, h.tokens['op-zhang']!, 'GET', `/api/v1/alerts/${id}`)).body;
  const settled = (id: string) => waitFor(async () => {
    const d = (await detail(id)).alert.escalation?.delivery;
    return d && d.state !== 'pending' ? d : null;
  }, 'the SMS delivery to settle');

  it('a phone-only doctor gets exactly one zh-CN SMS, and the alert shows the doctor reached', async () => {
    const id = await escalate('wh-0001', 'bp-0001');
    expect(await settled(id)).toMatchObject({ state: 'delivered', reason: null, message: null });
    const { alert, history } = await detail(id);
    expect(history.at(-1)).toMatchObject({ actor: 'system', action: 'doctor.notified', detail: { to: 'dr-li', channel: 'sms' } });

    const toLi = relay.sent().filter((r) => r.body.to === '+8613800000011');
    expect(toLi).toHaveLength(1);
    expect(toLi[0]!.authorized).toBe(true);
    expect(toLi[0]!.body.text).toBe('【安心】王秀英：高血压危象 187/98 mmHg：呼叫中心已将此预警转给您（危急）。请在安心平台查看并处理。');
    expect(toLi[0]!.body.ref).toMatch(new RegExp(`^${alert.id}\\.\\d+\\.sms$`));
  });

  it('a number the relay refuses as invalid: the alert shows the doctor not reached, in zh-CN, without a retry', async () => {
    const id = await escalate('wh-0002', 'bp-0002');
    const delivery = await settled(id);
    expect(delivery).toMatchObject({
      state: 'failed', reason: 'sms: sms provider: relay answered HTTP 400',
      message: { 'zh-CN': '未能通知王医生：短信发送失败（sms provider: relay answered HTTP 400），请电话联系医生' },
    });
    expect((await detail(id)).history.at(-1)).toMatchObject({ actor: 'system', action: 'doctor.unreachable', detail: { to: 'dr-wang' } });
    expect(relay.requests.filter((r) => r.body.to === '+8613800000022')).toHaveLength(1);
  });
});
