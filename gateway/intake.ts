/**
 * Where every local reading enters the gateway: JSON lines (TCP, stdin) and the
 * zigbee2mqtt bridge. Each reading is completed (`id`, `ts`), validated with
 * the hub's own rules so garbage never sits in the outbox, committed, and only
 * then answered "ok". A bad line gets an answer naming the problem; nothing a
 * line contains can stop the gateway.
 *
 *   parse line → (decode Bluetooth frame) → complete → validate → commit → alarm
 *
 * The gateway's own clock stamps readings that come without `ts`. A box
 * without a real-time clock boots at 1970 until NTP sets it: a reading stamped
 * then would be refused by the hub (`ts_too_old`) and lost. So while the clock
 * reads before `CLOCK_FLOOR_MS`, such a reading is committed *held* (without
 * `ts`, not sent), a fall or SOS among them raises the local alarm at once, and
 * as soon as the clock is set each held reading is stamped with its receive
 * time, reckoned back on the monotonic clock, and released. A held reading
 * whose receive time was lost with a restart gets the release time and
 * `clockUnreliable: true`. Readings that bring their own `ts` keep it; the
 * hub judges its window, since this gateway's clock cannot.
 */
import { performance } from 'node:perf_hooks';
import { MAX_READING_BYTES } from '../devices/readingSchema.js';
import { isValidId } from '../devices/topics.js';
import { parseTs, validateReading } from '../devices/validateReading.js';
import type { AlarmReading } from './localAlarm.js';
import type { GatewayContext } from './gatewayContext.js';
import type { NewEntry } from './outbox.js';

/**
 * A gateway clock before this is not set (a box without RTC boots at 1970;
 * this code did not exist before 2024). Readings are not stamped from it.
 */
export const CLOCK_FLOOR_MS = Date.UTC(2024, 0, 1);

/** How often, while readings are held, the clock is looked at again. */
const CLOCK_RECHECK_MS = 1000;

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
  /** A reading that cannot reach the hub for now: not stored (disk error), or held (clock not set). */
  onNotSent: (r: AlarmReading, reason: 'store_failed' | 'clock_unset') => void;
}

export const MAX_LINE_BYTES = 16 * 1024;

