/**
 * Behind a TLS-terminating reverse proxy (README "Behind a reverse proxy"):
 * with `ANXIN_TRUST_PROXY` naming the proxy, its X-Forwarded-For is the
 * client's address for the failed-sign-in limiter and the logs, and its
 * X-Forwarded-Proto: https gets the session cookie Secure. Before, every
 * operator behind nginx shared its address, so ten failures by anyone locked
 * out the whole call center. Without the setting the same headers are
 * ignored: a client must not pick the address it is counted by. Real hubs and
 * HTTP on loopback (the proxy's address here).
 */
import { rmSync } from 'node:fs';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { buildHub, type Hub } from '../../server/hub.js';
import { ADMIN_PASSWORD, startTestHub, tempDataDir, type TestHub } from '../helpers/hub.js';
import { cookieOf, webRequest } from '../helpers/webClient.js';

const logs: Array<Record<string, unknown>> = [];
let behindProxy: { hub: Hub; dataDir: string };
let direct: TestHub;

beforeAll(async () => {
  const dataDir = tempDataDir();
  const log = pino({ level: 'info' }, { write: (line: string) => { logs.push(JSON.parse(line) as Record<string, unknown>); } });
  behindProxy = {
    dataDir,
    hub: await buildHub(loadConfig({ ANXIN_TRUST_PROXY: '127.0.0.1' }, { httpPort: 0, mqttPort: 0, host: '127.0.0.1', dataDir, adminPassword: ADMIN_PASSWORD }), { log }),
  };
  direct = await startTestHub();
});

afterAll(async () => {
  await Promise.all([behindProxy?.hub.stop(), direct?.destroy()]);
  rmSync(behindProxy.dataDir, { recursive: true, force: true });
});

/** A sign-in as nginx forwards it: from loopback, with the client's address and scheme in headers. */
function forwarded(port: number, from: string, username: string, password: string) {
  return webRequest(`http://127.0.0.1:${port}/api/v1/auth/login`, {
    json: { username, password }, headers: { 'x-forwarded-for': from, 'x-forwarded-proto': 'https' },
  });
}

/** Ten failed sign-ins from `from`, each for another name (so only the address's limit applies), then the answers to `admin` from `from` and `other`. */
async function tenFailuresThenAdmin(port: number, from: string, other: string) {
  const failures: number[] = [];
  for (let i = 0; i < 10; i++) failures.push((await forwarded(port, from, `nobody-${from}-${i}`, 'guess')).status);
  return {
    failures,
    sameAddress: (await forwarded(port, from, 'admin', ADMIN_PASSWORD)).status,
    otherAddress: (await forwarded(port, other, 'admin', ADMIN_PASSWORD)).status,
  };
}

describe('ANXIN_TRUST_PROXY=127.0.0.1 (nginx on the hub\'s host)', () => {
  it('believes the proxy that the request came over https: the session cookie is Secure', async () => {
    const res = await forwarded(behindProxy.hub.httpPort, '203.0.113.7', 'admin', ADMIN_PASSWORD);
    expect(res.status).toBe(200);
    expect(cookieOf(res, 'anxin_session')?.attributes).toEqual(expect.arrayContaining(['path=/', 'httponly', 'samesite=strict', 'secure']));
    // HSTS is the proxy's to send (RFC 6797: only the TLS side may); the hub sends it on its own TLS port only.
    expect(res.headers).not.toHaveProperty('strict-transport-security');
  });

  it('counts failed sign-ins by the forwarded address: ten from one client do not lock out another', async () => {
    expect(await tenFailuresThenAdmin(behindProxy.hub.httpPort, '203.0.113.7', '203.0.113.8')).toEqual({ failures: Array(10).fill(401), sameAddress: 429, otherAddress: 200 });
    // The logs name the client, not the proxy.
    expect(logs.find((l) => l.msg === 'sign-in failed')).toMatchObject({ address: '203.0.113.7' });
    expect(logs.find((l) => l.msg === 'sign-in refused: too many failed sign-ins')).toMatchObject({ address: '203.0.113.7', scope: 'address' });
    const requests = logs.filter((l) => l.msg === 'incoming request').map((l) => (l.req as { remoteAddress: string }).remoteAddress);
    expect(new Set(requests)).toEqual(new Set(['203.0.113.7', '203.0.113.8']));
  });
});

/** An MQTT-over-WebSocket sign-in (a device on wss://…/mqtt) as nginx forwards it, with a secret that is wrong. */
async function mqttOverWsFrom(port: number, from: string): Promise<void> {
  const c = mqtt.connect(`ws://127.0.0.1:${port}/mqtt`, {
    username: 'no-such-device', password: 'wrong', reconnectPeriod: 0, connectTimeout: 5000, wsOptions: { headers: { 'x-forwarded-for': from } },
  });
  await new Promise<void>((resolve) => {
    c.once('error', () => resolve());
    c.once('close', () => resolve());
  });
  c.end(true);
}

describe('MQTT over WebSocket behind the proxy', () => {
  it('signs in, limits and logs a device by its forwarded address, not the proxy\'s', async () => {
    await mqttOverWsFrom(behindProxy.hub.httpPort, '203.0.113.9');
    const refused = logs.find((l) => l.msg === 'mqtt sign-in refused' && l.username === 'no-such-device');
    expect(refused?.address).toBe('203.0.113.9');
  });
});

describe('without ANXIN_TRUST_PROXY (the default)', () => {
  it('ignores X-Forwarded-Proto: the cookie of a request over plain http is not Secure', async () => {
    const res = await forwarded(direct.hub.httpPort, '203.0.113.7', 'admin', ADMIN_PASSWORD);
    expect(res.status).toBe(200);
    expect(cookieOf(res, 'anxin_session')?.attributes).not.toContain('secure');
  });

  it('ignores X-Forwarded-For: failures are counted by the peer, whatever address it claims', async () => {
    expect(await tenFailuresThenAdmin(direct.hub.httpPort, '203.0.113.7', '203.0.113.8')).toEqual({ failures: Array(10).fill(401), sameAddress: 429, otherAddress: 429 });
  });
});

describe('configuration of ANXIN_TRUST_PROXY', () => {
  it('is unset by default, and reads addresses, CIDRs and range names', () => {
    expect(loadConfig({})).not.toHaveProperty('trustProxy');
    expect(loadConfig({ ANXIN_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1,fd00::/8,loopback' }).trustProxy).toBe('127.0.0.1, 10.0.0.0/8,::1,fd00::/8,loopback');
  });

  it.each(['true', '*', '1', '10.0.0.0/33', 'nginx.local', '127.0.0.1,'])('refuses %j, naming the variable', (value) => {
    expect(() => loadConfig({ ANXIN_TRUST_PROXY: value })).toThrow(/^invalid configuration: ANXIN_TRUST_PROXY .*: each entry must be an address, a CIDR/);
  });
});
