/**
 * A generic SMS relay (what a city's IT department usually runs in front of
 * its carrier contract). One JSON POST per attempt:
 *
 *   POST <ANXIN_SMS_URL>
 *   Authorization: Bearer <ANXIN_SMS_TOKEN>
 *   Content-Type: application/json
 *   {"to": "+8613800000001", "text": "【安心】…", "ref": "<notification id>"}
 *
 * `to` is the registered number without spaces or dashes; `text` is the whole
 * zh-CN SMS, signature included; `ref` is the same on every retry, so the relay
 * can drop repeats (a retry after a lost answer looks like a first send).
 * The answer: any 2xx is sent (`{"messageId": "…"}` is kept when given); 408,
 * 429 and 5xx are retried, honouring `Retry-After`; any other status is a
 * refusal (a bad number) and is not retried.
 */
import { classifyStatus } from './webhookNotifier.js';
import { DEFAULT_SMS_TIMEOUT_MS, gatewayFetch } from './smsGatewayFetch.js';
import { SmsProviderError, type SmsMessage, type SmsProvider } from './smsNotifier.js';

export interface HttpSmsProviderOptions {
  url: URL;
  /** Sent as `Authorization: Bearer …`; never logged. */
  token: string;
  /** Per attempt. Default `DEFAULT_SMS_TIMEOUT_MS`. */
  timeoutMs?: number;
  /** Epoch ms, for an HTTP-date `Retry-After`. */
  now?: () => number;
  /** Injectable for tests; defaults to the global `fetch`. */
  fetch?: typeof fetch;
}

/** What the relay receives, as JSON. Stable: add fields, never rename them. */
export interface RelayBody {
  to: string;
  text: string;
  ref: string;
}

export class HttpSmsProvider implements SmsProvider {
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: HttpSmsProviderOptions) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_SMS_TIMEOUT_MS;
    this.now = opts.now ?? Date.now;
    this.fetch = opts.fetch ?? fetch;
  }

  async send(m: SmsMessage, signal?: AbortSignal): Promise<{ messageId: string }> {
    const body: RelayBody = { to: compactPhone(m.phone), text: m.text, ref: m.ref };
    const answer = await gatewayFetch(this.fetch, this.opts.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'anxin-hub', authorization: `Bearer ${this.opts.token}` },
      body: JSON.stringify(body),
    }, this.timeoutMs, signal);
    const verdict = classifyStatus(answer.status, answer.headers.get('retry-after'), this.now());
    if (!verdict.ok) {
      throw new SmsProviderError(`relay answered ${verdict.detail}`, verdict.retryable, {
        status: answer.status, ...(verdict.retryAfterMs !== undefined && { retryAfterMs: verdict.retryAfterMs }),
      });
    }
    return { messageId: relayMessageId(answer.body) ?? `none (HTTP ${answer.status})` };
  }
}

/** `+86 138-0000-0001` → `+8613800000001`: digits, and a leading `+` when there was one. */
export function compactPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  return phone.trim().startsWith('+') ? `+${digits}` : digits;
}

/** The relay's `messageId`, when it gave a plain one (it ends up in receipts and logs, so nothing else). */
function relayMessageId(body: string): string | null {
  try {
    const id = (JSON.parse(body) as { messageId?: unknown } | null)?.messageId;
    return typeof id === 'string' && /^[\w.:-]{1,128}$/.test(id) ? id : null;
  } catch {
    return null;
  }
}
