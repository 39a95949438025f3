/** The gateway's config file (SPEC §8): defaults, environment overrides, and errors that name the field. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayConfigError, loadGatewayConfig, parseGatewayConfig } from '../../gateway/config.js';

const SPEC_EXAMPLE = {
  hub: 'mqtt://127.0.0.1:1883',
  homeId: 'wh-0001',
  username: 'gw-0001',
  password: 's3cret',
  dataDir: './gateway-data',
  input: { port: 7070 },
  zigbee2mqtt: { url: 'mqtt://127.0.0.1:1884', baseTopic: 'zigbee2mqtt', devices: { bathroom_radar: 'fall-0001' } },
};

const dir = mkdtempSync(join(tmpdir(), 'anxin-gwconf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gateway config', () => {
  it('accepts the SPEC §8 example and fills in the defaults', () => {
    const c = parseGatewayConfig(SPEC_EXAMPLE);
    expect(c).toMatchObject({
      ...SPEC_EXAMPLE,
      topicPrefix: 'anxin/v1',
      input: { port: 7070, stdin: true },
      outbox: { maxReadings: 100_000 },
      uplink: { batchSize: 500, maxInFlight: 8, reconnectMinMs: 1000, reconnectMaxMs: 30_000, keepaliveSeconds: 30 },
      logLevel: 'info',
    });
    expect(c.localAlarm).toBeUndefined();
  });

  it('lets ANXIN_GATEWAY_* variables override the file', () => {
    const { password: _omit, ...withoutSecret } = SPEC_EXAMPLE;
    const c = parseGatewayConfig(withoutSecret, { ANXIN_GATEWAY_PASSWORD: 'from-env', ANXIN_GATEWAY_INPUT_PORT: '7071', ANXIN_GATEWAY_OUTBOX_MAX: '500', ANXIN_GATEWAY_HUB: '' });
    expect(c).toMatchObject({ password: 'from-env', input: { port: 7071 }, outbox: { maxReadings: 500 }, hub: 'mqtt://127.0.0.1:1883' });
  });

  it('names every problem by its place in the file, or its variable', () => {
    const bad = { ...SPEC_EXAMPLE, homeId: 'WH 1', extra: 1, logLevel: 'loud', zigbee2mqtt: { ...SPEC_EXAMPLE.zigbee2mqtt, devices: { radar: 'Fall 1' } } };
    let message = '';
    try {
      parseGatewayConfig(bad, { ANXIN_GATEWAY_INPUT_PORT: '99999' });
    } catch (err) {
      expect(err).toBeInstanceOf(GatewayConfigError);
      message = (err as Error).message;
    }
    expect(message).toContain('/homeId must match pattern');
    expect(message).toContain('/extra is not a known field');
    expect(message).toContain('/logLevel must be one of fatal, error, warn, info, debug, trace, silent');
    expect(message).toContain('ANXIN_GATEWAY_INPUT_PORT must be <= 65535');
    expect(message).toContain('/zigbee2mqtt/devices/radar must be a device id, or {"device": id, "type": one of bp_cuff');
    expect(() => parseGatewayConfig({ ...SPEC_EXAMPLE, uplink: { reconnectMinMs: 5000, reconnectMaxMs: 1000 } })).toThrow(/reconnectMaxMs must be at least reconnectMinMs/);
  });

  it('says when the file is missing or not JSON', () => {
    expect(() => loadGatewayConfig(join(dir, 'nope.json'))).toThrow(/cannot read config file/);
    writeFileSync(join(dir, 'broken.json'), '{"hub": ');
    expect(() => loadGatewayConfig(join(dir, 'broken.json'))).toThrow(/is not JSON/);
  });

  it('stops the gateway at start with the message and exit code 2', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ ...SPEC_EXAMPLE, password: '' }));
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'gateway/index.ts', '--config', file], { cwd: root, encoding: 'utf8', env: { ...process.env, ANXIN_GATEWAY_PASSWORD: '' } });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('/password must NOT have fewer than 1 characters');
    const usage = spawnSync(process.execPath, ['--import', 'tsx', 'gateway/index.ts'], { cwd: root, encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('usage: npm run gateway -- --config FILE');
  });
});
