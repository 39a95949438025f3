/** Hub configuration from the environment (SPEC §7): defaults, parsing, and errors that name the variable. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type HubConfig } from '../../server/config.js';

describe('loadConfig', () => {
  it('uses the defaults of SPEC §7 with an empty environment', () => {
    expect(loadConfig({})).toEqual({
      httpPort: 8080,
      mqttPort: 1883,
      mqttsPort: 8883,
      tlsReloadSeconds: 60,
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
    ['ANXIN_MQTT_PORT', 'off', 'mqttPort', 'off'],
    ['ANXIN_MQTTS_PORT', '18883', 'mqttsPort', 18883],
    ['ANXIN_TLS_RELOAD_SECONDS', '300', 'tlsReloadSeconds', 300],
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
    ['ANXIN_HEARTBEAT_RETENTION_DAYS', '30', 'heartbeatRetentionDays', 30],
    ['ANXIN_READING_RETENTION_DAYS', '730', 'readingRetentionDays', 730],
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
    ['ANXIN_MQTT_PORT', 'none'],
    ['ANXIN_MQTTS_PORT', 'off'],
    ['ANXIN_TLS_RELOAD_SECONDS', '0'],
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

  describe('SMS provider (ANXIN_SMS_*)', () => {
    const http = { ANXIN_SMS_PROVIDER: 'http', ANXIN_SMS_URL: 'https://sms.weihai.example.cn/api/send', ANXIN_SMS_TOKEN: 'relay-token-secret-01' };
    const aliyun = {
      ANXIN_SMS_PROVIDER: 'aliyun', ANXIN_SMS_ACCESS_KEY_ID: 'LTAI5tExampleKeyId', ANXIN_SMS_ACCESS_KEY_SECRET: 'aliyun-secret-value-02',
      ANXIN_SMS_SIGN_NAME: '安心', ANXIN_SMS_TEMPLATE_CODE: 'SMS_465890123',
    };

    it('has none by default (the logging stand-in)', () => {
      expect(loadConfig({}).smsProvider).toBeUndefined();
    });

    it('reads a relay and an Aliyun configuration', () => {
      expect(loadConfig(http)).toMatchObject({ smsProvider: 'http', smsUrl: http.ANXIN_SMS_URL, smsToken: http.ANXIN_SMS_TOKEN });
      expect(loadConfig({ ...http, ANXIN_SMS_URL: 'http://127.0.0.1:9000/send', ANXIN_SMS_SIGN_NAME: '威海安心' })).toMatchObject({ smsUrl: 'http://127.0.0.1:9000/send', smsSignName: '威海安心' });
      expect(loadConfig(aliyun)).toMatchObject({ smsProvider: 'aliyun', smsAccessKeyId: 'LTAI5tExampleKeyId', smsSignName: '安心', smsTemplateCode: 'SMS_465890123' });
      expect(loadConfig({ ...aliyun, ANXIN_SMS_ENDPOINT: 'https://dysmsapi.aliyuncs.com/' }).smsEndpoint).toBe('https://dysmsapi.aliyuncs.com/');
    });

    it.each([
      ['an unknown provider', { ANXIN_SMS_PROVIDER: 'twilio' }, 'ANXIN_SMS_PROVIDER must be one of http, aliyun'],
      ['settings without a provider', { ANXIN_SMS_TOKEN: 'relay-token-secret-01' }, 'ANXIN_SMS_TOKEN set without ANXIN_SMS_PROVIDER (http or aliyun)'],
      ['a relay without its token', { ...http, ANXIN_SMS_TOKEN: '' }, 'ANXIN_SMS_PROVIDER=http needs ANXIN_SMS_URL, ANXIN_SMS_TOKEN; missing ANXIN_SMS_TOKEN'],
      ['a relay over plain http', { ...http, ANXIN_SMS_URL: 'http://sms.weihai.example.cn/send' }, 'ANXIN_SMS_URL must be https (plain http only on loopback): the text carries health data'],
      ['a relay URL that is not one', { ...http, ANXIN_SMS_URL: 'sms.weihai.example.cn' }, 'ANXIN_SMS_URL is not a URL'],
      ['a relay URL with credentials', { ...http, ANXIN_SMS_URL: 'https://user:pw@sms.example.cn/send' }, 'ANXIN_SMS_URL must not carry credentials (they would be logged)'],
      ['a token with a space', { ...http, ANXIN_SMS_TOKEN: 'relay token' }, 'ANXIN_SMS_TOKEN must be printable ASCII without spaces (it is sent as a bearer token)'],
      ['Aliyun without anything', { ANXIN_SMS_PROVIDER: 'aliyun' }, 'ANXIN_SMS_PROVIDER=aliyun needs ANXIN_SMS_ACCESS_KEY_ID, ANXIN_SMS_ACCESS_KEY_SECRET, ANXIN_SMS_SIGN_NAME, ANXIN_SMS_TEMPLATE_CODE'],
      ['Aliyun without its secret', { ...aliyun, ANXIN_SMS_ACCESS_KEY_SECRET: '' }, 'missing ANXIN_SMS_ACCESS_KEY_SECRET'],
      ['Aliyun with a relay URL', { ...aliyun, ANXIN_SMS_URL: http.ANXIN_SMS_URL }, 'ANXIN_SMS_URL is not used by ANXIN_SMS_PROVIDER=aliyun'],
      ['a relay with an Aliyun template', { ...http, ANXIN_SMS_TEMPLATE_CODE: 'SMS_1' }, 'ANXIN_SMS_TEMPLATE_CODE is not used by ANXIN_SMS_PROVIDER=http'],
      ['an Aliyun endpoint over plain http', { ...aliyun, ANXIN_SMS_ENDPOINT: 'http://dysmsapi.aliyuncs.com/' }, 'ANXIN_SMS_ENDPOINT must be https'],
      ['a sign name in brackets', { ...aliyun, ANXIN_SMS_SIGN_NAME: '【安心】' }, 'ANXIN_SMS_SIGN_NAME is the name alone, without 【】'],
    ])('refuses %s, naming the variable, never the secrets', (_, env, message) => {
      const { message: said } = configErrorOf(env);
      expect(said).toContain(message);
      expect(said).not.toMatch(/relay-token-secret-01|aliyun-secret-value-02|user:pw/);
    });
  });

  describe('MQTT over TLS (ANXIN_TLS_*)', () => {
    const tls = { ANXIN_TLS_CERT: '/etc/anxin/tls/hub.pem', ANXIN_TLS_KEY: '/etc/anxin/tls/hub.key' };

    it('is off by default, and reads the certificate, key, chain and passphrase', () => {
      expect(loadConfig({}).tlsCert).toBeUndefined();
      expect(loadConfig({ ...tls, ANXIN_TLS_CA: '/etc/anxin/tls/chain.pem', ANXIN_TLS_KEY_PASSPHRASE: 'key-passphrase-03', ANXIN_MQTT_PORT: 'off' })).toMatchObject({
        tlsCert: tls.ANXIN_TLS_CERT, tlsKey: tls.ANXIN_TLS_KEY, tlsCa: '/etc/anxin/tls/chain.pem', tlsKeyPassphrase: 'key-passphrase-03', mqttPort: 'off', mqttsPort: 8883,
      });
    });

    it.each([
      ['a certificate without its key', { ANXIN_TLS_CERT: tls.ANXIN_TLS_CERT }, 'ANXIN_TLS_CERT and ANXIN_TLS_KEY go together; missing ANXIN_TLS_KEY'],
      ['a key without its certificate', { ANXIN_TLS_KEY: tls.ANXIN_TLS_KEY }, 'ANXIN_TLS_CERT and ANXIN_TLS_KEY go together; missing ANXIN_TLS_CERT'],
      ['a chain or passphrase without both', { ANXIN_TLS_CA: '/c.pem', ANXIN_TLS_KEY_PASSPHRASE: 'key-passphrase-03' }, 'ANXIN_TLS_CA, ANXIN_TLS_KEY_PASSPHRASE set without ANXIN_TLS_CERT and ANXIN_TLS_KEY'],
      ['the TLS port on the TCP port', { ...tls, ANXIN_MQTTS_PORT: '1883' }, 'ANXIN_MQTTS_PORT 1883 must differ from ANXIN_MQTT_PORT and ANXIN_HTTP_PORT'],
      ['a port that is neither a number nor off', { ANXIN_MQTT_PORT: 'no' }, 'ANXIN_MQTT_PORT must be one of 0–65535, off'],
    ])('refuses %s, naming the variables, never the passphrase', (_, env, message) => {
      expect(() => loadConfig(env)).toThrow(new ConfigError(`invalid configuration: ${message}`));
    });
  });

  describe('journal retention (ANXIN_*_RETENTION_DAYS)', () => {
    it('is off by default, and takes the smallest values that keep duplicates refused', () => {
      expect(loadConfig({})).not.toHaveProperty('heartbeatRetentionDays');
      expect(loadConfig({})).not.toHaveProperty('readingRetentionDays');
      expect(loadConfig({ ANXIN_HEARTBEAT_RETENTION_DAYS: '7', ANXIN_READING_RETENTION_DAYS: '366' })).toMatchObject({ heartbeatRetentionDays: 7, readingRetentionDays: 366 });
    });

    it.each([
      ['heartbeats kept less than a week', { ANXIN_HEARTBEAT_RETENTION_DAYS: '6' },
        'ANXIN_HEARTBEAT_RETENTION_DAYS must be at least 7: a gateway back from a week offline resends heartbeats it had no PUBACK for, and they must still be duplicates'],
      ['readings kept no longer than they are accepted', { ANXIN_READING_RETENTION_DAYS: '365' },
        'ANXIN_READING_RETENTION_DAYS must be at least 366: a reading up to 365 days old is still accepted, and its row is what makes a resend a duplicate'],
      ['a fraction of a day', { ANXIN_HEARTBEAT_RETENTION_DAYS: '7.5' }, 'ANXIN_HEARTBEAT_RETENTION_DAYS must be integer'],
      ['a word', { ANXIN_READING_RETENTION_DAYS: 'forever' }, 'ANXIN_READING_RETENTION_DAYS must be integer'],
    ])('refuses %s, in one line naming the variable', (_, env, message) => {
      const { message: said } = configErrorOf(env);
      expect(said).toContain(message);
      expect(said).not.toContain('\n');
    });

    it('names both variables when both are too small', () => {
      expect(() => loadConfig({ ANXIN_HEARTBEAT_RETENTION_DAYS: '1', ANXIN_READING_RETENTION_DAYS: '30' })).toThrow(/ANXIN_HEARTBEAT_RETENTION_DAYS.*; ANXIN_READING_RETENTION_DAYS/);
    });
  });

  it('checks overrides too', () => {
    expect(() => loadConfig({}, { httpPort: 70_000 })).toThrow(ConfigError);
    expect(() => loadConfig({}, { tz: 'Nowhere/Land' })).toThrow(/ANXIN_TZ/);
  });
});

/** The ConfigError `loadConfig(env)` throws; fails the test when it throws nothing or something else. */
function configErrorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`no ConfigError for ${JSON.stringify(env)}`);
}
