/**
 * Sign-in limits (README "Web API"): only failed sign-ins count, per address
 * and per username, so a call centre behind one NAT address signs in at shift
 * change while one account guessed from many addresses is locked. Real hub and
 * HTTP; the hub's clock is the test's, to pass a lock-out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type ImportAnswer, type TestHub } from '../../helpers/hub.js';

let t: TestHub;
let answer: ImportAnswer;
let clock = Date.parse('2025-03-10T09:00:00+08:00');

const OPERATORS = 15;
const password = (username: string) => answer.users.find((u) => u.username === username)!.password;

function signIn(username: string, pass: string, remoteAddress: string) {
  return t.hub.http.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress, payload: { username, password: pass } });
}

async function rateLimitedCount(scope: string): Promise<number> {
  const text = (await t.hub.http.inject({ url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`anxin_login_rate_limited_total{scope="${scope}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

beforeAll(async () => {
  t = await startTestHub({ now: () => clock }); // ANXIN_LOGIN_PER_MINUTE: the default 10
  answer = await t.importDoc({
    homes: [],
    users: [
      ...Array.from({ length: OPERATORS }, (_, i) => ({ username: `op-${i}`, role: 'operator', name: `坐席 ${i}` })),
      { username: 'dr-li', role: 'doctor', name: '李医生' },
      { username: 'dr-wang', role: 'doctor', name: '王医生' },
    ],
  });
});

afterAll(() => t?.destroy());

describe('sign-in limits', () => {
  it('lets 15 operators behind one address sign in at shift change; that address is limited on failures only', async () => {
    const codes: number[] = [];
    for (let i = 0; i < OPERATORS; i++) codes.push((await signIn(`op-${i}`, password(`op-${i}`), '10.1.1.1')).statusCode);
    expect(codes).toEqual(Array(OPERATORS).fill(200));

    // Ten wrong passwords, each for another name, so only the address's limit applies.
    const failures: number[] = [];
    for (let i = 0; i < 10; i++) failures.push((await signIn(`nobody-${i}`, 'guess', '10.1.1.1')).statusCode);
    expect(failures).toEqual(Array(10).fill(401));
    const refused = await signIn('op-0', password('op-0'), '10.1.1.1');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toEqual({ error: 'rate_limited', message: expect.stringMatching(/too many failed sign-ins/) });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(await rateLimitedCount('address')).toBe(1);
    // Another address is not concerned; a minute later this one may sign in again.
    expect((await signIn('op-0', password('op-0'), '10.1.1.2')).statusCode).toBe(200);
    clock += 61_000;
    expect((await signIn('op-0', password('op-0'), '10.1.1.1')).statusCode).toBe(200);
  });

  it('locks a username after 10 failed sign-ins from 10 addresses, even for the right password, until the lock-out ends', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 10; i++) codes.push((await signIn('dr-li', `guess-${i}`, `10.2.${i}.1`)).statusCode);
    expect(codes).toEqual(Array(10).fill(401));

    const locked = await signIn('dr-li', password('dr-li'), '10.3.0.1');
    expect(locked.statusCode).toBe(429);
    expect(locked.json()).toEqual({ error: 'rate_limited', message: expect.stringMatching(/too many failed sign-ins/) });
    expect(Number(locked.headers['retry-after'])).toBe(15 * 60);
    expect(await rateLimitedCount('username')).toBe(1);
    // Only that username: another doctor at the same address signs in.
    expect((await signIn('dr-wang', password('dr-wang'), '10.3.0.1')).statusCode).toBe(200);

    clock += 14 * 60_000;
    expect((await signIn('dr-li', password('dr-li'), '10.3.0.2')).statusCode).toBe(429);
    clock += 60_000;
    expect((await signIn('dr-li', password('dr-li'), '10.3.0.2')).statusCode).toBe(200);
  });

  it('does not let concurrent guesses slip under the username limit', async () => {
    clock += 3600_000;
    const codes = (await Promise.all(Array.from({ length: 40 }, (_, i) => signIn('dr-wang', `guess-${i}`, `10.4.${i}.1`)))).map((r) => r.statusCode);
    expect(codes.filter((c) => c === 401).length).toBe(10);
    expect(codes.filter((c) => c === 429).length).toBe(30);
  });
});
