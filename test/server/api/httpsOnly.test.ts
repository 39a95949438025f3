/**
 * The plain HTTP port while the hub serves HTTPS itself (server/api/httpsOnly.ts,
 * README "HTTPS and reverse proxies"). Before, it served everything: a browser
 * at http://hub:8080/ got the dashboard, signed in with the password in clear
 * and was given a session cookie without `Secure`. Now pages get 308 to the
 * same host name on the HTTPS port, the API and the live stream are refused
 * (403 https_required) with no session created, a Host that is not a host
 * name gets 400, and probes, the scrape and devices on ws://…/mqtt still work
 * in clear. `ANXIN_HTTP_REDIRECT=off` serves as before; with
 * `ANXIN_TRUST_PROXY` the proxy's X-Forwarded-Proto decides. Real hubs,
 * sockets on loopback and a private CA made by the openssl CLI.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig, type HubConfig } from '../../../server/config.js';
import { buildHub, type Hub } from '../../../server/hub.js';
import { ADMIN_PASSWORD, connectClient, exampleDocument, publishAcked, secretOf, type ImportAnswer } from '../../helpers/hub.js';
import { createTestCa, issueServerCert } from '../../helpers/tlsCerts.js';
import { cookieOf, webRequest } from '../../helpers/webClient.js';

const dir = mkdtempSync(join(tmpdir(), 'anxin-https-only-'));
let caPem: Buffer;
/** HTTPS and plain HTTP, the defaults otherwise. */
let hub: Hub;
/** The same with `ANXIN_HTTP_REDIRECT=off`. */
let optedOut: Hub;
/** The same with `ANXIN_TRUST_PROXY=127.0.0.1` (nginx on the hub's host). */
let proxied: Hub;
let answer: ImportAnswer;

async function start(name: string, env: Record<string, string> = {}): Promise<Hub> {
  const cert = issueServerCert({ cert: join(dir, 'ca.pem'), key: join(dir, 'ca.key') }, dir, name);
  const overrides: Partial<HubConfig> = {
    httpPort: 0, mqttPort: 'off', mqttsPort: 0, host: '127.0.0.1', dataDir: join(dir, name), adminPassword: ADMIN_PASSWORD,
    tlsCert: cert.cert, tlsKey: cert.key, logLevel: 'silent',
  };
  return buildHub(loadConfig(env, overrides));
}

beforeAll(async () => {
  caPem = readFileSync(createTestCa(dir, 'ca').cert);
  [hub, optedOut, proxied] = await Promise.all([start('default'), start('opted-out', { ANXIN_HTTP_REDIRECT: 'off' }), start('proxied', { ANXIN_TRUST_PROXY: '127.0.0.1' })]);
  const token = (JSON.parse((await signIn(`https://localhost:${hub.httpsPort}`)).body) as { token: string }).token;
  const res = await webRequest(`https://localhost:${hub.httpsPort}/api/v1/import`, { json: exampleDocument(), headers: { authorization: `Bearer ${token}` }, ca: caPem });
  answer = JSON.parse(res.body) as ImportAnswer;
});

afterAll(async () => {
  await Promise.all([hub?.stop(), optedOut?.stop(), proxied?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

/** Plain HTTP to loopback, asking for the hub as `localhost` (the name its certificate has) unless told otherwise. */
const plain = (h: Hub, path: string, opts: Parameters<typeof webRequest>[1] = {}) =>
  webRequest(`http://127.0.0.1:${h.httpPort}${path}`, { ...opts, headers: { host: `localhost:${h.httpPort}`, ...opts.headers } });
const signIn = (base: string, headers: Record<string, string> = {}) =>
  webRequest(`${base}/api/v1/auth/login`, { json: { username: 'admin', password: ADMIN_PASSWORD }, headers, ca: caPem });
const sessions = (h: Hub) => h.ctx.db.prepare('SELECT count(*) FROM sessions').pluck().get() as number;

/** A request written by hand, for Host headers and request targets an HTTP client would not send. */
function rawRequest(port: number, head: string): Promise<{ status: number; headers: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`${head}\r\nConnection: close\r\n\r\n`));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.on('end', () => {
      const [headers = ''] = text.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(headers)?.[1] ?? 0), headers: headers.toLowerCase() });
    });
    socket.on('error', reject);
  });
}

