/**
 * Where every local reading enters the gateway: JSON lines (TCP, stdin) and the
 * zigbee2mqtt bridge. Each reading is completed (`id`, `ts`), validated with
 * the hub's own rules so garbage never sits in the outbox, committed, and only
 * then answered "ok". A bad line gets an answer naming the problem; nothing a
 * line contains can stop the gateway.
 *
 *   parse line → (decode Bluetooth frame) → complete → validate → commit → alarm
 */
import { MAX_READING_BYTES } from '../devices/readingSchema.js';
import { isValidId } from '../devices/topics.js';
import { validateReading } from '../devices/validateReading.js';
import type { AlarmReading } from './localAlarm.js';
import type { GatewayContext } from './gatewayContext.js';
import type { NewEntry } from './outbox.js';

/** One local reading: the device it is from, and a SPEC §3 payload that may lack `id` and `ts`. */
export interface Candidate {
  deviceId: string;
  reading: Record<string, unknown>;
}

export type Answer =
  | { ok: true; id: string; duplicate?: true }
  | { ok: false; error: string; detail: string; field?: string; id?: string };

/** Turns a raw Bluetooth notification line into a reading, or a refusal. */
export type BluetoothDecoder = (line: { device: string; characteristic: unknown; hex: unknown }, receivedAt: number) => Candidate | Extract<Answer, { ok: false }>;

export interface IntakeHooks {
  decodeBluetooth: BluetoothDecoder;
  /** Every reading newly committed (the local alarm looks at falls and SOS). */
  onAccepted: (r: AlarmReading) => void;
}

export const MAX_LINE_BYTES = 16 * 1024;

export class Intake {
  /** Lines answered, by outcome (for the log and tests). */
  readonly stats = { accepted: 0, duplicates: 0, refused: 0 };

  constructor(private readonly ctx: GatewayContext, private readonly hooks: IntakeHooks) {}

  /** Parses, validates and commits a run of lines in one transaction; one answer per line, in order. */
  acceptLines(lines: readonly string[]): Answer[] {
    const answers: Array<Answer | undefined> = [];
    const candidates: Candidate[] = [];
    const slots: number[] = [];
    const receivedAt = this.ctx.now();
    lines.forEach((line, i) => {
      const parsed = this.parseLine(line, receivedAt);
      if ('ok' in parsed) {
        answers[i] = parsed;
        this.stats.refused++;
      } else {
        candidates.push(parsed);
        slots.push(i);
      }
    });
    const accepted = this.acceptReadings(candidates);
    accepted.forEach((a, j) => (answers[slots[j]!] = a));
    return answers as Answer[];
  }

  /**
   * Completes, validates and commits readings in one transaction, together with
   * `state` (e.g. the zigbee2mqtt state they were derived from).
   */
  acceptReadings(candidates: readonly Candidate[], state?: { key: string; value: unknown }): Answer[] {
    const { outbox, config: { homeId }, now, log } = this.ctx;
    const at = now();
    const answers: Answer[] = [];
    const entries: NewEntry[] = [];
    const pending: Array<{ slot: number; alarm: AlarmReading }> = [];
    for (const c of candidates) {
      const reading = { ...c.reading };
      reading.id ??= outbox.nextReadingId(c.deviceId);
      reading.ts ??= at;
      const outcome = validateReading(reading, { homeId, deviceId: c.deviceId }, at);
      const id = typeof reading.id === 'string' ? reading.id : undefined;
      if (!outcome.ok) {
        const r = outcome.refusal;
        answers.push({ ok: false, error: r.code, detail: r.detail, ...(r.field !== undefined && { field: r.field }), ...(id !== undefined && { id }) });
        continue;
      }
      const body = JSON.stringify(reading);
      if (Buffer.byteLength(body) > MAX_READING_BYTES) {
        answers.push({ ok: false, error: 'payload_too_large', detail: `a reading is at most ${MAX_READING_BYTES} bytes`, id: id! });
        continue;
      }
      pending.push({ slot: answers.length, alarm: { deviceId: c.deviceId, id: id!, type: outcome.reading.type, ts: reading.ts as string | number } });
      answers.push({ ok: true, id: id! });
      entries.push({ deviceId: c.deviceId, readingId: id!, type: outcome.reading.type, body });
    }
    let statuses;
    try {
      statuses = entries.length > 0 || state ? outbox.enqueue(entries, state) : [];
    } catch (err) {
      log.error({ err }, 'outbox commit failed; readings refused');
      for (const p of pending) answers[p.slot] = { ok: false, error: 'store_failed', detail: 'the gateway could not store the reading; send it again', id: p.alarm.id };
      this.count(answers);
      return answers;
    }
    statuses.forEach((status, j) => {
      const p = pending[j]!;
      if (status === 'duplicate') answers[p.slot] = { ok: true, id: p.alarm.id, duplicate: true };
      else if (status === 'dropped') {
        answers[p.slot] = { ok: false, error: 'outbox_full', detail: 'the outbox is full of falls and SOS; this reading was not kept', id: p.alarm.id };
      } else this.hooks.onAccepted(p.alarm);
    });
    this.count(answers);
    return answers;
  }

  private count(answers: readonly Answer[]): void {
    for (const a of answers) {
      if (!a.ok) this.stats.refused++;
      else if (a.duplicate) this.stats.duplicates++;
      else this.stats.accepted++;
    }
  }

  private parseLine(line: string, receivedAt: number): Candidate | Extract<Answer, { ok: false }> {
    if (Buffer.byteLength(line) > MAX_LINE_BYTES) return refuse('line_too_long', `a line is at most ${MAX_LINE_BYTES} bytes`);
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch (err) {
      return refuse('invalid_json', (err as Error).message);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return refuse('not_object', 'a line must be one JSON object');
    const { device, ...rest } = doc as Record<string, unknown>;
    if (device === undefined) return refuse('missing_field', 'device is required', 'device');
    if (typeof device !== 'string' || !isValidId(device)) return refuse('invalid_field', 'device must be a device id', 'device');
    if ('hex' in rest || 'characteristic' in rest) {
      return this.hooks.decodeBluetooth({ device, characteristic: rest.characteristic, hex: rest.hex }, receivedAt);
    }
    return { deviceId: device, reading: rest };
  }
}

function refuse(error: string, detail: string, field?: string): Extract<Answer, { ok: false }> {
  return { ok: false, error, detail, ...(field !== undefined && { field }) };
}
