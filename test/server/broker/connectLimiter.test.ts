/** Per-address MQTT connection limits: token bucket and lock-out after failed sign-ins, on a fake clock. */
import { describe, expect, it } from 'vitest';
import { ConnectLimiter, type ConnectLimiterOptions } from '../../../server/broker/connectLimiter.js';

function setup(opts: Partial<ConnectLimiterOptions> = {}) {
  const clock = { t: 1_000_000 };
  const limiter = new ConnectLimiter({ burst: 3, perSecond: 1, maxFailures: 3, failureWindowMs: 10_000, now: () => clock.t, ...opts });
  const advance = (ms: number) => { clock.t += ms; };
  /** Attempts `n` times and answers each outcome as `ok` or the reason. */
  const attempts = (address: string, n: number) =>
    Array.from({ length: n }, () => {
      const r = limiter.attempt(address);
      return r.ok ? 'ok' : r.reason;
    });
  return { limiter, advance, attempts };
}

describe('ConnectLimiter bucket', () => {
  it('allows a burst, then answers rate_limited', () => {
    const { attempts } = setup();
    expect(attempts('10.0.0.1', 5)).toEqual(['ok', 'ok', 'ok', 'rate_limited', 'rate_limited']);
  });

  it.each([
    // [ms waited after draining the bucket, attempts then allowed out of 4]
    [0, 0],
    [999, 0],
    [1000, 1],
    [1999, 1],
    [2000, 2],
    [3000, 3],
    [60_000, 3],
  ])('after waiting %i ms refills %i token(s), never above the burst', (waited, allowed) => {
    const { attempts, advance } = setup();
    attempts('10.0.0.1', 3);
    advance(waited);
    expect(attempts('10.0.0.1', 4).filter((r) => r === 'ok')).toHaveLength(allowed);
  });

  it('keeps fractional refill across refused attempts', () => {
    const { attempts, advance } = setup({ perSecond: 2 });
    attempts('10.0.0.1', 3);
    advance(250);
    expect(attempts('10.0.0.1', 1)).toEqual(['rate_limited']);
    advance(250);
    expect(attempts('10.0.0.1', 2)).toEqual(['ok', 'rate_limited']);
  });

  it('keeps each address in its own bucket', () => {
    const { attempts } = setup();
    expect(attempts('10.0.0.1', 4)).toEqual(['ok', 'ok', 'ok', 'rate_limited']);
    expect(attempts('10.0.0.2', 4)).toEqual(['ok', 'ok', 'ok', 'rate_limited']);
    expect(attempts('::1', 1)).toEqual(['ok']);
  });
});

