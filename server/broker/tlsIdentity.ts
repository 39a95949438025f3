/**
 * The hub's TLS identity for MQTT over TLS (SPEC §2: "MQTT over TLS (8883)
 * when a certificate is configured") and HTTPS: a certificate, its private key, and the
 * intermediate certificates to send with it, read from PEM files
 * (`ANXIN_TLS_CERT`, `ANXIN_TLS_KEY`, `ANXIN_TLS_CA`), checked to belong
 * together, and described for the log by subject and expiry, never by the key.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';

/** The settings of server/config.ts this module reads. */
export interface TlsSettings {
  httpPort: number | 'off';
  mqttPort: number | 'off';
  mqttsPort: number;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsKeyPassphrase?: string;
}

export interface TlsFiles {
  cert: string;
  key: string;
  /** Intermediate certificates sent after the hub's own (for a `cert` file that holds only the leaf). */
  ca?: string;
  passphrase?: string;
}

export interface TlsIdentity {
  /** For `tls.createServer` and `Server#setSecureContext`. Holds the private key: never log it. */
  readonly secureOptions: SecureContextOptions;
  /** `CN=…, O=…` of the hub's certificate, and of its issuer. */
  readonly subject: string;
  readonly issuer: string;
  readonly subjectAltName: string | undefined;
  /** End of validity, epoch ms. */
  readonly validTo: number;
  /** What the files looked like just before they were read (see `tlsFilesSignature`). */
  readonly signature: string;
}

/** A certificate or key the hub cannot serve; the message names the variable and the file, never the key. */
export class TlsSettingError extends Error {}

/**
 * TLS 1.0 and 1.1 are deprecated (RFC 8996); Node's default minimum is 1.2
 * already, stated here so a changed default or `--tls-min-v1.0` cannot lower it.
 */
const MIN_VERSION = 'TLSv1.2';

/** Problems of the TLS settings as a whole, each naming its variables (like `smsProblems`, `influxProblems`). */
export function tlsProblems(s: TlsSettings): string[] {
  const cert = s.tlsCert !== undefined;
  const key = s.tlsKey !== undefined;
  if (!cert && !key) {
    const stray = Object.entries({ ANXIN_TLS_CA: s.tlsCa, ANXIN_TLS_KEY_PASSPHRASE: s.tlsKeyPassphrase }).filter(([, v]) => v !== undefined).map(([k]) => k);
    return stray.length > 0 ? [`${stray.join(', ')} set without ANXIN_TLS_CERT and ANXIN_TLS_KEY`] : [];
  }
  if (cert !== key) return [`ANXIN_TLS_CERT and ANXIN_TLS_KEY go together; missing ${cert ? 'ANXIN_TLS_KEY' : 'ANXIN_TLS_CERT'}`];
  if (s.mqttsPort !== 0 && (s.mqttsPort === s.mqttPort || s.mqttsPort === s.httpPort)) {
    return [`ANXIN_MQTTS_PORT ${s.mqttsPort} must differ from ANXIN_MQTT_PORT and ANXIN_HTTP_PORT`];
  }
  return [];
}

/** The files of consistent settings (see `tlsProblems`), or null when TLS is not configured. */
export function tlsFilesOf(s: TlsSettings): TlsFiles | null {
  if (s.tlsCert === undefined || s.tlsKey === undefined) return null;
  return { cert: s.tlsCert, key: s.tlsKey, ca: s.tlsCa, passphrase: s.tlsKeyPassphrase };
}

/** Reads and checks the files; throws `TlsSettingError` naming the variable at fault. */
export function loadTlsIdentity(files: TlsFiles): TlsIdentity {
  const signature = tlsFilesSignature(files);
  const certPem = readPem('ANXIN_TLS_CERT', files.cert);
  const keyPem = readPem('ANXIN_TLS_KEY', files.key);
  const chainPem = files.ca === undefined ? '' : readPem('ANXIN_TLS_CA', files.ca);
  const [leaf] = parseCertificates('ANXIN_TLS_CERT', files.cert, certPem);
  if (files.ca !== undefined) parseCertificates('ANXIN_TLS_CA', files.ca, chainPem);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keyPem, format: 'pem', passphrase: files.passphrase });
  } catch (err) {
    const hint = files.passphrase === undefined ? ' (an encrypted key needs ANXIN_TLS_KEY_PASSPHRASE)' : ' (or ANXIN_TLS_KEY_PASSPHRASE does not open it)';
    throw new TlsSettingError(`ANXIN_TLS_KEY ${files.key}: not a readable private key${hint}: ${(err as Error).message}`, { cause: err });
  }
  if (key.type !== 'private') throw new TlsSettingError(`ANXIN_TLS_KEY ${files.key}: holds no private key`);
  if (!leaf!.checkPrivateKey(key)) throw new TlsSettingError(`ANXIN_TLS_KEY ${files.key}: does not match the certificate in ANXIN_TLS_CERT ${files.cert}`);
  const secureOptions: SecureContextOptions = {
    cert: chainPem ? `${certPem.trimEnd()}\n${chainPem}` : certPem,
    key: keyPem,
    passphrase: files.passphrase,
    minVersion: MIN_VERSION,
  };
  try {
    // What OpenSSL itself refuses (e.g. a key too weak for its security level).
    createSecureContext(secureOptions);
  } catch (err) {
    throw new TlsSettingError(`ANXIN_TLS_CERT ${files.cert}: cannot be served: ${(err as Error).message}`, { cause: err });
  }
  return {
    secureOptions,
    subject: oneLine(leaf!.subject),
    issuer: oneLine(leaf!.issuer),
    subjectAltName: leaf!.subjectAltName,
    validTo: Date.parse(leaf!.validTo),
    signature,
  };
}

/**
 * Changes when any of the files is replaced or rewritten: modification and
 * change times, size and inode of what each path points to (stat follows
 * symlinks, so certbot's `live/` links and Kubernetes' `..data` swaps count).
 */
export function tlsFilesSignature(files: TlsFiles): string {
  return [files.cert, files.key, files.ca].map((path) => {
    if (path === undefined) return '-';
    try {
      const s = statSync(path);
      return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
    } catch {
      return 'missing';
    }
  }).join('|');
}

function readPem(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new TlsSettingError(`${variable} ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
}

function parseCertificates(variable: string, path: string, pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new TlsSettingError(`${variable} ${path}: holds no PEM certificate`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new TlsSettingError(`${variable} ${path}: certificate ${i + 1} cannot be parsed: ${(err as Error).message}`, { cause: err });
    }
  });
}

function oneLine(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}
