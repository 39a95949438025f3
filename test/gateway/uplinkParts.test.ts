/** The small pure parts of the uplink and inputs: backoff, batching, status throttling, line splitting, alert announcements. */
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { AlertHook } from '../../gateway/alertHook.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import type { GatewayContext } from '../../gateway/gatewayContext.js';
import { LineSplitter } from '../../gateway/lineInput.js';
import type { OutboxEntry } from '../../gateway/outbox.js';
import { isNotable, StatusReporter, type GatewayStatus } from '../../gateway/statusReporter.js';
import { backoffDelay, groupByDevice } from '../../gateway/uplink.js';

describe('backoffDelay (full jitter)', () => {
  it.each([
    [0, 0.999, 999], [1, 0.999, 1998], [3, 0.5, 4000], [10, 0.999, 29_970], [40, 0.999, 29_970], [5, 0, 0],
  ])('attempt %i, random %f → %i ms (base 1 s, cap 30 s)', (attempt, random, expected) => {
    expect(backoffDelay(attempt, 1000, 30_000, () => random)).toBe(expected);
  });
});

describe('groupByDevice', () => {
  it('keeps each device\'s order and orders groups by their first entry', () => {
    const e = (seq: number, deviceId: string): OutboxEntry => ({ seq, deviceId, readingId: `r${seq}`, type: 'heartbeat', body: '{}' });
    const groups = groupByDevice([e(1, 'b'), e(2, 'a'), e(3, 'b'), e(4, 'c'), e(5, 'a')]);
    expect(groups.map((g) => g.map((x) => x.seq))).toEqual([[1, 3], [2, 5], [4]]);
  });
});

describe('gateway status', () => {
  const s = (outboxDepth: number, outboxDropped = 0, rejected = 0): GatewayStatus => ({ online: true, outboxDepth, version: 'v', outboxDropped, rejected });

  it.each([
    [null, s(5), true],
    [s(0), s(1), true],
    [s(1), s(0), true],
    [s(10), s(90), false],
    [s(10), s(110), true],
    [s(10_000), s(9000), false],
    [s(10_000), s(7400), true],
    [s(10), s(10, 1), true],
    [s(10), s(10, 0, 1), true],
  ])('%j → %j notable: %s', (last, next, expected) => {
    expect(isNotable(last, next)).toBe(expected);
  });

  it('publishes at most once per interval, the latest state', async () => {
    let current = s(0);
    const published: number[] = [];
    const r = new StatusReporter((x) => published.push(x.outboxDepth), () => current, 100);
    r.reportNow();
    current = s(500);
    r.changed();
    current = s(1000);
    r.changed();
    expect(published).toEqual([0]);
    await new Promise((res) => setTimeout(res, 150));
    expect(published).toEqual([0, 1000]);
    r.stop();
  });

  it('keeps reporting when NTP steps the wall clock back (it throttles on the monotonic clock)', async () => {
    let current = s(0);
    const published: number[] = [];
    const wall = Date.now();
    const spy = vi.spyOn(Date, 'now').mockReturnValue(wall);
    const r = new StatusReporter((x) => published.push(x.outboxDepth), () => current, 100);
    try {
      r.reportNow();
      spy.mockReturnValue(wall - 3600_000); // an hour back
      current = s(5000);
      r.changed();
      await new Promise((res) => setTimeout(res, 150));
      expect(published).toEqual([0, 5000]);
    } finally {
      spy.mockRestore();
      r.stop();
    }
  });

  it('never waits longer than the interval, even on a clock that goes back', async () => {
    let clock = 1_000_000;
    let current = s(0);
    const published: number[] = [];
    const r = new StatusReporter((x) => published.push(x.outboxDepth), () => current, 100, () => clock);
    r.reportNow();
    clock -= 3600_000;
    current = s(5000);
    r.changed();
    await new Promise((res) => setTimeout(res, 150));
    expect(published).toEqual([0, 5000]);
    r.stop();
  });
});

describe('LineSplitter', () => {
  it('splits across chunks, drops blank lines and CRs, and replaces an over-long line by null', () => {
    const sp = new LineSplitter(10);
    expect(sp.push('{"a":1}\r\n\n{"b"')).toEqual(['{"a":1}']);
    expect(sp.push(':2}\n0123456789ABC')).toEqual(['{"b":2}']);
    expect(sp.push('DEF\n{"c":3}\n')).toEqual([null, '{"c":3}']);
    expect(sp.push('{"d":4}')).toEqual([]);
    expect(sp.end()).toEqual(['{"d":4}']);
  });
});

describe('alert hook: what the home already heard is not said again', () => {
  const config = parseGatewayConfig({ hub: 'mqtt://127.0.0.1:1', homeId: 'wh-0001', username: 'gw-0001', password: 'x', dataDir: '/nonexistent', input: { port: 0, stdin: false }, alertHook: { command: 'true' } });
  const said: string[] = [];
  const ctx = { config, log: pino({ level: 'silent' }), run: (_p: string, _c: unknown, env: Record<string, string>) => void said.push(`${env.ANXIN_ALERT_ID} ${env.ANXIN_ALERT_STATE}`) } as unknown as GatewayContext;
  const hook = new AlertHook(ctx);
  const msg = (alertId: string, state: string, ts: string, message = state) => ({ alertId, severity: 'critical', state, title: '跌倒', message: { en: message }, ts });

  it('announces each change once, in order, and never an older one after a newer', () => {
    hook.handle(msg('a1', 'open', '2026-11-24T01:00:00.000Z'));
    hook.handle(msg('a1', 'open', '2026-11-24T01:00:00.000Z')); // sent again on a reconnect
    hook.handle(msg('a1', 'open', '2026-11-24T01:00:05.000Z')); // same state, a later update (a reading attached)
    hook.handle(msg('a2', 'open', '2026-11-24T01:00:06.000Z'));
    hook.handle(msg('a1', 'escalated', '2026-11-24T01:01:00.000Z', 'doctor'));
    hook.handle(msg('a1', 'escalated', '2026-11-24T01:02:00.000Z', '120')); // escalated again, to 120: a new message
    hook.handle(msg('a1', 'acknowledged', '2026-11-24T01:00:30.000Z')); // older than what was said: late
    hook.handle(msg('a1', 'resolved', '2026-11-24T01:30:00.000Z'));
    expect(said).toEqual(['a1 open', 'a2 open', 'a1 escalated', 'a1 escalated', 'a1 resolved']);
    expect([hook.received, hook.repeated]).toEqual([8, 3]);
  });
});
