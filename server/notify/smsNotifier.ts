/**
 * SMS channel (SPEC §5: "SMS through a configurable provider"). The notifier
 * composes a short zh-CN text; a provider behind `SmsProvider` sends it. Each
 * gateway is one file implementing `SmsProvider` (`httpSmsProvider.ts`: a
 * generic relay; `aliyunSmsProvider.ts`: Alibaba Cloud SMS); `smsProviders.ts`
 * picks one from the configuration. Without one, `LoggingSmsProvider` stands
 * in and reaches nobody.
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

/** One SMS to send, as the notifier hands it to a provider. Carries health content: never log it. */
export interface SmsMessage {
  /** The number as registered (e.g. `+86 138 0000 0001`); providers normalise it to what they accept. */
  phone: string;
  /** The composed zh-CN text, signature included (`composeSms`), for providers that send free text. */
  text: string;
  /** zh-CN title and one-line body, for template gateways (carriers in China send only approved templates). */
  title: string;
  body: string;
  /** The notification id: the same on every retry, so a provider can drop repeats. */
  ref: string;
}

export interface SmsProvider {
  /**
   * Sends one text; rejects on failure (throw `SmsProviderError` to say whether a retry helps).
   * `signal` aborts the attempt (the queue is stopping).
   */
  send(message: SmsMessage, signal?: AbortSignal): Promise<{ messageId: string }>;
}

export interface SmsProviderErrorOptions {
  /** There is no real provider at all (the logging stand-in). */
  undeliverable?: boolean;
  /** The gateway's HTTP status, when it answered. */
  status?: number;
  /** The gateway asked to wait at least this long before retrying (HTTP `Retry-After`). */
  retryAfterMs?: number;
}

/**
 * A provider failure with the provider's verdict on retrying (bad number: no;
 * quota, outage: yes). Its message is log-safe: no number, no text, no secret.
 */
export class SmsProviderError extends Error {
  readonly undeliverable: boolean;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, readonly retryable: boolean, opts: SmsProviderErrorOptions = {}) {
    super(message);
    this.name = 'SmsProviderError';
    this.undeliverable = opts.undeliverable ?? false;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
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

  async send({ phone, text }: SmsMessage): Promise<{ messageId: string }> {
    this.log.warn({ to: maskPhone(phone), chars: text.length, segments: smsSegments(text) }, 'sms not sent: logging stand-in provider');
    throw new SmsProviderError(NO_SMS_PROVIDER, false, { undeliverable: true });
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
    const message: SmsMessage = { phone, text, title: n.title['zh-CN'], body: oneLine(n.body['zh-CN']), ref: n.id };
    try {
      const { messageId } = await this.provider.send(message, signal);
      return { ok: true, detail: `sent to ${maskPhone(phone)}, ${smsSegments(text)} segment(s), id ${messageId}`, retryable: false };
    } catch (err) {
      const retryable = err instanceof SmsProviderError ? err.retryable : true;
      const result: DeliveryResult = { ok: false, detail: `sms provider: ${(err as Error).message ?? String(err)}`, retryable };
      if (err instanceof SmsProviderError) {
        if (err.undeliverable) result.undeliverable = true;
        if (err.status !== undefined) result.status = err.status;
        if (err.retryAfterMs !== undefined) result.retryAfterMs = err.retryAfterMs;
      }
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
  const body = oneLine(n.body['zh-CN']);
  const full = body ? `${head}：${body}` : head;
  const limit = MAX_SMS_SEGMENTS * SMS_SEGMENT_CHARS;
  const chars = Array.from(full);
  return chars.length <= limit ? full : `${chars.slice(0, limit - 1).join('')}…`;
}

/** A body's lines joined with `；`: an SMS is one paragraph. */
function oneLine(body: string): string {
  return body.replace(/\s*\n\s*/g, '；').trim();
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
