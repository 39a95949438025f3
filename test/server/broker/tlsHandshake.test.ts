/**
 * A connection to the MQTT-over-TLS port that never finishes its handshake (a
 * gateway whose mobile link dropped mid-handshake, a port scanner, a plain-MQTT
 * client pointed at 8883). Node only reports a handshake timeout
 * ('tlsClientError') and leaves the socket to that listener: the hub held such
 * sockets for ever (before any connection limit applies), and hub.stop() never
 * settled (the TLS server's close waits for them), so SIGTERM did not stop the
 * hub. Real hub, real certificate, real sockets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../server/config.js';
import { buildHub, type Hub } from '../../../server/hub.js';
import { ADMIN_PASSWORD } from '../../helpers/hub.js';
import { createTestCa, issueServerCert } from '../../helpers/tlsCerts.js';

const dir = mkdtempSync(join(tmpdir(), 'anxin-tls-handshake-'));
let hub: Hub;
let stopped = false;

beforeAll(async () => {
  const ca = createTestCa(dir, 'ca');
  const cert = issueServerCert(ca, dir, 'hub');
  hub = await buildHub(loadConfig({}, {
    httpPort: 0, mqttPort: 'off', mqttsPort: 0, host: '127.0.0.1', dataDir: join(dir, 'data'), adminPassword: ADMIN_PASSWORD,
    tlsCert: cert.cert, tlsKey: cert.key, logLevel: 'silent',
  }));
});

afterAll(async () => {
  if (!stopped) await Promise.race([hub?.stop(), new Promise((r) => setTimeout(r, 1000))]);
  rmSync(dir, { recursive: true, force: true });
});

/** A TCP connection to the TLS port that never sends a ClientHello. */
async function silentSocket(): Promise<Socket> {
  const s = tcpConnect(hub.mqttsPort!, '127.0.0.1');
  await new Promise<void>((resolve, reject) => { s.once('connect', () => resolve()); s.once('error', reject); });
  return s;
}

const closedWithin = (s: Socket, ms: number) => new Promise<boolean>((resolve) => {
  const t = setTimeout(() => resolve(false), ms);
  s.once('close', () => { clearTimeout(t); resolve(true); });
});

describe('MQTT over TLS: a handshake that never finishes', () => {
  it('is cut off by the hub after its handshake timeout (10 s)', async () => {
    const s = await silentSocket();
    const closed = await closedWithin(s, 14_000);
    s.destroy();
    expect(closed).toBe(true);
  }, 20_000);

  it('does not keep hub.stop() (SIGTERM) from finishing', async () => {
    const s = await silentSocket();
    const stopping = hub.stop().then(() => 'stopped' as const);
    // At once: not after the handshake timeout (10 s).
    const outcome = await Promise.race([stopping, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 3_000))]);
    s.destroy(); // lets the hub finish stopping either way
    await stopping;
    stopped = true;
    expect(outcome).toBe('stopped');
  }, 30_000);
});
