/**
 * Plain `node:http`/`node:https` requests for tests that must see what a
 * browser would: every `Set-Cookie`, response headers such as HSTS, and
 * request headers fetch would not let a page set (`X-Forwarded-For`). A
 * private CA to trust for https; no connection is kept alive.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface WebAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export function webRequest(url: string, opts: { method?: string; headers?: Record<string, string>; json?: unknown; ca?: Buffer } = {}): Promise<WebAnswer> {
  const u = new URL(url);
  const body = opts.json === undefined ? undefined : JSON.stringify(opts.json);
  const headers = { ...(body !== undefined && { 'content-type': 'application/json' }), ...opts.headers };
  const method = opts.method ?? (body === undefined ? 'GET' : 'POST');
  return new Promise((resolve, reject) => {
    const done = (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    };
    const req = u.protocol === 'https:'
      ? httpsRequest(u, { method, headers, ca: opts.ca, agent: false }, done)
      : httpRequest(u, { method, headers, agent: false }, done);
    req.on('error', reject);
    req.end(body);
  });
}

/** The attributes of the `name` cookie an answer sets, lower-cased (`path=/`, `httponly`, `secure`, …), with its value. */
export function cookieOf(answer: WebAnswer, name: string): { value: string; attributes: string[] } | null {
  const line = (answer.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${name}=`));
  if (!line) return null;
  const [pair, ...attributes] = line.split(';').map((s) => s.trim());
  return { value: pair!.slice(name.length + 1), attributes: attributes.map((a) => a.toLowerCase()) };
}
