/**
 * The zigbee2mqtt bridge against a real local broker (aedes on a free loopback
 * port) and a real in-process hub: a retained SOS is not a new press at every
 * restart, a retained state still is a baseline, and a fall the disk did not
 * take is retried rather than lost.
 */
import { Aedes } from 'aedes';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../gateway/config.js';
import { buildGateway, type Gateway } from '../../gateway/gateway.js';
import { exampleDocument, secretOf, startTestHub, type TestHub } from '../helpers/hub.js';
import { freePort } from '../helpers/process.js';
import { sleep, until, waitFor } from './helpers.js';

interface Logged { level: number; msg: string; [k: string]: unknown }
interface Ran { purpose: string; env: Record<string, string> }

describe('zigbee2mqtt bridge', () => {
  const dirs: string[] = [];
  let hub: TestHub;
  let secret: string;
  let z2mBroker: Aedes;
  let z2mServer: Server;
  let z2mPort: number;
  let z2m: MqttClient;
  const gateways: Gateway[] = [];

  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'anxin-gw-z2m-'));
    dirs.push(d);
    return d;
  };
  const count = (device: string, type: string) =>
    (hub.hub.ctx.db.prepare('SELECT count(*) AS n FROM readings WHERE device_id = ? AND type = ?').get(device, type) as { n: number }).n;

  async function startGateway(dataDir: string, logged: Logged[] = [], ran: Ran[] = []): Promise<Gateway> {
    const config = parseGatewayConfig({
      hub: hub.mqttUrl, homeId: 'wh-0001', username: 'gw-0001', password: secret, dataDir,
      input: { port: 0, stdin: false }, uplink: { reconnectMinMs: 50, reconnectMaxMs: 200 },
      zigbee2mqtt: {
        url: `mqtt://127.0.0.1:${z2mPort}`, baseTopic: 'zigbee2mqtt',
        devices: { bathroom_radar: 'fall-0001', pendant: { device: 'sos-0001', type: 'sos_button' } },
      },
      localAlarm: { command: 'true' },
      logLevel: 'debug',
    });
    const log = pino({ level: 'debug' }, { write: (l: string) => void logged.push(JSON.parse(l) as Logged) });
    const gateway = buildGateway(config, { log, run: (purpose, _c, env) => void ran.push({ purpose, env }) });
    gateways.push(gateway);
    await gateway.start();
    await until('uplink', () => gateway.uplink.connected);
    await until('zigbee2mqtt', () => logged.some((l) => l.msg === 'connected to zigbee2mqtt'));
    return gateway;
  }

  beforeAll(async () => {
    hub = await startTestHub();
    secret = secretOf(await hub.importDoc(exampleDocument()), 'gw-0001');
    z2mBroker = await Aedes.createBroker();
    z2mServer = createServer(z2mBroker.handle);
    z2mPort = await freePort();
    await new Promise<void>((r) => z2mServer.listen(z2mPort, '127.0.0.1', () => r()));
    z2m = await mqtt.connectAsync(`mqtt://127.0.0.1:${z2mPort}`, { clientId: 'zigbee2mqtt-sim', protocolVersion: 4 });
  });

  afterEach(async () => {
    // No gateway and no retained state leaks into the next test.
    for (const g of gateways.splice(0)) await g.stop();
    for (const device of ['pendant', 'bathroom_radar']) await z2m.publishAsync(`zigbee2mqtt/${device}`, '', { qos: 1, retain: true });
  });

  afterAll(async () => {
    for (const g of gateways) await g.stop();
    await z2m?.endAsync(true);
    await new Promise<void>((r) => (z2mBroker ? z2mBroker.close(() => r()) : r()));
    z2mServer?.close();
    await hub?.destroy();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('takes a retained SOS press for an old event at every restart, and a retained state for a baseline', async () => {
    const dataDir = tempDir();
    let gateway = await startGateway(dataDir);
    // zigbee2mqtt with `retain: true` for both devices; the pendant is pressed once, the radar sees a fall.
    await z2m.publishAsync('zigbee2mqtt/pendant', JSON.stringify({ action: 'emergency', battery: 70 }), { qos: 1, retain: true });
    await z2m.publishAsync('zigbee2mqtt/bathroom_radar', JSON.stringify({ fall_down_status: 'fall', presence: true }), { qos: 1, retain: true });
    await until('one SOS, one fall', () => count('sos-0001', 'sos') === 1 && count('fall-0001', 'fall') === 1);

    for (let restart = 0; restart < 2; restart++) {
      await gateway.stop();
      gateway = await startGateway(dataDir);
      await waitFor('the retained messages', () => gateway.zigbee2mqtt!.stats.messages, (n) => n >= 2, 10_000);
      await sleep(500);
      expect(gateway.zigbee2mqtt!.stats.retainedEvents).toBe(1);
      expect(count('sos-0001', 'sos')).toBe(1);
      expect(count('fall-0001', 'fall')).toBe(1);
    }

    // A press heard live is still a press, however often it repeats.
    await z2m.publishAsync('zigbee2mqtt/pendant', JSON.stringify({ action: 'emergency', battery: 70 }), { qos: 1, retain: true });
    await until('second SOS', () => count('sos-0001', 'sos') === 2);

    // A new gateway (nothing saved) still reports a fall it finds in the retained state: a state is a baseline, not an event.
    await gateway.stop();
    const fresh = await startGateway(tempDir());
    await until('the retained fall reported', () => count('fall-0001', 'fall') === 2, 10_000);
    expect(fresh.zigbee2mqtt!.stats.retainedEvents).toBe(1);
    expect(count('sos-0001', 'sos')).toBe(2);
  });

  it('retries a fall the disk did not take, keeping its id and time, and raises the local alarm once', async () => {
    const logged: Logged[] = [];
    const ran: Ran[] = [];
    const gateway = await startGateway(tempDir(), logged, ran);
    const radar = (state: object) => z2m.publishAsync('zigbee2mqtt/bathroom_radar', JSON.stringify(state), { qos: 1 });
    await radar({ fall_down_status: 'none', presence: true });
    await waitFor('baseline', () => gateway.zigbee2mqtt!.stats.messages, (n) => n >= 1);
    const fallsBefore = count('fall-0001', 'fall');

    // The disk is full for the next two commits.
    const outbox = gateway.ctx.outbox;
    const enqueue = outbox.enqueue.bind(outbox);
    let failures = 2;
    outbox.enqueue = (...args) => {
      if (failures > 0) {
        failures--;
        throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      }
      return enqueue(...args);
    };
    const heardAt = Date.now();
    await radar({ fall_down_status: 'fall', presence: true });
    // Nothing else arrives from the radar: the retries alone must bring the fall through (after 1 s, then 2 s).
    await until('fall stored', () => count('fall-0001', 'fall') === fallsBefore + 1, 10_000);
    await sleep(300);
    expect(count('fall-0001', 'fall')).toBe(fallsBefore + 1);
    const row = hub.hub.ctx.db.prepare("SELECT reading_id, ts FROM readings WHERE device_id = 'fall-0001' AND type = 'fall' ORDER BY seq DESC").get() as { reading_id: string; ts: number };
    expect(Math.abs(row.ts - heardAt)).toBeLessThan(1000); // when it was heard, not when the disk took it
    expect(gateway.zigbee2mqtt!.stats.retries).toBe(2);
    const retrying = logged.filter((l) => l.msg === 'zigbee2mqtt readings not stored (disk); retrying');
    expect(retrying.map((l) => [l.level, l.retryInMs])).toEqual([[50, 1000], [50, 2000]]);

    // The intake raises the local alarm for a fall it could not store: once, for the one reading, not per attempt.
    const alarms = ran.filter((r) => r.purpose === 'localAlarm');
    expect(alarms.map((a) => [a.env.ANXIN_ALARM_ID, a.env.ANXIN_ALARM_REASON])).toEqual([[row.reading_id, 'store_failed']]);
  });
});
