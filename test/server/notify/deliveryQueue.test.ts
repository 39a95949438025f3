/**
 * The durable delivery queue: a real SQLite file, a real HTTP receiver on
 * loopback, small real delays (base 10 ms). Backoff arithmetic is checked with
 * injected timers and a pinned random source.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffCeiling, backoffDelay, DeliveryQueue, type DeliveryQueueOptions, type DeliveryState, type SettledDelivery } from '../../../server/notify/deliveryQueue.js';
import { LogNotifier } from '../../../server/notify/logNotifier.js';
import type { DeliveryResult, Notification, Notifier } from '../../../server/notify/notifier.js';
import { WebhookNotifier } from '../../../server/notify/webhookNotifier.js';
import { captureLog, sampleNotification, SECRET, startReceiver, tempStore } from './helpers.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(script: Array<number | 'hang'>, opts: Partial<DeliveryQueueOptions> & { timeoutMs?: number } = {}) {
  const receiver = await startReceiver(script);
  const store = tempStore();
  const logs = captureLog();
  const queue = new DeliveryQueue(store.db, { webhook: new WebhookNotifier({ secret: SECRET, timeoutMs: opts.timeoutMs ?? 2000 }) }, { log: logs.log, baseDelayMs: 10, maxDelayMs: 100, ...opts });
  cleanups.push(() => receiver.close(), () => store.destroy(), () => queue.stop());
  const n = sampleNotification({ recipient: { username: 'dr-li', name: '李医生', webhookUrl: receiver.url } });
  return { receiver, store, logs, queue, n };
}

const settled = (queue: DeliveryQueue, id: string, state: DeliveryState) =>
  vi.waitFor(() => expect(queue.status(id)?.state).toBe(state), { timeout: 5000, interval: 5 });

const idle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('DeliveryQueue over a real webhook receiver', () => {
  it('retries two 503s and delivers exactly once, with one receipt per attempt', async () => {
    const { receiver, queue, n } = await setup([503, 503, 200]);
    queue.start();
    expect(queue.enqueue(n, 'webhook')).toBe(true);
    await settled(queue, n.id, 'delivered');
    await idle(50); // nothing more arrives after the acknowledgement

    expect(receiver.requests).toHaveLength(3);
    expect(receiver.requests.map((r) => r.headers['x-anxin-delivery'])).toEqual([n.id, n.id, n.id]);
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
    expect([...receiver.acknowledged]).toEqual([[n.id, 1]]);
    const receipts = queue.receipts(n.id);
    expect(receipts.map((r) => [r.attempt, r.ok, r.status, r.detail])).toEqual([
      [1, false, 503, 'HTTP 503'], [2, false, 503, 'HTTP 503'], [3, true, 200, 'HTTP 200'],
    ]);
    expect(receipts.every((r) => r.durationMs >= 0)).toBe(true);
    expect(queue.status(n.id)).toMatchObject({ state: 'delivered', attempts: 3, nextAttemptAt: null });
    expect(queue.pendingCount()).toBe(0);
  });

  it('fails a 400 after one attempt, without retrying, and logs it at error without health content', async () => {
    const { receiver, queue, n, logs } = await setup([400, 200]);
    queue.start();
    queue.enqueue(n, 'webhook');
    await settled(queue, n.id, 'failed');
    await idle(80);
    expect(receiver.requests).toHaveLength(1);
    expect(queue.receipts(n.id).map((r) => [r.attempt, r.ok, r.status])).toEqual([[1, false, 400]]);
    const error = logs.lines.find((l) => l.level === 50);
    expect(error).toMatchObject({ notificationId: n.id, alertId: 'al-0001', status: 400, msg: 'notification failed: not retryable' });
    expect(logs.text()).not.toContain('186/98');
    expect(logs.text()).not.toContain('王秀英');
  });

  it('retries after a timeout', async () => {
    const { receiver, queue, n } = await setup(['hang', 200], { timeoutMs: 100 });
    queue.start();
    queue.enqueue(n, 'webhook');
    await settled(queue, n.id, 'delivered');
    expect(receiver.requests).toHaveLength(2);
    expect(queue.receipts(n.id).map((r) => [r.ok, r.detail])).toEqual([[false, 'timeout after 100 ms'], [true, 'HTTP 200']]);
  });

  it('gives up once its retry budget is spent, with a last attempt at its end', async () => {
    const { receiver, queue, n, logs } = await setup([503], { retryBudgetMs: 150 });
    queue.start();
    const enqueued = Date.now();
    queue.enqueue(n, 'webhook');
    await settled(queue, n.id, 'failed');
    expect(Date.now() - enqueued).toBeGreaterThanOrEqual(150);
    await idle(80);
    const count = receiver.requests.length;
    expect(count).toBeGreaterThanOrEqual(3);
    expect(queue.receipts(n.id).map((r) => r.ok)).toEqual(Array(count).fill(false));
    expect(logs.lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual(['notification failed: retry budget spent']);
  });

  it('ignores a second enqueue of the same id', async () => {
    const { receiver, queue, n } = await setup([200]);
    queue.start();
    expect(queue.enqueue(n, 'webhook')).toBe(true);
    expect(queue.enqueue(n, 'webhook')).toBe(false);
    await settled(queue, n.id, 'delivered');
    await idle(50);
    expect(receiver.requests).toHaveLength(1);
  });
});

describe('DeliveryQueue across a restart', () => {
  const webhook = () => ({ webhook: new WebhookNotifier({ secret: SECRET }) });

  it('delivers a notification that was stored but never attempted, from a new queue after start()', async () => {
    const { receiver, store, queue, n, logs } = await setup([200]);
    queue.enqueue(n, 'webhook'); // not started: stored only
    await queue.stop();
    const db = store.reopen();
    const next = new DeliveryQueue(db, webhook(), { log: logs.log, baseDelayMs: 10 });
    cleanups.push(() => next.stop());
    expect(next.pendingCount()).toBe(1);
    next.start();
    await settled(next, n.id, 'delivered');
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]!.verified).toBe(true);
  });

  it('keeps the persisted retry time and continues the attempt count', async () => {
    const { receiver, store, queue, n, logs } = await setup([503, 200], { baseDelayMs: 60_000, maxDelayMs: 60_000, random: () => 0.99 });
    queue.start();
    queue.enqueue(n, 'webhook');
    await vi.waitFor(() => expect(queue.receipts(n.id)).toHaveLength(1), { timeout: 5000, interval: 5 });
    const before = queue.status(n.id)!;
    expect(before).toMatchObject({ state: 'pending', attempts: 1 });
    expect(before.nextAttemptAt! - Date.now()).toBeGreaterThan(50_000);
    await queue.stop();

    const db = store.reopen();
    const early = new DeliveryQueue(db, webhook(), { log: logs.log });
    early.start();
    await idle(80);
    await early.stop();
    expect(receiver.requests).toHaveLength(1); // not due yet

    const later = new DeliveryQueue(db, webhook(), { log: logs.log, now: () => Date.now() + 61_000 });
    cleanups.push(() => later.stop());
    later.start();
    await settled(later, n.id, 'delivered');
    expect(later.receipts(n.id).map((r) => [r.attempt, r.ok])).toEqual([[1, false], [2, true]]);
  });

  it('stop() aborts an attempt in flight, which is due at once after the restart', async () => {
    const { receiver, store, queue, n, logs } = await setup(['hang', 200], { timeoutMs: 10_000 });
    queue.start();
    queue.enqueue(n, 'webhook');
    await vi.waitFor(() => expect(receiver.requests).toHaveLength(1), { timeout: 5000, interval: 5 });
    const started = Date.now();
    await queue.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(queue.receipts(n.id).map((r) => [r.ok, r.detail])).toEqual([[false, 'aborted']]);
    expect(queue.status(n.id)!.state).toBe('pending');

    const next = new DeliveryQueue(store.reopen(), webhook(), { log: logs.log });
    cleanups.push(() => next.stop());
    next.start();
    await settled(next, n.id, 'delivered');
    expect(receiver.requests.map((r) => r.headers['x-anxin-delivery'])).toEqual([n.id, n.id]);
  });

  it('re-arms an attempt that was in flight when the process died', async () => {
    const store = tempStore();
    const logs = captureLog();
    cleanups.push(() => store.destroy());
    const n = sampleNotification();
    const sent: string[] = [];
    const ok: Notifier = { channel: 'log', send: async (x) => (sent.push(x.id), { ok: true, detail: 'ok', retryable: false }) };
    new DeliveryQueue(store.db, { log: ok }, { log: logs.log }).enqueue(n, 'log');
    // What a crash mid-attempt leaves behind: the attempt claimed, no receipt.
    store.db.prepare('UPDATE notifications SET attempts = 1, next_attempt_at = NULL WHERE id = ?').run(n.id);
    const queue = new DeliveryQueue(store.db, { log: ok }, { log: logs.log });
    cleanups.push(() => queue.stop());
    queue.start();
    await settled(queue, n.id, 'delivered');
    expect(sent).toEqual([n.id]);
    expect(queue.receipts(n.id).map((r) => r.attempt)).toEqual([2]);
  });
});

describe('backoff', () => {
  const opts = { baseDelayMs: 100, maxDelayMs: 5000 };

  it('grows exponentially up to the cap', () => {
    expect(Array.from({ length: 10 }, (_, i) => backoffCeiling(i + 1, opts))).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]);
    const highest = Array.from({ length: 10 }, (_, i) => backoffDelay(i + 1, opts, () => 0.999999));
    for (let i = 1; i < highest.length; i++) expect(highest[i]!).toBeGreaterThanOrEqual(highest[i - 1]!);
    expect(Math.max(...highest)).toBeLessThan(5000);
    expect(backoffDelay(40, opts, () => 0.999999)).toBeLessThan(5000);
  });

  it('is full jitter: anywhere in [0, ceiling)', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      for (let i = 0; i < 200; i++) {
        const d = backoffDelay(attempt, opts);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(backoffCeiling(attempt, opts));
      }
    }
    expect(backoffDelay(5, opts, () => 0)).toBe(0);
  });
});

/** A queue with injected timers (run on the next turn) and a pinned clock, recording every delay it arms. */
function timedQueue(notifier: Notifier, opts: Partial<DeliveryQueueOptions>) {
  const store = tempStore();
  const logs = captureLog();
  const delays: number[] = [];
  const queue = new DeliveryQueue(store.db, { [notifier.channel]: notifier }, {
    log: logs.log,
    now: () => 1_000_000,
    setTimer: (fn, ms) => (delays.push(ms), setImmediate(fn)),
    clearTimer: (h) => clearImmediate(h as NodeJS.Immediate),
    ...opts,
  });
  cleanups.push(() => store.destroy(), () => queue.stop());
  return { queue, delays, logs };
}

