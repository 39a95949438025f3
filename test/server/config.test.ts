/** Hub configuration from the environment (SPEC §7): defaults, parsing, and errors that name the variable. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type HubConfig } from '../../server/config.js';

describe('loadConfig', () => {
  it('uses the defaults of SPEC §7 with an empty environment', () => {
    expect(loadConfig({})).toEqual({
      httpPort: 8080,
      mqttPort: 1883,
      host: '127.0.0.1',
      dataDir: './data',
      tz: 'Asia/Shanghai',
      topicPrefix: 'anxin/v1',
      sync: 'full',
      refusalLimit: 10_000,
      connectBurst: 200,
      connectPerSecond: 50,
      loginPerMinute: 10,
      sessionHours: 12,
      tickMs: 1000,
      eventRetentionHours: 48,
      logLevel: 'info',
    });
  });

  it('has no admin password unless one is given', () => {
    expect(loadConfig({}).adminPassword).toBeUndefined();
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ ANXIN_HTTP_PORT: '', ANXIN_TZ: '', ANXIN_ADMIN_PASSWORD: '' })).toMatchObject({ httpPort: 8080, tz: 'Asia/Shanghai' });
    expect(loadConfig({ ANXIN_ADMIN_PASSWORD: '' }).adminPassword).toBeUndefined();
  });

  it('does not read the process environment when given one', () => {
    const saved = process.env.ANXIN_HTTP_PORT;
    process.env.ANXIN_HTTP_PORT = '9999';
    try {
      expect(loadConfig({}).httpPort).toBe(8080);
    } finally {
      if (saved === undefined) delete process.env.ANXIN_HTTP_PORT;
      else process.env.ANXIN_HTTP_PORT = saved;
    }
  });

  const variables: [string, string, keyof HubConfig, unknown][] = [
    ['ANXIN_HTTP_PORT', '18080', 'httpPort', 18080],
    ['ANXIN_HTTP_PORT', '0', 'httpPort', 0],
    ['ANXIN_MQTT_PORT', '11883', 'mqttPort', 11883],
    ['ANXIN_MQTT_PORT', '65535', 'mqttPort', 65535],
    ['ANXIN_HOST', '0.0.0.0', 'host', '0.0.0.0'],
    ['ANXIN_DATA_DIR', '/var/lib/anxin', 'dataDir', '/var/lib/anxin'],
    ['ANXIN_ADMIN_PASSWORD', 'correct-horse-battery', 'adminPassword', 'correct-horse-battery'],
    ['ANXIN_ADMIN_PASSWORD', '123456789012', 'adminPassword', '123456789012'],
    ['ANXIN_TZ', 'Europe/Berlin', 'tz', 'Europe/Berlin'],
    ['ANXIN_TZ', 'UTC', 'tz', 'UTC'],
    ['ANXIN_TOPIC_PREFIX', 'city/anxin/v2', 'topicPrefix', 'city/anxin/v2'],
    ['ANXIN_SYNC', 'normal', 'sync', 'normal'],
    ['ANXIN_SYNC', 'full', 'sync', 'full'],
    ['ANXIN_REFUSAL_LIMIT', '500', 'refusalLimit', 500],
    ['ANXIN_MQTT_CONNECT_BURST', '20', 'connectBurst', 20],
    ['ANXIN_MQTT_CONNECT_PER_SECOND', '2.5', 'connectPerSecond', 2.5],
    ['ANXIN_LOGIN_PER_MINUTE', '5', 'loginPerMinute', 5],
    ['ANXIN_SESSION_HOURS', '0.5', 'sessionHours', 0.5],
    ['ANXIN_LOG_LEVEL', 'debug', 'logLevel', 'debug'],
    ['ANXIN_LOG_LEVEL', 'silent', 'logLevel', 'silent'],
  ];

  it.each(variables)('reads %s=%s into %s', (name, raw, key, value) => {
    const config = loadConfig({ [name]: raw });
    expect(config[key]).toStrictEqual(value);
    // Nothing else moves.
    expect({ ...config, [key]: undefined }).toEqual({ ...loadConfig({}), [key]: undefined });
  });

  it('reads every variable at once', () => {
    const config = loadConfig(Object.fromEntries(variables.map(([name, raw]) => [name, raw])));
    expect(typeof config.httpPort).toBe('number');
    expect(config).toMatchObject({ host: '0.0.0.0', refusalLimit: 500, connectPerSecond: 2.5, logLevel: 'silent' });
  });

  it('lets overrides win over the environment', () => {
    expect(loadConfig({ ANXIN_HTTP_PORT: '18080', ANXIN_SYNC: 'normal' }, { httpPort: 0, dataDir: '/tmp/x' })).toMatchObject({ httpPort: 0, sync: 'normal', dataDir: '/tmp/x' });
  });

  it.each([
    ['ANXIN_HTTP_PORT', 'http'],
    ['ANXIN_HTTP_PORT', '65536'],
    ['ANXIN_HTTP_PORT', '-1'],
    ['ANXIN_HTTP_PORT', '80.5'],
    ['ANXIN_HTTP_PORT', '0x50'],
    ['ANXIN_MQTT_PORT', '99999'],
    ['ANXIN_MQTT_PORT', '1883 '],
    ['ANXIN_SYNC', 'async'],
    ['ANXIN_SYNC', 'FULL'],
    ['ANXIN_ADMIN_PASSWORD', 'short'],
    ['ANXIN_ADMIN_PASSWORD', '12345678901'],
    ['ANXIN_TZ', 'Mars/Base'],
    ['ANXIN_TOPIC_PREFIX', 'anxin/v1/'],
    ['ANXIN_TOPIC_PREFIX', 'anxin/#'],
    ['ANXIN_TOPIC_PREFIX', 'Anxin/V1'],
    ['ANXIN_REFUSAL_LIMIT', '99'],
    ['ANXIN_MQTT_CONNECT_BURST', '0'],
    ['ANXIN_MQTT_CONNECT_PER_SECOND', '0'],
    ['ANXIN_LOGIN_PER_MINUTE', 'many'],
    ['ANXIN_SESSION_HOURS', '-1'],
    ['ANXIN_LOG_LEVEL', 'verbose'],
  ])('refuses %s=%j with a ConfigError naming it', (name, raw) => {
    let error: unknown;
    try {
      loadConfig({ [name]: raw });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain(name);
  });

  it('does not repeat a bad admin password in the error', () => {
    expect(() => loadConfig({ ANXIN_ADMIN_PASSWORD: 'hunter2' })).toThrow(/^(?!.*hunter2).*ANXIN_ADMIN_PASSWORD/);
  });

  it('names the unknown time zone', () => {
    expect(() => loadConfig({ ANXIN_TZ: 'Mars/Base' })).toThrow(new ConfigError('invalid configuration: ANXIN_TZ "Mars/Base" is not a known time zone'));
  });

  it('names every bad variable at once', () => {
    expect(() => loadConfig({ ANXIN_HTTP_PORT: '99999', ANXIN_SYNC: 'async' })).toThrow(/ANXIN_HTTP_PORT.*ANXIN_SYNC|ANXIN_SYNC.*ANXIN_HTTP_PORT/);
  });

  it('checks overrides too', () => {
    expect(() => loadConfig({}, { httpPort: 70_000 })).toThrow(ConfigError);
    expect(() => loadConfig({}, { tz: 'Nowhere/Land' })).toThrow(/ANXIN_TZ/);
  });
});
