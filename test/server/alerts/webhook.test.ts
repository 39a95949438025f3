/**
 * Escalation reaches the doctor by a signed webhook (SPEC §5), delivered at
 * least once through the durable queue: a receiver that fails twice (503) and
 * then accepts gets the same delivery id three times, each correctly signed,
 * and each attempt leaves a receipt.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from '../../../server/notify/webhookNotifier.js';
import { api, bp, district, listAlerts, send, startAlertHub, waitFor, type AlertHub } from './helpers.js';

const SECRET = 'test-webhook-secret-0123456789';
const answers = [503, 503, 200];
const received: Array<{ headers: IncomingHttpHeaders; body: Buffer; status: number }> = [];
let receiver: Server;
let h: AlertHub;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = answers[received.length] ?? 200;
      received.push({ headers: req.headers, body: Buffer.concat(chunks), status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'busy');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as { port: number };
  const doc = district();
  Object.assign(doc.users.find((u) => u.username === 'dr-li')!, { webhookUrl: `http://127.0.0.1:${port}/anxin/escalations` });
  h = await startAlertHub({ doc, config: { webhookSecret: SECRET } });
});

afterAll(async () => {
  await h?.close();
  receiver?.closeAllConnections(); // the hub's fetch keeps its connection alive
  await new Promise((r) => receiver?.close(r));
});

it('escalating to the doctor → one delivery, retried after two 503s, signed each time, with three receipts', async () => {
  await send(await h.connect('bp-0001'), 'wh-0001', 'bp-0001', bp(187, 98), h.clock.now());
  const [alert] = await listAlerts(h.t, h.tokens['op-zhang']!);
  const esc = await api(h.t, h.tokens['op-zhang']!, 'POST', `/api/v1/alerts/${alert.id}/escalate`, { target: 'doctor', note: '请回访' });
  expect(esc.status).toBe(200);

  // Full-jitter backoff of the hub's queue: waits < 1 s, then < 2 s (DeliveryQueue defaults; not configurable from the hub).
  await waitFor(() => received.length >= 3, 'three webhook requests', 10_000);
  await new Promise((r) => setTimeout(r, 200));
  expect(received.map((r) => r.status)).toEqual([503, 503, 200]);

  const ids = new Set(received.map((r) => r.headers[DELIVERY_HEADER]));
  expect(ids.size).toBe(1);
  const deliveryId = [...ids][0] as string;
  expect(deliveryId).toBe(`${alert.id}.${h.clock.now()}.webhook`);

  for (const r of received) {
    expect(r.headers['content-type']).toBe('application/json');
    expect(verifyWebhookSignature(SECRET, r.headers[TIMESTAMP_HEADER], r.body, r.headers[SIGNATURE_HEADER])).toBe(true);
    expect(verifyWebhookSignature('some-other-secret-key', r.headers[TIMESTAMP_HEADER], r.body, r.headers[SIGNATURE_HEADER])).toBe(false);
  }
  expect(new Set(received.map((r) => r.body.toString())).size).toBe(1); // the same body on every attempt
  const body = JSON.parse(received[0]!.body.toString());
  expect(body).toMatchObject({
    id: deliveryId, kind: 'escalation.doctor', alertId: alert.id, recipient: { username: 'dr-li', name: '李医生' },
    payload: { alertId: alert.id, residentId: 'r-0001', homeId: 'wh-0001', rule: 'bp_crisis', severity: 'critical' },
  });
  expect(body.title['zh-CN']).toContain('王秀英');

  const receipts = h.t.hub.ctx.deliveries.receipts(deliveryId);
  expect(receipts.map((r) => [r.attempt, r.ok, r.status])).toEqual([[1, false, 503], [2, false, 503], [3, true, 200]]);
  expect(h.t.hub.ctx.deliveries.status(deliveryId)).toMatchObject({ state: 'delivered', attempts: 3, channel: 'webhook' });
  const rows = h.t.hub.ctx.db.prepare('SELECT id, channel FROM notifications WHERE alert_id = ?').all(alert.id);
  expect(rows).toEqual([{ id: deliveryId, channel: 'webhook' }]);
});

it('an acknowledgement or a comment by the doctor sends nothing more', async () => {
  const [alert] = await listAlerts(h.t, h.tokens['dr-li']!, '?state=escalated');
  expect((await api(h.t, h.tokens['dr-li']!, 'POST', `/api/v1/alerts/${alert.id}/ack`)).status).toBe(200);
  expect((await api(h.t, h.tokens['dr-li']!, 'POST', `/api/v1/alerts/${alert.id}/comment`, { note: '已知悉' })).status).toBe(200);
  await new Promise((r) => setTimeout(r, 100));
  expect(received).toHaveLength(3);
});
