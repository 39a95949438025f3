/**
 * Stand-ins for SMS gateways, on loopback: no SMS provider can run in a test
 * environment (it needs a carrier contract and a phone network), so these
 * real HTTP servers play the gateway's side and check what the real one
 * checks before it sends anything:
 *
 * - the relay: the bearer token (401 otherwise);
 * - Aliyun: the RPC signature, recomputed here from Alibaba Cloud's
 *   documented algorithm (not with the hub's code), the access key id, a
 *   fresh timestamp and an unused nonce, answering the way Aliyun does
 *   (`SignatureDoesNotMatch` with the server's string to sign in its message).
 *
 * Each answers from a script: the next entry per request (the last repeats),
 * or a function of the request; `'hang'` never answers, to provoke a timeout.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Answer {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
}
type Script<R> = Array<Answer | 'hang'> | ((req: R) => Answer | 'hang');

interface StandIn<R> {
  url: string;
  requests: R[];
  close(): Promise<void>;
}

async function listen(handle: (headers: IncomingHttpHeaders, raw: string) => Answer | 'hang'): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = handle(req.headers, Buffer.concat(chunks).toString('utf8'));
      if (answer === 'hang') return;
      const body = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {});
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...answer.headers }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function pick<R>(script: Script<R>, req: R, index: number): Answer | 'hang' {
  return typeof script === 'function' ? script(req) : script[Math.min(index, script.length - 1)]!;
}

export interface RelayRequest {
  authorized: boolean;
  contentType: string | undefined;
  body: { to?: string; text?: string; ref?: string };
}

/** A generic SMS relay that accepts only `Authorization: Bearer <token>`. */
export async function startRelay(token: string, script: Script<RelayRequest>): Promise<StandIn<RelayRequest> & { sent: () => RelayRequest[] }> {
  const requests: RelayRequest[] = [];
  const sent: RelayRequest[] = [];
  const server = await listen((headers, raw) => {
    const req: RelayRequest = { authorized: headers.authorization === `Bearer ${token}`, contentType: headers['content-type'], body: JSON.parse(raw) as RelayRequest['body'] };
    requests.push(req);
    if (!req.authorized) return { status: 401, body: { error: 'unauthorized' } };
    const answer = pick(script, req, requests.filter((r) => r.authorized).length - 1);
    if (answer !== 'hang' && (answer.status ?? 200) < 300) sent.push(req);
    return answer;
  });
  return { ...server, url: `${server.url}sms/send`, requests, sent: () => sent };
}

export interface AliyunRequest {
  params: Record<string, string>;
  /** Signature, access key, timestamp and nonce all as Aliyun requires. */
  verified: boolean;
  templateParam: { title?: string; detail?: string } | null;
}

/** What a SendSms answer looks like; `code` OK sends. */
export function aliyunAnswer(code: string, status = 200): Answer {
  return code === 'OK'
    ? { status, body: { Code: 'OK', Message: 'OK', BizId: '900619746936498440^0', RequestId: 'F655A8D5-B967-440B-8683-DAD6FF8DE990' } }
    : { status, body: { Code: code, Message: `stand-in refusal ${code}`, RequestId: 'A90E4451-FED7-49D2-87C8-00700A8C4D0D' } };
}

/** Alibaba Cloud's SendSms endpoint, for one access key. */
export async function startAliyun(
  accessKeyId: string,
  accessKeySecret: string,
  script: Script<AliyunRequest>,
  opts: { now?: () => number } = {},
): Promise<StandIn<AliyunRequest> & { sent: () => AliyunRequest[] }> {
  const requests: AliyunRequest[] = [];
  const sent: AliyunRequest[] = [];
  const nonces = new Set<string>();
  const now = opts.now ?? Date.now;
  const server = await listen((headers, raw) => {
    const params = Object.fromEntries(new URLSearchParams(raw)) as Record<string, string>;
    const { Signature: signature, ...signed } = params;
    const stringToSign = `POST&${percentEncode('/')}&${percentEncode(Object.keys(signed).sort().map((k) => `${percentEncode(k)}=${percentEncode(signed[k]!)}`).join('&'))}`;
    const expected = createHmac('sha1', `${accessKeySecret}&`).update(stringToSign, 'utf8').digest('base64');
    let templateParam: AliyunRequest['templateParam'] = null;
    try {
      templateParam = JSON.parse(params.TemplateParam ?? '') as AliyunRequest['templateParam'];
    } catch {
      // stays null: the request is refused below
    }
    const req: AliyunRequest = { params, verified: false, templateParam };
    requests.push(req);
    if (!String(headers['content-type']).startsWith('application/x-www-form-urlencoded')) return { status: 400, body: { Code: 'MissingParameter' } };
    if (params.AccessKeyId !== accessKeyId) return { status: 404, body: { Code: 'InvalidAccessKeyId.NotFound', Message: 'Specified access key is not found.' } };
    if (signature !== expected) {
      return { status: 400, body: { Code: 'SignatureDoesNotMatch', Message: `Specified signature is not matched with our calculation. server string to sign is:${stringToSign}` } };
    }
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(params.Timestamp ?? '') || Math.abs(Date.parse(params.Timestamp!) - now()) > 15 * 60_000) {
      return { status: 400, body: { Code: 'InvalidTimeStamp.Expired' } };
    }
    if (!params.SignatureNonce || nonces.has(params.SignatureNonce)) return { status: 400, body: { Code: 'SignatureNonceUsed' } };
    nonces.add(params.SignatureNonce);
    const wellFormed = params.Action === 'SendSms' && params.Version === '2017-05-25' && params.Format === 'JSON'
      && params.SignatureMethod === 'HMAC-SHA1' && params.SignatureVersion === '1.0' && !!params.PhoneNumbers && !!params.SignName && !!params.TemplateCode;
    if (!wellFormed || !templateParam) return { status: 400, body: { Code: 'isv.INVALID_PARAMETERS' } };
    req.verified = true;
    const answer = pick(script, req, requests.filter((r) => r.verified).length - 1);
    if (answer !== 'hang' && (answer.body as { Code?: string } | undefined)?.Code === 'OK') sent.push(req);
    return answer;
  });
  return { ...server, requests, sent: () => sent };
}

/**
 * The documented recipe: application/x-www-form-urlencoded encoding (as Java's
 * URLEncoder), then `+` → `%20`, `*` → `%2A`, `%7E` → `~`.
 */
function percentEncode(s: string): string {
  return new URLSearchParams({ v: s }).toString().slice(2).replace(/\+/g, '%20').replace(/\*/g, '%2A').replace(/%7E/g, '~');
}
