/**
 * Secrets are stored only as hashes and compared in constant time. Used for
 * device/gateway MQTT secrets and for user passwords.
 *
 * - Passwords are chosen by people: scrypt (RFC 7914) with one of OWASP's
 *   equivalent settings (N=2^15, r=8, p=3: the CPU cost of N=2^17 at a quarter
 *   of the memory, 32 MiB, so a burst of sign-ins stays affordable), stored as
 *   `scrypt$N$r$p$salt$hash` so the cost can be raised later.
 * - Device and gateway secrets are 192 random bits issued by the hub
 *   (`generateSecret`; no route or import takes a chosen one). Guessing one
 *   from its hash is out of reach at any hashing cost, so a slow hash only
 *   slows sign-in: at ~30 ms of scrypt each, a fleet reconnecting after a hub
 *   restart signed in at 40–60 devices/s (a city's 10,000 took minutes, while
 *   device_offline clocks ran). They are stored as `sha256$salt$hash`,
 *   SHA-256 of salt and secret (OWASP's advice for high-entropy keys), which
 *   checks in microseconds. Hashes written before this (`scrypt$…`, N=2^14)
 *   still verify, and `needsRehash` tells the broker to replace them.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const PASSWORD = { N: 1 << 15, r: 8, p: 3 } as const;
export type SecretKind = 'password' | 'device';
const KEY_LENGTH = 32;
const maxmem = 256 * 1024 * 1024;

/** A new random secret: 24 bytes, base64url (32 characters). */
export function generateSecret(): string {
  return randomBytes(24).toString('base64url');
}

export function hashSecret(secret: string, kind: SecretKind): Promise<string> {
  const salt = randomBytes(16);
  if (kind === 'device') return Promise.resolve(deviceHash(secret, salt));
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEY_LENGTH, { ...PASSWORD, maxmem }, (err, key) => {
      if (err) reject(err);
      else resolve(['scrypt', PASSWORD.N, PASSWORD.r, PASSWORD.p, salt.toString('base64'), key.toString('base64')].join('$'));
    });
  });
}

/** scrypt runs in libuv's thread pool, so a burst of sign-ins does not stall the event loop. */
export function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length === 3 && parts[0] === 'sha256') {
    const expected = Buffer.from(parts[2]!, 'base64');
    const key = sha256(Buffer.from(parts[1]!, 'base64'), secret);
    return Promise.resolve(key.length === expected.length && timingSafeEqual(key, expected));
  }
  if (parts.length !== 6 || parts[0] !== 'scrypt') return Promise.resolve(false);
  const [, n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(keyB64, 'base64');
  const options: ScryptOptions = { N: Number(n), r: Number(r), p: Number(p), maxmem };
  return new Promise((resolve) => {
    scrypt(secret, Buffer.from(saltB64, 'base64'), expected.length, options, (err, key) => {
      resolve(!err && key.length === expected.length && timingSafeEqual(key, expected));
    });
  });
}

/** Whether a verified secret's stored hash is of an older scheme than `hashSecret` writes for its kind. */
export function needsRehash(stored: string, kind: SecretKind): boolean {
  return kind === 'device' && !stored.startsWith('sha256$');
}

/**
 * A hash that no secret matches, to spend the same time on unknown usernames: a password one has
 * scrypt's parameters (verifying it costs one scrypt, as a real one does) and a random key, which
 * no derivation meets (2^-256). Running scrypt to make it would only cost each start ~0.2 s.
 */
export function unusableHash(kind: SecretKind): string {
  if (kind === 'device') return deviceHash(generateSecret(), randomBytes(16));
  return ['scrypt', PASSWORD.N, PASSWORD.r, PASSWORD.p, randomBytes(16).toString('base64'), randomBytes(KEY_LENGTH).toString('base64')].join('$');
}

function deviceHash(secret: string, salt: Buffer): string {
  return ['sha256', salt.toString('base64'), sha256(salt, secret).toString('base64')].join('$');
}

function sha256(salt: Buffer, secret: string): Buffer {
  return createHash('sha256').update(salt).update(secret, 'utf8').digest();
}
