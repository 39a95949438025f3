/**
 * MQTT connection limits on a fake clock: a token bucket per address, and a
 * lock-out of one username at one address after failed sign-ins, which leaves
 * the other usernames at that address (a shared NAT or proxy) alone.
 */
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
  /** Fails `n` sign-ins of `username` from `address`. */
  const fail = (address: string, username: string, n = 1) => { for (let i = 0; i < n; i++) limiter.failure(address, username); };
  /** Whether `username` may try to sign in from `address`: `ok` or the reason. */
  const signIn = (address: string, username: string) => {
    const r = limiter.signIn(address, username);
    return r.ok ? 'ok' : r.reason;
  };
  return { limiter, advance, attempts, fail, signIn };
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

describe('ConnectLimiter sign-in lock-out', () => {
  it('locks a username out at an address after maxFailures failures within the window, for the window', () => {
    const { limiter, signIn, advance } = setup();
    expect(limiter.failure('10.0.0.1', 'glu-0001')).toBe(false);
    expect(limiter.failure('10.0.0.1', 'glu-0001')).toBe(false);
    expect(signIn('10.0.0.1', 'glu-0001')).toBe('ok');
    expect(limiter.failure('10.0.0.1', 'glu-0001')).toBe(true);
    expect(limiter.signIn('10.0.0.1', 'glu-0001')).toEqual({ ok: false, reason: 'locked_out', retryInMs: 10_000 });
    advance(9_999);
    expect(limiter.signIn('10.0.0.1', 'glu-0001')).toEqual({ ok: false, reason: 'locked_out', retryInMs: 1 });
    advance(1);
    expect(signIn('10.0.0.1', 'glu-0001')).toBe('ok');
  });

  it('leaves the other usernames at the same address alone, and their bucket untouched', () => {
    const { fail, signIn, attempts } = setup({ burst: 2 });
    fail('10.0.0.1', 'glu-0001', 30);
    expect(signIn('10.0.0.1', 'glu-0001')).toBe('locked_out');
    expect(signIn('10.0.0.1', 'sos-0001')).toBe('ok');
    expect(signIn('10.0.0.1', 'gw-0001')).toBe('ok');
    expect(attempts('10.0.0.1', 3)).toEqual(['ok', 'ok', 'rate_limited']);
  });

  it('leaves the same username at another address alone', () => {
    const { fail, signIn } = setup();
    fail('10.0.0.1', 'glu-0001', 3);
    expect(signIn('10.0.0.1', 'glu-0001')).toBe('locked_out');
    expect(signIn('10.0.0.2', 'glu-0001')).toBe('ok');
    expect(signIn('::1', 'glu-0001')).toBe('ok');
  });

  it.each([
    // [usernames failing at one address, each failing this many times, locked-out usernames]
    [['a'], 2, []],
    [['a'], 3, ['a']],
    [['a', 'b', 'c'], 2, []],
    [['a', 'b', 'c'], 3, ['a', 'b', 'c']],
  ])('%j each failing %i times lock out %j', (usernames, times, locked) => {
    const { fail, signIn } = setup();
    for (let i = 0; i < times; i++) for (const u of usernames) fail('10.0.0.1', u);
    expect(['a', 'b', 'c', 'd'].filter((u) => signIn('10.0.0.1', u) === 'locked_out')).toEqual(locked);
  });

  it('starts counting afresh after a lock-out ends', () => {
    const { fail, signIn, advance } = setup();
    fail('10.0.0.1', 'glu-0001', 3);
    advance(10_000);
    fail('10.0.0.1', 'glu-0001', 2);
    expect(signIn('10.0.0.1', 'glu-0001')).toBe('ok');
    fail('10.0.0.1', 'glu-0001');
    expect(signIn('10.0.0.1', 'glu-0001')).toBe('locked_out');
  });

  it('forgets failures older than the window', () => {
    const { fail, signIn, advance } = setup();
    fail('10.0.0.1', 'glu-0001', 2);
    advance(10_000);
    fail('10.0.0.1', 'glu-0001');
    expect(signIn('10.0.0.1', 'glu-0001')).toBe('ok');
    advance(5_000);
    fail('10.0.0.1', 'glu-0001');
    expect(signIn('10.0.0.1', 'glu-0001')).toBe('ok');
    fail('10.0.0.1', 'glu-0001');
    expect(signIn('10.0.0.1', 'glu-0001')).toBe('locked_out');
  });

  it('forgets the failures of a pair that then signs in', () => {
    const { limiter, fail, signIn } = setup();
    fail('10.0.0.1', 'glu-0001', 2);
    limiter.success('10.0.0.1', 'glu-0001');
    fail('10.0.0.1', 'glu-0001', 2);
    expect(signIn('10.0.0.1', 'glu-0001')).toBe('ok');
  });

  it('defaults to 10 failures within a minute', () => {
    const clock = { t: 0 };
    const limiter = new ConnectLimiter({ burst: 100, perSecond: 100, now: () => clock.t });
    for (let i = 0; i < 9; i++) limiter.failure('10.0.0.1', 'glu-0001');
    expect(limiter.signIn('10.0.0.1', 'glu-0001')).toEqual({ ok: true });
    limiter.failure('10.0.0.1', 'glu-0001');
    expect(limiter.signIn('10.0.0.1', 'glu-0001')).toEqual({ ok: false, reason: 'locked_out', retryInMs: 60_000 });
    expect(limiter.signIn('10.0.0.1', 'sos-0001')).toEqual({ ok: true });
    expect(limiter.attempt('10.0.0.1')).toEqual({ ok: true });
    clock.t += 59_999;
    expect(limiter.signIn('10.0.0.1', 'glu-0001')).toEqual({ ok: false, reason: 'locked_out', retryInMs: 1 });
    clock.t += 1;
    expect(limiter.signIn('10.0.0.1', 'glu-0001')).toEqual({ ok: true });
  });
});

