/** Refused payloads, kept bounded for an admin to inspect (SPEC §3). */
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

export class RefusalStore {
  private readonly insert;
  private readonly prune;
  private sinceprune = 0;

  constructor(private readonly db: Db, private readonly writer: GroupCommit, private readonly limit: number) {
    this.insert = writer.statement(
      'INSERT INTO refusals (at, client_id, topic, code, field, reading_id, detail, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.prune = writer.statement('DELETE FROM refusals WHERE seq <= (SELECT MAX(seq) FROM refusals) - ?');
  }

  /** Records refusals in the next group commit; recording never blocks the sender. */
  record(at: number, clientId: string | null, topic: string, refusals: readonly Refusal[], payload: Buffer | null): void {
    const text = payload ? payload.toString('utf8', 0, Math.min(payload.length, MAX_PAYLOAD_CHARS)) : null;
    this.writer.enqueueRecorded(() => {
      for (const r of refusals) this.insert.run(at, clientId, topic, r.code, r.field ?? null, r.id ?? null, r.detail, text);
      this.sinceprune += refusals.length;
      if (this.sinceprune >= 100) {
        this.sinceprune = 0;
        this.prune.run(this.limit);
      }
    }, () => {});
  }

  list(opts: { limit?: number; beforeSeq?: number; code?: string } = {}): RefusalRecord[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM refusals WHERE (@before IS NULL OR seq < @before) AND (@code IS NULL OR code = @code)
         ORDER BY seq DESC LIMIT @limit`,
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
