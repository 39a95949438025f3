/**
 * Durable delivery of notifications: every notification is a row before any
 * attempt is made, every attempt leaves a receipt, and the next attempt time is
 * persisted, so a restart re-arms what was pending (STYLE: "slow or retried
 * work is a task with backoff"; SPEC §5: escalation notifies the doctor).
 *
 * Retries use capped exponential backoff with full jitter (AWS Architecture
 * Blog, "Exponential Backoff And Jitter", 2015): the wait before attempt k+1
 * is uniform in [0, min(maxDelay, base·2^(k-1))), which spreads a burst of
 * retries against a recovering receiver instead of synchronising them.
 * Retrying lasts a time budget from the notification's creation (6 h by
 * default), not a number of attempts: a fixed 6 attempts gave up after 18-31 s,
 * so a doctor's receiver restarting meant the doctor was never told.
 *
 * Outcomes: `delivered`; `failed` (refused, or the budget spent);
 * `undeliverable` (nobody can be reached on the channel: no address, or only a
 * development stand-in). `onSettled` hears each one, so whoever depends on the
 * delivery (the escalation) can tell a person when it did not happen.
 *
 * One attempt per notification at a time: an in-memory guard, plus a claim in
 * SQLite (compare-and-set on `attempts`; `next_attempt_at` is NULL while in
 * flight). Delivery is at least once; receivers dedupe by notification id
 * (`X-Anxin-Delivery`).
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Db } from '../store/sqliteDb.js';
import type { Channel, DeliveryResult, Notification, Notifier } from './notifier.js';

/** Schema of this queue; appended to `server/store/migrations.ts` as its own migration. */
export const NOTIFY_MIGRATION = `
  -- Outbound notifications (SPEC §5), one row per recipient and channel.
  -- The id is the idempotency key; payload holds kind, title, body and payload as JSON.
  CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    alert_id        TEXT NOT NULL,
    channel         TEXT NOT NULL CHECK (channel IN ('webhook', 'sms', 'log')),
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    delivered_at    INTEGER
  ) STRICT;
  CREATE INDEX notifications_pending ON notifications (next_attempt_at) WHERE state = 'pending';
  CREATE INDEX notifications_alert ON notifications (alert_id);

  -- One row per delivery attempt, append-only.
  CREATE TABLE delivery_receipts (
    notification_id TEXT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    ok              INTEGER NOT NULL,
    status          INTEGER,
    detail          TEXT NOT NULL,
    duration_ms     INTEGER NOT NULL,
    PRIMARY KEY (notification_id, attempt)
  ) STRICT;
`;

/** What the notifications table stores; its CHECK admits only these (migration 3). */
type StoredState = 'pending' | 'delivered' | 'failed';
/** `undeliverable` is stored as `failed` with its receipt marked (see UNDELIVERABLE_PREFIX). */
export type DeliveryState = StoredState | 'undeliverable';

/** How long a retryable failure is retried, from the notification's creation. */
export const DEFAULT_RETRY_BUDGET_MS = 6 * 3600_000;

/**
 * Starts the receipt detail of an undeliverable attempt. Migration 3's CHECK on
 * `notifications.state` admits only pending/delivered/failed, so the row says
 * `failed` and its last receipt says why it never could be delivered. (Widening
 * the CHECK is a migration of its own, in server/store/migrations.ts.)
 */
export const UNDELIVERABLE_PREFIX = 'undeliverable: ';

export interface DeliveryReceipt {
  notificationId: string;
  attempt: number;
  /** When the attempt ended, epoch ms. */
  at: number;
  ok: boolean;
  status: number | null;
  detail: string;
  durationMs: number;
}

export interface DeliveryStatus {
  id: string;
  alertId: string;
  channel: Channel;
  state: DeliveryState;
  attempts: number;
  /** Null while an attempt is in flight and once settled. */
  nextAttemptAt: number | null;
  createdAt: number;
  deliveredAt: number | null;
  /** The last attempt's detail (why it failed, once settled), without the undeliverable marker. */
  detail: string | null;
}

/** A notification's final outcome, as `onSettled` hears it. */
export interface SettledDelivery {
  id: string;
  alertId: string;
  kind: Notification['kind'];
  channel: Channel;
  recipient: Notification['recipient'];
  outcome: Exclude<DeliveryState, 'pending'>;
  attempts: number;
  detail: string;
}

