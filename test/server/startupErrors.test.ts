/**
 * A hub that cannot start on its settings says which setting, in one line,
 * and exits 2 (as for a bad variable): a data directory that is a file, a
 * rules file that is missing, not JSON, or invalid, a port that is taken, an
 * SMS provider without what it needs (its secrets never repeated), a TLS
 * certificate that cannot be read or whose key is another's.
 * Before, these ended in stack traces, and the data directory's did not
 * name the variable. The real `npm start` entry, as a child process.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestCa, issueServerCert } from '../helpers/tlsCerts.js';

const dir = mkdtempSync(join(tmpdir(), 'anxin-start-'));
let busy: Server;
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await new Promise((r) => busy?.close(r));
});

beforeAll(async () => {
  writeFileSync(join(dir, 'a-file'), '');
  writeFileSync(join(dir, 'bad.json'), '{"claimDeadlineSeconds": ');
  writeFileSync(join(dir, 'invalid.json'), JSON.stringify({ claimDeadlineSeconds: { critical: -1 } }));
  busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
});

function start(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
      cwd: process.cwd(), timeout: 30_000,
      env: { ...process.env, ANXIN_HTTP_PORT: '0', ANXIN_MQTT_PORT: '0', ANXIN_HOST: '127.0.0.1', ANXIN_ADMIN_PASSWORD: 'test-admin-password-1', ...env },
    }, (err, _stdout, stderr) => resolve({ code: err ? Number(err.code ?? -1) : 0, stderr }));
  });
}

it.each([
  ['a data directory that is a file', () => ({ ANXIN_DATA_DIR: join(dir, 'a-file') }), /^ANXIN_DATA_DIR .*a-file: cannot hold the store/],
  ['a missing rules file', () => ({ ANXIN_DATA_DIR: join(dir, 'd1'), ANXIN_RULES_FILE: join(dir, 'none.json') }), /^ANXIN_RULES_FILE .*none\.json: ENOENT/],
  ['a rules file that is not JSON', () => ({ ANXIN_DATA_DIR: join(dir, 'd2'), ANXIN_RULES_FILE: join(dir, 'bad.json') }), /^ANXIN_RULES_FILE .*bad\.json: /],
  ['an invalid rules file', () => ({ ANXIN_DATA_DIR: join(dir, 'd3'), ANXIN_RULES_FILE: join(dir, 'invalid.json') }), /^ANXIN_RULES_FILE .*invalid\.json: invalid rule configuration: claimDeadlineSeconds\.critical/],
  ['a taken port', () => ({ ANXIN_DATA_DIR: join(dir, 'd4'), ANXIN_HTTP_PORT: String((busy.address() as { port: number }).port) }), /^ANXIN_HOST .*cannot listen \(.*EADDRINUSE/],
  ['Aliyun SMS without its secret', () => ({
    ANXIN_DATA_DIR: join(dir, 'd5'), ANXIN_SMS_PROVIDER: 'aliyun', ANXIN_SMS_ACCESS_KEY_ID: 'LTAI5tExampleKeyId', ANXIN_SMS_SIGN_NAME: '安心', ANXIN_SMS_TEMPLATE_CODE: 'SMS_465890123',
  }), /^invalid configuration: ANXIN_SMS_PROVIDER=aliyun needs .*; missing ANXIN_SMS_ACCESS_KEY_SECRET\n/],
  ['an SMS relay over plain http, its token not repeated', () => ({
    ANXIN_DATA_DIR: join(dir, 'd6'), ANXIN_SMS_PROVIDER: 'http', ANXIN_SMS_URL: 'http://sms.example.cn/send', ANXIN_SMS_TOKEN: 'relay-token-secret-01',
  }), /^invalid configuration: ANXIN_SMS_URL must be https \(plain http only on loopback\)(?!.*relay-token-secret-01)/],
  ['a TLS certificate file that is missing', () => ({
    ANXIN_DATA_DIR: join(dir, 'd7'), ANXIN_TLS_CERT: join(dir, 'none.pem'), ANXIN_TLS_KEY: join(dir, 'none.key'),
  }), /^ANXIN_TLS_CERT .*none\.pem: cannot be read \(ENOENT\)$/m],
  ['a TLS key that is not the certificate\'s', () => {
    const ca = createTestCa(dir);
    const hub = issueServerCert(ca, dir, 'hub');
    const other = issueServerCert(ca, dir, 'other');
    return { ANXIN_DATA_DIR: join(dir, 'd8'), ANXIN_TLS_CERT: hub.cert, ANXIN_TLS_KEY: other.key };
  }, /^ANXIN_TLS_KEY .*other\.key: does not match the certificate in ANXIN_TLS_CERT .*hub\.pem$/m],
])('%s: one line naming the setting, exit 2', async (_, env, message) => {
  const run = await start(env());
  expect(run.code).toBe(2);
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
  expect(run.stderr).toMatch(message);
});
