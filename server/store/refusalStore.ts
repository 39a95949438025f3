/**
 * Refused payloads, kept bounded for an admin to inspect (SPEC §3).
 *
 * A publish's payload is kept once, in `refusal_payloads`, and each of its
 * refused readings is one row of `refusals` that refers to it: a gateway
 * publish of 500 refused readings wrote the same 4 KiB 500 times (audit D7).
 * The newest `limit` refusals are kept; a payload goes when no refusal kept
 * refers to it any more.
 */
import type { Refusal } from '../../devices/validateReading.js';
import type { GroupCommit } from './groupCommit.js';
import type { Db } from './sqliteDb.js';

export interface RefusalRecord {
  seq: number;
  at: number;
  clientId: string | null;
  topic: string;
  code: string;
  field: string | null;
  readingId: string | null;
  detail: string;
  /** The refused payload as text, cut at 4 KiB. */
  payload: string | null;
}

const MAX_PAYLOAD_CHARS = 4096;
/** Refusals recorded between two prunings (a pruning also runs after any larger job). */
const PRUNE_EVERY = 100;

export class RefusalStore {
  private readonly insertPayload;
  private readonly insertWithPayload;
  private readonly insertWithoutPayload;
  private readonly prune;
  private readonly prunePayloads;
  private sincePrune = 0;

  constructor(private readonly db: Db, private readonly writer: GroupCommit, private readonly limit: number) {
    this.insertPayload = writer.statement('INSERT INTO refusal_payloads (payload) VALUES (?)');
    // A recorded job reads nothing back (groupCommit.ts), so a row finds its payload, inserted just
    // before it in the same job, as the newest one.
    this.insertWithPayload = writer.statement(
      `INSERT INTO refusals (at, client_id, topic, code, field, reading_id, detail, payload_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT max(id) FROM refusal_payloads))`,
    );
    this.insertWithoutPayload = writer.statement(
      'INSERT INTO refusals (at, client_id, topic, code, field, reading_id, detail, payload_id) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)',
    );
    this.prune = writer.statement('DELETE FROM refusals WHERE seq <= (SELECT MAX(seq) FROM refusals) - ?');
    // Every payload numbered below the lowest one a kept refusal refers to is referred to by none
    // (refusals_payload makes that minimum one probe). With none referred to, all but the newest go.
    this.prunePayloads = writer.statement(
      `DELETE FROM refusal_payloads WHERE id < coalesce((SELECT min(payload_id) FROM refusals), (SELECT max(id) FROM refusal_payloads))`,
    );
  }

  /**
   * Records the refusals of one publish, and its payload once, in the next group commit;
   * `done` runs once they are durable (or failed). The job weighs its number of rows, so
   * a gateway's 500 refusals fill a batch as 500 accepted readings do.
   */
  record(
    at: number, clientId: string | null, topic: string, refusals: readonly Refusal[], payload: Buffer | null,
    done: (err: Error | null) => void = () => {},
  ): void {
    const text = payload ? payload.toString('utf8', 0, Math.min(payload.length, MAX_PAYLOAD_CHARS)) : null;
    this.writer.enqueueRecorded(() => {
      if (text !== null) this.insertPayload.run(text);
      const insert = text !== null ? this.insertWithPayload : this.insertWithoutPayload;
      for (const r of refusals) insert.run(at, clientId, topic, r.code, r.field ?? null, r.id ?? null, r.detail);
      this.sincePrune += refusals.length;
      if (this.sincePrune >= PRUNE_EVERY) {
        this.sincePrune = 0;
        this.prune.run(this.limit);
        this.prunePayloads.run();
      }
    }, (err) => done(err), Math.max(1, refusals.length));
  }

  list(opts: { limit?: number; beforeSeq?: number; code?: string } = {}): RefusalRecord[] {
    const rows = this.db
      .prepare(
        `SELECT r.seq, r.at, r.client_id, r.topic, r.code, r.field, r.reading_id, r.detail, p.payload
         FROM refusals r LEFT JOIN refusal_payloads p ON p.id = r.payload_id
         WHERE (@before IS NULL OR r.seq < @before) AND (@code IS NULL OR r.code = @code)
         ORDER BY r.seq DESC LIMIT @limit`,
      )
      .all({ before: opts.beforeSeq ?? null, code: opts.code ?? null, limit: opts.limit ?? 100 }) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      seq: r.seq as number,
      at: r.at as number,
      clientId: r.client_id as string | null,
      topic: r.topic as string,
      code: r.code as string,
      field: r.field as string | null,
      readingId: r.reading_id as string | null,
      detail: r.detail as string,
      payload: r.payload as string | null,
    }));
  }
}
