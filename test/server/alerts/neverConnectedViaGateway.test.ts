/**
 * "Never connected" (SPEC §4 `device_offline`) and devices heard only through
 * their home's gateway (SPEC §8: a BLE cuff, a zigbee2mqtt fall detector): the
 * gateway publishes their readings, they publish no status of their own. The
 * watchdog persists when they were last heard, so after a hub restart a fall
 * sensor that reported through the gateway is "offline, contact the home", not
 * "never connected, call the installer". Real hubs on one data dir, fake clock,
 * real MQTT clients.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { login, publishAcked, startTestHub, type TestHub } from '../../helpers/hub.js';
import { FakeClock, listAlerts, MANUAL_TICKS, MINUTE, send, startAlertHub, waitFor, type AlertHub } from './helpers.js';

const clock = new FakeClock();
let first: AlertHub;
let second: TestHub;
let restartedAt: number;

beforeAll(async () => {
  first = await startAlertHub({ clock });
  const gw = await first.connect('gw-0001');
  await publishAcked(gw, 'anxin/v1/homes/wh-0001/gateway/status', { online: true });
  // The zigbee fall sensor reports through the gateway (heartbeats), as it has for months.
  await send(gw, 'wh-0001', 'fall-0001', { type: 'heartbeat', battery: 90 }, clock.now());
  await waitFor(() => first.t.hub.ctx.directory.status('gw-0001')?.online === true, 'gateway online');
  await first.t.hub.ctx.watchdog.tick(clock.advance(MINUTE)); // persists last-seen times
  for (const c of first.clients) c.end(true);
  await first.t.stop();
  restartedAt = clock.advance(4 * MINUTE);
  second = await startTestHub({ dataDir: first.t.dataDir, now: clock.now, config: MANUAL_TICKS });
});

afterAll(async () => {
  await second?.destroy();
});

it('a device heard through its gateway before a restart is "offline" after it, not "never connected"', async () => {
  const token = await login(second.hub, 'op-zhang', first.answer.users.find((u) => u.username === 'op-zhang')!.password);
  await second.hub.ctx.watchdog.tick(clock.set(restartedAt + 15 * MINUTE));
  const [fall] = (await listAlerts(second, token)).filter((a) => a.rule === 'device_offline' && a.deviceId === 'fall-0001');
  expect(fall?.titles.en).toBe('Fall sensor offline');
  // It never connected to the hub itself: its status does not say it is connected.
  expect(second.hub.ctx.directory.status('fall-0001')?.connected).toBe(false);
});