/** Opens the live stream; rejects with the HTTP status when the upgrade is refused. */
function openStream(url: string, headers: Record<string, string>): Promise<WebSocket> {
  const socket = new WebSocket(url, { headers, ca: caPem });
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`stream refused: HTTP ${res.statusCode}`)));
  });
}

describe('plain HTTP beside the hub\'s own HTTPS (the default)', () => {
  it('sends a browser asking for a page to the same host name on the https port, which serves the dashboard', async () => {
    const https = `https://localhost:${hub.httpsPort}`;
    const page = await plain(hub, '/', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(308);
    expect(page.headers.location).toBe(`${https}/`);
    // Asked again each time, so HTTPS turned off later does not leave browsers bouncing to a dead port.
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers).not.toHaveProperty('set-cookie');
    expect(page.headers).not.toHaveProperty('strict-transport-security');
    expect((await plain(hub, '/doctor?tab=queue&x=%E5%AE%89')).headers.location).toBe(`${https}/doctor?tab=queue&x=%E5%AE%89`);
    expect(await plain(hub, '/', { method: 'HEAD' })).toMatchObject({ status: 308, headers: { location: `${https}/` } });
    // The host name as asked for, whatever it is; the port is the HTTPS one.
    expect((await plain(hub, '/', { headers: { host: `127.0.0.1:${hub.httpPort}` } })).headers.location).toBe(`https://127.0.0.1:${hub.httpsPort}/`);
    expect((await plain(hub, '/', { headers: { host: 'Anxin.Example.CN' } })).headers.location).toBe(`https://anxin.example.cn:${hub.httpsPort}/`);
    expect((await plain(hub, '/', { headers: { host: `[::1]:${hub.httpPort}` } })).headers.location).toBe(`https://[::1]:${hub.httpsPort}/`);

    const followed = await webRequest(page.headers.location!, { headers: { accept: 'text/html' }, ca: caPem });
    expect(followed.status).toBe(200);
    expect(followed.headers['content-type']).toMatch(/^text\/html/);
    expect(followed.body).toMatch(/<html/i);
    expect(followed.headers['strict-transport-security']).toBe('max-age=86400');
  });

  it('refuses sign-in in clear: 403 https_required naming the https address, no cookie, no session', async () => {
    const before = sessions(hub);
    const res = await signIn(`http://127.0.0.1:${hub.httpPort}`, { host: `localhost:${hub.httpPort}` });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toEqual({
      error: 'https_required',
      message: `this hub takes the API and its live stream only over https: use https://localhost:${hub.httpsPort}/api/v1/auth/login`,
    });
    expect(res.headers).not.toHaveProperty('set-cookie');
    expect(res.headers).not.toHaveProperty('location');
    expect(sessions(hub)).toBe(before);
  });

  it('refuses the rest of the API and the live stream in clear, even with a session from https', async () => {
    const { token } = JSON.parse((await signIn(`https://localhost:${hub.httpsPort}`)).body) as { token: string };
    for (const path of ['/api/v1/auth/me', '/api/v1/residents', '/api/v1/no-such-route']) {
      const res = await plain(hub, path, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status, path).toBe(403);
      expect(JSON.parse(res.body), path).toMatchObject({ error: 'https_required' });
    }
    // Not a page either: a form posted to / is refused, not redirected.
    expect((await plain(hub, '/', { method: 'POST', json: {} })).status).toBe(403);
    await expect(openStream(`ws://127.0.0.1:${hub.httpPort}/api/v1/stream`, { authorization: `Bearer ${token}` })).rejects.toThrow('HTTP 403');
    const stream = await openStream(`wss://localhost:${hub.httpsPort}/api/v1/stream`, { authorization: `Bearer ${token}` });
    stream.close();
  });

  it('keeps the probes, the Prometheus scrape and devices on ws://…/mqtt in clear, where a page is redirected', async () => {
    expect((await plain(hub, '/')).status).toBe(308);
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await plain(hub, path)).status, path).toBe(200);
    expect((await plain(hub, '/metrics')).body).toContain('anxin_');
    const device = await connectClient(`ws://127.0.0.1:${hub.httpPort}/mqtt`, 'bp-0001', secretOf(answer, 'bp-0001'));
    const id = `bp-plain-ws-${Date.now()}`;
    try {
      await publishAcked(device, 'anxin/v1/homes/wh-0001/devices/bp-0001/telemetry', { type: 'blood_pressure', id, ts: Date.now(), systolic: 128, diastolic: 82, unit: 'mmHg' });
    } finally {
      await device.endAsync();
    }
    expect(hub.ctx.db.prepare('SELECT device_id FROM readings WHERE reading_id = ?').pluck().get(id)).toBe('bp-0001');
  });

  it.each([
    ['a path after the name', 'evil.example/x'],
    ['credentials before the name', 'admin@evil.example'],
    ['two ports', 'evil.example:80:80'],
    ['a port out of range', 'evil.example:99999'],
    ['a space', 'evil example'],
    ['a bracketed non-address', '[evil.example]:80'],
    ['an empty label', 'evil..example'],
    ['nothing', ''],
  ])('answers a Host with %s with 400 invalid_host, never a redirect', async (_, host) => {
    const res = await rawRequest(hub.httpPort, `GET / HTTP/1.1\r\nHost: ${host}`);
    expect(res.status).toBe(400);
    expect(res.headers).not.toContain('location:');
  });

  it('redirects only to the host asked for, whatever the path or request target', async () => {
    // HTTP/1.0 may omit Host: there is no name to send the browser to.
    expect((await rawRequest(hub.httpPort, 'GET / HTTP/1.0')).status).toBe(400);
    const doubleSlash = await plain(hub, '//evil.example/x');
    expect(doubleSlash.status).toBe(308);
    expect(new URL(doubleSlash.headers.location!).host).toBe(`localhost:${hub.httpsPort}`);
    // Absolute form (RFC 9112 §3.2.2): not redirected, so its authority never reaches Location.
    const absolute = await rawRequest(hub.httpPort, `GET http://evil.example/ HTTP/1.1\r\nHost: localhost:${hub.httpPort}`);
    expect(absolute.status).toBeGreaterThanOrEqual(400);
    expect(absolute.headers).not.toContain('evil.example');
  });

  it('leaves in-process requests alone (app.inject: the CLI, tests), where the plain port refuses the same', async () => {
    expect((await signIn(`http://127.0.0.1:${hub.httpPort}`)).status).toBe(403);
    const res = await hub.http.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: ADMIN_PASSWORD } });
    expect(res.statusCode).toBe(200);
  });
});

