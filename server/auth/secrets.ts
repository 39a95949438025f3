/**
 * Secrets are stored only as scrypt hashes (RFC 7914) and compared in constant
 * time. Used for device/gateway MQTT secrets and for user passwords.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Cost per kind of secret. People choose passwords, so theirs get one of OWASP's
 * equivalent scrypt settings (N=2^15, r=8, p=3: the CPU cost of N=2^17 at a
 * quarter of the memory, 32 MiB, so a burst of sign-ins stays affordable). Device and gateway secrets are 192 random bits
 * issued by the hub, so brute force is out of reach whatever the cost; N=2^14
 * (~30 ms) keeps enrolling a district's hundreds of devices and a reconnect
 * storm affordable while the stored hash stays useless to a thief.
 */
const PARAMS = {
  password: { N: 1 << 15, r: 8, p: 3 },
  device: { N: 1 << 14, r: 8, p: 1 },
} as const;
export type SecretKind = keyof typeof PARAMS;
const KEY_LENGTH = 32;
const maxmem = 256 * 1024 * 1024;

/** A new random secret: 24 bytes, base64url (32 characters). */
export function generateSecret(): string {
  return randomBytes(24).toString('base64url');
}

/** `scrypt$N$r$p$salt$hash`, so parameters can be raised later without breaking old hashes. */
export function hashSecret(secret: string, kind: SecretKind): Promise<string> {
  const salt = randomBytes(16);
  const params = PARAMS[kind];
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEY_LENGTH, { ...params, maxmem }, (err, key) => {
      if (err) reject(err);
      else resolve(['scrypt', params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$'));
    });
  });
}

/** Runs in libuv's thread pool, so a burst of sign-ins does not stall the event loop. */
export function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
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

/** A hash that no secret matches, to spend the same time on unknown usernames. */
export function unusableHash(kind: SecretKind): string {
  const params = PARAMS[kind];
  const key = scryptSync(generateSecret(), randomBytes(16), KEY_LENGTH, { ...params, maxmem });
  return ['scrypt', params.N, params.r, params.p, randomBytes(16).toString('base64'), key.toString('base64')].join('$');
}
