/**
 * MQTT over TLS (SPEC §2): a hub given a certificate signed by a private CA
 * (made here by the openssl CLI) serves devices that trust that CA, through
 * the same sign-in and limits as over TCP; a client that does not trust it
 * refuses the hub itself; a renewed certificate is served without a restart,
 * and a bad one is logged while the one in use is kept. This hub runs with
 * `mqttPort: 'off'`: TLS only.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../server/config.js';
import { buildHub, type Hub } from '../../../server/hub.js';
import { ADMIN_PASSWORD, connectClient, exampleDocument, login, publishAcked, secretOf, type ImportAnswer } from '../../helpers/hub.js';
import { createTestCa, issueServerCert, type TestCa } from '../../helpers/tlsCerts.js';

const T = 'anxin/v1/homes/wh-0001/devices';
const dir = mkdtempSync(join(tmpdir(), 'anxin-tls-'));
const served = { cert: join(dir, 'served.pem'), key: join(dir, 'served.key') };
const logs: Array<Record<string, unknown>> = [];
const rawLog: string[] = [];
let cityCa: TestCa;
let strangerCa: TestCa;
let hub: Hub;
let answer: ImportAnswer;
let url: string;

beforeAll(async () => {
  cityCa = createTestCa(dir, 'city-ca');
  strangerCa = createTestCa(dir, 'stranger-ca');
  const first = issueServerCert(cityCa, dir, 'first', { cn: 'anxin-hub' });
  copyFileSync(first.cert, served.cert);
  copyFileSync(first.key, served.key);
  const config = loadConfig({}, {
    httpPort: 0, mqttPort: 'off', mqttsPort: 0, host: '127.0.0.1', dataDir: join(dir, 'data'), adminPassword: ADMIN_PASSWORD,
    tlsCert: served.cert, tlsKey: served.key, tlsReloadSeconds: 1,
  });
  const log = pino({ level: 'info' }, { write: (line: string) => { rawLog.push(line); logs.push(JSON.parse(line) as Record<string, unknown>); } });
  hub = await buildHub(config, { log });
  url = `mqtts://localhost:${hub.mqttsPort}`;
  const token = await login(hub, 'admin', ADMIN_PASSWORD);
  const res = await hub.http.inject({ method: 'POST', url: '/api/v1/import', headers: { authorization: `Bearer ${token}` }, payload: exampleDocument() });
  answer = res.json() as ImportAnswer;
});

afterAll(async () => {
  await hub?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const trusting = () => ({ ca: readFileSync(cityCa.cert) });
const stored = (id: string) => hub.ctx.db.prepare('SELECT device_id, type FROM readings WHERE reading_id = ?').get(id);

async function waitForLog(msg: string, from = 0, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const entry = logs.slice(from).find((l) => l.msg === msg);
    if (entry) return entry;
    if (Date.now() > until) throw new Error(`no log "${msg}" in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The common name of the certificate the hub serves to a new connection. */
function servedCommonName(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: hub.mqttsPort!, ca: readFileSync(cityCa.cert) }, () => {
      const cn = socket.getPeerCertificate().subject.CN;
      socket.end();
      resolve(Array.isArray(cn) ? cn.join(',') : cn ?? '');
    });
    socket.once('error', reject);
  });
}

async function refusal(username: string, password: string, extra = {}): Promise<number | string> {
  try {
    const client = await connectClient(url, username, password, { connectTimeout: 3000, ...extra });
    await client.endAsync();
    return 'connected';
  } catch (err) {
    return (err as { code?: number | string }).code ?? (err as Error).message;
  }
}

