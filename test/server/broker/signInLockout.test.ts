/**
 * Failed MQTT sign-ins lock out what failed, not its neighbours: devices behind
 * one NAT or proxy share a source address, and one looping with a stale secret
 * must not keep an SOS pendant off the hub. A real hub and real mqtt.js
 * clients, all from 127.0.0.1; the hub's clock is moved to end a lock-out.
 */
import type { IClientOptions } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, exampleDocument, publishAcked, secretOf, startTestHub, type ImportAnswer, type TestHub } from '../../helpers/hub.js';

const T = 'anxin/v1/homes/wh-0001/devices';
let t: TestHub;
let answer: ImportAnswer;
let offset = 0;

beforeAll(async () => {
  t = await startTestHub({ now: () => Date.now() + offset });
  answer = await t.importDoc(exampleDocument());
});
afterAll(() => t?.destroy());

/** Connects and ends at once; answers `connected` or the CONNACK code (a timeout or close has none). */
async function outcome(url: string, username: string, password: string, extra: IClientOptions = {}): Promise<'connected' | number | string> {
  try {
    const client = await connectClient(url, username, password, { connectTimeout: 3000, ...extra });
    await client.endAsync();
    return 'connected';
  } catch (err) {
    return (err as { code?: number }).code ?? (err as Error).message;
  }
}

const refusals = async (reason: string) => {
  const m = (await t.hub.http.inject({ url: '/metrics' })).body.match(new RegExp(`anxin_mqtt_connect_refused_total\\{reason="${reason}"\\} (\\d+)`));
  return Number(m?.[1] ?? 0);
};

describe('a device failing to sign in over and over from a shared address', () => {
  it('does not keep its neighbour at that address from signing in and being acknowledged at once', async () => {
    const stale = [];
    for (let i = 0; i < 12; i++) stale.push(await outcome(t.mqttUrl, 'glu-0001', 'stale-secret'));
    // Ten wrong secrets, then "not authorized" without the secret being checked: a CONNACK either way, never a timeout.
    expect(stale).toEqual([...Array<number>(10).fill(4), 5, 5]);

    const started = Date.now();
    const sos = await connectClient(t.mqttUrl, 'sos-0001', secretOf(answer, 'sos-0001'), { connectTimeout: 3000 });
    try {
      const id = `sos-${Date.now()}`;
      await publishAcked(sos, `${T}/sos-0001/telemetry`, { type: 'sos', id, ts: Date.now() });
      expect(Date.now() - started).toBeLessThan(2000);
      expect(t.hub.ctx.db.prepare('SELECT count(*) AS n FROM readings WHERE reading_id = ?').get(id)).toEqual({ n: 1 });
    } finally {
      await sos.endAsync();
    }
  });

  it('is itself refused with CONNACK 5 while locked out, even with the right secret, counted and not silent', async () => {
    const before = await refusals('locked_out');
    const started = Date.now();
    expect(await outcome(t.mqttUrl, 'glu-0001', secretOf(answer, 'glu-0001'))).toBe(5);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await refusals('locked_out')).toBe(before + 1);
    expect(await outcome(t.mqttUrl, 'glu-0001', secretOf(answer, 'glu-0001'), { protocolVersion: 5 })).toBe(0x87);
  });

  it('signs in once the window is over', async () => {
    offset += 59_000;
    expect(await outcome(t.mqttUrl, 'glu-0001', secretOf(answer, 'glu-0001'))).toBe(5);
    offset += 1_000;
    expect(await outcome(t.mqttUrl, 'glu-0001', secretOf(answer, 'glu-0001'))).toBe('connected');
  });

  it('over MQTT-over-WebSocket (one address for everyone behind a reverse proxy) too', async () => {
    for (let i = 0; i < 10; i++) expect(await outcome(t.wsUrl, 'bp-0001', 'stale-secret')).toBe(4);
    expect(await outcome(t.wsUrl, 'bp-0001', secretOf(answer, 'bp-0001'))).toBe(5);
    expect(await outcome(t.wsUrl, 'gw-0001', secretOf(answer, 'gw-0001'))).toBe('connected');
    expect(await outcome(t.mqttUrl, 'fall-0001', secretOf(answer, 'fall-0001'))).toBe('connected');
  });
});
