/**
 * Readings in InfluxDB 1.x (the `influx` package; the only file that imports
 * it). Written by the journal forwarder, read by the readings API. Layout in
 * influxSchema.ts; retention, set up by `prepare()` on every start:
 *
 * - `anxin_raw` (default policy, 400 days): every reading, as written;
 * - `anxin_1h` (10 years): per series and hour, `<value>_min`, `<value>_mean`,
 *   `<value>_max` of every numeric value and `count`, kept up to date by one
 *   continuous query per measurement (`anxin_1h_v1_<type>`) that recomputes the
 *   last day every hour; a batch carrying older (late) readings recomputes
 *   their hours right after it is written (`backfill`).
 *
 * A policy that already exists is left as it is (an operator may have tuned
 * it); continuous queries are versioned by name, and older versions dropped.
 *
 * Points are written as line protocol built here, not with the package's
 * `writePoints`: its string escaper first turns the first `\'` of a value
 * into `\\'` (it is shared with InfluxQL literals), so a reading id or
 * location holding `\'` came back with an extra backslash.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import Influx from 'influx';
import type { Logger } from 'pino';
import { READING_TYPES, type ReadingType } from '../../devices/readingSchema.js';
import { byTime, fromRow, ID_FIELD, RETENTION, toPoint, WindowBuilder, type InfluxPoint } from './influxSchema.js';
import { describeTarget, WRITE_TIMEOUT_MS, type InfluxStoreOptions, type InfluxTarget } from './influxTarget.js';
import {
  AGGREGATED_VALUES, type JournalReading, type ReadingQuery, type ReadingQueryStore, type ReadingWindow, type ReadingWindowQuery,
  type SinkWriteResult, type StoredReading, type TimeSeriesSink, type WindowStats,
} from './types.js';

/** Kept-alive connections for the forwarder's writes (one request at a time). */
const HTTP_AGENT = new HttpAgent({ keepAlive: true, maxSockets: 4 });
const HTTPS_AGENT = new HttpsAgent({ keepAlive: true, maxSockets: 4 });

const CQ_PREFIX = 'anxin_1h_';
const CQ_VERSION = 'v1';
const HOUR = 3600_000;

/** The forwarder owns retries and backoff; the pool must neither retry nor take the host out of rotation. */
const NO_BACKOFF = { getDelay: () => 0, next() { return this; }, reset() { return this; } };

interface RawSeries { name: string; columns: string[]; values: unknown[][] }
interface RawResult { statement_id: number; series?: RawSeries[]; error?: string }

export class Influx1ReadingStore implements TimeSeriesSink, ReadingQueryStore {
  readonly target: string;
  private readonly client: Influx.InfluxDB;
  private readonly db: string;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  /** `/write` without its query string, and the Basic authorization when the URL carried credentials. */
  private readonly writeUrl: string;
  private readonly authorization: string | undefined;

  constructor(target: Extract<InfluxTarget, { version: 1 }>, private readonly log: Logger, opts: InfluxStoreOptions = {}) {
    this.target = describeTarget(target);
    this.db = target.database;
    this.now = opts.now ?? Date.now;
    this.timeoutMs = opts.timeoutMs ?? WRITE_TIMEOUT_MS;
    const { url } = target;
    this.writeUrl = `${url.protocol}//${url.host}${url.pathname.replace(/\/$/, '')}/write`;
    this.authorization = target.username !== undefined
      ? `Basic ${Buffer.from(`${target.username}:${target.password ?? ''}`).toString('base64')}`
      : undefined;
    this.client = new Influx.InfluxDB({
      host: url.hostname,
      port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 8086,
      protocol: url.protocol === 'https:' ? 'https' : 'http',
      path: url.pathname.replace(/\/$/, ''),
      database: target.database,
      ...(target.username !== undefined && { username: target.username, password: target.password ?? '' }),
      pool: { maxRetries: 0, requestTimeout: this.timeoutMs, backoff: NO_BACKOFF },
    });
  }

  async prepare(): Promise<void> {
    await this.client.createDatabase(this.db); // a no-op when it exists
    const policies = new Set((await this.client.showRetentionPolicies(this.db)).map((p) => p.name));
    if (!policies.has(RETENTION.raw.name)) {
      await this.client.createRetentionPolicy(RETENTION.raw.name, { database: this.db, duration: RETENTION.raw.duration, replication: 1, isDefault: true });
    }
    if (!policies.has(RETENTION.hourly.name)) {
      await this.client.createRetentionPolicy(RETENTION.hourly.name, { database: this.db, duration: RETENTION.hourly.duration, replication: 1 });
    }
    const existing = await this.continuousQueries();
    for (const name of existing) {
      if (name.startsWith(CQ_PREFIX) && !name.startsWith(`${CQ_PREFIX}${CQ_VERSION}_`)) await this.client.dropContinuousQuery(name, this.db);
    }
    for (const type of READING_TYPES) {
      const name = `${CQ_PREFIX}${CQ_VERSION}_${type}`;
      if (existing.has(name)) continue;
      await this.client.createContinuousQuery(name, this.rollupSelect(type, ''), this.db, `RESAMPLE EVERY 1h FOR ${RETENTION.resampleFor}`);
    }
  }

