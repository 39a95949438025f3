/**
 * Alibaba Cloud SMS (Dysmsapi `SendSms`, API version 2017-05-25), the most
 * common carrier gateway in China. Carriers there send only pre-approved
 * templates under an approved sign name (签名), so the hub does not send its
 * composed text: it fills two variables of a notification template (短信通知)
 * the operator registered, for example
 *
 *   安心预警：${title}；说明：${detail}
 *
 * `title` is the notification's zh-CN headline (who and what, e.g.
 * `王秀英：血压危象 186/98 mmHg`), `detail` its zh-CN body on one line; each is
 * cut to `ALIYUN_VARIABLE_CHARS` (with `…`), the length Aliyun allows a
 * variable of property 其他 (custom content). Aliyun puts `【SignName】` in front.
 *
 * Signing: the RPC signature, version 1.0 (Alibaba Cloud, "Signature
 * mechanism" of RPC APIs): every parameter but `Signature`, sorted by name,
 * each name and value percent-encoded (RFC 3986: only A-Z a-z 0-9 - _ . ~ are
 * left as they are, a space is %20), joined `k=v&…` into the canonical query;
 * StringToSign = `POST&%2F&` + percentEncode(canonical query);
 * Signature = Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)). The
 * parameters go as a form body (the text carries health data: not in a URL).
 *
 * Answers: `{"Code":"OK","BizId":…}` is sent. Other codes are refusals unless
 * retrying can help (`ALIYUN_CODES`): flow control (`isv.BUSINESS_LIMIT_CONTROL`,
 * `Throttling*`) and faults on Aliyun's side. Only the code, never Aliyun's
 * message, reaches receipts and logs: a `SignatureDoesNotMatch` message echoes
 * the whole string to sign, number and text included.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { parseRetryAfter } from './webhookNotifier.js';
import { DEFAULT_SMS_TIMEOUT_MS, gatewayFetch } from './smsGatewayFetch.js';
import { compactPhone } from './httpSmsProvider.js';
import { SmsProviderError, type SmsMessage, type SmsProvider } from './smsNotifier.js';

export const ALIYUN_DEFAULT_ENDPOINT = 'https://dysmsapi.aliyuncs.com/';
export const ALIYUN_API_VERSION = '2017-05-25';

/** Characters Aliyun accepts in one notification-template variable of property 其他 (custom content). */
export const ALIYUN_VARIABLE_CHARS = 35;

/**
 * What the hub knows of Aliyun's codes: whether a retry can help, and a few
 * English words for the call center's screen. A code not listed is a refusal,
 * except the `Throttling…` family. Sources: Alibaba Cloud SMS "API error
 * codes" (短信服务 API 错误码) and the POP gateway's common errors.
 */
export const ALIYUN_CODES: Record<string, { retryable: boolean; what?: string }> = {
  'isv.BUSINESS_LIMIT_CONTROL': { retryable: true, what: 'flow control for this number' },
  'isp.SYSTEM_ERROR': { retryable: true, what: 'Aliyun system error' },
  'isp.GATEWAY_ERROR': { retryable: true, what: 'Aliyun gateway error' },
  'isp.UNKNOWN': { retryable: true, what: 'Aliyun unknown error' },
  ServiceUnavailable: { retryable: true, what: 'Aliyun unavailable' },
  InternalError: { retryable: true, what: 'Aliyun internal error' },
  // Each attempt signs with a new nonce, so a collision is gone on the next one.
  SignatureNonceUsed: { retryable: true },
  'isv.MOBILE_NUMBER_ILLEGAL': { retryable: false, what: 'invalid mobile number' },
  'isv.SMS_TEMPLATE_ILLEGAL': { retryable: false, what: 'template not approved: check ANXIN_SMS_TEMPLATE_CODE' },
  'isv.SMS_SIGNATURE_ILLEGAL': { retryable: false, what: 'sign name not approved: check ANXIN_SMS_SIGN_NAME' },
  'isv.TEMPLATE_MISSING_PARAMETERS': { retryable: false, what: 'the template must use ${title} and ${detail}' },
  'isv.PARAM_LENGTH_LIMIT': { retryable: false, what: 'a template variable is too long' },
  'isv.AMOUNT_NOT_ENOUGH': { retryable: false, what: 'account balance too low' },
  'isv.OUT_OF_SERVICE': { retryable: false, what: 'account suspended (balance)' },
  'isv.DAY_LIMIT_CONTROL': { retryable: false, what: 'daily sending limit of the account reached' },
  'isv.MONTH_LIMIT_CONTROL': { retryable: false, what: 'monthly sending limit of the account reached' },
  SignatureDoesNotMatch: { retryable: false, what: 'signature refused: check ANXIN_SMS_ACCESS_KEY_SECRET' },
  'InvalidAccessKeyId.NotFound': { retryable: false, what: 'unknown ANXIN_SMS_ACCESS_KEY_ID' },
  'InvalidTimeStamp.Expired': { retryable: false, what: "the hub's clock is off" },
};