describe('MQTT over TLS', () => {
  it('listens on TLS only, and says so with the certificate it serves', async () => {
    expect(hub.mqttPort).toBeNull();
    expect(hub.mqttsPort).toBeGreaterThan(0);
    expect(await waitForLog('TLS certificate loaded')).toMatchObject({ port: hub.mqttsPort, subject: 'CN=anxin-hub', issuer: 'CN=Anxin city-ca', validTo: expect.stringMatching(/^\d{4}-/) });
  });

  it('acknowledges and stores the reading of a device that trusts the city CA', async () => {
    const device = await connectClient(url, 'bp-0001', secretOf(answer, 'bp-0001'), trusting());
    try {
      const id = `bp-tls-${Date.now()}`;
      await publishAcked(device, `${T}/bp-0001/telemetry`, { type: 'blood_pressure', id, ts: Date.now(), systolic: 128, diastolic: 82, unit: 'mmHg' });
      expect(stored(id)).toEqual({ device_id: 'bp-0001', type: 'blood_pressure' });
    } finally {
      await device.endAsync();
    }
    // The connection limiter and lock-out key on this address: the TLS peer's, not "unknown".
    expect(logs.find((l) => l.msg === 'mqtt client connected' && l.clientId === 'bp-0001')).toMatchObject({ address: '127.0.0.1' });
  });

  it('is refused by a client that does not trust the city CA, before any secret is sent', async () => {
    expect(await refusal('bp-0001', secretOf(answer, 'bp-0001'))).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await refusal('bp-0001', secretOf(answer, 'bp-0001'), { ca: readFileSync(strangerCa.cert) })).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('refuses a wrong secret with CONNACK 4, and locks it out at this address as over TCP', async () => {
    const tries = [];
    for (let i = 0; i < 11; i++) tries.push(await refusal('glu-0001', 'stale-secret', trusting()));
    expect(tries).toEqual([...Array<number>(10).fill(4), 5]);
    expect(logs.find((l) => l.msg === 'mqtt sign-in refused' && l.username === 'glu-0001')).toMatchObject({ address: '127.0.0.1', reason: 'wrong_secret' });
  });

  it('keeps serving its certificate when a renewal does not load, and serves the renewed one without a restart', async () => {
    const renewed = issueServerCert(cityCa, dir, 'renewed', { cn: 'anxin-hub-renewed', days: 10 });
    // The new certificate is written, its key not yet: they do not belong together.
    let from = logs.length;
    copyFileSync(renewed.cert, served.cert);
    expect(await waitForLog('TLS certificate reload failed; the certificate in use is kept', from)).toMatchObject({
      level: 50, err: expect.stringContaining('does not match the certificate'),
    });
    expect(await servedCommonName()).toBe('anxin-hub');

    from = logs.length;
    copyFileSync(renewed.key, served.key);
    expect(await waitForLog('TLS certificate reloaded', from)).toMatchObject({ subject: 'CN=anxin-hub-renewed' });
    expect(await waitForLog('TLS certificate expires within 14 days; renew ANXIN_TLS_CERT', from)).toMatchObject({ level: 40, daysLeft: 9 });
    expect(await servedCommonName()).toBe('anxin-hub-renewed');
    // Prometheus sees the renewed certificate's expiry (10 days from now), for an alert well before it.
    const scraped = (await hub.http.inject({ url: '/metrics' })).body;
    const expiry = Number(/^anxin_tls_certificate_expiry_timestamp_seconds (\S+)$/m.exec(scraped)?.[1]);
    expect(Math.round((expiry * 1000 - Date.now()) / 86_400_000)).toBe(10);

    const device = await connectClient(url, 'fall-0001', secretOf(answer, 'fall-0001'), trusting());
    try {
      const id = `fall-tls-${Date.now()}`;
      await publishAcked(device, `${T}/fall-0001/telemetry`, { type: 'fall', id, ts: Date.now() });
      expect(stored(id)).toEqual({ device_id: 'fall-0001', type: 'fall' });
    } finally {
      await device.endAsync();
    }
    // Nothing of a key ever reaches the log.
    expect(rawLog.join('')).not.toMatch(/PRIVATE KEY/);
  });
});
