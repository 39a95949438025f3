/**
 * HTTPS served by the hub (README "HTTPS and reverse proxies"): with a
 * certificate (a private CA made here by the openssl CLI, as for MQTT over
 * TLS) the same app answers on ANXIN_HTTPS_PORT: sign-in gives a Secure
 * cookie there and is refused on plain HTTP (more in api/httpsOnly.test.ts),
 * HSTS is sent on HTTPS only, the live stream and MQTT over WebSocket work as
 * wss, a renewed certificate is served without a restart, and
 * `ANXIN_HTTP_PORT=off` serves HTTPS alone but is refused at start without a
 * certificate. Real hubs, sockets and processes.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConfigError, httpsPortOf, loadConfig } from '../../server/config.js';
import { buildHub, type Hub } from '../../server/hub.js';
import { ADMIN_PASSWORD, connectClient, exampleDocument, publishAcked, secretOf, type ImportAnswer } from '../helpers/hub.js';
import { createTestCa, issueServerCert, type TestCa } from '../helpers/tlsCerts.js';
import { cookieOf, webRequest } from '../helpers/webClient.js';

const dir = mkdtempSync(join(tmpdir(), 'anxin-https-'));
const served = { cert: join(dir, 'served.pem'), key: join(dir, 'served.key') };
const logs: Array<Record<string, unknown>> = [];
const rawLog: string[] = [];
let ca: TestCa;
let caPem: Buffer;
/** Plain HTTP and HTTPS. */
let hub: Hub;
/** HTTPS only (`ANXIN_HTTP_PORT=off`). */
let httpsOnly: Hub;
let answer: ImportAnswer;

const https = (h: Hub = hub) => `https://localhost:${h.httpsPort}`;
const http = () => `http://127.0.0.1:${hub.httpPort}`;
const signIn = (base: string, headers: Record<string, string> = {}, username = 'admin', password = ADMIN_PASSWORD) =>
  webRequest(`${base}/api/v1/auth/login`, { json: { username, password }, headers, ca: caPem });

beforeAll(async () => {
  ca = createTestCa(dir, 'city-ca');
  caPem = readFileSync(ca.cert);
  const first = issueServerCert(ca, dir, 'first', { cn: 'anxin-hub' });
  copyFileSync(first.cert, served.cert);
  copyFileSync(first.key, served.key);
  const log = pino({ level: 'info' }, { write: (line: string) => { rawLog.push(line); logs.push(JSON.parse(line) as Record<string, unknown>); } });
  hub = await buildHub(loadConfig({}, {
    httpPort: 0, httpsPort: 0, mqttPort: 'off', mqttsPort: 0, host: '127.0.0.1', dataDir: join(dir, 'data'), adminPassword: ADMIN_PASSWORD,
    tlsCert: served.cert, tlsKey: served.key, tlsReloadSeconds: 1,
  }), { log });
  const { token } = JSON.parse((await signIn(https())).body) as { token: string };
  const doc = exampleDocument();
  doc.users.push({ username: 'op-1', role: 'operator', name: '坐席 1' });
  const res = await webRequest(`${https()}/api/v1/import`, { json: doc, headers: { authorization: `Bearer ${token}` }, ca: caPem });
  answer = JSON.parse(res.body) as ImportAnswer;
  const other = issueServerCert(ca, dir, 'other');
  httpsOnly = await buildHub(loadConfig({}, {
    httpPort: 'off', httpsPort: 0, mqttPort: 'off', mqttsPort: 0, host: '127.0.0.1', dataDir: join(dir, 'data-https-only'), adminPassword: ADMIN_PASSWORD,
    tlsCert: other.cert, tlsKey: other.key, logLevel: 'silent',
  }));
});

