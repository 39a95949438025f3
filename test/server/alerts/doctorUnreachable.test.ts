/**
 * An escalation that reaches no doctor is never "delivered", and the call
 * center learns it (SPEC §5: the doctor is notified; when nobody could be,
 * the call center phones them). Real hub with a fake clock, a real webhook
 * receiver on loopback, the real API, stream and /metrics:
 *
 * - a receiver answering 500 is retried on a time budget (6 h of the hub's
 *   clock), not 6 attempts, and only then is the doctor recorded unreachable;
 * - a doctor with no phone or webhook, or a phone with only the logging SMS
 *   stand-in, is undeliverable at once, and said so in zh-CN and English;
 * - an operator's acknowledgement is recorded, once;
 * - a webhook that answers 2xx records the doctor notified.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHub } from '../../../server/hub.js';
import { loadConfig } from '../../../server/config.js';
import { captureLog } from '../notify/helpers.js';
import { ADMIN_PASSWORD } from '../../helpers/hub.js';
import { api, bp, district, listAlerts, send, startAlertHub, StreamClient, waitFor, type AlertHub } from './helpers.js';

const SECRET = 'test-webhook-secret-0123456789';
const HOUR = 3600_000;

/** A webhook receiver answering `status()` to every request, counting them. */
async function receiver(status: () => number): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits += 1;
      res.writeHead(status()).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hook`, hits: () => hits,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

async function escalate(h: AlertHub, homeId: string, device: string, systolic: number): Promise<string> {
  await send(await h.connect(device), homeId, device, bp(systolic, 98), h.clock.now());
  const alert = (await listAlerts(h.t, h.tokens['op-zhang']!, '?state=open')).find((a) => a.homeId === homeId)!;
  const esc = await api(h.t, h.tokens['op-zhang']!, 'POST', `/api/v1/alerts/${alert.id}/escalate`, { target: 'doctor' });
  expect(esc.status).toBe(200);
  expect(esc.body.alert.escalation).toMatchObject({ target: 'doctor', delivery: { state: 'pending' } });
  return alert.id;
}

const detail = async (h: AlertHub, id: string) => (await api(h.t, h.tokens['op-zhang']!, 'GET', `/api/v1/alerts/${id}`)).body;
const deliveryOf = async (h: AlertHub, id: string) => (await detail(h, id)).alert.escalation?.delivery;
const metrics = async (h: AlertHub) => (await h.t.hub.http.inject({ method: 'GET', url: '/metrics' })).body;

describe('a doctor with neither phone nor webhook (dr-li), and one with a phone only (dr-wang)', () => {
  let h: AlertHub;
  let stream: StreamClient;

  beforeAll(async () => {
    const doc = district();
    Object.assign(doc.users.find((u) => u.username === 'dr-wang')!, { phone: '+86 138 0000 0002' });
    h = await startAlertHub({ doc });
    stream = await StreamClient.open(h.t, h.tokens['op-zhang']!);
  });
  afterAll(async () => {
    stream?.close();
    await h?.close();
  });

  it('is undeliverable at once, never delivered; the alert says so in both languages, in its history and on the stream', async () => {
    const id = await escalate(h, 'wh-0001', 'bp-0001', 187);
    const delivery = await waitFor(async () => { const d = await deliveryOf(h, id); return d?.state === 'failed' ? d : null; }, 'delivery failed');
    expect(delivery).toEqual({
      state: 'failed', reason: 'log: no phone or webhook registered for dr-li', acknowledgedAt: null, acknowledgedBy: null,
      message: { 'zh-CN': '未能通知李医生：未登记电话或回调地址，请电话联系医生', en: '李医生 was not reached: no phone or webhook registered. Phone the doctor.' },
    });
    const row = h.t.hub.ctx.db.prepare('SELECT state, delivered_at AS deliveredAt FROM notifications WHERE alert_id = ?').get(id);
    expect(row).toEqual({ state: 'failed', deliveredAt: null });

    const { history, alert } = await detail(h, id);
    expect(alert.state).toBe('escalated'); // still in the doctor's queue
    expect(history.at(-1)).toMatchObject({ actor: 'system', action: 'doctor.unreachable', detail: { to: 'dr-li', reason: 'log: no phone or webhook registered for dr-li' } });

    const event = await stream.next((m) => m.type === 'alert.updated' && m.data.id === id && m.data.reason === 'doctor.unreachable', 'the alert.updated event');
    expect(event.data.escalation.delivery).toMatchObject({ state: 'failed', message: { 'zh-CN': '未能通知李医生：未登记电话或回调地址，请电话联系医生' } });
  });

  it('a phone with only the logging SMS stand-in is undeliverable too: "no SMS provider configured"', async () => {
    const id = await escalate(h, 'wh-0002', 'bp-0002', 188);
    const delivery = await waitFor(async () => { const d = await deliveryOf(h, id); return d?.state === 'failed' ? d : null; }, 'delivery failed');
    expect(delivery.message['zh-CN']).toBe('未能通知王医生：未配置短信服务商，请电话联系医生');
    expect(delivery.reason).toBe('sms: sms provider: no SMS provider configured (logging stand-in, nothing sent)');
  });

  it('counts them in /metrics, as undeliverable, not delivered', async () => {
    const text = await metrics(h);
    expect(text).toMatch(/anxin_notifications_settled_total\{channel="log",outcome="undeliverable"\} 1/);
    expect(text).toMatch(/anxin_notifications_settled_total\{channel="sms",outcome="undeliverable"\} 1/);
    expect(text).not.toMatch(/outcome="delivered"/);
    expect(text).toMatch(/anxin_escalations_doctor_unreachable_total 2/);
    expect(text).toMatch(/anxin_notifications_pending 0/);
  });

  it('an operator acknowledges it (the alarm stops), recorded with their note; a second time is a 409', async () => {
    const [alert] = await listAlerts(h.t, h.tokens['op-zhang']!, '?state=escalated');
    const ack = await api(h.t, h.tokens['op-zhang']!, 'POST', `/api/v1/alerts/${alert.id}/ack`, { note: '已电话联系李医生' });
    expect(ack.status).toBe(200);
    expect(ack.body.alert).toMatchObject({ state: 'escalated', escalation: { delivery: { state: 'failed', acknowledgedBy: 'op-zhang' } } });
    expect((await detail(h, alert.id)).history.at(-1)).toMatchObject({ actor: 'op-zhang', action: 'doctor.unreachable.acknowledged', note: '已电话联系李医生' });
    expect((await api(h.t, h.tokens['op-zhang']!, 'POST', `/api/v1/alerts/${alert.id}/ack`)).status).toBe(409);
  });
});

describe("a doctor's webhook receiver that is down", () => {
  let h: AlertHub;
  let down: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    down = await receiver(() => 500);
    const doc = district();
    Object.assign(doc.users.find((u) => u.username === 'dr-li')!, { webhookUrl: down.url });
    h = await startAlertHub({ doc, config: { webhookSecret: SECRET } });
  });
  afterAll(async () => {
    await h?.close();
    await down?.close();
  });

  it('is retried for the whole budget (6 h of the hub clock), pending meanwhile, and only then is the doctor unreachable', async () => {
    const id = await escalate(h, 'wh-0001', 'bp-0001', 187);
    await waitFor(() => down.hits() >= 2, 'two attempts', 5000);
    expect(await deliveryOf(h, id)).toMatchObject({ state: 'pending' });
    expect(await metrics(h)).toMatch(/anxin_notifications_pending 1/);

    h.clock.advance(5 * HOUR); // within the budget: still retried, still pending
    const before = down.hits();
    await waitFor(() => down.hits() > before, 'another attempt', 5000);
    expect(await deliveryOf(h, id)).toMatchObject({ state: 'pending' });

    h.clock.advance(HOUR + 1); // the budget is spent: the next failure is the last, however few attempts were made
    const attemptsSoFar = down.hits();
    expect(attemptsSoFar).toBeLessThan(5); // so failing on a count of 6 attempts cannot pass below
    const delivery = await waitFor(async () => { const d = await deliveryOf(h, id); return d?.state === 'failed' ? d : null; }, 'delivery failed', 10_000);
    expect(h.t.hub.ctx.deliveries.ofAlert(id)[0]!.attempts).toBeLessThanOrEqual(attemptsSoFar + 1);
    expect(delivery.message['zh-CN']).toBe('未能通知李医生：回调发送失败（HTTP 500），请电话联系医生');
    expect((await detail(h, id)).history.at(-1)).toMatchObject({ actor: 'system', action: 'doctor.unreachable' });
    const text = await metrics(h);
    expect(text).toMatch(/anxin_notifications_settled_total\{channel="webhook",outcome="failed"\} 1/);
    expect(text).toMatch(/anxin_notifications_pending 0/);
  });
});

describe('a webhook receiver that answers 200', () => {
  let h: AlertHub;
  let up: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    up = await receiver(() => 200);
    const doc = district();
    Object.assign(doc.users.find((u) => u.username === 'dr-li')!, { webhookUrl: up.url });
    h = await startAlertHub({ doc, config: { webhookSecret: SECRET } });
  });
  afterAll(async () => {
    await h?.close();
    await up?.close();
  });

  it('records the doctor notified, by which channel, and the console stays quiet', async () => {
    const id = await escalate(h, 'wh-0001', 'bp-0001', 187);
    await waitFor(async () => (await deliveryOf(h, id))?.state === 'delivered', 'delivered');
    expect((await detail(h, id)).history.at(-1)).toMatchObject({ actor: 'system', action: 'doctor.notified', detail: { to: 'dr-li', channel: 'webhook' } });
    // An operator's ack of a delivered escalation is what it always was: a 409.
    expect((await api(h.t, h.tokens['op-zhang']!, 'POST', `/api/v1/alerts/${id}/ack`)).status).toBe(409);
  });
});

it('warns at start-up when a doctor has a webhook URL but the hub has no ANXIN_WEBHOOK_SECRET', async () => {
  const doc = district();
  Object.assign(doc.users.find((u) => u.username === 'dr-li')!, { webhookUrl: 'https://clinic.example.org/anxin' });
  const first = await startAlertHub({ doc });
  await first.t.stop();
  const logs = captureLog('info');
  const config = loadConfig({}, { httpPort: 0, mqttPort: 0, host: '127.0.0.1', dataDir: first.t.dataDir, adminPassword: ADMIN_PASSWORD });
  const hub = await buildHub(config, { log: logs.log });
  try {
    const line = logs.lines.find((l) => String(l.msg).includes('ANXIN_WEBHOOK_SECRET'));
    expect(line).toMatchObject({ level: 40, doctors: ['dr-li'] });
  } finally {
    await hub.stop();
    for (const c of first.clients) c.end(true);
    await first.t.destroy().catch(() => {});
  }
});
