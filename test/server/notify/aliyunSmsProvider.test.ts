/**
 * The Alibaba Cloud SMS provider, against a stand-in of Aliyun's SendSms
 * endpoint on loopback (no SMS provider can run here; see smsStandIns.ts). The
 * stand-in recomputes each request's signature from Alibaba Cloud's documented
 * algorithm and refuses what Aliyun refuses, so a request it accepts is one
 * Aliyun would authenticate. Through the real SmsNotifier and, for retries,
 * the real DeliveryQueue on a SQLite file.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AliyunSmsProvider, ALIYUN_VARIABLE_CHARS, signAliyunRpc } from '../../../server/notify/aliyunSmsProvider.js';
import { SmsNotifier } from '../../../server/notify/smsNotifier.js';
import { createSmsNotifier } from '../../../server/notify/smsProviders.js';
import { captureLog, sampleNotification, smsQueue } from './helpers.js';
import { aliyunAnswer, startAliyun } from './smsStandIns.js';

const KEY_ID = 'LTAI5tStandInKeyId01';
const SECRET = 'stand-in-access-key-secret-9c1e';
const TEMPLATE = 'SMS_465890123';
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function aliyun(script: Parameters<typeof startAliyun>[2]) {
  const a = await startAliyun(KEY_ID, SECRET, script);
  closers.push(() => a.close());
  return a;
}

const notifier = (endpoint: string, over: { secret?: string; timeoutMs?: number } = {}) => new SmsNotifier(new AliyunSmsProvider({
  endpoint: new URL(endpoint), accessKeyId: KEY_ID, accessKeySecret: over.secret ?? SECRET, signName: '安心', templateCode: TEMPLATE,
  ...(over.timeoutMs !== undefined && { timeoutMs: over.timeoutMs }),
}));

describe('signAliyunRpc', () => {
  it('gives the signature of Alibaba Cloud’s worked example (RPC signature, version 1.0)', () => {
    // The example of Alibaba Cloud's "Signature mechanism" page: AccessKey secret "testsecret".
    const params = {
      AccessKeyId: 'testid', Action: 'DescribeRegions', Format: 'XML', SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf', SignatureVersion: '1.0', Timestamp: '2016-02-23T12:46:24Z', Version: '2014-05-26',
    };
    expect(signAliyunRpc('GET', params, 'testsecret')).toBe('OLeaidS1JvxuMvnyHOwuJ+uX5qY=');
  });
});

describe('AliyunSmsProvider', () => {
  it('sends a signed SendSms the stand-in verifies: the number, sign name, template and its zh-CN variables; BizId is the id', async () => {
    const a = await aliyun([aliyunAnswer('OK')]);
    // A space and ASCII brackets: encoded as %20, %28, %29 by the documented rule, unlike a form or encodeURIComponent.
    const n = sampleNotification({ title: { 'zh-CN': '王秀英(2床)：血压危象 186/98 mmHg', en: 'x' } });
    const result = await notifier(a.url).send(n);
    expect(result).toEqual({ ok: true, retryable: false, detail: 'sent to +86 138****0001, 1 segment(s), id 900619746936498440^0' });
    expect(a.sent()).toHaveLength(1);
    const { params, templateParam } = a.sent()[0]!;
    expect(params).toMatchObject({ PhoneNumbers: '+8613800000001', SignName: '安心', TemplateCode: TEMPLATE, OutId: n.id, RegionId: 'cn-hangzhou' });
    expect(templateParam).toEqual({ title: '王秀英(2床)：血压危象 186/98 mmHg', detail: '王秀英，威海市环翠区，请尽快处理' });
  });

  it(`cuts each template variable to ${ALIYUN_VARIABLE_CHARS} characters with an ellipsis`, async () => {
    const a = await aliyun([aliyunAnswer('OK')]);
    const n = sampleNotification({
      title: { 'zh-CN': `王秀英：${'血压危象'.repeat(12)}`, en: 'x' },
      body: { 'zh-CN': '呼叫中心已将此预警转给您（危急）。\n请在安心平台查看并处理，并电话联系家属。', en: 'x' },
    });
    expect(await notifier(a.url).send(n)).toMatchObject({ ok: true });
    const { title, detail } = a.sent()[0]!.templateParam!;
    expect(Array.from(title!)).toHaveLength(ALIYUN_VARIABLE_CHARS);
    expect(title).toMatch(/^王秀英：血压危象.*…$/);
    expect(Array.from(detail!)).toHaveLength(ALIYUN_VARIABLE_CHARS);
    expect(detail).toMatch(/^呼叫中心已将此预警转给您（危急）。；请在安心平台/);
  });

  it('an invalid number (isv.MOBILE_NUMBER_ILLEGAL) fails at once through the queue: one request, no retry', async () => {
    const a = await aliyun([aliyunAnswer('isv.MOBILE_NUMBER_ILLEGAL')]);
    const { queue } = smsQueue(notifier(a.url), closers);
    const n = sampleNotification();
    queue.enqueue(n, 'sms');
    await expect.poll(() => queue.status(n.id)?.state, { timeout: 5000, interval: 5 }).toBe('failed');
    await new Promise((resolve) => setTimeout(resolve, 100)); // a retry would have come by now (backoff ≤ 50 ms)
    expect(a.requests).toHaveLength(1);
    expect(queue.status(n.id)).toMatchObject({
      attempts: 1, detail: 'sms provider: aliyun isv.MOBILE_NUMBER_ILLEGAL (invalid mobile number, request A90E4451-FED7-49D2-87C8-00700A8C4D0D)',
    });
  });

  it('flow control and Aliyun’s own faults are retried, each attempt freshly signed, then delivered once', async () => {
    const a = await aliyun([aliyunAnswer('isv.BUSINESS_LIMIT_CONTROL'), aliyunAnswer('Throttling.User', 400), aliyunAnswer('isp.SYSTEM_ERROR', 500), aliyunAnswer('OK')]);
    const { queue, logs } = smsQueue(notifier(a.url), closers);
    const n = sampleNotification();
    queue.enqueue(n, 'sms');
    await expect.poll(() => queue.status(n.id)?.state, { timeout: 5000, interval: 5 }).toBe('delivered');
    expect(a.requests.map((r) => r.verified)).toEqual([true, true, true, true]);
    expect(new Set(a.requests.map((r) => r.params.SignatureNonce)).size).toBe(4);
    expect(queue.receipts(n.id).map((r) => r.status)).toEqual([200, 400, 500, null]);
    expect(a.sent()).toHaveLength(1);
    const text = logs.text();
    for (const secret of [SECRET, '186/98', '王秀英', '13800000001']) expect(text).not.toContain(secret);
  });

  it('a wrong secret is refused (SignatureDoesNotMatch), not retried, and Aliyun’s message, which echoes the number and text, is not repeated', async () => {
    const a = await aliyun([aliyunAnswer('OK')]);
    const result = await notifier(a.url, { secret: 'not-the-secret-000000' }).send(sampleNotification());
    expect(result).toEqual({ ok: false, status: 400, retryable: false, detail: 'sms provider: aliyun SignatureDoesNotMatch (signature refused: check ANXIN_SMS_ACCESS_KEY_SECRET)' });
    expect(a.sent()).toHaveLength(0);
  });

  it('an answer that is not Aliyun’s (a proxy’s 502 page) is worth retrying; a bare 403 is not', async () => {
    const a = await aliyun([{ status: 502, body: '<html>Bad Gateway</html>' }, { status: 403, body: 'forbidden' }]);
    expect(await notifier(a.url).send(sampleNotification())).toEqual({ ok: false, status: 502, retryable: true, detail: 'sms provider: aliyun answered HTTP 502 without a code' });
    expect(await notifier(a.url).send(sampleNotification())).toEqual({ ok: false, status: 403, retryable: false, detail: 'sms provider: aliyun answered HTTP 403 without a code' });
  });

  it('an endpoint that does not answer times out, worth retrying', async () => {
    const a = await aliyun(['hang']);
    expect(await notifier(a.url, { timeoutMs: 200 }).send(sampleNotification())).toEqual({ ok: false, retryable: true, detail: 'sms provider: timeout after 200 ms' });
  });

  it('is what ANXIN_SMS_PROVIDER=aliyun configures, logged at start without the secret', async () => {
    const a = await aliyun([aliyunAnswer('OK')]);
    const logs = captureLog('info');
    const sms = createSmsNotifier({
      smsProvider: 'aliyun', smsAccessKeyId: KEY_ID, smsAccessKeySecret: SECRET, smsSignName: '安心', smsTemplateCode: TEMPLATE, smsEndpoint: a.url,
    }, logs.log);
    expect(logs.lines).toEqual([expect.objectContaining({ level: 30, provider: 'aliyun', endpoint: a.url, signName: '安心', templateCode: TEMPLATE })]);
    expect(logs.text()).not.toContain(SECRET);
    expect(await sms.send(sampleNotification())).toMatchObject({ ok: true });
    expect(a.sent()).toHaveLength(1);
  });
});
