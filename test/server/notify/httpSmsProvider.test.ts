/**
 * The generic SMS relay provider, against a stand-in relay on loopback (no SMS
 * provider can run here; see smsStandIns.ts) that, like the real one, sends
 * nothing without the right bearer token. Through the real SmsNotifier and,
 * for retries, the real DeliveryQueue on a SQLite file.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HttpSmsProvider } from '../../../server/notify/httpSmsProvider.js';
import { composeSms, SmsNotifier } from '../../../server/notify/smsNotifier.js';
import { createSmsNotifier } from '../../../server/notify/smsProviders.js';
import { captureLog, sampleNotification, smsQueue } from './helpers.js';
import { startRelay } from './smsStandIns.js';

const TOKEN = 'relay-token-7f3a9c01d2e4';
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function relay(script: Parameters<typeof startRelay>[1]) {
  const r = await startRelay(TOKEN, script);
  closers.push(() => r.close());
  return r;
}

const notifier = (url: string, token = TOKEN, timeoutMs?: number) =>
  new SmsNotifier(new HttpSmsProvider({ url: new URL(url), token, ...(timeoutMs !== undefined && { timeoutMs }) }));


describe('HttpSmsProvider', () => {
  it('sends {to, text, ref} with the bearer token; a 2xx is sent, with the relay’s messageId', async () => {
    const r = await relay([{ status: 202, body: { messageId: 'relay-000123' } }]);
    const n = sampleNotification();
    const result = await notifier(r.url).send(n);
    expect(result).toEqual({ ok: true, retryable: false, detail: 'sent to +86 138****0001, 1 segment(s), id relay-000123' });
    expect(r.sent()).toHaveLength(1);
    expect(r.sent()[0]).toEqual({
      authorized: true, contentType: 'application/json',
      body: { to: '+8613800000001', text: composeSms(n), ref: n.id },
    });
    expect(r.sent()[0]!.body.text).toBe('【安心】血压危象 186/98 mmHg：王秀英，威海市环翠区，请尽快处理');
  });

  it('any 2xx without a messageId is sent too', async () => {
    const r = await relay([{ status: 200, body: 'queued' }]);
    expect(await notifier(r.url).send(sampleNotification())).toMatchObject({ ok: true, detail: expect.stringContaining('id none (HTTP 200)') });
  });

  it('a wrong token is refused by the relay and not retried', async () => {
    const r = await relay([{ status: 200 }]);
    const result = await notifier(r.url, 'not-the-token').send(sampleNotification());
    expect(result).toEqual({ ok: false, status: 401, retryable: false, detail: 'sms provider: relay answered HTTP 401' });
    expect(r.sent()).toHaveLength(0);
  });

  it('a refused number (400) fails at once through the queue: one request, no retry', async () => {
    const r = await relay([{ status: 400, body: { error: 'invalid number' } }]);
    const { queue } = smsQueue(notifier(r.url), closers);
    const n = sampleNotification();
    queue.enqueue(n, 'sms');
    await expect.poll(() => queue.status(n.id)?.state, { timeout: 5000, interval: 5 }).toBe('failed');
    await new Promise((resolve) => setTimeout(resolve, 100)); // a retry would have come by now (backoff ≤ 50 ms)
    expect(r.requests).toHaveLength(1);
    expect(queue.status(n.id)).toMatchObject({ attempts: 1, detail: 'sms provider: relay answered HTTP 400' });
    expect(queue.receipts(n.id).map((x) => x.status)).toEqual([400]);
  });

  it('a 503 and a 429 are retried with the same ref, then delivered once; nothing secret or medical in the log', async () => {
    const r = await relay([{ status: 503 }, { status: 429 }, { status: 200, body: { messageId: 'm-1' } }]);
    const { queue, logs } = smsQueue(notifier(r.url), closers);
    const n = sampleNotification();
    queue.enqueue(n, 'sms');
    await expect.poll(() => queue.status(n.id)?.state, { timeout: 5000, interval: 5 }).toBe('delivered');
    expect(queue.receipts(n.id).map((x) => [x.ok, x.status])).toEqual([[false, 503], [false, 429], [true, null]]);
    expect(r.requests.map((x) => x.body.ref)).toEqual([n.id, n.id, n.id]);
    expect(r.sent()).toHaveLength(1);
    const text = logs.text();
    for (const secret of [TOKEN, '186/98', '王秀英', '13800000001']) expect(text).not.toContain(secret);
  });

  it('honours Retry-After on a 429 (seconds or an HTTP date)', async () => {
    const r = await relay([{ status: 429, headers: { 'retry-after': '120' } }]);
    expect(await notifier(r.url).send(sampleNotification())).toEqual({
      ok: false, status: 429, retryable: true, retryAfterMs: 120_000, detail: 'sms provider: relay answered HTTP 429',
    });
    const at = Date.now();
    const dated = await relay([{ status: 503, headers: { 'retry-after': new Date(at + 60_000).toUTCString() } }]);
    const result = await new SmsNotifier(new HttpSmsProvider({ url: new URL(dated.url), token: TOKEN, now: () => at })).send(sampleNotification());
    expect(result.retryAfterMs).toBeGreaterThan(58_000);
    expect(result.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('a relay that does not answer times out, worth retrying', async () => {
    const r = await relay(['hang']);
    const started = Date.now();
    expect(await notifier(r.url, TOKEN, 200).send(sampleNotification())).toEqual({ ok: false, retryable: true, detail: 'sms provider: timeout after 200 ms' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a relay that is down is a network error, worth retrying', async () => {
    const r = await relay([{ status: 200 }]);
    await r.close();
    expect(await notifier(r.url).send(sampleNotification())).toMatchObject({ ok: false, retryable: true, detail: 'sms provider: network error: ECONNREFUSED' });
  });

  it('is what ANXIN_SMS_PROVIDER=http configures, logged at start without the token', async () => {
    const r = await relay([{ status: 200 }]);
    const logs = captureLog('info');
    const sms = createSmsNotifier({ smsProvider: 'http', smsUrl: r.url, smsToken: TOKEN, smsSignName: '威海安心' }, logs.log);
    expect(logs.lines).toEqual([expect.objectContaining({ level: 30, provider: 'http', url: r.url, signName: '威海安心', msg: 'SMS provider: http relay' })]);
    expect(logs.text()).not.toContain(TOKEN);
    expect(await sms.send(sampleNotification())).toMatchObject({ ok: true });
    expect(r.sent()[0]!.body.text).toMatch(/^【威海安心】血压危象/);
  });
});
