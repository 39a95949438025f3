/**
 * Real processes and a real local zigbee2mqtt-style broker (aedes on a free
 * loopback port): radar and pendant state messages → gateway (child) → hub
 * (child) → a fall alert an operator sees; state changes only; the local
 * alarm while the hub is down; a raw Bluetooth 0x2A35 line → a stored reading.
 */
import { Aedes } from 'aedes';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, tempDataDir } from '../helpers/hub.js';
import { freePort, httpJson, spawnHub, type HubProcess } from '../helpers/process.js';
import {
  hubReadings, LineClient, OPERATOR, provision, sleep, spawnGateway, stopChild, until, waitFor, writeGatewayConfig, type GatewayProcess,
} from './helpers.js';

describe('zigbee2mqtt and Bluetooth inputs, end to end', () => {
  const hubDir = tempDataDir();
  const gwDir = tempDataDir();
  const alarmFile = join(gwDir, 'alarms.log');
  let ports: { http: number; mqtt: number };
  let env: Record<string, string>;
  let hub: HubProcess;
  let gateway: GatewayProcess;
  let configFile: string;
  let operatorPassword: string;
  let z2mBroker: Aedes;
  let z2mServer: Server;
  let z2m: MqttClient;
  let inputPort: number;
  const children: Array<HubProcess | GatewayProcess> = [];

  const radar = (state: object) => z2m.publishAsync('zigbee2mqtt/bathroom_radar', JSON.stringify(state), { qos: 1, retain: true });
  const readingsOf = (device: string, type: string) => hubReadings(hubDir, `device_id = '${device}' AND type = '${type}'`);

  beforeAll(async () => {
    z2mBroker = await Aedes.createBroker();
    z2mServer = createServer(z2mBroker.handle);
    const z2mPort = await freePort();
    await new Promise<void>((r) => z2mServer.listen(z2mPort, '127.0.0.1', () => r()));
    z2m = await mqtt.connectAsync(`mqtt://127.0.0.1:${z2mPort}`, { clientId: 'zigbee2mqtt-sim', protocolVersion: 4 });

    ports = { http: await freePort(), mqtt: await freePort() };
    env = { ANXIN_DATA_DIR: hubDir, ANXIN_ADMIN_PASSWORD: ADMIN_PASSWORD };
    hub = await spawnHub(env, ports);
    children.push(hub);
    const p = await provision(hub);
    operatorPassword = p.operatorPassword;
    inputPort = await freePort();
    configFile = writeGatewayConfig(gwDir, {
      hub: hub.mqttUrl, homeId: 'wh-0001', username: 'gw-0001', password: p.gatewaySecret,
      dataDir: gwDir, input: { port: inputPort, stdin: false },
      uplink: { reconnectMinMs: 100, reconnectMaxMs: 1000 },
      zigbee2mqtt: {
        url: `mqtt://127.0.0.1:${z2mPort}`, baseTopic: 'zigbee2mqtt',
        devices: { bathroom_radar: 'fall-0001', pendant: { device: 'sos-0001', type: 'sos_button' } },
      },
      // The installer's hook: a tiny script that appends to a file.
      localAlarm: { command: '/bin/sh', args: ['-c', `echo "$ANXIN_ALARM_DEVICE $ANXIN_ALARM_TYPE $ANXIN_ALARM_TS $ANXIN_ALARM_REASON" >> '${alarmFile}'`] },
    });
    gateway = await spawnGateway(configFile);
    children.push(gateway);
    await gateway.waitForLog('connected to the hub');
    await gateway.waitForLog('connected to zigbee2mqtt');
  });

  afterAll(async () => {
    await z2m?.endAsync(true);
    for (const c of children) await stopChild(c);
    await new Promise<void>((r) => (z2mBroker ? z2mBroker.close(() => r()) : r()));
    z2mServer?.close();
    rmSync(hubDir, { recursive: true, force: true });
    rmSync(gwDir, { recursive: true, force: true });
  });

  it('turns a radar\'s fall into a fall alert an operator sees, once per change', async () => {
    await radar({ fall_down_status: 'none', presence: false, battery: 90, linkquality: 120 });
    await until('first heartbeat', () => readingsOf('fall-0001', 'heartbeat').length === 1);
    await radar({ fall_down_status: 'fall', presence: true, battery: 90, linkquality: 118 });
    await until('fall stored', () => readingsOf('fall-0001', 'fall').length === 1);
    expect(readingsOf('fall-0001', 'motion')).toHaveLength(1);

    const { body: session } = await httpJson(`${hub.httpUrl}/api/v1/auth/login`, { body: { username: OPERATOR, password: operatorPassword } });
    const alert = await until('fall alert', async () => {
      const { body } = await httpJson(`${hub.httpUrl}/api/v1/alerts`, { token: session.token });
      return (body.alerts as Array<{ rule: string; deviceId: string; severity: string; state: string }>).find((a) => a.rule === 'fall');
    });
    expect(alert).toMatchObject({ deviceId: 'fall-0001', severity: 'critical', state: 'open' });

    // zigbee2mqtt republishes the whole state: the same fall again, a link-quality change, is not a new fall.
    await radar({ fall_down_status: 'fall', presence: true, battery: 90, linkquality: 101 });
    await sleep(1000);
    expect(readingsOf('fall-0001', 'fall')).toHaveLength(1);
    expect(existsSync(alarmFile)).toBe(false); // the hub was there: no local alarm
  });

  it('maps a pendant\'s every SOS press, with the device type from the config', async () => {
    await z2m.publishAsync('zigbee2mqtt/pendant', JSON.stringify({ action: 'emergency', battery: 70 }));
    await z2m.publishAsync('zigbee2mqtt/pendant', JSON.stringify({ action: 'emergency', battery: 70 }));
    await until('two SOS stored', () => readingsOf('sos-0001', 'sos').length === 2);
  });

  it('raises the local alarm for a fall while the hub is down, and delivers the fall when it is back', async () => {
    expect(await stopChild(hub)).toBe(0);
    await gateway.waitForLog('lost the hub; retrying');
    await radar({ fall_down_status: 'none', presence: true, battery: 90 });
    await radar({ fall_down_status: 'fall', presence: true, battery: 90 });
    const line = await until('alarm file', () => existsSync(alarmFile) && readFileSync(alarmFile, 'utf8'), 10_000);
    expect(line.trim()).toMatch(/^fall-0001 fall \d{4}-\d{2}-\d{2}T\S+ hub_unreachable$/);
    await sleep(500);
    expect(readFileSync(alarmFile, 'utf8').trim().split('\n')).toHaveLength(1); // once per reading

    hub = await spawnHub(env, ports);
    children.push(hub);
    await until('second fall stored', () => readingsOf('fall-0001', 'fall').length === 2, 30_000);
  });

  it('does not take a retained fall state for a new fall after a restart', async () => {
    expect(await stopChild(gateway)).toBe(0);
    gateway = await spawnGateway(configFile);
    children.push(gateway);
    await gateway.waitForLog('connected to zigbee2mqtt');
    await sleep(1500); // the retained {fall_down_status: "fall"} arrives and is compared with the saved state
    expect(readingsOf('fall-0001', 'fall')).toHaveLength(2);
  });

  it('decodes a raw Bluetooth 0x2A35 line into a stored blood_pressure reading', async () => {
    const lines = await LineClient.open(inputPort);
    // Flags 0x1E: time stamp, pulse, user id, measurement status; 138/85 mmHg, MAP 103, pulse 72, user 1, irregular pulse.
    const t = new Date(Date.now() - 5 * 60_000 + 8 * 3600_000); // the cuff's clock runs in UTC+8
    const stamp = [t.getUTCFullYear() & 0xff, t.getUTCFullYear() >> 8, t.getUTCMonth() + 1, t.getUTCDate(), t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds()];
    const hex = Buffer.from([0x1e, 0x8a, 0x00, 0x55, 0x00, 0x67, 0x00, ...stamp, 0x48, 0x00, 0x01, 0x04, 0x00]).toString('hex').toUpperCase();
    const [answer] = await lines.send([{ device: 'bp-0001', characteristic: '2A35', hex }]);
    lines.close();
    expect(answer).toMatchObject({ ok: true, id: expect.stringMatching(/^bp-0001-[0-9a-z]{8}-\d+$/) });
    const [row] = await waitFor('stored', () => hubReadings(hubDir, `reading_id = '${answer!.id as string}'`), (r) => r.length === 1, 15_000);
    expect(row!.type).toBe('blood_pressure');
    expect(JSON.parse(row!.vals)).toEqual({ systolic: 138, diastolic: 85, map: 103, pulse: 72, irregularPulse: true });
    expect(Math.abs(row!.ts - (Date.now() - 5 * 60_000))).toBeLessThan(5000);
  });
});
