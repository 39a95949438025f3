/**
 * The SMS channel. The provider here is `LoggingSmsProvider`, a logging
 * stand-in and NOT a real SMS gateway: a carrier gateway needs an account and
 * a phone network and cannot run in this test environment. What is checked is
 * our side of the boundary: the text we compose, the masked number we log, and
 * that no health content reaches the log.
 */
import { describe, expect, it } from 'vitest';
import { DeliveryQueue } from '../../../server/notify/deliveryQueue.js';
import {
  composeSms, LoggingSmsProvider, maskPhone, NO_SMS_PROVIDER, MAX_SMS_SEGMENTS, SMS_SEGMENT_CHARS, smsSegments, SmsNotifier, SmsProviderError, type SmsProvider,
} from '../../../server/notify/smsNotifier.js';
import { captureLog, sampleNotification, tempStore } from './helpers.js';

describe('SmsNotifier with the logging stand-in provider (not a real SMS gateway)', () => {
  it('sends nothing and says so: undeliverable, never "sent"; logs the masked number and the length, never the vitals or the name', async () => {
    const logs = captureLog('trace');
    const n = sampleNotification({ recipient: { username: 'dr-li', name: '李医生', phone: '+86 138 0000 0001' } });
    const result = await new SmsNotifier(new LoggingSmsProvider(logs.log)).send(n);
    expect(result).toEqual({ ok: false, retryable: false, undeliverable: true, detail: `sms provider: ${NO_SMS_PROVIDER}` });

    const [line] = logs.lines;
    expect(line).toMatchObject({ level: 40, to: '+86 138****0001', chars: composeSms(n).length, segments: 1 });
    const text = logs.text();
    for (const secret of ['186/98', '血压', 'Hypertensive', '王秀英', '13800000001', '138 0000 0001']) expect(text).not.toContain(secret);
  });

  it('is recorded undeliverable through the queue, never delivered', async () => {
    const store = tempStore();
    const logs = captureLog();
    try {
      const queue = new DeliveryQueue(store.db, { sms: new SmsNotifier(new LoggingSmsProvider(logs.log)) }, { log: logs.log, baseDelayMs: 10 });
      const n = sampleNotification();
      queue.start();
      queue.enqueue(n, 'sms');
      await expect.poll(() => queue.status(n.id)?.state, { timeout: 5000, interval: 5 }).toBe('undeliverable');
      expect(queue.status(n.id)?.detail).toBe(`sms provider: ${NO_SMS_PROVIDER}`);
      expect(queue.receipts(n.id).map((r) => r.ok)).toEqual([false]);
      expect(logs.text()).not.toContain('186/98');
      await queue.stop();
    } finally {
      store.destroy();
    }
  });

  it('fails without retry when there is no phone number', async () => {
    const n = sampleNotification({ recipient: { username: 'dr-li', name: null } });
    expect(await new SmsNotifier(new LoggingSmsProvider(captureLog().log)).send(n)).toEqual({ ok: false, detail: 'recipient has no usable phone number', retryable: false });
  });

  it('takes the provider’s verdict on retrying', async () => {
    const failing = (err: Error): SmsProvider => ({ send: () => Promise.reject(err) });
    const n = sampleNotification();
    expect(await new SmsNotifier(failing(new SmsProviderError('invalid number', false))).send(n)).toEqual({ ok: false, detail: 'sms provider: invalid number', retryable: false });
    expect(await new SmsNotifier(failing(new Error('ETIMEDOUT'))).send(n)).toEqual({ ok: false, detail: 'sms provider: ETIMEDOUT', retryable: true });
  });
});

describe('composeSms', () => {
  it('is zh-CN, signed, one line', () => {
    const n = sampleNotification({ body: { 'zh-CN': '王秀英\n请尽快处理', en: 'x' } });
    expect(composeSms(n)).toBe('【安心】血压危象 186/98 mmHg：王秀英；请尽快处理');
    expect(smsSegments(composeSms(n))).toBe(1);
  });

  it(`keeps a long text to ${MAX_SMS_SEGMENTS} segments of ${SMS_SEGMENT_CHARS}`, () => {
    const n = sampleNotification({ body: { 'zh-CN': '很长的说明'.repeat(100), en: 'x' } });
    const text = composeSms(n);
    expect(text.startsWith('【安心】血压危象 186/98 mmHg：')).toBe(true);
    expect(text.endsWith('…')).toBe(true);
    expect(smsSegments(text)).toBe(MAX_SMS_SEGMENTS);
  });

  it.each([[70, 1], [71, 2], [134, 2], [135, 3]])('%i characters take %i segment(s)', (chars, segments) => {
    expect(smsSegments('字'.repeat(chars))).toBe(segments);
  });
});

describe('maskPhone', () => {
  it.each([
    ['+86 138 0000 0001', '+86 138****0001'],
    ['+8613800000001', '+86 138****0001'],
    ['8613800000001', '+86 138****0001'],
    ['13800000001', '138****0001'],
    ['138-0000-0001', '138****0001'],
    ['+86 631 5200 000', '+86 631***0000'],
    ['+44 20 7946 0958', '+442*****0958'],
    ['120', '*20'],
  ])('%s → %s', (phone, masked) => {
    expect(maskPhone(phone)).toBe(masked);
  });
});