export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface DeliveryQueueOptions extends Partial<BackoffOptions> {
  log: Logger;
  /** Epoch ms. */
  now?: () => number;
  /** How long after its creation a notification is still retried. Default `DEFAULT_RETRY_BUDGET_MS` (6 h). */
  retryBudgetMs?: number;
  /**
   * Hears every notification that settles, after its state is committed. It
   * must not throw (what it throws is logged) and may start async work.
   */
  onSettled?: (s: SettledDelivery) => void;
  /** Uniform in [0, 1); injectable so tests can pin the jitter. */
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/** Full jitter: uniform in [0, min(maxDelayMs, baseDelayMs·2^(attempt-1))), attempt ≥ 1. */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeiling(attempt, opts));
}

/** The upper bound of the wait after `attempt` failed attempts. */
export function backoffCeiling(attempt: number, opts: BackoffOptions): number {
  return Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** Math.max(0, attempt - 1));
}

interface Row {
  id: string;
  alert_id: string;
  channel: Channel;
  kind: Notification['kind'];
  recipient: string;
  payload: string;
  state: StoredState;
  attempts: number;
  next_attempt_at: number | null;
  created_at: number;
  delivered_at: number | null;
}

export class DeliveryQueue {
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly retryBudgetMs: number;
  private readonly onSettled: ((s: SettledDelivery) => void) | undefined;
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly timers = new Map<string, unknown>();
  private readonly inFlight = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private running = false;
  private readonly stmt;

