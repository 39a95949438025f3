/**
 * SMS channel (SPEC §5: "SMS through a configurable provider"). The notifier
 * composes a short zh-CN text; a provider behind `SmsProvider` sends it. Each
 * carrier gateway (Aliyun, Tencent Cloud, a local modem) is one file
 * implementing `SmsProvider`; only `LoggingSmsProvider` ships here.
 *
 * Length: Chinese text is sent as UCS-2, 70 characters in a single SMS, 67 per
 * segment once concatenated (3GPP TS 23.040 user-data header). Carriers bill
 * per segment, so texts are kept to at most `MAX_SMS_SEGMENTS`.
 */
import type { Logger } from 'pino';
import type { DeliveryResult, Notification, Notifier } from './notifier.js';

/** UCS-2: one SMS holds 70 characters; a concatenated one 67 per segment. */
export const SMS_SINGLE_CHARS = 70;
export const SMS_SEGMENT_CHARS = 67;
export const MAX_SMS_SEGMENTS = 3;

export interface SmsProvider {
  /** Sends one text; rejects on failure (throw `SmsProviderError` to say whether a retry helps). */
  send(phone: string, text: string): Promise<{ messageId: string }>;
}

/**
 * A provider failure with the provider's verdict on retrying (bad number: no;
 * quota, outage: yes). `undeliverable`: there is no real provider at all.
 */
export class SmsProviderError extends Error {
  constructor(message: string, readonly retryable: boolean, readonly undeliverable = false) {
    super(message);
    this.name = 'SmsProviderError';
  }
}

/** Why the logging stand-in sends nothing; the receipt and the call center's screen say it. */
export const NO_SMS_PROVIDER = 'no SMS provider configured (logging stand-in, nothing sent)';

/**
 * A stand-in that logs instead of sending: NOT a real SMS gateway, nothing
 * reaches a phone. For development, tests and hubs without an SMS contract.
 * It logs the masked number and the text length, never the text (it carries
 * health content), and fails as undeliverable: a log line is not a doctor told.
 */
export class LoggingSmsProvider implements SmsProvider {
  constructor(private readonly log: Logger) {}

  async send(phone: string, text: string): Promise<{ messageId: string }> {
    this.log.warn({ to: maskPhone(phone), chars: text.length, segments: smsSegments(text) }, 'sms not sent: logging stand-in provider');
    throw new SmsProviderError(NO_SMS_PROVIDER, false, true);
  }
}

export interface SmsNotifierOptions {
  /** Prefix carriers in China require (签名), e.g. `【安心】`. */
  signature?: string;
}

export class SmsNotifier implements Notifier {
  readonly channel = 'sms' as const;
  private readonly signature: string;

  constructor(private readonly provider: SmsProvider, opts: SmsNotifierOptions = {}) {
    this.signature = opts.signature ?? '【安心】';
  }

  async send(n: Notification, signal?: AbortSignal): Promise<DeliveryResult> {
    const phone = n.recipient.phone?.trim();
    if (!phone || !/\d{5,}/.test(phone.replace(/[\s-]/g, ''))) return { ok: false, detail: 'recipient has no usable phone number', retryable: false };
    if (signal?.aborted) return { ok: false, detail: 'aborted', retryable: true };
    const text = composeSms(n, this.signature);
    try {
      const { messageId } = await this.provider.send(phone, text);
      return { ok: true, detail: `sent to ${maskPhone(phone)}, ${smsSegments(text)} segment(s), id ${messageId}`, retryable: false };
    } catch (err) {
      const retryable = err instanceof SmsProviderError ? err.retryable : true;
      const result: DeliveryResult = { ok: false, detail: `sms provider: ${(err as Error).message ?? String(err)}`, retryable };
      if (err instanceof SmsProviderError && err.undeliverable) result.undeliverable = true;
      return result;
    }
  }
}

/**
 * `【安心】<title>：<body>`, in zh-CN, cut to `MAX_SMS_SEGMENTS` segments with
 * an ellipsis (the title always survives; details are in the app).
 */
export function composeSms(n: Notification, signature = '【安心】'): string {
  const head = `${signature}${n.title['zh-CN']}`;
  const body = n.body['zh-CN'].replace(/\s*\n\s*/g, '；').trim();
  const full = body ? `${head}：${body}` : head;
  const limit = MAX_SMS_SEGMENTS * SMS_SEGMENT_CHARS;
  const chars = Array.from(full);
  return chars.length <= limit ? full : `${chars.slice(0, limit - 1).join('')}…`;
}

/** Segments a UCS-2 text takes (UTF-16 code units; an emoji counts two). */
export function smsSegments(text: string): number {
  if (text.length <= SMS_SINGLE_CHARS) return 1;
  return Math.ceil(text.length / SMS_SEGMENT_CHARS);
}

/**
 * For logs: `+86 13800000001` → `+86 138****0001`. Keeps the country code,
 * the first three and last four digits (a Chinese mobile's carrier prefix and
 * the tail people recognise); shorter numbers keep only their last two.
 */
export function maskPhone(phone: string): string {
  const compact = phone.replace(/[^\d+]/g, '');
  let country = '';
  let national = compact.replace(/\+/g, '');
  if (compact.startsWith('+86') || (compact.startsWith('86') && national.length === 13)) {
    country = '+86 ';
    national = national.slice(2);
  } else if (compact.startsWith('+')) {
    country = '+';
  }
  if (national.length >= 10) return `${country}${national.slice(0, 3)}${'*'.repeat(national.length - 7)}${national.slice(-4)}`;
  if (national.length > 2) return `${country}${'*'.repeat(national.length - 2)}${national.slice(-2)}`;
  return `${country}${'*'.repeat(national.length)}`;
}
