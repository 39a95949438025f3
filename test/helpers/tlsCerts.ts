/**
 * Real certificates for TLS tests, made by the `openssl` CLI into a directory:
 * a private CA, and server certificates it signs for 127.0.0.1 and localhost
 * (P-256 keys: fast to generate).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCa {
  /** PEM certificate, what a client is told to trust. */
  cert: string;
  key: string;
}

export interface ServerCert {
  cert: string;
  key: string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA named `name`, files `name.pem` and `name.key` in `dir`. */
export function createTestCa(dir: string, name = 'test-ca'): TestCa {
  const ca = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  openssl(['req', '-x509', ...EC_KEY, '-keyout', ca.key, '-out', ca.cert, '-days', '30', '-subj', `/CN=Anxin ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return ca;
}

/** A server certificate for 127.0.0.1 and localhost signed by `ca`, files `name.pem` and `name.key` in `dir`. */
export function issueServerCert(ca: TestCa, dir: string, name: string, opts: { cn?: string; days?: number } = {}): ServerCert {
  const out = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl(['req', ...EC_KEY, '-keyout', out.key, '-out', csr, '-subj', `/CN=${opts.cn ?? 'anxin-hub'}`]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', String(opts.days ?? 90), '-extfile', ext, '-out', out.cert]);
  return out;
}
