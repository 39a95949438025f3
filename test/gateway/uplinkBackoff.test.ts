/**
 * The uplink's reconnect backoff against a real MQTT broker (aedes on a free
 * loopback port) that misbehaves on purpose: signing in is not enough to reset
 * the backoff, only a PUBACK or a link that stayed up.
 */
import { Aedes, type Client } from 'aedes';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../gateway/config.js';
import { buildGateway, type Gateway } from '../../gateway/gateway.js';
import { freePort } from '../helpers/process.js';
import { LineClient, sleep, until, waitFor } from './helpers.js';

describe('uplink backoff', () => {
  const dir = mkdtempSync(join(tmpdir(), 'anxin-gw-backoff-'));
  let broker: Aedes;
  let server: Server;
  let gateway: Gateway;
  /** What the broker does: `refuse` drops the connection at a telemetry publish (a hub whose store fails). */
  const mode = { refuse: true, dropOnSubscribe: false };
  let current: Client | null = null;
  const retries: number[] = [];

  beforeAll(async () => {
    broker = await Aedes.createBroker({
      // An error from authorizePublish closes the connection, as the hub does when its store fails.
      authorizePublish: (_client, packet, cb) => cb(mode.refuse && packet.topic.endsWith('/telemetry') ? new Error('store failed') : null),
    });
    broker.on('clientReady', (c) => (current = c));
    broker.on('subscribe', (_subs, c) => {
      if (mode.dropOnSubscribe) c.close();
    });
    server = createServer(broker.handle);
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    const config = parseGatewayConfig({
      hub: `mqtt://127.0.0.1:${port}`, homeId: 'wh-0001', username: 'gw-0001', password: 'x', dataDir: dir,
      input: { port: 0, stdin: false }, uplink: { reconnectMinMs: 20, reconnectMaxMs: 1000 }, logLevel: 'debug',
    });
    const log = pino({ level: 'debug' }, {
      write: (line: string) => {
        const entry = JSON.parse(line) as { msg: string; retryInMs?: number };
        if (entry.retryInMs !== undefined) retries.push(entry.retryInMs);
      },
    });
    // random 0.999: each wait is (almost) the whole cap of its attempt, so the attempt can be read off the wait.
    gateway = buildGateway(config, { log, random: () => 0.999 });
    await gateway.start();
  });

  afterAll(async () => {
    await gateway?.stop();
    await new Promise<void>((r) => (broker ? broker.close(() => r()) : r()));
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps backing off from a hub that accepts the sign-in but drops every publish', async () => {
    await until('connected', () => gateway.uplink.connected);
    const lines = await LineClient.open(gateway.inputPort());
    expect((await lines.send([{ device: 'bp-0001', type: 'blood_pressure', systolic: 120, diastolic: 80, unit: 'mmHg' }]))[0]!.ok).toBe(true);
    lines.close();
    // Each connection signs in and subscribes fine, then is dropped at the publish.
    await waitFor('five reconnects', () => retries.length, (n) => n >= 5, 10_000);
    expect(retries.slice(0, 5)).toEqual([19, 39, 79, 159, 319]);
    expect(gateway.uplink.stats.connects).toBeGreaterThanOrEqual(5);
  });

  it('starts over after a PUBACK', async () => {
    mode.refuse = false;
    await waitFor('outbox delivered', () => gateway.ctx.outbox.depth, (d) => d === 0, 10_000);
    const before = retries.length;
    current!.close();
    await waitFor('a reconnect', () => retries.length, (n) => n > before);
    expect(retries.at(-1)).toBe(19);
  });

  it('backs off while connections die right after the sign-in, and starts over once one stayed up', async () => {
    await until('connected', () => gateway.uplink.connected);
    await sleep(1200); // the reconnect after the last test has not proved itself yet (no PUBACK: nothing to send)
    mode.dropOnSubscribe = true;
    let before = retries.length;
    current!.close();
    await waitFor('four reconnects', () => retries.length, (n) => n >= before + 4, 10_000);
    expect(retries.slice(before, before + 4)).toEqual([19, 39, 79, 159]);
    mode.dropOnSubscribe = false;
    await until('connected', () => gateway.uplink.connected, 10_000);
    await sleep(1200); // longer than reconnectMaxMs: the link proved itself
    before = retries.length;
    current!.close();
    await waitFor('a reconnect', () => retries.length, (n) => n > before);
    expect(retries.at(-1)).toBe(19);
  });
});
