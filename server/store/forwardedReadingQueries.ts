/**
 * The readings API's view when a time-series store is configured: the store
 * answers, and the journal fills in what the store does not hold — readings
 * the forwarder has not confirmed yet (so a reading is visible as soon as it
 * is acknowledged, during a replay too) and readings the store refused for
 * good (ForwardingRecord keeps their seqs). When the store fails, the journal
 * (which holds every reading) answers alone: charts stay up through an
 * InfluxDB outage.
 *
 * Aggregation windows come from the store when it holds every reading of the
 * query's resident, type and range, and from the journal otherwise (see
 * `aggregate`).
 */
import type { Logger } from 'pino';
import type { HubMetrics } from '../metrics.js';
import { byTime } from './influxSchema.js';
import type { SeqRange } from './journalForwarder.js';
import type { SqliteReadingStore } from './sqliteReadingStore.js';
import type { ReadingQuery, ReadingQueryStore, ReadingWindow, ReadingWindowQuery, StoredReading } from './types.js';

/** How far the forwarder got (ThreadedForwarder in the hub). */
export interface ForwardingProgress {
  /** The last journal seq the store confirmed. */
  readonly cursor: number;
  /** Seqs at or below the cursor whose points the store refused for good (a superset, in few ranges). */
  refusedSeqs(): readonly SeqRange[];
}

export class ForwardedReadingQueries implements ReadingQueryStore {
  constructor(
    private readonly store: ReadingQueryStore,
    private readonly journal: SqliteReadingStore,
    private readonly progress: ForwardingProgress,
    private readonly log: Logger,
    private readonly metrics?: HubMetrics,
  ) {}

  async query(q: ReadingQuery): Promise<StoredReading[]> {
    // Read the cursor first: what the store confirms meanwhile shows twice at worst, and is deduplicated.
    const cursor = this.progress.cursor;
    const refused = this.progress.refusedSeqs();
    let confirmed: StoredReading[];
    try {
      confirmed = await this.store.query(q);
    } catch (err) {
      return this.fallback(err, () => this.journal.query(q));
    }
    const recent = this.journal.queryAfter(cursor, q);
    // Refused ranges hold readings the store did keep too (it says how many it refused, not which): deduplicated below.
    recent.push(...this.journal.queryInSeqRanges(refused, q));
    if (recent.length === 0) return confirmed;
    const seen = new Set(confirmed.map(key));
    const merged = [...confirmed];
    for (const r of recent) {
      const k = key(r);
      if (seen.has(k)) continue;
      seen.add(k);
      merged.push(r);
    }
    return merged.sort(byTime).slice(0, q.limit ?? 10_000);
  }

  /**
   * Windows from the store while it holds every reading of the query's
   * resident, type and range; from the journal while one of them is after
   * the cursor (not confirmed: a batch on its way, a backlog while InfluxDB
   * fails writes, a replay, a thread restart) or in a refused range.
   *
   * Not merged: the store's windows plus the journal's for readings after
   * the cursor would count the batch in flight twice (InfluxDB holds it
   * before its confirmation moves the cursor), and a refused range also
   * holds readings the store kept (1.x says how many points of a request it
   * dropped, not which), which windows cannot deduplicate. The journal holds
   * every reading, so its windows are exact; a resident's readings of one
   * type over 90 days are a few thousand rows on an index. The check reads
   * the range of the covering index readings_resident_type_ts (seq is in
   * it), and finds nothing nearly always: a reading waits about a second for
   * its batch.
   */
  async aggregate(q: ReadingWindowQuery): Promise<ReadingWindow[]> {
    if (this.storeLacksSome(q)) return this.journal.aggregate(q);
    try {
      return await this.store.aggregate(q);
    } catch (err) {
      return this.fallback(err, () => this.journal.aggregate(q));
    }
  }

  /** Whether a reading of the window query is not confirmed yet, or was refused. */
  private storeLacksSome(q: ReadingWindowQuery): boolean {
    return this.journal.hasReadingAfter(q, this.progress.cursor, this.progress.refusedSeqs());
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