function scriptedNotifier(results: Array<DeliveryResult | Error>, delayMs = 0) {
  const calls: Array<{ id: string; at: number }> = [];
  let active = 0;
  let maxActive = 0;
  const notifier: Notifier = {
    channel: 'log',
    async send(n: Notification) {
      active += 1;
      maxActive = Math.max(maxActive, active);
      calls.push({ id: n.id, at: Date.now() });
      if (delayMs) await idle(delayMs);
      active -= 1;
      const r = results[Math.min(calls.length - 1, results.length - 1)]!;
      if (r instanceof Error) throw r;
      return r;
    },
  };
  return { notifier, calls, maxActive: () => maxActive };
}

const FAIL: DeliveryResult = { ok: false, status: 503, detail: 'HTTP 503', retryable: true };
const OK: DeliveryResult = { ok: true, status: 200, detail: 'HTTP 200', retryable: false };
const REFUSED: DeliveryResult = { ok: false, status: 400, detail: 'HTTP 400', retryable: false };

describe('DeliveryQueue scheduling', () => {
  it('waits full-jitter backoff between attempts, capped, for the whole retry budget (not a count of attempts)', async () => {
    const { notifier, calls } = scriptedNotifier([FAIL]);
    // The clock moves by each delay armed, as if the timers had waited.
    let clock = 1_000_000;
    const { queue, delays } = timedQueue(notifier, {
      baseDelayMs: 100, maxDelayMs: 1000, retryBudgetMs: 3000, random: () => 0.5, now: () => clock,
      setTimer: (fn, ms) => (delays.push(ms), (clock += ms), setImmediate(fn)),
    });
    const n = sampleNotification();
    queue.start();
    queue.enqueue(n, 'log');
    await settled(queue, n.id, 'failed');
    // First attempt at once; then half of 100, 200, 400, 800, then of the cap (1000) until the budget
    // ends at +3000, where the last attempt is made (+2750 → +3000).
    expect(delays).toEqual([0, 50, 100, 200, 400, 500, 500, 500, 500, 250]);
    expect(calls).toHaveLength(10);
    expect(queue.status(n.id)).toMatchObject({ state: 'failed', attempts: 10, detail: 'HTTP 503' });
  });

  it('records an undeliverable result at once as undeliverable, never delivered, saying why, and tells onSettled', async () => {
    const { notifier, calls } = scriptedNotifier([{ ok: false, detail: 'no phone or webhook registered for dr-li', retryable: false, undeliverable: true }]);
    const heard: SettledDelivery[] = [];
    const { queue } = timedQueue(notifier, { onSettled: (s) => heard.push(s) });
    const n = sampleNotification();
    queue.start();
    queue.enqueue(n, 'log');
    await settled(queue, n.id, 'undeliverable');
    expect(calls).toHaveLength(1);
    expect(queue.status(n.id)).toMatchObject({ state: 'undeliverable', attempts: 1, deliveredAt: null, detail: 'no phone or webhook registered for dr-li' });
    expect(queue.receipts(n.id).map((r) => r.ok)).toEqual([false]);
    expect(heard).toEqual([expect.objectContaining({ id: n.id, alertId: n.alertId, channel: 'log', outcome: 'undeliverable', attempts: 1, detail: 'no phone or webhook registered for dr-li' })]);
  });

  it('the log channel reaches nobody: undeliverable, naming what the recipient lacks', async () => {
    const { queue } = timedQueue(new LogNotifier(captureLog().log), {});
    const n = sampleNotification({ recipient: { username: 'dr-li', name: '李医生' } });
    queue.start();
    queue.enqueue(n, 'log');
    await settled(queue, n.id, 'undeliverable');
    expect(queue.status(n.id)?.detail).toBe('no phone or webhook registered for dr-li');
  });

  it('waits at least what Retry-After asks, but never beyond the cap', async () => {
    const { notifier } = scriptedNotifier([{ ...FAIL, retryAfterMs: 700 }, { ...FAIL, retryAfterMs: 3_600_000 }, OK]);
    const { queue, delays } = timedQueue(notifier, { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0 });
    const n = sampleNotification();
    queue.start();
    queue.enqueue(n, 'log');
    await settled(queue, n.id, 'delivered');
    expect(delays).toEqual([0, 700, 1000]);
  });

  it('never runs two attempts of one notification at once', async () => {
    const { notifier, calls, maxActive } = scriptedNotifier([FAIL, FAIL, FAIL, FAIL, REFUSED], 15);
    const { queue } = timedQueue(notifier, { baseDelayMs: 0 });
    const n = sampleNotification();
    queue.start();
    queue.enqueue(n, 'log');
    for (let i = 0; i < 10; i++) {
      expect(queue.enqueue(n, 'log')).toBe(false);
      queue.start();
      await idle(3);
    }
    await settled(queue, n.id, 'failed');
    expect(calls).toHaveLength(5);
    expect(maxActive()).toBe(1);
    expect(queue.receipts(n.id).map((r) => r.attempt)).toEqual([1, 2, 3, 4, 5]);
  });

  it('records a notifier that throws as a retryable failed attempt', async () => {
    const { notifier } = scriptedNotifier([new Error('boom'), OK]);
    const { queue } = timedQueue(notifier, { baseDelayMs: 1 });
    const n = sampleNotification();
    queue.start();
    queue.enqueue(n, 'log');
    await settled(queue, n.id, 'delivered');
    expect(queue.receipts(n.id).map((r) => [r.ok, r.detail])).toEqual([[false, 'notifier threw: boom'], [true, 'HTTP 200']]);
  });

  it('survives a notifier that throws before returning a promise', async () => {
    let calls = 0;
    const notifier: Notifier = {
      channel: 'log',
      send(): Promise<DeliveryResult> {
        calls += 1;
        if (calls === 1) throw new Error('sync boom');
        return Promise.resolve(OK);
      },
    };
    const { queue } = timedQueue(notifier, { baseDelayMs: 1 });
    const n = sampleNotification();
    queue.start();
    queue.enqueue(n, 'log');
    await settled(queue, n.id, 'delivered');
    expect(queue.receipts(n.id).map((r) => r.detail)).toEqual(['notifier threw: sync boom', 'HTTP 200']);
  });

  it('refuses a channel without a notifier', () => {
    const { notifier } = scriptedNotifier([OK]);
    const { queue } = timedQueue(notifier, {});
    expect(() => queue.enqueue(sampleNotification(), 'sms')).toThrow(/no notifier configured for channel sms/);
  });
});