describe('ConnectLimiter lock-out', () => {
  it('locks an address out after maxFailures failures within the window, for the window', () => {
    const { limiter, attempts, advance } = setup({ burst: 100, perSecond: 100 });
    for (let i = 0; i < 2; i++) {
      attempts('10.0.0.1', 1);
      limiter.failure('10.0.0.1');
    }
    expect(attempts('10.0.0.1', 1)).toEqual(['ok']);
    limiter.failure('10.0.0.1');
    expect(attempts('10.0.0.1', 2)).toEqual(['locked_out', 'locked_out']);
    advance(9_999);
    expect(attempts('10.0.0.1', 1)).toEqual(['locked_out']);
    advance(1);
    expect(attempts('10.0.0.1', 1)).toEqual(['ok']);
  });

  it('starts counting afresh after a lock-out ends', () => {
    const { limiter, attempts, advance } = setup({ burst: 100, perSecond: 100 });
    for (let i = 0; i < 3; i++) limiter.failure('10.0.0.1');
    advance(10_000);
    limiter.failure('10.0.0.1');
    limiter.failure('10.0.0.1');
    expect(attempts('10.0.0.1', 1)).toEqual(['ok']);
    limiter.failure('10.0.0.1');
    expect(attempts('10.0.0.1', 1)).toEqual(['locked_out']);
  });

  it('forgets failures older than the window', () => {
    const { limiter, attempts, advance } = setup({ burst: 100, perSecond: 100 });
    limiter.failure('10.0.0.1');
    limiter.failure('10.0.0.1');
    advance(10_000);
    limiter.failure('10.0.0.1');
    expect(attempts('10.0.0.1', 1)).toEqual(['ok']);
    advance(5_000);
    limiter.failure('10.0.0.1');
    expect(attempts('10.0.0.1', 1)).toEqual(['ok']);
    limiter.failure('10.0.0.1');
    expect(attempts('10.0.0.1', 1)).toEqual(['locked_out']);
  });

  it('locks out only the failing address', () => {
    const { limiter, attempts } = setup();
    for (let i = 0; i < 3; i++) limiter.failure('10.0.0.1');
    expect(attempts('10.0.0.1', 1)).toEqual(['locked_out']);
    expect(attempts('10.0.0.2', 3)).toEqual(['ok', 'ok', 'ok']);
  });

  it('defaults to 10 failures within a minute', () => {
    const clock = { t: 0 };
    const limiter = new ConnectLimiter({ burst: 100, perSecond: 100, now: () => clock.t });
    for (let i = 0; i < 9; i++) limiter.failure('10.0.0.1');
    expect(limiter.attempt('10.0.0.1')).toEqual({ ok: true });
    limiter.failure('10.0.0.1');
    expect(limiter.attempt('10.0.0.1')).toEqual({ ok: false, reason: 'locked_out' });
    clock.t += 59_999;
    expect(limiter.attempt('10.0.0.1')).toEqual({ ok: false, reason: 'locked_out' });
    clock.t += 1;
    expect(limiter.attempt('10.0.0.1')).toEqual({ ok: true });
  });
});

describe('ConnectLimiter sweep', () => {
  /** How many addresses the limiter remembers; sweeping is otherwise invisible by design. */
  const remembered = (limiter: ConnectLimiter) => (Reflect.get(limiter, 'entries') as Map<string, unknown>).size;

  it('forgets idle addresses, which then have a full bucket', () => {
    const { limiter, attempts, advance } = setup();
    attempts('10.0.0.1', 3);
    attempts('10.0.0.2', 1);
    expect(remembered(limiter)).toBe(2);
    advance(10_001);
    limiter.sweep();
    expect(remembered(limiter)).toBe(0);
    expect(attempts('10.0.0.1', 4)).toEqual(['ok', 'ok', 'ok', 'rate_limited']);
  });

  it('keeps an address whose bucket is still refilling', () => {
    const { limiter, attempts, advance } = setup({ burst: 30, failureWindowMs: 10_000 });
    attempts('10.0.0.1', 30);
    advance(20_000);
    limiter.sweep();
    expect(remembered(limiter)).toBe(1);
    expect(attempts('10.0.0.1', 21).filter((r) => r === 'ok')).toHaveLength(20);
  });

  it('keeps a locked-out address locked out', () => {
    const { limiter, attempts, advance } = setup();
    attempts('10.0.0.1', 1);
    advance(9_000);
    for (let i = 0; i < 3; i++) limiter.failure('10.0.0.1');
    advance(2_000); // last attempt 11 s ago, lock-out ends in 8 s
    limiter.sweep();
    expect(remembered(limiter)).toBe(1);
    expect(attempts('10.0.0.1', 1)).toEqual(['locked_out']);
  });

  it('keeps recent failures counting towards a lock-out', () => {
    const { limiter, attempts, advance } = setup();
    attempts('10.0.0.1', 1);
    advance(9_000);
    limiter.failure('10.0.0.1');
    limiter.failure('10.0.0.1');
    advance(2_000);
    limiter.sweep();
    limiter.failure('10.0.0.1');
    expect(attempts('10.0.0.1', 1)).toEqual(['locked_out']);
  });

  it('forgets only the idle address', () => {
    const { limiter, attempts, advance } = setup();
    attempts('10.0.0.1', 3);
    advance(8_000);
    attempts('10.0.0.2', 3);
    advance(3_000);
    limiter.sweep();
    expect(remembered(limiter)).toBe(1);
    expect(attempts('10.0.0.2', 4)).toEqual(['ok', 'ok', 'ok', 'rate_limited']);
  });
});
