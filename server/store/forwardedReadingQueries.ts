/**
 * The readings API's view when a time-series store is configured: the store
 * answers, and the journal fills in what the forwarder has not confirmed yet,
 * so a reading is visible as soon as it is acknowledged, during a replay too.
 * When the store fails, the journal (which holds every reading) answers alone:
 * charts stay up through an InfluxDB outage.
 *
 * Aggregation windows come from the store alone while it answers: they cover
 * long ranges, where readings still on their way (about a second's worth) do
 * not show.
 */
import type { Logger } from 'pino';
import type { HubMetrics } from '../metrics.js';
import { byTime } from './influxSchema.js';
import type { SqliteReadingStore } from './sqliteReadingStore.js';
import type { ReadingQuery, ReadingQueryStore, ReadingWindow, ReadingWindowQuery, StoredReading } from './types.js';

export class ForwardedReadingQueries implements ReadingQueryStore {
  constructor(
    private readonly store: ReadingQueryStore,
    private readonly journal: SqliteReadingStore,
    /** The last journal seq the store confirmed. */
    private readonly cursor: () => number,
    private readonly log: Logger,
    private readonly metrics?: HubMetrics,
  ) {}

  async query(q: ReadingQuery): Promise<StoredReading[]> {
    // Read the cursor first: what the store confirms meanwhile shows twice at worst, and is deduplicated.
    const cursor = this.cursor();
    let confirmed: StoredReading[];
    try {
      confirmed = await this.store.query(q);
    } catch (err) {
      return this.fallback(err, () => this.journal.query(q));
    }
    const recent = this.journal.queryAfter(cursor, q);
    if (recent.length === 0) return confirmed;
    const seen = new Set(confirmed.map(key));
    const merged = [...confirmed, ...recent.filter((r) => !seen.has(key(r)))].sort(byTime);
    return merged.slice(0, q.limit ?? 10_000);
  }

  async aggregate(q: ReadingWindowQuery): Promise<ReadingWindow[]> {
    try {
      return await this.store.aggregate(q);
    } catch (err) {
      return this.fallback(err, () => this.journal.aggregate(q));
    }
  }

  private fallback<T>(err: unknown, fromJournal: () => Promise<T>): Promise<T> {
    this.metrics?.influxQueryFallbacks.inc();
    this.log.warn({ err }, 'time-series query failed; answering from the journal');
    return fromJournal();
  }
}

function key(r: StoredReading): string {
  return `${r.deviceId}\u0000${r.id}`;
}
