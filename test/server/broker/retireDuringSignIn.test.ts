/**
 * An admin retires or moves a device while it is signing in. The broker reads
 * the credential, then awaits the secret's check and aedes' session set-up
 * before the client is registered, and HubBroker.forget finds only registered
 * clients: a device in that window used to stay connected with its retired
 * identity, and its next reading threw inside aedes' authorizePublish hook (an
 * uncaught exception: the hub process exits); a moved device kept publishing
 * for its old home. Real hub, real MQTT clients; the admin action is started
 * from the credential lookup, of a device whose secret is still an older scrypt
 * hash (~30 ms to check), to hit the window.
 */
import { randomBytes, scryptSync } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DirectoryActions } from '../../../server/import/directoryActions.js';
import { collect, connectClient, publishAcked, secretOf } from '../../helpers/hub.js';
import { startAlertHub, type AlertHub } from '../alerts/helpers.js';

let h: AlertHub;
const uncaught: Error[] = [];
const onUncaught = (err: Error) => { uncaught.push(err); };
const home = (homeId: string, deviceId: string) => `anxin/v1/homes/${homeId}/devices/${deviceId}`;

beforeAll(async () => {
  h = await startAlertHub();
  process.on('uncaughtException', onUncaught);
});

afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  await h?.close();
});

function actions(closeSession = (u: string) => h.t.hub.ctx.broker.forget(u)): DirectoryActions {
  const ctx = h.t.hub.ctx;
  return new DirectoryActions({
    writer: ctx.writer, directory: ctx.directory, engine: ctx.engine, alerts: ctx.alerts, users: ctx.users,
    closeSession, log: ctx.log, now: ctx.now,
  });
}

/** Signs `username` in with `action` started as the broker reads its credential; the client if it got in. */
async function signInDuring<T>(username: string, action: () => Promise<{ ok: boolean } & T>): Promise<MqttClient | null> {
  const ctx = h.t.hub.ctx;
  // A device enrolled before the fast device hash: its secret is still an scrypt hash (secrets.ts), checked in ~30 ms.
  const salt = randomBytes(16);
  const key = scryptSync(secretOf(h.answer, username), salt, 32, { N: 1 << 14, r: 8, p: 1 });
  ctx.db.prepare('UPDATE mqtt_credentials SET secret_hash = ? WHERE username = ?')
    .run(['scrypt', 1 << 14, 8, 1, salt.toString('base64'), key.toString('base64')].join('$'), username);
  let acting: Promise<{ ok: boolean }> | undefined;
  const credential = ctx.directory.credential;
  ctx.directory.credential = (u: string) => {
    const c = credential.call(ctx.directory, u);
    if (u === username && !acting) acting = action();
    return c;
  };
  try {
    const client = await connectClient(h.t.mqttUrl, username, secretOf(h.answer, username)).catch(() => null);
    expect((await acting!).ok).toBe(true);
    if (!client) return null;
    h.clients.push(client);
    await new Promise((r) => setTimeout(r, 200));
    return client;
  } finally {
    ctx.directory.credential = credential;
  }
}

function stored(readingId: string): Array<{ home_id: string }> {
  return h.t.hub.ctx.db.prepare('SELECT home_id FROM readings WHERE reading_id = ?').all(readingId) as Array<{ home_id: string }>;
}

it('a device retired while signing in is signed out, cannot sign in again, and its readings cannot crash the hub', async () => {
  const sos = await signInDuring('sos-0001', () => actions().retireDevice('sos-0001', 'admin'));
  const stillConnected = sos?.connected ?? false;
  if (stillConnected) {
    await Promise.race([
      publishAcked(sos!, `${home('wh-0001', 'sos-0001')}/telemetry`, { type: 'sos', id: 'sos-after-retire', ts: h.clock.now() }).catch(() => {}),
      new Promise((r) => setTimeout(r, 1000)),
    ]);
  }
  expect({ stillConnected, uncaught: uncaught.map((e) => e.message), stored: stored('sos-after-retire') })
    .toEqual({ stillConnected: false, uncaught: [], stored: [] });
  await expect(connectClient(h.t.mqttUrl, 'sos-0001', secretOf(h.answer, 'sos-0001'))).rejects.toMatchObject({ code: 4 });
});

it('a device moved to another home while signing in is signed out, and signed in again publishes only for its new home', async () => {
  const fall = await signInDuring('fall-0001', () => actions().moveDevice('fall-0001', { homeId: 'wh-0002' }, 'admin'));
  expect(fall?.connected ?? false).toBe(false);

  const again = await h.connect('fall-0001');
  const oldRejects = await collect(again, `${home('wh-0002', 'fall-0001')}/rejects`);
  await publishAcked(again, `${home('wh-0001', 'fall-0001')}/telemetry`, { type: 'fall', id: 'fall-old-home', ts: h.clock.now() });
  expect((await oldRejects.next())[0]!.body.error).toBe('topic_not_allowed');
  await publishAcked(again, `${home('wh-0002', 'fall-0001')}/telemetry`, { type: 'fall', id: 'fall-new-home', ts: h.clock.now() });
  expect({ old: stored('fall-old-home'), new: stored('fall-new-home'), uncaught }).toEqual({ old: [], new: [{ home_id: 'wh-0002' }], uncaught: [] });
});

it('a reading of a device the directory no longer knows is refused with unknown_device, told, counted, never thrown', async () => {
  // The broker closes a retired device's session; this is the ingest's own guard, should a reading still arrive.
  const glu = await h.connect('glu-0001');
  const rejects = await collect(glu, `${home('wh-0001', 'glu-0001')}/rejects`);
  expect((await actions(() => {}).retireDevice('glu-0001', 'admin')).ok).toBe(true);
  await publishAcked(glu, `${home('wh-0001', 'glu-0001')}/telemetry`, { type: 'glucose', id: 'glu-after-retire', ts: h.clock.now(), value: 5.4, unit: 'mmol/L' });
  expect((await rejects.next())[0]!.body).toMatchObject({ error: 'unknown_device' });
  const metrics = (await h.t.hub.http.inject({ url: '/metrics' })).body;
  expect(metrics).toMatch(/anxin_readings_refused_total\{reason="unknown_device"\} [1-9]/);
  expect({ stored: stored('glu-after-retire'), uncaught }).toEqual({ stored: [], uncaught: [] });
});
