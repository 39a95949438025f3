/**
 * One HTTP exchange with an SMS gateway, shared by the providers: bounded by a
 * timeout and by the queue's abort signal, with what goes wrong before an
 * answer turned into a retryable `SmsProviderError`. After a timeout the
 * gateway may or may not have sent the text; the queue retries (at least
 * once), and a relay drops repeats by `ref`.
 */
import { SmsProviderError } from './smsNotifier.js';

/** Per attempt, connection to last response byte, unless a provider is given another. */
export const DEFAULT_SMS_TIMEOUT_MS = 10_000;

export interface GatewayAnswer {
  status: number;
  headers: Headers;
  /** The raw answer; may echo anything the gateway got (numbers, text): parse it, never log it. */
  body: string;
}

export async function gatewayFetch(
  fetchFn: typeof fetch,
  url: URL,
  init: RequestInit,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<GatewayAnswer> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    // A redirected POST turns into a GET (fetch spec); a moved gateway must be reconfigured.
    const res = await fetchFn(url, { ...init, signal: combined, redirect: 'manual' });
    return { status: res.status, headers: res.headers, body: await res.text() };
  } catch (err) {
    if (timeout.aborted) throw new SmsProviderError(`timeout after ${timeoutMs} ms`, true);
    if (signal?.aborted) throw new SmsProviderError('aborted', true);
    throw new SmsProviderError(`network error: ${networkCause(err)}`, true);
  }
}

/** The gateway's origin and path, for logs: no credentials, no query (a key may ride in it). */
export function describeGateway(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** undici wraps the useful reason (ECONNREFUSED, …) in `cause`. */
function networkCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}