describe('ANXIN_HTTP_REDIRECT=off', () => {
  it('serves pages and the API on plain HTTP as without a certificate', async () => {
    expect(optedOut.ctx.config.httpRedirect).toBe('off');
    const page = await plain(optedOut, '/', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const res = await signIn(`http://127.0.0.1:${optedOut.httpPort}`);
    expect(res.status).toBe(200);
    expect(cookieOf(res, 'anxin_session')?.attributes).not.toContain('secure');
  });
});

describe('with ANXIN_TRUST_PROXY: the proxy decides the scheme', () => {
  const base = () => `http://127.0.0.1:${proxied.httpPort}`;

  it('serves the API to what the proxy says came over https; refuses it to what came over plain http (or it does not say), with no session', async () => {
    const res = await signIn(base(), { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' });
    expect(res.status).toBe(200);
    expect(cookieOf(res, 'anxin_session')?.attributes).toContain('secure');

    const before = sessions(proxied);
    for (const headers of [{ 'x-forwarded-proto': 'http' }, {}] as Array<Record<string, string>>) {
      const res = await signIn(base(), headers);
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({ error: 'https_required', message: expect.stringContaining('X-Forwarded-Proto is not https') });
    }
    expect(sessions(proxied)).toBe(before);
  });

  it('serves pages without redirecting (the hub does not know the proxy\'s https address), though not the API, and the probes', async () => {
    expect((await webRequest(`${base()}/api/v1/auth/me`, { headers: { 'x-forwarded-proto': 'http' } })).status).toBe(403);
    const page = await webRequest(`${base()}/`, { headers: { 'x-forwarded-proto': 'http', accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers).not.toHaveProperty('location');
    expect((await webRequest(`${base()}/readyz`)).status).toBe(200);
  });
});
