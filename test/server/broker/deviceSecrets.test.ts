/**
 * Device secrets (server/auth/secrets.ts): hub-issued, 192 random bits, stored
 * as salted SHA-256 so a fleet's sign-ins cost microseconds, while passwords
 * keep scrypt; and a device whose stored hash is of the older scrypt scheme
 * signs in as before, through a real MQTT client, after which its hash is
 * replaced by the current one.
 */
import { scryptSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret, hashSecret, needsRehash, unusableHash, verifySecret } from '../../../server/auth/secrets.js';
import { connectClient, exampleDocument, secretOf, startTestHub, type ImportAnswer, type TestHub } from '../../helpers/hub.js';

/** A device hash as the hub wrote them before: scrypt N=2^14, r=8, p=1. */
function oldScryptHash(secret: string): string {
  const salt = randomBytes(16);
  return ['scrypt', 1 << 14, 8, 1, salt.toString('base64'), scryptSync(secret, salt, 32, { N: 1 << 14, r: 8, p: 1 }).toString('base64')].join('$');
}

describe('secret hashes', () => {
  it('stores a device secret as salted SHA-256, each hash with its own salt, and verifies only that secret', async () => {
    const secret = generateSecret();
    const [a, b] = [await hashSecret(secret, 'device'), await hashSecret(secret, 'device')];
    expect(a).toMatch(/^sha256\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain(secret);
    expect(await verifySecret(secret, a)).toBe(true);
    expect(await verifySecret(secret, b)).toBe(true);
    expect(await verifySecret(`${secret}x`, a)).toBe(false);
    expect(await verifySecret(secret, unusableHash('device'))).toBe(false);
    expect(needsRehash(a, 'device')).toBe(false);
  });

  it('keeps scrypt for passwords, and still verifies a device hash of the older scrypt scheme, which needs a rehash', async () => {
    const password = await hashSecret('correct horse battery staple', 'password');
    expect(password).toMatch(/^scrypt\$32768\$8\$3\$/);
    expect(await verifySecret('correct horse battery staple', password)).toBe(true);
    expect(needsRehash(password, 'password')).toBe(false);
    // An unknown username is checked against a hash of the same scheme and parameters (one scrypt, as
    // for a known one), which no password matches.
    const unusable = unusableHash('password');
    const shape = (h: string) => h.split('$').map((part, i) => (i < 4 ? part : Buffer.from(part, 'base64').length));
    expect(shape(unusable)).toEqual(shape(password));
    expect(unusable).not.toBe(unusableHash('password'));
    expect(await verifySecret('correct horse battery staple', unusable)).toBe(false);
    const secret = generateSecret();
    const old = oldScryptHash(secret);
    expect(await verifySecret(secret, old)).toBe(true);
    expect(await verifySecret(`${secret}x`, old)).toBe(false);
    expect(needsRehash(old, 'device')).toBe(true);
  });
});

describe('a device whose stored hash is of the older scheme', () => {
  let t: TestHub;
  let answer: ImportAnswer;
  const storedHash = (username: string) =>
    (t.hub.ctx.db.prepare('SELECT secret_hash AS h FROM mqtt_credentials WHERE username = ?').get(username) as { h: string }).h;

  beforeAll(async () => {
    t = await startTestHub();
    answer = await t.importDoc(exampleDocument());
  });
  afterAll(() => t?.destroy());

  it('was imported with a current hash', () => {
    expect(storedHash('bp-0001')).toMatch(/^sha256\$/);
  });

  it('signs in with its secret, and its hash is replaced by the current scheme; the secret goes on working, a wrong one does not', async () => {
    const secret = secretOf(answer, 'bp-0001');
    t.hub.ctx.db.prepare('UPDATE mqtt_credentials SET secret_hash = ? WHERE username = ?').run(oldScryptHash(secret), 'bp-0001');
    await expect(connectClient(t.mqttUrl, 'bp-0001', `${secret}x`)).rejects.toMatchObject({ code: 4 });
    expect(storedHash('bp-0001')).toMatch(/^scrypt\$16384\$/); // a refused sign-in changes nothing
    const first = await connectClient(t.mqttUrl, 'bp-0001', secret);
    first.end(true);
    const until = Date.now() + 5000;
    while (!storedHash('bp-0001').startsWith('sha256$') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(storedHash('bp-0001')).toMatch(/^sha256\$/);
    expect(await verifySecret(secret, storedHash('bp-0001'))).toBe(true);
    const again = await connectClient(t.mqttUrl, 'bp-0001', secret);
    again.end(true);
    await expect(connectClient(t.mqttUrl, 'bp-0001', `${secret}x`)).rejects.toMatchObject({ code: 4 });
  });
});
