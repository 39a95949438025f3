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
 */
import Influx from 'influx';
import type { Logger } from 'pino';
import { READING_TYPES, type ReadingType } from '../../devices/readingSchema.js';
import { byTime, fromRow, ID_FIELD, RETENTION, toPoint, WindowBuilder } from './influxSchema.js';
import type { InfluxTarget } from './influxTarget.js';
import { describeTarget } from './influxTarget.js';
import {
  AGGREGATED_VALUES, type JournalReading, type ReadingQuery, type ReadingQueryStore, type ReadingWindow, type ReadingWindowQuery,
  type SinkWriteResult, type StoredReading, type TimeSeriesSink, type WindowStats,
} from './types.js';

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

  constructor(target: Extract<InfluxTarget, { version: 1 }>, private readonly log: Logger, private readonly now: () => number = Date.now) {
    this.target = describeTarget(target);
    this.db = target.database;
    const { url } = target;
    this.client = new Influx.InfluxDB({
      host: url.hostname,
      port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 8086,
      protocol: url.protocol === 'https:' ? 'https' : 'http',
      path: url.pathname.replace(/\/$/, ''),
      database: target.database,
      ...(target.username !== undefined && { username: target.username, password: target.password ?? '' }),
      pool: { maxRetries: 0, requestTimeout: 30_000, backoff: NO_BACKOFF },
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
    const existing = new Set((await this.client.showContinousQueries(this.db)).map((q) => q.name));
    for (const name of existing) {
      if (name.startsWith(CQ_PREFIX) && !name.startsWith(`${CQ_PREFIX}${CQ_VERSION}_`)) await this.client.dropContinuousQuery(name, this.db);
    }
    for (const type of READING_TYPES) {
      const name = `${CQ_PREFIX}${CQ_VERSION}_${type}`;
      if (existing.has(name)) continue;
      await this.client.createContinuousQuery(name, this.rollupSelect(type, ''), this.db, `RESAMPLE EVERY 1h FOR ${RETENTION.resampleFor}`);
    }
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
    const groups = { ms: [] as Influx.IPoint[], ns: [] as Influx.IPoint[] };
    for (const r of batch) {
      const p = toPoint(r);
      groups[p.precision].push(p);
    }
    const result: SinkWriteResult = { refused: 0 };
    for (const [precision, points] of [['ms', groups.ms], ['n', groups.ns]] as const) {
      if (points.length === 0) continue;
      try {
        await this.client.writePoints(points, { precision, retentionPolicy: RETENTION.raw.name, database: this.db });
      } catch (err) {
        const refused = refusedPoints(err, points.length);
        if (refused === null) throw err;
        result.refused += refused.count;
        result.refusal = refused.reason;
      }
    }
    await this.backfillLate(batch);
    return result;
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
function refusedPoints(err: unknown, batch: number): { count: number; reason: string } | null {
  const status = (err as { res?: { statusCode?: number } }).res?.statusCode;
  if (status !== 400) return null;
  const message = (err as Error).message;
  const dropped = /dropped=(\d+)/.exec(message);
  return { count: dropped ? Math.min(batch, Number(dropped[1])) : batch, reason: message.replace(/^A 400 Bad Request error occurred: /, '') };
}