export class Intake {
  /** Lines answered, by outcome (for the log and tests). */
  readonly stats = { accepted: 0, duplicates: 0, refused: 0, held: 0 };
  /** Monotonic receive time of each held reading (device, id), for its `ts` once the clock is set. */
  private readonly heldAt = new Map<string, number>();
  private clockUnsetLogged = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly ctx: GatewayContext, private readonly hooks: IntakeHooks) {}

  /** Releases held readings (also those left by a previous run) as soon as the clock is set. */
  start(): void {
    this.releaseHeld();
    this.timer = setInterval(() => this.releaseHeld(), CLOCK_RECHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

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
    const clockSet = at >= CLOCK_FLOOR_MS;
    if (clockSet) this.releaseHeld();
    else this.clockUnset(at);
    const receivedMono = performance.now();
    const answers: Answer[] = [];
    const entries: NewEntry[] = [];
    const pending: Array<{ slot: number; alarm: AlarmReading; held: boolean }> = [];
    for (const c of candidates) {
      const reading = { ...c.reading };
      reading.id ??= outbox.nextReadingId(c.deviceId);
      const held = !clockSet && reading.ts === undefined;
      if (clockSet) reading.ts ??= at;
      // With the clock not set, the ts window cannot be judged here: validate as of the reading's own time.
      const judgedAt = clockSet ? at : (typeof reading.ts === 'string' || typeof reading.ts === 'number' ? parseTs(reading.ts) : null) ?? CLOCK_FLOOR_MS;
      const outcome = validateReading(held ? { ...reading, ts: judgedAt } : reading, { homeId, deviceId: c.deviceId }, judgedAt);
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
      const alarm: AlarmReading = { deviceId: c.deviceId, id: id!, type: outcome.reading.type, ...(!held && { ts: reading.ts as string | number }) };
      pending.push({ slot: answers.length, alarm, held });
      answers.push({ ok: true, id: id! });
      entries.push({ deviceId: c.deviceId, readingId: id!, type: outcome.reading.type, body, ...(held && { held }) });
    }
    let statuses;
    try {
      statuses = entries.length > 0 || state ? outbox.enqueue(entries, state) : [];
    } catch (err) {
      log.error({ err }, 'outbox commit failed; readings refused');
      for (const p of pending) {
        answers[p.slot] = { ok: false, error: 'store_failed', detail: 'the gateway could not store the reading; send it again', id: p.alarm.id };
        // Nothing is on disk to send: a fall or SOS must be heard in the home now, whoever sent it.
        this.hooks.onNotSent(p.alarm, 'store_failed');
      }
      this.count(answers);
      return answers;
    }
    statuses.forEach((status, j) => {
      const p = pending[j]!;
      if (status === 'duplicate') answers[p.slot] = { ok: true, id: p.alarm.id, duplicate: true };
      else if (status === 'dropped') {
        answers[p.slot] = { ok: false, error: 'outbox_full', detail: 'the outbox is full of falls and SOS; this reading was not kept', id: p.alarm.id };
      } else {
        if (p.held) {
          this.heldAt.set(heldKey(p.alarm.deviceId, p.alarm.id), receivedMono);
          this.stats.held++;
          this.hooks.onNotSent(p.alarm, 'clock_unset');
        }
        this.hooks.onAccepted(p.alarm);
      }
    });
    this.count(answers);
    return answers;
  }

  /**
   * Once the clock is set, stamps every held reading with its receive time
   * (now minus the monotonic time since; the release time and
   * `clockUnreliable` when that was lost with a restart) and releases it.
   */
  releaseHeld(): void {
    const { outbox, now, log } = this.ctx;
    if (!outbox.hasHeld()) return;
    const at = now();
    if (at < CLOCK_FLOOR_MS) return;
    const mono = performance.now();
    let unknown = 0;
    const stamped = outbox.held().map((e) => {
      const k = heldKey(e.deviceId, e.readingId);
      const receivedMono = this.heldAt.get(k);
      this.heldAt.delete(k);
      const body = JSON.parse(e.body) as Record<string, unknown>;
      if (receivedMono === undefined) {
        unknown++;
        return { seq: e.seq, body: JSON.stringify({ ...body, ts: at, clockUnreliable: true }) };
      }
      return { seq: e.seq, body: JSON.stringify({ ...body, ts: Math.round(at - (mono - receivedMono)) }) };
    });
    try {
      outbox.release(stamped);
    } catch (err) {
      log.error({ err }, 'held readings could not be released; trying again');
      return;
    }
    this.clockUnsetLogged = false;
    log.warn({ released: stamped.length, withoutReceiveTime: unknown }, 'gateway clock is set; held readings stamped and sent');
  }

  /** Logged once per spell of an unset clock. */
  private clockUnset(at: number): void {
    if (this.clockUnsetLogged) return;
    this.clockUnsetLogged = true;
    this.ctx.log.error({ clock: new Date(at).toISOString(), floor: new Date(CLOCK_FLOOR_MS).toISOString() },
      'gateway clock is not set; readings without ts are held until it is');
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
      const decoded = this.hooks.decodeBluetooth({ device, characteristic: rest.characteristic, hex: rest.hex }, receivedAt);
      // The decoder put the receive time in place of the device's clock; that time is not known either.
      if (!('ok' in decoded) && receivedAt < CLOCK_FLOOR_MS && decoded.reading.clockUnreliable === true) delete decoded.reading.ts;
      return decoded;
    }
    return { deviceId: device, reading: rest };
  }
}

function heldKey(deviceId: string, readingId: string): string {
  return `${deviceId}\u0000${readingId}`;
}

function refuse(error: string, detail: string, field?: string): Extract<Answer, { ok: false }> {
  return { ok: false, error, detail, ...(field !== undefined && { field }) };
}