describe('ConnectLimiter sweep and bounds', () => {
  /** How many addresses and (address, username) pairs the limiter remembers; otherwise invisible by design. */
  const remembered = (limiter: ConnectLimiter) => (Reflect.get(limiter, 'entries') as Map<string, unknown>).size;
  const pairs = (limiter: ConnectLimiter) => [...(Reflect.get(limiter, 'failures') as Map<string, unknown>).keys()];

  it('forgets idle addresses, which then have a full bucket', () => {
    const { limiter, attempts, advance } = setup();
    attempts('10.0.0.1', 3);
    attempts('10.0.0.2', 1);
    expect(remembered(limiter)).toBe(2);
    advance(3_001);
    limiter.sweep();
    expect(remembered(limiter)).toBe(0);
    expect(attempts('10.0.0.1', 4)).toEqual(['ok', 'ok', 'ok', 'rate_limited']);
  });

  it('keeps an address whose bucket is still refilling', () => {
    const { limiter, attempts, advance } = setup({ burst: 30 });
    attempts('10.0.0.1', 30);
    advance(20_000);
    limiter.sweep();
    expect(remembered(limiter)).toBe(1);
    expect(attempts('10.0.0.1', 21).filter((r) => r === 'ok')).toHaveLength(20);
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

  it('keeps a locked-out pair locked out, and forgets it once the lock-out is over', () => {
    const { limiter, fail, signIn, advance } = setup();
    fail('10.0.0.1', 'glu-0001', 3);
    advance(9_000);
    limiter.sweep();
    expect(signIn('10.0.0.1', 'glu-0001')).toBe('locked_out');
    advance(1_000);
    limiter.sweep();
    expect(pairs(limiter)).toEqual([]);
    expect(signIn('10.0.0.1', 'glu-0001')).toBe('ok');
  });

  it('keeps recent failures counting towards a lock-out, and forgets old ones', () => {
    const { limiter, fail, signIn, advance } = setup();
    fail('10.0.0.1', 'old', 2);
    advance(5_000);
    fail('10.0.0.1', 'recent', 2);
    advance(5_000);
    limiter.sweep();
    expect(pairs(limiter)).toEqual(['10.0.0.1\0recent']);
    fail('10.0.0.1', 'recent');
    expect(signIn('10.0.0.1', 'recent')).toBe('locked_out');
  });

  it('remembers at most maxTracked pairs however many usernames are made up, forgetting the least recently failed', () => {
    const { limiter, fail, signIn } = setup({ maxTracked: 100 });
    fail('10.0.0.1', 'glu-0001', 2);
    fail('10.0.0.9', 'looping', 3);
    for (let i = 0; i < 10_000; i++) fail(`10.0.${i % 7}.1`, `made-up-${i}`);
    expect(pairs(limiter)).toHaveLength(100);
    expect(pairs(limiter)).toContain('10.0.3.1\0made-up-9999');
    expect(pairs(limiter)).not.toContain('10.0.0.1\0glu-0001');
    // Forgetting costs at most a new window of failures, never another device its sign-in.
    expect(signIn('10.0.0.9', 'looping')).toBe('ok');
  });

  it('keys a pair by at most 128 characters of its username', () => {
    const { limiter, fail, signIn } = setup();
    const long = 'x'.repeat(65_535);
    fail('10.0.0.1', long, 3);
    expect(pairs(limiter).map((k) => k.length)).toEqual(['10.0.0.1\0'.length + 128]);
    expect(signIn('10.0.0.1', long)).toBe('locked_out');
    expect(signIn('10.0.0.1', 'glu-0001')).toBe('ok');
  });
});