  /**
   * This database's continuous queries. `SHOW CONTINUOUS QUERIES` answers
   * every database's, one series each, and the package's
   * `showContinousQueries` merges them: a second database on the server
   * (another hub, a new `ANXIN_INFLUX_DB`) found the first one's queries,
   * created none, and could drop another database's old versions by name.
   */
  private async continuousQueries(): Promise<Set<string>> {
    const [result] = checkResults(await this.client.queryRaw('SHOW CONTINUOUS QUERIES', { database: this.db }));
    const ours = result?.series?.find((s) => s.name === this.db);
    const column = ours?.columns.indexOf('name') ?? -1;
    return new Set((ours?.values ?? []).map((v) => String(v[column])));
  }

  /** The rollup of one measurement (the continuous query's body), optionally over a time range. */
  rollupSelect(type: ReadingType, where: string): string {
    const into = `"${this.db}"."${RETENTION.hourly.name}"."${type}"`;
    return `SELECT ${windowColumns(type)} INTO ${into} FROM ${this.measurement(type)} ${where} GROUP BY time(1h), *`;
  }

  /** Recomputes the hourly rollup of [from, to) (epoch ms; whole hours) for the given types. */
  async backfill(from: number, to: number, types: readonly ReadingType[] = READING_TYPES): Promise<void> {
    const start = Math.floor(from / HOUR) * HOUR;
    const stop = Math.ceil(to / HOUR) * HOUR;
    const statements = types.map((t) => this.rollupSelect(t, `WHERE time >= ${start}ms AND time < ${stop}ms`));
    checkResults(await this.client.queryRaw(statements.join('; '), { database: this.db, method: 'POST' }));
  }

  async write(batch: readonly JournalReading[]): Promise<SinkWriteResult> {
    const groups = { ms: [] as string[], ns: [] as string[] };
    for (const r of batch) {
      const p = toPoint(r);
      groups[p.precision].push(toLine(p));
    }
    const result: SinkWriteResult = { refused: 0 };
    for (const [precision, lines] of [['ms', groups.ms], ['n', groups.ns]] as const) {
      if (lines.length === 0) continue;
      const refused = await this.post(precision, lines);
      if (refused) {
        result.refused += refused.count;
        result.refusal = refused.reason;
      }
    }
    await this.backfillLate(batch);
    return result;
  }

  /**
   * Writes line protocol; resolves with what the server refused for good
   * (null: nothing), rejects on anything worth retrying.
   */
  private async post(precision: 'ms' | 'n', lines: string[]): Promise<{ count: number; reason: string } | null> {
    const query = new URLSearchParams({ db: this.db, rp: RETENTION.raw.name, precision });
    let status: number;
    let body: string;
    try {
      ({ status, body } = await this.request(`${this.writeUrl}?${query}`, lines.join('\n')));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.name === 'TimeoutError' ? `no answer in ${this.timeoutMs} ms` : e.code ?? e.message;
      throw new Error(`InfluxDB write to ${this.target} failed: ${why}`, { cause: err });
    }
    if (status === 204 || status === 200) return null;
    const message = (() => {
      try {
        return (JSON.parse(body) as { error?: string }).error ?? body;
      } catch {
        return body;
      }
    })();
    const refused = refusedPoints(status, message, lines.length);
    if (!refused) throw new Error(`InfluxDB write answered ${status}: ${message}`);
    return refused;
  }

