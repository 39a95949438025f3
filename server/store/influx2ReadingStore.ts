/**
 * Readings in InfluxDB 2.x (`@influxdata/influxdb-client`; the only file that
 * imports it): written by the journal forwarder, read with Flux. Layout in
 * influxSchema.ts. The bucket, the hourly rollup bucket and its task are
 * created by the operator (README "InfluxDB", 2.x): a write token should not
 * be able to create buckets.
 *
 * The client's own batching and retry buffer are turned off: it would flush
 * part of a batch on its own and swallow that write's failure, and the
 * forwarder must know that the whole batch is durable before it moves on.
 */
import {
  flux, fluxDuration, fluxExpression, HttpError, InfluxDB, Point, setLogger, type QueryApi, type WriteApi,
} from '@influxdata/influxdb-client';
import type { Logger } from 'pino';
import { READING_TYPES, type ReadingType } from '../../devices/readingSchema.js';
import { byTime, fromRow, ID_FIELD, toPoint, WindowBuilder } from './influxSchema.js';
import { describeTarget, WRITE_TIMEOUT_MS, type InfluxStoreOptions, type InfluxTarget } from './influxTarget.js';
import {
  AGGREGATED_VALUES, type JournalReading, type ReadingQuery, type ReadingQueryStore, type ReadingWindow, type ReadingWindowQuery,
  type SinkWriteResult, type StoredReading, type TimeSeriesSink, type WindowStats,
} from './types.js';

/** Larger than any batch the forwarder sends, so the client never flushes on its own. */
const NEVER = 1_000_000;
/** Columns Flux adds to every row; not reading values. */
const FLUX_COLUMNS = ['result', 'table', '_start', '_stop', '_time', '_measurement'];

export class Influx2ReadingStore implements TimeSeriesSink, ReadingQueryStore {
  readonly target: string;
  private readonly writers: Record<'ms' | 'ns', WriteApi>;
  private readonly queries: QueryApi;
  private readonly bucket: string;

  constructor(target: Extract<InfluxTarget, { version: 2 }>, log: Logger, opts: InfluxStoreOptions = {}) {
    this.target = describeTarget(target);
    this.bucket = target.bucket;
    // The client logs failed writes to the console itself; the forwarder logs them once, with context.
    setLogger({ error: (message, err) => log.debug({ err }, message), warn: (message, err) => log.debug({ err }, message) });
    const client = new InfluxDB({ url: target.url.toString().replace(/\/$/, ''), token: target.token, timeout: opts.timeoutMs ?? WRITE_TIMEOUT_MS });
    const options = { batchSize: NEVER, maxBatchBytes: 1e9, flushInterval: 0, maxRetries: 0, maxBufferLines: NEVER };
    this.writers = {
      ms: client.getWriteApi(target.org, target.bucket, 'ms', options),
      ns: client.getWriteApi(target.org, target.bucket, 'ns', options),
    };
    this.queries = client.getQueryApi(target.org);
  }

  async prepare(): Promise<void> {
    // Buckets and the rollup task are the operator's (see the file comment).
  }

  async write(batch: readonly JournalReading[]): Promise<SinkWriteResult> {
    const groups = { ms: [] as Point[], ns: [] as Point[] };
    for (const r of batch) {
      const p = toPoint(r);
      const point = new Point(p.measurement).timestamp(p.timestamp);
      for (const [k, v] of Object.entries(p.tags)) point.tag(k, v);
      for (const [k, v] of Object.entries(p.fields)) {
        if (typeof v === 'number') point.floatField(k, v);
        else if (typeof v === 'boolean') point.booleanField(k, v);
        else point.stringField(k, v);
      }
      groups[p.precision].push(point);
    }
    const result: SinkWriteResult = { refused: 0 };
    for (const precision of ['ms', 'ns'] as const) {
      if (groups[precision].length === 0) continue;
      this.writers[precision].writePoints(groups[precision]);
      try {
        await this.writers[precision].flush();
      } catch (err) {
        // 400: unparseable or a type conflict; 422: outside the bucket's retention. Retrying cannot help.
        if (!(err instanceof HttpError) || (err.statusCode !== 400 && err.statusCode !== 422)) throw err;
        result.refused += groups[precision].length;
        result.refusal = `${err.statusCode}: ${err.body ?? err.message}`;
      }
    }
    return result;
  }

  async query(q: ReadingQuery): Promise<StoredReading[]> {
    const limit = q.limit ?? 10_000;
    const measurement = q.type ? flux`r._measurement == ${q.type}` : flux`contains(value: r._measurement, set: ${[...READING_TYPES]})`;
    const query = flux`from(bucket: ${this.bucket})
  |> range(start: ${start(q.from)}, stop: ${stop(q.to)})
  |> filter(fn: (r) => ${measurement} and r.resident == ${q.residentId})
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> group()
  |> sort(columns: ["_time"])
  |> limit(n: ${limit})`;
    const rows = await this.queries.collectRows<Record<string, unknown>>(query);
    return rows
      .map((row) => {
        const type = row._measurement as ReadingType;
        const time = Date.parse(String(row._time));
        // Annotated CSV cannot tell an absent value from an empty string: a column this row has no value in reads ''.
        for (const [c, v] of Object.entries(row)) if (FLUX_COLUMNS.includes(c) || v === '' || v === null) delete row[c];
        return fromRow(type, row, time);
      })
      .sort(byTime)
      .slice(0, limit);
  }

  async aggregate(q: ReadingWindowQuery): Promise<ReadingWindow[]> {
    const every = fluxDuration(`${q.everyMs}ms`);
    const fields = AGGREGATED_VALUES[q.type];
    const window = (fn: string) => fluxExpression(`aggregateWindow(every: ${every}, fn: ${fn}, createEmpty: false, timeSrc: "_start")`);
    const stats = fields.length === 0 ? fluxExpression('') : flux`
numeric = data |> filter(fn: (r) => contains(value: r._field, set: ${[...fields]})) |> group(columns: ["_field"])
numeric |> ${window('min')} |> yield(name: "min")
numeric |> ${window('mean')} |> yield(name: "mean")
numeric |> ${window('max')} |> yield(name: "max")`;
    const query = flux`data = from(bucket: ${this.bucket})
  |> range(start: ${start(q.from)}, stop: ${stop(q.to)})
  |> filter(fn: (r) => r._measurement == ${q.type} and r.resident == ${q.residentId})
data |> filter(fn: (r) => r._field == ${ID_FIELD}) |> group() |> ${window('count')} |> yield(name: "count")
${stats}`;
    const rows = await this.queries.collectRows<Record<string, unknown>>(query);
    const windows = new WindowBuilder(q.everyMs);
    for (const row of rows) {
      const time = Date.parse(String(row._time));
      const value = Number(row._value);
      if (row.result === 'count') windows.count(time, value);
      else windows.stat(time, String(row._field), row.result as keyof WindowStats, value);
    }
    return windows.build();
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.writers).map((w) => w.close().catch(() => undefined)));
  }
}

function start(from: number | undefined): Date {
  return new Date(from ?? 0);
}

/** Flux's stop is exclusive; a tie-broken point lies up to 1 ms past its millisecond. Readings may be 5 minutes ahead. */
function stop(to: number | undefined): Date {
  return new Date(to !== undefined ? to + 1 : Date.now() + 3600_000);
}