afterAll(async () => {
  await Promise.all([hub?.stop(), httpsOnly?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

async function waitForLog(pred: (l: Record<string, unknown>) => boolean, from = 0, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const entry = logs.slice(from).find(pred);
    if (entry) return entry;
    if (Date.now() > until) throw new Error(`no such log line in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Opens the live stream; resolves with its socket and the messages it received. */
function openStream(url: string, headers: Record<string, string>): Promise<{ socket: WebSocket; messages: Array<Record<string, unknown>> }> {
  const socket = new WebSocket(url, { headers, ca: caPem });
  const messages: Array<Record<string, unknown>> = [];
  socket.on('message', (raw: WebSocket.RawData) => messages.push(JSON.parse(raw.toString()) as Record<string, unknown>));
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, messages }));
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`stream refused: HTTP ${res.statusCode}`)));
  });
}

async function until<T>(get: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The common name of the certificate the HTTPS port serves to a new connection. */
function servedCommonName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: caPem }, () => {
      const cn = socket.getPeerCertificate().subject.CN;
      socket.end();
      resolve(Array.isArray(cn) ? cn.join(',') : cn ?? '');
    });
    socket.once('error', reject);
  });
}

describe('HTTPS', () => {
  it('listens beside plain HTTP, and logs its address with the certificate, never a key', async () => {
    expect(hub.httpPort).toBeGreaterThan(0);
    expect(hub.httpsPort).toBeGreaterThan(0);
    expect(await waitForLog((l) => l.msg === 'TLS certificate loaded' && l.listener === 'https')).toMatchObject({
      port: hub.httpsPort, subject: 'CN=anxin-hub', issuer: 'CN=Anxin city-ca', validTo: expect.stringMatching(/^\d{4}-/),
    });
    expect(logs.find((l) => l.msg === 'hub ready')).toMatchObject({ httpPort: hub.httpPort, httpsPort: hub.httpsPort });
    expect(rawLog.join('')).not.toMatch(/PRIVATE KEY/);
  });

  it('signs in over https with a Secure session cookie, and never over plain http', async () => {
    const overTls = await signIn(https());
    expect(overTls.status).toBe(200);
    expect(cookieOf(overTls, 'anxin_session')?.attributes).toEqual(expect.arrayContaining(['path=/', 'httponly', 'samesite=strict', 'secure']));
    // A client cannot talk the hub out of it: X-Forwarded-Proto from an untrusted peer is ignored.
    expect(cookieOf(await signIn(https(), { 'x-forwarded-proto': 'http' }), 'anxin_session')?.attributes).toContain('secure');

    // With HTTPS served, the plain port takes no password (server/api/httpsOnly.ts).
    const plain = await signIn(http());
    expect(plain.status).toBe(403);
    expect(cookieOf(plain, 'anxin_session')).toBeNull();
  });

  it('signs out over https with a clearing cookie of the same attributes, Secure included', async () => {
    const session = cookieOf(await signIn(https()), 'anxin_session')!.value;
    const out = await webRequest(`${https()}/api/v1/auth/logout`, { method: 'POST', headers: { cookie: `anxin_session=${session}` }, ca: caPem });
    expect(out.status).toBe(200);
    const cleared = cookieOf(out, 'anxin_session')!;
    expect(cleared.value).toBe('');
    expect(cleared.attributes).toEqual(expect.arrayContaining(['path=/', 'httponly', 'samesite=strict', 'secure', 'max-age=0']));
    expect((await webRequest(`${https()}/api/v1/auth/me`, { headers: { cookie: `anxin_session=${session}` }, ca: caPem })).status).toBe(401);
  });

  it('sends Strict-Transport-Security on https only, on every answer', async () => {
    for (const path of ['/readyz', '/api/v1/auth/me', '/no-such-page']) {
      expect((await webRequest(`${https()}${path}`, { ca: caPem })).headers['strict-transport-security']).toBe('max-age=86400');
      expect((await webRequest(`${http()}${path}`)).headers).not.toHaveProperty('strict-transport-security');
    }
  });

  it('serves the live stream over wss to the session cookie, with a reading a device sent over MQTT over wss', async () => {
    const operator = answer.users.find((u) => u.username === 'op-1')!;
    const session = cookieOf(await signIn(https(), {}, operator.username, operator.password), 'anxin_session')!.value;
    // Hooks run on the upgrade as on plain HTTP: no session, no stream.
    await expect(openStream(`wss://localhost:${hub.httpsPort}/api/v1/stream`, {})).rejects.toThrow('HTTP 401');
    const stream = await openStream(`wss://localhost:${hub.httpsPort}/api/v1/stream`, { cookie: `anxin_session=${session}` });
    try {
      expect(await until(() => stream.messages.find((m) => m.type === 'hello'), 'hello')).toMatchObject({ user: { username: 'op-1', role: 'operator' } });
      const device = await connectClient(`wss://localhost:${hub.httpsPort}/mqtt`, 'bp-0001', secretOf(answer, 'bp-0001'), { ca: caPem });
      const id = `bp-wss-${Date.now()}`;
      try {
        await publishAcked(device, 'anxin/v1/homes/wh-0001/devices/bp-0001/telemetry', { type: 'blood_pressure', id, ts: Date.now(), systolic: 131, diastolic: 84, unit: 'mmHg' });
      } finally {
        await device.endAsync();
      }
      // Acknowledged only once stored (README "Devices and gateways").
      expect(hub.ctx.db.prepare('SELECT device_id, type FROM readings WHERE reading_id = ?').get(id)).toEqual({ device_id: 'bp-0001', type: 'blood_pressure' });
      const event = await until(() => stream.messages.find((m) => m.type === 'reading' && (m.data as { id?: string }).id === id), 'the reading on the stream');
      expect(event.data).toMatchObject({ deviceId: 'bp-0001', homeId: 'wh-0001', values: { systolic: 131, diastolic: 84 } });
    } finally {
      stream.socket.close();
    }
  });

  it('serves a renewed certificate without a restart', async () => {
    expect(await servedCommonName(hub.httpsPort!)).toBe('anxin-hub');
    const renewed = issueServerCert(ca, dir, 'renewed', { cn: 'anxin-hub-renewed' });
    const from = logs.length;
    copyFileSync(renewed.key, served.key);
    copyFileSync(renewed.cert, served.cert);
    expect(await waitForLog((l) => l.msg === 'TLS certificate reloaded' && l.listener === 'https', from)).toMatchObject({ subject: 'CN=anxin-hub-renewed' });
    expect(await servedCommonName(hub.httpsPort!)).toBe('anxin-hub-renewed');
    expect((await signIn(https())).status).toBe(200);
  });
});

describe('HTTPS only (ANXIN_HTTP_PORT=off)', () => {
  it('serves the API and the live stream on HTTPS, and nothing in clear', async () => {
    expect(httpsOnly.httpPort).toBe(0);
    expect(httpsOnly.http.server.listening).toBe(false);
    expect((await webRequest(`${https(httpsOnly)}/readyz`, { ca: caPem })).status).toBe(200);
    const token = (JSON.parse((await signIn(https(httpsOnly))).body) as { token: string }).token;
    const stream = await openStream(`wss://localhost:${httpsOnly.httpsPort}/api/v1/stream`, { authorization: `Bearer ${token}` });
    try {
      expect(await until(() => stream.messages.find((m) => m.type === 'hello'), 'hello')).toMatchObject({ user: { username: 'admin' } });
    } finally {
      stream.socket.close();
    }
  });

  it('is refused at start without a certificate, in one line naming the variable (exit 2)', async () => {
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
        cwd: process.cwd(), timeout: 30_000,
        env: { ...process.env, ANXIN_HTTP_PORT: 'off', ANXIN_MQTT_PORT: '0', ANXIN_HOST: '127.0.0.1', ANXIN_DATA_DIR: join(dir, 'never'), ANXIN_TLS_CERT: '', ANXIN_TLS_KEY: '' },
      }, (err, _stdout, stderr) => resolve({ code: err ? Number(err.code ?? -1) : 0, stderr }));
    });
    expect(code).toBe(2);
    expect(stderr).toBe('invalid configuration: ANXIN_HTTP_PORT=off without ANXIN_TLS_CERT and ANXIN_TLS_KEY (HTTPS needs a certificate) leaves no listener for the API, dashboards and MQTT over WebSocket\n');
  });
});

