/** Config checks beyond the schema, and what the gateway's log may show of the config. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayConfigError, parseGatewayConfig } from '../../gateway/config.js';
import { buildGateway } from '../../gateway/gateway.js';
import { freePort } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'anxin-gwcheck-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = {
  hub: 'mqtt://127.0.0.1:1883', homeId: 'wh-0001', username: 'gw-0001', password: 's3cret', dataDir: dir, input: { port: 0, stdin: false },
};

describe('gateway config: zigbee2mqtt device types', () => {
  it.each([
    ['bp_cuff', false], ['glucose_meter', false], ['fall_sensor', true], ['sos_button', true], ['motion_sensor', true],
  ])('a zigbee2mqtt device of type %s is accepted: %s', (type, accepted) => {
    const doc = { ...base, zigbee2mqtt: { url: 'mqtt://127.0.0.1:1884', devices: { 'living/cuff': { device: 'dev-0001', type } } } };
    if (accepted) {
      expect(parseGatewayConfig(doc).zigbee2mqtt!.devices['living/cuff']).toEqual({ device: 'dev-0001', type });
      return;
    }
    expect(() => parseGatewayConfig(doc)).toThrow(GatewayConfigError);
    expect(() => parseGatewayConfig(doc)).toThrow(
      `/zigbee2mqtt/devices/living~1cuff/type ${type} has no zigbee2mqtt vocabulary; must be one of fall_sensor, sos_button, motion_sensor`,
    );
  });
});

describe('gateway log', () => {
  it('does not show credentials embedded in the hub URL', async () => {
    const logged: string[] = [];
    const config = parseGatewayConfig({ ...base, hub: `mqtt://gw-0001:hunter2@127.0.0.1:${await freePort()}`, uplink: { reconnectMinMs: 1000 } });
    const gateway = buildGateway(config, { log: pino({ level: 'info' }, { write: (l: string) => void logged.push(l) }) });
    await gateway.start();
    await gateway.stop();
    const started = logged.map((l) => JSON.parse(l) as { msg: string; hub?: string }).find((l) => l.msg === 'gateway started');
    expect(started?.hub).toMatch(/^mqtt:\/\/\*\*\*@127\.0\.0\.1:\d+$/);
    expect(logged.join('\n')).not.toContain('hunter2');
  });
});
