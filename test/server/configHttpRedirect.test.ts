/**
 * `ANXIN_HTTP_REDIRECT` (server/api/httpsOnly.ts): on unless set to `off`, a
 * bad value refused at start in one line naming it (exit 2), what the plain
 * port does for each combination of listeners and proxies, and the start-up
 * banner, which gives the https address first and says what the plain one
 * still does. Real hub processes for the start-up.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { plainHttpPolicy } from '../../server/api/httpsOnly.js';
import { ConfigError, loadConfig } from '../../server/config.js';
import { freePort, spawnHub } from '../helpers/process.js';
import { createTestCa, issueServerCert } from '../helpers/tlsCerts.js';

const dir = mkdtempSync(join(tmpdir(), 'anxin-http-redirect-'));
const tls = { ANXIN_TLS_CERT: '/etc/anxin/tls/hub.pem', ANXIN_TLS_KEY: '/etc/anxin/tls/hub.key' };

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('configuration of ANXIN_HTTP_REDIRECT', () => {
  it('is unset (on) by default, and reads on and off', () => {
    expect(loadConfig({})).not.toHaveProperty('httpRedirect');
    expect(loadConfig({ ANXIN_HTTP_REDIRECT: 'on' }).httpRedirect).toBe('on');
    expect(loadConfig({ ANXIN_HTTP_REDIRECT: 'off' }).httpRedirect).toBe('off');
  });

  it.each(['no', 'OFF', 'false', '0', 'redirect'])('refuses %j, naming the variable and its values', (value) => {
    expect(() => loadConfig({ ANXIN_HTTP_REDIRECT: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ANXIN_HTTP_REDIRECT: value })).toThrow(/^invalid configuration: ANXIN_HTTP_REDIRECT must be one of on, off$/);
  });

  it.each([
    ['a certificate and both ports', 'redirect', { ...tls }],
    ['a trusted proxy', 'proxy', { ...tls, ANXIN_TRUST_PROXY: '127.0.0.1' }],
    ['the opt-out', 'serve', { ...tls, ANXIN_HTTP_REDIRECT: 'off' }],
    ['the opt-out beside a trusted proxy', 'serve', { ...tls, ANXIN_HTTP_REDIRECT: 'off', ANXIN_TRUST_PROXY: '127.0.0.1' }],
    ['no certificate', 'serve', {}],
    ['HTTPS off', 'serve', { ...tls, ANXIN_HTTPS_PORT: 'off' }],
    ['no plain port', 'serve', { ...tls, ANXIN_HTTP_PORT: 'off' }],
  ])('plain HTTP with %s: %s', (_, policy, env) => {
    expect(plainHttpPolicy(loadConfig(env))).toBe(policy);
  });

  it('stops the start on a bad value, in one line naming the variable (exit 2)', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
        cwd: process.cwd(), timeout: 30_000,
        env: { ...process.env, ANXIN_HTTP_REDIRECT: 'no', ANXIN_HTTP_PORT: '0', ANXIN_MQTT_PORT: '0', ANXIN_HOST: '127.0.0.1', ANXIN_DATA_DIR: join(dir, 'never') },
      }, (err, out, errOut) => resolve({ code: err ? Number(err.code ?? -1) : 0, stdout: out, stderr: errOut }));
    });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe('invalid configuration: ANXIN_HTTP_REDIRECT must be one of on, off\n');
  });
});

describe('the start-up banner', () => {
  it('gives the https address first, and says the plain one redirects and what stays in clear', async () => {
    const ca = createTestCa(dir);
    const cert = issueServerCert(ca, dir, 'hub');
    const [https, mqtts] = [await freePort(), await freePort()];
    const hub = await spawnHub({
      ANXIN_DATA_DIR: join(dir, 'data'), ANXIN_TLS_CERT: cert.cert, ANXIN_TLS_KEY: cert.key,
      ANXIN_HTTPS_PORT: String(https), ANXIN_MQTTS_PORT: String(mqtts),
    });
    try {
      const http = new URL(hub.httpUrl).port;
      const mqtt = new URL(hub.mqttUrl).port;
      const banner = hub.output().split('\n').find((l) => l.startsWith('  Anxin hub: '));
      expect(banner).toBe(
        `  Anxin hub: https://127.0.0.1:${https}/  http://127.0.0.1:${http}/ (redirects to https; in clear only /healthz, /readyz, /metrics and devices' /mqtt)` +
        `  mqtt://127.0.0.1:${mqtt}  mqtts://127.0.0.1:${mqtts}  data: ${join(dir, 'data')}`,
      );
    } finally {
      hub.child.kill('SIGTERM');
      await hub.exited;
    }
  });
});
