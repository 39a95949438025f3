/** The webhook channel against a real HTTP receiver on loopback: signing, classification, timeout. */
import { afterEach, describe, expect, it } from 'vitest';
import { classifyStatus, parseRetryAfter, signWebhook, verifyWebhookSignature, WebhookNotifier } from '../../../server/notify/webhookNotifier.js';
import { sampleNotification, SECRET, startReceiver, type Receiver } from './helpers.js';

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

describe('WebhookNotifier', () => {
  it('POSTs signed JSON that the receiver verifies, and only with the right secret and body', async () => {
    receiver = await startReceiver([200]);
    const n = sampleNotification({ recipient: { username: 'dr-li', name: '李医生', webhookUrl: receiver.url } });
    const result = await new WebhookNotifier({ secret: SECRET }).send(n);
    expect(result).toEqual({ ok: true, status: 200, detail: 'HTTP 200', retryable: false });

    const [req] = receiver.requests;
    expect(req!.verified).toBe(true);
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers['x-anxin-delivery']).toBe(n.id);
    expect(req!.headers['x-anxin-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    const body = JSON.parse(req!.body) as Record<string, unknown>;
    expect(body).toMatchObject({ id: n.id, kind: 'escalation.doctor', alertId: 'al-0001', title: n.title, recipient: { username: 'dr-li' } });
    expect(req!.body).not.toContain(receiver.url); // the recipient's own address is not echoed

    const ts = req!.headers['x-anxin-timestamp'] as string;
    const sig = req!.headers['x-anxin-signature'] as string;
    expect(verifyWebhookSignature(SECRET, ts, req!.body, sig)).toBe(true);
    expect(verifyWebhookSignature(SECRET, ts, Buffer.from(req!.body), sig)).toBe(true);
    expect(verifyWebhookSignature('another-secret-0123456789', ts, req!.body, sig)).toBe(false);
    expect(verifyWebhookSignature(SECRET, ts, req!.body.replace('186/98', '126/78'), sig)).toBe(false);
    expect(verifyWebhookSignature(SECRET, String(Number(ts) + 1), req!.body, sig)).toBe(false);
    expect(verifyWebhookSignature(SECRET, ts, req!.body, sig.slice(0, -1))).toBe(false);
    expect(verifyWebhookSignature(SECRET, undefined, req!.body, sig)).toBe(false);
  });

  it('rejects a replay outside the tolerance window', () => {
    const body = '{"id":"x"}';
    const sentAt = 1_750_000_000_000;
    const ts = String(sentAt / 1000);
    const sig = signWebhook(SECRET, ts, body);
    expect(verifyWebhookSignature(SECRET, ts, body, sig, { now: sentAt + 299_000 })).toBe(true);
    expect(verifyWebhookSignature(SECRET, ts, body, sig, { now: sentAt + 301_000 })).toBe(false);
    expect(verifyWebhookSignature(SECRET, ts, body, sig, { now: sentAt + 3_600_000, toleranceSeconds: 7200 })).toBe(true);
  });

  it('treats 400 as final and 503 as retryable', async () => {
    receiver = await startReceiver([400, 503]);
    const notifier = new WebhookNotifier({ secret: SECRET });
    const n = sampleNotification({ recipient: { username: 'dr-li', name: null, webhookUrl: receiver.url } });
    expect(await notifier.send(n)).toEqual({ ok: false, status: 400, detail: 'HTTP 400', retryable: false });
    expect(await notifier.send(n)).toEqual({ ok: false, status: 503, detail: 'HTTP 503', retryable: true });
  });

  it('gives up on a receiver that does not answer within the timeout, as retryable', async () => {
    receiver = await startReceiver(['hang']);
    const n = sampleNotification({ recipient: { username: 'dr-li', name: null, webhookUrl: receiver.url } });
    const started = Date.now();
    const result = await new WebhookNotifier({ secret: SECRET, timeoutMs: 150 }).send(n);
    expect(result).toEqual({ ok: false, detail: 'timeout after 150 ms', retryable: true });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reports a refused connection as a retryable network error', async () => {
    receiver = await startReceiver([200]);
    const url = receiver.url;
    await receiver.close();
    receiver = undefined;
    const result = await new WebhookNotifier({ secret: SECRET }).send(sampleNotification({ recipient: { username: 'd', name: null, webhookUrl: url } }));
    expect(result).toMatchObject({ ok: false, retryable: true });
    expect(result.detail).toMatch(/^network error: /);
  });

  it.each([
    [undefined, 'recipient has no webhook URL'],
    ['not a url', 'recipient webhook URL is not a URL'],
    ['ftp://example.org/x', 'webhook URL scheme ftp: is not http(s)'],
    ['http://example.org/hook', 'plain http webhook URL refused (health data); use https'],
  ])('refuses webhook URL %s without a request', async (webhookUrl, detail) => {
    const n = sampleNotification({ recipient: { username: 'd', name: null, webhookUrl } });
    expect(await new WebhookNotifier({ secret: SECRET }).send(n)).toEqual({ ok: false, detail, retryable: false });
  });

  it('refuses a short secret', () => {
    expect(() => new WebhookNotifier({ secret: 'short' })).toThrow(/at least 16/);
  });
});

describe('classifyStatus', () => {
  it.each([
    [200, true, false], [204, true, false], [301, false, false], [400, false, false], [401, false, false],
    [404, false, false], [410, false, false], [408, false, true], [429, false, true], [500, false, true], [503, false, true],
  ])('HTTP %i → ok %s, retryable %s', (status, ok, retryable) => {
    expect(classifyStatus(status, null, 0)).toMatchObject({ ok, retryable, status });
  });

  it('honours Retry-After on retryable answers only', () => {
    expect(classifyStatus(429, '2', 0).retryAfterMs).toBe(2000);
    expect(classifyStatus(400, '2', 0).retryAfterMs).toBeUndefined();
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(30_000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
  });
});