export interface AliyunSmsProviderOptions {
  accessKeyId: string;
  /** Signs requests; never sent, never logged. */
  accessKeySecret: string;
  /** The approved 签名, without 【】. */
  signName: string;
  /** The approved notification template, e.g. `SMS_123456789`. */
  templateCode: string;
  /** Default `ALIYUN_DEFAULT_ENDPOINT`. */
  endpoint?: URL;
  /** Per attempt. Default `DEFAULT_SMS_TIMEOUT_MS`. */
  timeoutMs?: number;
  /** Epoch ms, for `Timestamp`. */
  now?: () => number;
  /** A new `SignatureNonce` per request; injectable for tests. */
  nonce?: () => string;
  fetch?: typeof fetch;
}

interface AliyunAnswer {
  Code?: unknown;
  BizId?: unknown;
  RequestId?: unknown;
}

export class AliyunSmsProvider implements SmsProvider {
  private readonly endpoint: URL;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly nonce: () => string;
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: AliyunSmsProviderOptions) {
    this.endpoint = opts.endpoint ?? new URL(ALIYUN_DEFAULT_ENDPOINT);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_SMS_TIMEOUT_MS;
    this.now = opts.now ?? Date.now;
    this.nonce = opts.nonce ?? randomUUID;
    this.fetch = opts.fetch ?? fetch;
  }

  async send(m: SmsMessage, signal?: AbortSignal): Promise<{ messageId: string }> {
    const params: Record<string, string> = {
      AccessKeyId: this.opts.accessKeyId,
      Action: 'SendSms',
      Format: 'JSON',
      OutId: m.ref,
      PhoneNumbers: compactPhone(m.phone),
      RegionId: 'cn-hangzhou',
      SignName: this.opts.signName,
      SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: this.nonce(),
      SignatureVersion: '1.0',
      TemplateCode: this.opts.templateCode,
      TemplateParam: JSON.stringify(aliyunTemplateParam(m)),
      Timestamp: new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      Version: ALIYUN_API_VERSION,
    };
    params.Signature = signAliyunRpc('POST', params, this.opts.accessKeySecret);
    const answer = await gatewayFetch(this.fetch, this.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': 'anxin-hub' },
      body: canonicalQuery(params),
    }, this.timeoutMs, signal);

    let parsed: AliyunAnswer | null = null;
    try {
      parsed = JSON.parse(answer.body) as AliyunAnswer;
    } catch {
      // Not JSON (a proxy's error page): judged by the HTTP status below.
    }
    const code = typeof parsed?.Code === 'string' ? parsed.Code : null;
    const requestId = plain(parsed?.RequestId);
    if (code === 'OK' && answer.status >= 200 && answer.status < 300) {
      return { messageId: plain(parsed?.BizId) ?? requestId ?? 'unknown' };
    }
    const retryAfterMs = parseRetryAfter(answer.headers.get('retry-after'), this.now());
    const extra = { status: answer.status, ...(retryAfterMs !== undefined && { retryAfterMs }) };
    if (code === null) {
      // No verdict from Aliyun: a fault on the way (5xx, a proxy) is worth retrying, a 4xx is not.
      const retryable = answer.status === 408 || answer.status === 429 || answer.status >= 500 || (answer.status >= 200 && answer.status < 300);
      throw new SmsProviderError(`aliyun answered HTTP ${answer.status} without a code`, retryable, extra);
    }
    const safeCode = plain(code) ?? 'an unreadable code';
    const known = ALIYUN_CODES[code];
    const retryable = known?.retryable ?? code.startsWith('Throttling');
    const words = [known?.what, requestId && `request ${requestId}`].filter(Boolean).join(', ');
    throw new SmsProviderError(`aliyun ${safeCode}${words ? ` (${words})` : ''}`, retryable, extra);
  }
}

/**
 * The template variables of one SMS: `title` and `detail`, each at most
 * `ALIYUN_VARIABLE_CHARS` characters (code points), cut with `…`.
 */
export function aliyunTemplateParam(m: Pick<SmsMessage, 'title' | 'body'>): { title: string; detail: string } {
  return { title: cut(m.title), detail: cut(m.body) };
}

/** Base64(HMAC-SHA1(secret + "&", `${method}&%2F&${percentEncode(canonical query)}`)). */
export function signAliyunRpc(method: 'GET' | 'POST', params: Record<string, string>, accessKeySecret: string): string {
  const stringToSign = `${method}&${percentEncode('/')}&${percentEncode(canonicalQuery(params))}`;
  return createHmac('sha1', `${accessKeySecret}&`).update(stringToSign, 'utf8').digest('base64');
}

/** Sorted by name, `Signature` left out unless given, each name and value percent-encoded. */
function canonicalQuery(params: Record<string, string>): string {
  return Object.keys(params)
    .sort()
    .map((k) => `${percentEncode(k)}=${percentEncode(params[k]!)}`)
    .join('&');
}

/** RFC 3986 unreserved characters stay; everything else is %XY of its UTF-8 bytes (encodeURIComponent leaves !'()* too). */
function percentEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function cut(s: string): string {
  const chars = Array.from(s.trim());
  return chars.length <= ALIYUN_VARIABLE_CHARS ? chars.join('') : `${chars.slice(0, ALIYUN_VARIABLE_CHARS - 1).join('')}…`;
}

/** An id or code from the answer, when it is plain enough for receipts and logs. */
function plain(v: unknown): string | null {
  return typeof v === 'string' && /^[\w.^:-]{1,128}$/.test(v) ? v : null;
}
