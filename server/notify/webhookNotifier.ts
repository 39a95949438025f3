/**
 * Webhook channel: one signed JSON POST per attempt to the recipient's URL.
 *
 * Signing (what a receiver checks, see `verifyWebhookSignature`):
 *
 *   X-Anxin-Timestamp: <unix seconds of this attempt>
 *   X-Anxin-Signature: sha256=<hex HMAC-SHA256(secret, `${timestamp}.${rawBody}`)>
 *   X-Anxin-Delivery:  <notification id, the same on every retry>
 *
 * The timestamp is inside the signed string so a captured request cannot be
 * replayed later: receivers reject timestamps outside a tolerance (5 min by
 * default) and drop repeated delivery ids. The body is identical on every
 * attempt; only the timestamp and signature change. The scheme follows the
 * `t.body` construction of Stripe and Slack webhooks.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { DeliveryResult, Notification, Notifier } from './notifier.js';

export const SIGNATURE_HEADER = 'x-anxin-signature';
export const TIMESTAMP_HEADER = 'x-anxin-timestamp';
export const DELIVERY_HEADER = 'x-anxin-delivery';

/** How far a receiver lets a timestamp drift from its own clock by default. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export interface WebhookNotifierOptions {
  /** Shared with receivers; at least 16 characters. */
  secret: string;
  /** Per attempt, connection to last response byte. Default 5 s. */
  timeoutMs?: number;
  /** Epoch ms, for the timestamp header. */
  now?: () => number;
  /**
   * Plain `http:` URLs carry health data in clear text, so they are refused
   * except on loopback unless this is set (a receiver behind a TLS-terminating
   * proxy on the same host network, say).
   */
  allowInsecureHttp?: boolean;
  /** Injectable for tests; defaults to the global `fetch`. */
  fetch?: typeof fetch;
}

/** What a receiver gets, as JSON. Stable: add fields, never rename them. */
export interface WebhookBody {
  id: string;
  kind: Notification['kind'];
  alertId: string;
  recipient: { username: string; name: string | null };
  title: Notification['title'];
  body: Notification['body'];
  payload: object;
}

export class WebhookNotifier implements Notifier {
  readonly channel = 'webhook' as const;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: WebhookNotifierOptions) {
    if (opts.secret.length < 16) throw new Error('webhook secret must be at least 16 characters');
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.now = opts.now ?? Date.now;
    this.fetch = opts.fetch ?? fetch;
  }

  async send(n: Notification, signal?: AbortSignal): Promise<DeliveryResult> {
    const url = this.checkUrl(n.recipient.webhookUrl);
    if (typeof url === 'string') return { ok: false, detail: url, retryable: false };

    const body = JSON.stringify(webhookBody(n));
    const timestamp = String(Math.floor(this.now() / 1000));
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const res = await this.fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'anxin-hub',
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: signWebhook(this.opts.secret, timestamp, body),
          [DELIVERY_HEADER]: n.id,
        },
        body,
        signal: combined,
        // A redirected POST turns into a GET (fetch spec); a moved receiver must be reconfigured.
        redirect: 'manual',
      });
      // The receiver's body is not ours to store (it may echo anything); free the socket.
      await res.body?.cancel().catch(() => {});
      return classifyStatus(res.status, res.headers.get('retry-after'), this.now());
    } catch (err) {
      if (timeout.aborted) return { ok: false, detail: `timeout after ${this.timeoutMs} ms`, retryable: true };
      if (signal?.aborted) return { ok: false, detail: 'aborted', retryable: true };
      return { ok: false, detail: `network error: ${networkCause(err)}`, retryable: true };
    }
  }

  /** The URL to POST to, or why there is none. */
  private checkUrl(raw: string | undefined): URL | string {
    if (!raw) return 'recipient has no webhook URL';
    return webhookUrlProblem(raw, this.opts.allowInsecureHttp) ?? new URL(raw);
  }
}

/**
 * Why `raw` is not a webhook URL the hub will POST to, or null when it is:
 * https, or plain http only on loopback (or with `allowInsecureHttp`), since
 * the body carries health data. The import checks doctors' URLs with this very
 * rule, so a URL it accepts is never refused at the first escalation.
 */
export function webhookUrlProblem(raw: string, allowInsecureHttp = false): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'recipient webhook URL is not a URL';
  }
  if (url.protocol === 'https:') return null;
  if (url.protocol !== 'http:') return `webhook URL scheme ${url.protocol} is not http(s)`;
  if (allowInsecureHttp || isLoopback(url.hostname)) return null;
  return 'plain http webhook URL refused (health data); use https';
}

export function webhookBody(n: Notification): WebhookBody {
  return {
    id: n.id,
    kind: n.kind,
    alertId: n.alertId,
    recipient: { username: n.recipient.username, name: n.recipient.name },
    title: n.title,
    body: n.body,
    payload: n.payload,
  };
}

/** `sha256=<hex HMAC-SHA256(secret, `${timestamp}.${body}`)>`. */
export function signWebhook(secret: string, timestamp: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/**
 * For receivers: true when `header` is the signature of `timestamp` and the
 * exact raw `body` bytes under `secret`, and the timestamp is within
 * `toleranceSeconds` of `now` (epoch ms). Compares in constant time. Pass the
 * body exactly as received, before any JSON parsing. Header values may be
 * given as Node's `IncomingHttpHeaders` holds them.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | string[] | undefined,
  body: string | Buffer,
  header: string | string[] | undefined,
  opts: { now?: number; toleranceSeconds?: number } = {},
): boolean {
  if (typeof timestamp !== 'string' || typeof header !== 'string') return false;
  if (!/^\d{1,12}$/.test(timestamp)) return false;
  const tolerance = opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const nowSeconds = (opts.now ?? Date.now()) / 1000;
  if (Math.abs(nowSeconds - Number(timestamp)) > tolerance) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** 2xx ok; 408, 429 and 5xx worth retrying; any other answer will not change by retrying. */
export function classifyStatus(status: number, retryAfter: string | null, now: number): DeliveryResult {
  const detail = `HTTP ${status}`;
  if (status >= 200 && status < 300) return { ok: true, status, detail, retryable: false };
  if (status >= 300 && status < 400) return { ok: false, status, detail: `${detail} (redirects are not followed)`, retryable: false };
  const retryable = status === 408 || status === 429 || status >= 500;
  const result: DeliveryResult = { ok: false, status, detail, retryable };
  const wait = retryable ? parseRetryAfter(retryAfter, now) : undefined;
  if (wait !== undefined) result.retryAfterMs = wait;
  return result;
}

/** RFC 9110 §10.2.3: delay-seconds or an HTTP-date. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** undici wraps the useful reason (ECONNREFUSED, …) in `cause`. */
function networkCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}
