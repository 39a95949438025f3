/**
 * Which InfluxDB the hub forwards readings to, decided by which variables are
 * set (SPEC §7): `ANXIN_INFLUX_URL` with `ANXIN_INFLUX_DB` is 1.x; with
 * `ANXIN_INFLUX_ORG`, `ANXIN_INFLUX_BUCKET` and `ANXIN_INFLUX_TOKEN` it is 2.x.
 * Neither: no InfluxDB, the embedded store only. Anything in between is a
 * configuration error naming what is missing or conflicting.
 */
import type { Logger } from 'pino';
import type { ReadingQueryStore, TimeSeriesSink } from './types.js';

export interface InfluxSettings {
  influxUrl?: string;
  influxDb?: string;
  influxOrg?: string;
  influxBucket?: string;
  influxToken?: string;
}

export type InfluxTarget =
  | { version: 1; url: URL; database: string; username?: string; password?: string }
  | { version: 2; url: URL; org: string; bucket: string; token: string };

const V1 = ['ANXIN_INFLUX_DB'] as const;
const V2 = ['ANXIN_INFLUX_ORG', 'ANXIN_INFLUX_BUCKET', 'ANXIN_INFLUX_TOKEN'] as const;

/** Problems with the InfluxDB variables, one sentence each; empty when they are consistent. */
export function influxProblems(s: InfluxSettings): string[] {
  const v1 = { ANXIN_INFLUX_DB: s.influxDb };
  const v2 = { ANXIN_INFLUX_ORG: s.influxOrg, ANXIN_INFLUX_BUCKET: s.influxBucket, ANXIN_INFLUX_TOKEN: s.influxToken };
  const set = (o: Record<string, string | undefined>) => Object.keys(o).filter((k) => o[k] !== undefined);
  const set1 = set(v1);
  const set2 = set(v2);
  if (s.influxUrl === undefined) {
    const stray = [...set1, ...set2];
    return stray.length > 0 ? [`${stray.join(', ')} set without ANXIN_INFLUX_URL`] : [];
  }
  const problems: string[] = [];
  let url: URL | null = null;
  try {
    url = new URL(s.influxUrl);
  } catch {
    problems.push(`ANXIN_INFLUX_URL "${s.influxUrl}" is not a URL`);
  }
  if (url && url.protocol !== 'http:' && url.protocol !== 'https:') problems.push('ANXIN_INFLUX_URL must be an http:// or https:// URL');
  if (set1.length > 0 && set2.length > 0) {
    problems.push(`both InfluxDB 1.x (${set1.join(', ')}) and 2.x (${set2.join(', ')}) variables are set; set ANXIN_INFLUX_DB for 1.x, or ${V2.join(', ')} for 2.x`);
  } else if (set2.length > 0 && set2.length < V2.length) {
    problems.push(`InfluxDB 2.x needs ${V2.join(', ')}; missing ${V2.filter((k) => !set2.includes(k)).join(', ')}`);
  } else if (set1.length === 0 && set2.length === 0) {
    problems.push(`ANXIN_INFLUX_URL needs ${V1[0]} (InfluxDB 1.x) or ${V2.join(', ')} (InfluxDB 2.x)`);
  }
  if (s.influxDb !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(s.influxDb)) problems.push('ANXIN_INFLUX_DB must be 1–64 letters, digits, _ or -');
  if (url && set2.length > 0 && (url.username || url.password)) problems.push('ANXIN_INFLUX_URL must not carry credentials for InfluxDB 2.x (use ANXIN_INFLUX_TOKEN)');
  return problems;
}

/** The target of consistent settings (see `influxProblems`), or null when InfluxDB is not configured. */
export function influxTarget(s: InfluxSettings): InfluxTarget | null {
  if (s.influxUrl === undefined) return null;
  const problems = influxProblems(s);
  if (problems.length > 0) throw new Error(problems.join('; '));
  const url = new URL(s.influxUrl);
  if (s.influxDb !== undefined) {
    // 1.x credentials, when auth is on, ride in the URL: http://user:password@host:8086
    const username = url.username ? decodeURIComponent(url.username) : undefined;
    const password = url.password ? decodeURIComponent(url.password) : undefined;
    url.username = '';
    url.password = '';
    return { version: 1, url, database: s.influxDb, ...(username !== undefined && { username }), ...(password !== undefined && { password }) };
  }
  return { version: 2, url, org: s.influxOrg!, bucket: s.influxBucket!, token: s.influxToken! };
}

/** The target without secrets, for logs and the forwarder's cursor key. */
export function describeTarget(t: InfluxTarget): string {
  const base = `${t.url.protocol}//${t.url.host}${t.url.pathname.replace(/\/$/, '')}`;
  return t.version === 1 ? `influx1 ${base} db=${t.database}` : `influx2 ${base} org=${t.org} bucket=${t.bucket}`;
}

export interface InfluxStoreOptions {
  /** The clock (1.x: which readings are late enough to roll up at once). */
  now?: () => number;
  /** How long a request may wait for an answer, ms (default 30 000, the forwarder's writes). */
  timeoutMs?: number;
}

/**
 * The 1.x or 2.x store for `target`. The stores are imported here, on demand:
 * a hub without InfluxDB never loads a client library.
 */
export async function createInfluxStore(target: InfluxTarget, log: Logger, opts: InfluxStoreOptions = {}): Promise<TimeSeriesSink & ReadingQueryStore> {
  return target.version === 1
    ? new (await import('./influx1ReadingStore.js')).Influx1ReadingStore(target, log, opts)
    : new (await import('./influx2ReadingStore.js')).Influx2ReadingStore(target, log, opts);
}

/** How long a store request waits by default, ms: a batch of 5,000 points on a busy server. */
export const WRITE_TIMEOUT_MS = 30_000;
