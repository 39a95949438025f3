/**
 * A hub restart is not silence (SPEC §4 time rules): while the hub is down it
 * hears nobody, so its own downtime must not count towards `device_offline`
 * or `gateway_offline` — else every home would raise alerts at the first tick
 * after a maintenance window or a crash, before its devices had a chance to
 * speak again. Silence counts again from the new hub's start.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { login, publishAcked, startTestHub, type TestHub } from '../../helpers/hub.js';
import { FakeClock, listAlerts, MANUAL_TICKS, MINUTE, send, startAlertHub, waitFor, type AlertHub } from './helpers.js';

const clock = new FakeClock();
let first: AlertHub;
let second: TestHub;
let token: string;
let restartedAt: number;

const timeAlerts = async () => (await listAlerts(second, token)).filter((a) => a.rule === 'device_offline' || a.rule === 'gateway_offline');

beforeAll(async () => {
  first = await startAlertHub({ clock });
  // Everyone in wh-0001 is heard at 09:00; the gateway reports online.
  const gw = await first.connect('gw-0001');
  await publishAcked(gw, 'anxin/v1/homes/wh-0001/gateway/status', { online: true });
  for (const id of ['bp-0001', 'glu-0001', 'fall-0001', 'sos-0001', 'pir-0001']) {
    await send(await first.connect(id), 'wh-0001', id, { type: 'heartbeat', battery: 90 }, clock.now());
  }
  await waitFor(() => first.t.hub.ctx.directory.status('gw-0001')?.online === true, 'gateway online');
  clock.advance(MINUTE);
  await first.t.hub.ctx.watchdog.tick(clock.now()); // persists last-seen times

  for (const c of first.clients) c.end(true);
  await first.t.stop();
  // A crash leaves the gateway marked connected, with no disconnect time: what a kill -9 leaves behind.
  const db = new Database(join(first.t.dataDir, 'anxin.sqlite'));
  db.prepare("UPDATE client_status SET connected = 1, disconnected_at = NULL WHERE client_id = 'gw-0001'").run();
  db.close();

  restartedAt = clock.advance(20 * MINUTE); // 20 minutes of maintenance
  second = await startTestHub({ dataDir: first.t.dataDir, now: clock.now, config: MANUAL_TICKS });
  token = await login(second.hub, 'op-zhang', first.answer.users.find((u) => u.username === 'op-zhang')!.password);
});

afterAll(() => second?.destroy());

it('the first tick after a 20-minute outage raises no device_offline or gateway_offline', async () => {
  await second.hub.ctx.watchdog.tick(clock.set(restartedAt + 1000));
  expect(await timeAlerts()).toEqual([]);
});

it('silence counts again from the restart: gateway after 10 min, devices after 3 heartbeats', async () => {
  await second.hub.ctx.watchdog.tick(clock.set(restartedAt + 9 * MINUTE));
  expect(await timeAlerts()).toEqual([]);
  await second.hub.ctx.watchdog.tick(clock.set(restartedAt + 10 * MINUTE));
  // wh-0002's gateway never connected: its silence, too, counts from the restart.
  expect((await timeAlerts()).map((a) => [a.rule, a.homeId, a.severity]).sort()).toEqual([['gateway_offline', 'wh-0001', 'urgent'], ['gateway_offline', 'wh-0002', 'urgent']]);
  await second.hub.ctx.watchdog.tick(clock.set(restartedAt + 15 * MINUTE));
  const offline = (await timeAlerts()).filter((a) => a.rule === 'device_offline' && a.homeId === 'wh-0001');
  expect(offline.map((a) => [a.deviceId, a.severity]).sort()).toEqual([
    ['bp-0001', 'info'], ['fall-0001', 'urgent'], ['glu-0001', 'info'], ['pir-0001', 'info'], ['sos-0001', 'urgent'],
  ]);
});