describe('configuration of HTTPS', () => {
  const tls = { ANXIN_TLS_CERT: '/etc/anxin/tls/hub.pem', ANXIN_TLS_KEY: '/etc/anxin/tls/hub.key' };

  it('is 8443 with a certificate (any free port beside an HTTP port 0), and off without one', () => {
    expect(httpsPortOf(loadConfig(tls))).toBe(8443);
    expect(httpsPortOf(loadConfig({ ...tls, ANXIN_HTTP_PORT: '0' }))).toBe(0);
    expect(httpsPortOf(loadConfig({ ANXIN_HTTPS_PORT: '9443' }))).toBeNull();
    expect(httpsPortOf(loadConfig({ ...tls, ANXIN_HTTPS_PORT: 'off' }))).toBeNull();
  });

  it('reads ANXIN_HTTPS_PORT and ANXIN_HTTP_PORT=off', () => {
    expect(loadConfig({ ...tls, ANXIN_HTTPS_PORT: '9443', ANXIN_HTTP_PORT: 'off' })).toMatchObject({ httpsPort: 9443, httpPort: 'off' });
    expect(loadConfig({ ...tls, ANXIN_HTTPS_PORT: 'off' })).toMatchObject({ httpsPort: 'off', httpPort: 8080 });
  });

  it.each([
    ['HTTPS off and HTTP off', { ...tls, ANXIN_HTTPS_PORT: 'off', ANXIN_HTTP_PORT: 'off' }, 'ANXIN_HTTP_PORT=off with ANXIN_HTTPS_PORT=off leaves no listener'],
    ['HTTPS on the HTTP port', { ...tls, ANXIN_HTTPS_PORT: '8080' }, 'ANXIN_HTTPS_PORT 8080 must differ from ANXIN_HTTP_PORT, ANXIN_MQTT_PORT and ANXIN_MQTTS_PORT'],
    ['HTTPS on the default port of MQTT over TLS', { ...tls, ANXIN_HTTPS_PORT: '8883' }, 'ANXIN_HTTPS_PORT 8883 must differ'],
    ['a port that is neither a number nor off', { ANXIN_HTTPS_PORT: 'yes' }, 'ANXIN_HTTPS_PORT must be one of 0–65535, off'],
  ])('refuses %s, naming the variable', (_, env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
