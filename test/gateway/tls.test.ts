/**
 * The gateway's uplink over MQTT over TLS (`"hub": "mqtts://…"`, `tls.ca` for
 * a city's private CA): it delivers; with a CA that did not sign the hub's
 * certificate it says so in one line, keeps the reading in its outbox, and
 * delivers it once the CA file is right, without a restart. A real in-process
 * hub with a certificate made by the openssl CLI (TCP stays on beside TLS).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayConfigError, parseGatewayConfig } from '../../gateway/config.js';
import { buildGateway, type Gateway } from '../../gateway/gateway.js';
import { exampleDocument, secretOf, startTestHub, type TestHub } from '../helpers/hub.js';
import { createTestCa, issueServerCert, type TestCa } from '../helpers/tlsCerts.js';
import { LineClient, until } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'anxin-gwtls-'));
let cityCa: TestCa;
let strangerCa: TestCa;
let hub: TestHub;
let secret: string;
const running: Array<{ gateway: Gateway; lines: LineClient }> = [];

beforeAll(async () => {
  cityCa = createTestCa(dir, 'city-ca');
  strangerCa = createTestCa(dir, 'stranger-ca');
  const cert = issueServerCert(cityCa, dir, 'hub');
  hub = await startTestHub({ config: { mqttsPort: 0, tlsCert: cert.cert, tlsKey: cert.key } });
  secret = secretOf(await hub.importDoc(exampleDocument()), 'gw-0001');
});

afterAll(async () => {
  for (const { gateway, lines } of running) {
    lines.close();
    await gateway.stop();
  }
  await hub?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const hubUrl = () => `mqtts://localhost:${hub.hub.mqttsPort}`;
const stored = (id: string) => hub.hub.ctx.db.prepare('SELECT device_id FROM readings WHERE reading_id = ?').get(id);

async function startGateway(name: string, ca: string) {
  const logs: Array<Record<string, unknown>> = [];
  const gatewayDir = join(dir, name);
  const config = parseGatewayConfig({
    hub: hubUrl(), tls: { ca }, homeId: 'wh-0001', username: 'gw-0001', password: secret, dataDir: gatewayDir,
    input: { port: 0, stdin: false }, uplink: { reconnectMinMs: 50, reconnectMaxMs: 200 },
  });
  const gateway = buildGateway(config, { log: pino({ level: 'debug' }, { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) }), run: () => {} });
  await gateway.start();
  const lines = await LineClient.open(gateway.inputPort());
  running.push({ gateway, lines });
  return { gateway, lines, logs };
}

const bp = (id: string) => ({ device: 'bp-0001', id, type: 'blood_pressure', systolic: 131, diastolic: 84, unit: 'mmHg', ts: Date.now() });

describe('gateway uplink over TLS', () => {
  it('keeps the plain TCP listener beside TLS unless told otherwise', () => {
    expect(hub.hub.mqttPort).toBeGreaterThan(0);
    expect(hub.hub.mqttsPort).toBeGreaterThan(0);
  });

  it('delivers through mqtts:// with the city CA', async () => {
    const { gateway, lines } = await startGateway('trusting', cityCa.cert);
    const id = `bp-gwtls-${Date.now()}`;
    expect(await lines.send([bp(id)])).toEqual([{ ok: true, id }]);
    await until('the reading stored by the hub', () => stored(id));
    expect(gateway.uplink.connected).toBe(true);
    await until('the outbox emptied', () => gateway.ctx.outbox.depth === 0);
  });

  it('with a CA that did not sign the hub\'s certificate: says so, keeps the reading, delivers once the CA file is right', async () => {
    const caFile = join(dir, 'gateway-ca.pem');
    copyFileSync(strangerCa.cert, caFile);
    const { gateway, lines, logs } = await startGateway('stranger', caFile);
    const id = `bp-gwtls-late-${Date.now()}`;
    expect(await lines.send([bp(id)])).toEqual([{ ok: true, id }]);
    const untrusted = () => logs.filter((l) => String(l.msg).startsWith('the hub\'s TLS certificate is not trusted'));
    // Three attempts: one line at error level (the same failure again is at debug), the reading still waiting.
    await until('three refused attempts', () => untrusted().length >= 3);
    expect(untrusted()[0]).toMatchObject({ level: 50, code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', ca: caFile });
    expect(untrusted().filter((l) => l.level === 50)).toHaveLength(1);
    expect(gateway.uplink.stats.connects).toBe(0);
    expect(gateway.ctx.outbox.depth).toBe(1);
    expect(stored(id)).toBeUndefined();

    copyFileSync(cityCa.cert, caFile);
    await until('the reading stored by the hub', () => stored(id));
    await until('the outbox emptied', () => gateway.ctx.outbox.depth === 0);
    expect(logs.filter((l) => l.level === 50 && String(l.msg).includes('TLS'))).toHaveLength(1);
  });
});

describe('gateway config: tls', () => {
  const base = { hub: 'mqtts://hub.example:8883', homeId: 'wh-0001', username: 'gw-0001', password: 's3cret', dataDir: dir, input: { port: 0 } };

  it('reads tls.ca from the file or ANXIN_GATEWAY_TLS_CA', () => {
    expect(parseGatewayConfig({ ...base, tls: { ca: cityCa.cert } }).tls).toEqual({ ca: cityCa.cert });
    expect(parseGatewayConfig(base, { ANXIN_GATEWAY_TLS_CA: cityCa.cert }).tls).toEqual({ ca: cityCa.cert });
  });

  it.each([
    ['a CA for a hub that is not over TLS', { ...base, hub: 'mqtt://hub.example:1883', tls: { ca: join(dir, 'city-ca.pem') } }, {},
      '/tls/ca is set but hub mqtt://hub.example:1883 is not mqtts:// or wss://: the link would not be encrypted'],
    ['a CA file that is missing', base, { ANXIN_GATEWAY_TLS_CA: join(dir, 'none.pem') }, `ANXIN_GATEWAY_TLS_CA ${join(dir, 'none.pem')} cannot be read (ENOENT)`],
    ['a CA file that holds no certificate', { ...base, tls: { ca: join(dir, 'city-ca.key') } }, {}, `/tls/ca ${join(dir, 'city-ca.key')} holds no PEM certificate`],
  ])('refuses %s at start', (_, doc, env, message) => {
    expect(() => parseGatewayConfig(doc, env)).toThrow(GatewayConfigError);
    expect(() => parseGatewayConfig(doc, env)).toThrow(message);
  });
});
