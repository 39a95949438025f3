/**
 * The live stream lives no longer than the session that opened it (SPEC §6):
 * signing out, the session expiring, the account disabled or given another
 * role close the socket with 4401 "session ended", and no health data is sent
 * after that. Real hub, real MQTT devices, real WebSocket clients.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../../helpers/hub.js';
import { bp, eventsOf, send, startAlertHub, StreamClient, type AlertHub } from './helpers.js';

let h: AlertHub;
let cuff: MqttClient;

beforeAll(async () => {
  h = await startAlertHub();
  cuff = await h.connect('bp-0001');
});

afterAll(() => h?.close());

const password = (username: string) => h.answer.users.find((u) => u.username === username)!.password;

/** A stream of a fresh session of `username`, greeted, with how it closed once it does. */
async function openStream(username: string) {
  const token = await login(h.t.hub, username, password(username));
  const stream = await StreamClient.open(h.t, token);
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) => {
    stream.socket.once('close', (code, reason) => resolve({ code, reason: reason.toString(), at: Date.now() }));
  });
  await stream.next((m) => m.type === 'hello');
  return { token, stream, closed };
}

/** Resolves with the close, or null if the socket is still open after `ms`. */
const closedWithin = <T>(closed: Promise<T>, ms: number) => Promise.race([closed, new Promise<null>((r) => setTimeout(() => r(null), ms))]);

describe('a stream bound to its session', () => {
  it('sign-out closes that session’s stream at once with 4401 and sends it nothing more; another session of the same doctor keeps streaming', async () => {
    const signedOut = await openStream('dr-li');
    const other = await openStream('dr-li');
    const out = await h.t.hub.http.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { authorization: `Bearer ${signedOut.token}` } });
    expect(out.statusCode).toBe(200);
    // At once: well before the periodic session sweep (5 s) could have done it.
    const closed = await closedWithin(signedOut.closed, 1000);
    expect(closed).toMatchObject({ code: 4401, reason: expect.stringMatching(/^session ended/) });

    await send(cuff, 'wh-0001', 'bp-0001', bp(188, 97), h.clock.now()); // dr-li's patient, a crisis
    await other.stream.next((m) => m.type === 'alert.created', 'the crisis on the other session');
    expect(eventsOf(other.stream.messages).map((e) => e.type)).toEqual(expect.arrayContaining(['reading', 'alert.created']));
    expect(eventsOf(signedOut.stream.messages)).toEqual([]);
    other.stream.close();
  });

  it('closes with 4401 within one sweep when the user is disabled or given another role; others keep streaming', async () => {
    const disabled = await openStream('dr-wang');
    const reroled = await openStream('op-zhang');
    const unaffected = await openStream('dr-li');
    // The hub has no API for either: an administrator does it in the database, possibly from
    // another process, so no hook in this hub sees it.
    h.t.hub.ctx.db.prepare('UPDATE users SET disabled = 1 WHERE username = ?').run('dr-wang');
    h.t.hub.ctx.db.prepare("UPDATE users SET role = 'admin' WHERE username = ?").run('op-zhang');

    const started = Date.now();
    const [a, b] = await Promise.all([closedWithin(disabled.closed, 7000), closedWithin(reroled.closed, 7000)]);
    expect(a).toMatchObject({ code: 4401, reason: expect.stringMatching(/^session ended/) });
    expect(b).toMatchObject({ code: 4401, reason: 'session ended (role changed)' });
    expect(Math.max(a!.at, b!.at) - started).toBeLessThan(6500);
    expect((await closedWithin(unaffected.closed, 10))).toBeNull();
    unaffected.stream.close();
  });

  it('sends no event past the session’s expiry and closes the stream with 4401', async () => {
    const { stream, closed, token } = await openStream('dr-li');
    h.clock.advance(12 * 3600_000 + 1); // ANXIN_SESSION_HOURS: 12
    expect((await h.t.hub.http.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(401);
    await send(cuff, 'wh-0001', 'bp-0001', bp(191, 99), h.clock.now());
    // The first event after expiry ends it, before any sweep.
    expect(await closedWithin(closed, 1000)).toMatchObject({ code: 4401, reason: 'session ended (expired)' });
    expect(eventsOf(stream.messages)).toEqual([]);
  });
});
