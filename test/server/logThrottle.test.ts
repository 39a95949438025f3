/**
 * A log line repeated at the rate of the traffic (a write failing with the disk
 * full, a refused reading) is bounded: the first is logged, the rest of the
 * window are summed up in one line at its end, with the latest one's fields.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, expect, it, vi } from 'vitest';
import { ThrottledLog } from '../../server/logThrottle.js';
import { isStoreFault, StoreHealth } from '../../server/store/storeHealth.js';

function memoryLog() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); cb(); } }));
  return { log, lines };
}

afterEach(() => void vi.useRealTimers());

it('logs the first of a flood, then one line per window saying how many were left out', async () => {
  vi.useFakeTimers();
  const { log, lines } = memoryLog();
  const t = new ThrottledLog(log, 'error', 'store write failed', 10_000, () => Date.now());
  for (let i = 0; i < 1000; i++) t.write({ clientId: `d-${i}` });
  expect(lines.map((l) => l.msg)).toEqual(['store write failed']);
  expect(lines[0]!.clientId).toBe('d-0');
  await vi.advanceTimersByTimeAsync(10_000);
  expect(lines).toHaveLength(2);
  expect(lines[1]).toMatchObject({ leftOut: 999, clientId: 'd-999', level: 50 });
  expect(lines[1]!.msg).toMatch(/999 more like it in the last 10 s/);
  // The flood goes on: one summary per window, not a line each.
  for (let i = 0; i < 500; i++) t.write({ clientId: 'x' });
  await vi.advanceTimersByTimeAsync(10_000);
  expect(lines).toHaveLength(3);
  expect(lines[2]!.leftOut).toBe(500);
  // A quiet window, then the next failure is logged as it comes.
  await vi.advanceTimersByTimeAsync(30_000);
  t.write({ clientId: 'late' });
  expect(lines).toHaveLength(4);
  expect(lines[3]).toMatchObject({ clientId: 'late', msg: 'store write failed' });
  expect(lines[3]!.leftOut).toBeUndefined();
});

it('tells a fault of the store (disk full, I/O, writer thread) from a failure of one job, and clears on the next commit', () => {
  const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
  expect(isStoreFault(full)).toBe(true);
  expect(isStoreFault(new Error('database or disk is full'))).toBe(true); // as the writer thread passes it
  expect(isStoreFault(new Error('disk I/O error'))).toBe(true);
  expect(isStoreFault(new Error('writer thread failed: worker exited'))).toBe(true);
  expect(isStoreFault(Object.assign(new Error('UNIQUE constraint failed: users.username'), { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }))).toBe(false);
  expect(isStoreFault(new Error('resident r-9 has unresolved alerts'))).toBe(false);
  let now = 1000;
  const h = new StoreHealth(() => now);
  expect(h.failed(new Error('UNIQUE constraint failed: x'))).toBe(false);
  expect(h.state()).toEqual({ failing: false });
  expect(h.failed(full)).toBe(true);
  now = 2000;
  h.failed(new Error('database or disk is full'));
  expect(h.state()).toEqual({ failing: true, since: 1000, error: 'database or disk is full' });
  h.committed();
  expect(h.state()).toEqual({ failing: false });
});