  /**
   * One POST on a kept-alive connection (node:http, as the package writes:
   * `fetch` cost the forwarder thread enough CPU to take 10 % off the hub's
   * ingest with InfluxDB configured, measured A B B A).
   */
  private request(url: string, payload: string): Promise<{ status: number; body: string }> {
    const u = new URL(url);
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(u, {
        method: 'POST', agent: u.protocol === 'https:' ? HTTPS_AGENT : HTTP_AGENT, timeout: this.timeoutMs,
        headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(payload), ...(this.authorization && { authorization: this.authorization }) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer in ${this.timeoutMs} ms`), { name: 'TimeoutError' })));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Hours older than the continuous queries' resample window are recomputed here, or late readings would miss the rollup. */
  private async backfillLate(batch: readonly JournalReading[]): Promise<void> {
    const horizon = this.now() - 23 * HOUR;
    const spans = new Map<ReadingType, [number, number]>();
    for (const r of batch) {
      if (r.ts >= horizon) continue;
      const s = spans.get(r.type);
      spans.set(r.type, s ? [Math.min(s[0], r.ts), Math.max(s[1], r.ts + 1)] : [r.ts, r.ts + 1]);
    }
    for (const [type, [from, to]] of spans) {
      // Derived data: a failure is logged, not retried (the raw points are written).
      await this.backfill(from, to, [type]).catch((err: unknown) => this.log.warn({ err, type, from, to }, 'hourly rollup of late readings failed'));
    }
  }

  async query(q: ReadingQuery): Promise<StoredReading[]> {
    const types = q.type ? [q.type] : READING_TYPES;
    const limit = q.limit ?? 10_000;
    const where = `WHERE "resident" = $resident${timeRange(q.from, q.to)}`;
    const statements = types.map((t) => `SELECT * FROM ${this.measurement(t)} ${where} ORDER BY time ASC LIMIT ${limit}`);
    const results = checkResults(await this.client.queryRaw(statements.join('; '), {
      database: this.db, precision: 'ms', placeholders: { resident: q.residentId },
    }));
    const readings: StoredReading[] = [];
    results.forEach((res, i) => {
      for (const s of res.series ?? []) {
        for (const values of s.values) {
          const row = Object.fromEntries(s.columns.map((c, j) => [c, values[j]]));
          readings.push(fromRow(types[i]!, row, Number(row.time)));
        }
      }
    });
    return readings.sort(byTime).slice(0, limit);
  }

  async aggregate(q: ReadingWindowQuery): Promise<ReadingWindow[]> {
    const statement = `SELECT ${windowColumns(q.type)} FROM ${this.measurement(q.type)} WHERE "resident" = $resident${timeRange(q.from, q.to)} ` +
      `GROUP BY time(${q.everyMs}ms) fill(none)`;
    const [result] = checkResults(await this.client.queryRaw(statement, { database: this.db, precision: 'ms', placeholders: { resident: q.residentId } }));
    const windows = new WindowBuilder(q.everyMs);
    for (const s of result?.series ?? []) {
      for (const values of s.values) {
        const row = Object.fromEntries(s.columns.map((c, j) => [c, values[j]]));
        const time = Number(row.time);
        windows.count(time, Number(row.count ?? 0));
        for (const [column, v] of Object.entries(row)) {
          const m = /^(.+)_(min|mean|max)$/.exec(column);
          if (m && typeof v === 'number') windows.stat(time, m[1]!, m[2] as keyof WindowStats, v);
        }
      }
    }
    return windows.build();
  }

  async close(): Promise<void> {
    // HTTP only, no connection to close.
  }

  private measurement(type: ReadingType): string {
    return `"${this.db}"."${RETENTION.raw.name}"."${type}"`;
  }
}

/** `min`, `mean`, `max` of every numeric value, and the readings' count. */
function windowColumns(type: ReadingType): string {
  const stats = AGGREGATED_VALUES[type].flatMap((f) => ['min', 'mean', 'max'].map((fn) => `${fn}("${f}") AS "${f}_${fn}"`));
  return [...stats, `count("${ID_FIELD}") AS "count"`].join(', ');
}

/** Inclusive bounds in ms; a tie-broken point lies up to 1 ms past its millisecond, hence `< to + 1ms`. */
function timeRange(from: number | undefined, to: number | undefined): string {
  return `${from !== undefined ? ` AND time >= ${Math.trunc(from)}ms` : ''}${to !== undefined ? ` AND time < ${Math.trunc(to) + 1}ms` : ''}`;
}

function checkResults(raw: { results?: RawResult[]; error?: string }): RawResult[] {
  if (raw.error) throw new Error(`InfluxDB: ${raw.error}`);
  for (const r of raw.results ?? []) if (r.error) throw new Error(`InfluxDB: ${r.error}`);
  return raw.results ?? [];
}

/**
 * A 400 answer is the server refusing points for good (outside retention, a
 * field type conflict, unparseable); 1.x writes the rest of the batch and says
 * how many it dropped. Anything else (unreachable, 5xx, auth, no database) is
 * worth retrying: null.
 */
function refusedPoints(status: number, message: string, batch: number): { count: number; reason: string } | null {
  if (status !== 400) return null;
  const dropped = /dropped=(\d+)/.exec(message);
  return { count: dropped ? Math.min(batch, Number(dropped[1])) : batch, reason: message };
}

/**
 * One point as a line of InfluxDB 1.x line protocol: measurement, tags and
 * field keys escape comma, equals sign and space; string field values are
 * quoted, escaping `\` and `"` (and nothing else); numbers are written as
 * floats, booleans as `true`/`false`; the time is an integer in the write's
 * precision. Fields sorted, as the package wrote them.
 */
export function toLine(p: InfluxPoint): string {
  let line = escapeKey(p.measurement);
  for (const k of Object.keys(p.tags).sort()) line += `,${escapeKey(k)}=${escapeKey(p.tags[k]!)}`;
  let sep = ' ';
  for (const k of Object.keys(p.fields).sort()) {
    const v = p.fields[k]!;
    line += `${sep}${escapeKey(k)}=${typeof v === 'string' ? `"${escapeString(v)}"` : String(v)}`;
    sep = ',';
  }
  return `${line} ${p.timestamp}`;
}

const KEY_SPECIALS = /[,= ]/g;
const STRING_SPECIALS = /["\\]/g;

function escapeKey(s: string): string {
  return s.replace(KEY_SPECIALS, '\\$&');
}

function escapeString(s: string): string {
  return s.replace(STRING_SPECIALS, '\\$&');
}