  constructor(private readonly db: Db, private readonly notifiers: Partial<Record<Channel, Notifier>>, opts: DeliveryQueueOptions) {
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    this.retryBudgetMs = opts.retryBudgetMs ?? DEFAULT_RETRY_BUDGET_MS;
    this.onSettled = opts.onSettled;
    this.backoff = { baseDelayMs: opts.baseDelayMs ?? 1000, maxDelayMs: opts.maxDelayMs ?? 5 * 60_000 };
    this.random = opts.random ?? Math.random;
    this.setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms).unref());
    this.clearTimer = opts.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout));
    this.stmt = {
      insert: db.prepare(`INSERT INTO notifications (id, alert_id, channel, kind, recipient, payload, state, attempts, next_attempt_at, created_at, updated_at)
        VALUES (@id, @alertId, @channel, @kind, @recipient, @payload, 'pending', 0, @at, @at, @at) ON CONFLICT (id) DO NOTHING`),
      get: db.prepare('SELECT * FROM notifications WHERE id = ?'),
      pending: db.prepare(`SELECT id, channel, next_attempt_at FROM notifications WHERE state = 'pending' ORDER BY next_attempt_at, created_at`),
      // next_attempt_at is NULL while an attempt is in flight: nobody else may claim it then.
      claim: db.prepare(`UPDATE notifications SET attempts = attempts + 1, next_attempt_at = NULL, updated_at = @at
        WHERE id = @id AND state = 'pending' AND attempts = @attempts AND next_attempt_at IS NOT NULL`),
      orphaned: db.prepare(`UPDATE notifications SET next_attempt_at = @at, updated_at = @at WHERE state = 'pending' AND next_attempt_at IS NULL`),
      receipt: db.prepare(`INSERT INTO delivery_receipts (notification_id, attempt, at, ok, status, detail, duration_ms)
        VALUES (@id, @attempt, @at, @ok, @status, @detail, @durationMs)`),
      delivered: db.prepare(`UPDATE notifications SET state = 'delivered', delivered_at = @at, next_attempt_at = NULL, updated_at = @at WHERE id = @id`),
      failed: db.prepare(`UPDATE notifications SET state = 'failed', next_attempt_at = NULL, updated_at = @at WHERE id = @id`),
      retry: db.prepare(`UPDATE notifications SET next_attempt_at = @next, updated_at = @at WHERE id = @id`),
      receipts: db.prepare(`SELECT notification_id AS notificationId, attempt, at, ok, status, detail, duration_ms AS durationMs
        FROM delivery_receipts WHERE notification_id = ? ORDER BY attempt`),
      pendingCount: db.prepare(`SELECT count(*) AS n FROM notifications WHERE state = 'pending'`),
      ofAlert: db.prepare('SELECT * FROM notifications WHERE alert_id = ? ORDER BY created_at, id'),
      lastDetail: db.prepare('SELECT detail FROM delivery_receipts WHERE notification_id = ? ORDER BY attempt DESC LIMIT 1').pluck(),
    };
  }

  /**
   * Stores `n` for delivery on `channel` and, when started, attempts it at
   * once. The id is the idempotency key: enqueueing a known id again changes
   * nothing and answers false.
   */
  enqueue(n: Notification, channel: Channel): boolean {
    if (!this.notifiers[channel]) throw new Error(`no notifier configured for channel ${channel}`);
    const at = this.now();
    const { changes } = this.stmt.insert.run({
      id: n.id, alertId: n.alertId, channel, kind: n.kind, at,
      recipient: JSON.stringify(n.recipient),
      payload: JSON.stringify({ title: n.title, body: n.body, payload: n.payload }),
    });
    if (changes === 0) return false;
    if (this.running) this.arm(n.id, at);
    return true;
  }

  /**
   * Arms every pending delivery found in the store. Attempts that were in
   * flight when the process died are due at once (their receivers dedupe).
   * One queue owns a store: the hub, as it owns the data dir.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stmt.orphaned.run({ at: this.now() });
    const rows = this.stmt.pending.all() as Array<Pick<Row, 'id' | 'channel' | 'next_attempt_at'>>;
    for (const row of rows) {
      if (this.notifiers[row.channel]) {
        this.arm(row.id, row.next_attempt_at ?? this.now());
      } else {
        this.stmt.failed.run({ id: row.id, at: this.now() });
        this.log.error({ notificationId: row.id, channel: row.channel }, 'notification failed: its channel is no longer configured');
        const full = this.stmt.get.get(row.id) as Row;
        this.tell({ ...settledOf(full), outcome: 'failed', detail: `channel ${row.channel} is no longer configured` });
      }
    }
    if (rows.length > 0) this.log.info({ pending: rows.length }, 'notification deliveries re-armed');
  }

  /**
   * Stops arming attempts and aborts those in flight; they stay pending, due
   * at once, for the next start. Resolves when no attempt is running, so the
   * database may be closed after it.
   */
  async stop(): Promise<void> {
    this.running = false;
    for (const handle of this.timers.values()) this.clearTimer(handle);
    this.timers.clear();
    const running = [...this.inFlight.values()];
    for (const f of running) f.controller.abort();
    await Promise.allSettled(running.map((f) => f.done));
  }

  /** One receipt per attempt, in order. */
  receipts(notificationId: string): DeliveryReceipt[] {
    return (this.stmt.receipts.all(notificationId) as Array<Omit<DeliveryReceipt, 'ok'> & { ok: number }>).map((r) => ({ ...r, ok: r.ok === 1 }));
  }

  status(notificationId: string): DeliveryStatus | null {
    const r = this.stmt.get.get(notificationId) as Row | undefined;
    return r ? this.statusOf(r) : null;
  }

  /** Every notification about an alert, oldest first, with its recipient. */
  ofAlert(alertId: string): Array<DeliveryStatus & { kind: Notification['kind']; recipient: Notification['recipient'] }> {
    return (this.stmt.ofAlert.all(alertId) as Row[]).map((r) => ({ ...this.statusOf(r), kind: r.kind, recipient: JSON.parse(r.recipient) as Notification['recipient'] }));
  }

  private statusOf(r: Row): DeliveryStatus {
    const last = this.stmt.lastDetail.get(r.id) as string | undefined;
    const undeliverable = r.state === 'failed' && !!last?.startsWith(UNDELIVERABLE_PREFIX);
    return {
      id: r.id, alertId: r.alert_id, channel: r.channel, state: undeliverable ? 'undeliverable' : r.state, attempts: r.attempts,
      nextAttemptAt: r.next_attempt_at, createdAt: r.created_at, deliveredAt: r.delivered_at,
      detail: last === undefined ? null : undeliverable ? last.slice(UNDELIVERABLE_PREFIX.length) : last,
    };
  }

  /** Deliveries not yet settled, for /readyz and metrics. */
  pendingCount(): number {
    return (this.stmt.pendingCount.get() as { n: number }).n;
  }

  private arm(id: string, at: number): void {
    const previous = this.timers.get(id);
    if (previous !== undefined) this.clearTimer(previous);
    const handle = this.setTimer(() => {
      this.timers.delete(id);
      this.attempt(id).catch((err: unknown) => this.log.error({ err, notificationId: id }, 'notification attempt crashed'));
    }, Math.max(0, at - this.now()));
    this.timers.set(id, handle);
  }

  private async attempt(id: string): Promise<void> {
    if (!this.running || this.inFlight.has(id)) return;
    const row = this.stmt.get.get(id) as Row | undefined;
    if (!row || row.state !== 'pending') return;
    if (this.stmt.claim.run({ id, attempts: row.attempts, at: this.now() }).changes !== 1) return;
    const attempt = row.attempts + 1;
    const notifier = this.notifiers[row.channel];
    const n = toNotification(row);
    const flight = { controller: new AbortController(), done: Promise.resolve() };
    // In the in-flight set before `send` runs: a notifier may settle synchronously.
    this.inFlight.set(id, flight);
    const started = performance.now();
    flight.done = (async () => {
      let result: DeliveryResult;
      try {
        result = notifier
          ? await notifier.send(n, flight.controller.signal)
          : { ok: false, detail: `no notifier for channel ${row.channel}`, retryable: false };
      } catch (err) {
        result = { ok: false, detail: `notifier threw: ${(err as Error).message ?? String(err)}`, retryable: true };
      }
      // Leave the in-flight set before settling: settling may arm the next attempt.
      this.inFlight.delete(id);
      this.settle(row, attempt, result, Math.round(performance.now() - started));
    })();
    await flight.done;
  }

  private settle(row: Row, attempt: number, result: DeliveryResult, durationMs: number): void {
    const at = this.now();
    const deadline = row.created_at + this.retryBudgetMs;
    const outcome = result.ok ? 'delivered'
      : result.undeliverable ? 'undeliverable'
      : !result.retryable || at >= deadline ? 'failed' : 'retry';
    // Stopping: due at once on the next start. Otherwise back off, at least as long as the receiver asked,
    // and try a last time when the budget ends.
    const wait = !this.running ? 0 : Math.max(backoffDelay(attempt, this.backoff, this.random), Math.min(result.retryAfterMs ?? 0, this.backoff.maxDelayMs));
    const next = Math.min(at + wait, Math.max(at, deadline));
    const detail = outcome === 'undeliverable' ? `${UNDELIVERABLE_PREFIX}${result.detail}` : result.detail;
    this.db.transaction(() => {
      this.stmt.receipt.run({ id: row.id, attempt, at, ok: result.ok ? 1 : 0, status: result.status ?? null, detail, durationMs });
      if (outcome === 'delivered') this.stmt.delivered.run({ id: row.id, at });
      else if (outcome === 'retry') this.stmt.retry.run({ id: row.id, at, next });
      else this.stmt.failed.run({ id: row.id, at });
    })();
    const ctx = { notificationId: row.id, alertId: row.alert_id, channel: row.channel, attempt, status: result.status, detail: result.detail };
    if (outcome === 'retry') {
      this.log.warn({ ...ctx, retryInMs: next - at }, 'notification attempt failed; will retry');
      if (this.running) this.arm(row.id, next);
      return;
    }
    if (outcome === 'delivered') this.log.info(ctx, 'notification delivered');
    else if (outcome === 'undeliverable') this.log.error(ctx, 'notification undeliverable: nobody can be reached on this channel');
    else this.log.error({ ...ctx, retryable: result.retryable }, result.retryable ? 'notification failed: retry budget spent' : 'notification failed: not retryable');
    this.tell({ ...settledOf(row), attempts: attempt, outcome, detail: result.detail });
  }

  private tell(s: SettledDelivery): void {
    try {
      this.onSettled?.(s);
    } catch (err) {
      this.log.error({ err, notificationId: s.id }, 'onSettled failed');
    }
  }
}

function settledOf(row: Row): Omit<SettledDelivery, 'outcome' | 'detail'> {
  return { id: row.id, alertId: row.alert_id, kind: row.kind, channel: row.channel, recipient: JSON.parse(row.recipient) as Notification['recipient'], attempts: row.attempts };
}

function toNotification(row: Row): Notification {
  const p = JSON.parse(row.payload) as Pick<Notification, 'title' | 'body' | 'payload'>;
  return { id: row.id, alertId: row.alert_id, kind: row.kind, recipient: JSON.parse(row.recipient) as Notification['recipient'], ...p };
}
