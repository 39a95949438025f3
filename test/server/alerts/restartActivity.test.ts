/**
 * After a long hub outage, `no_activity` (SPEC §4: no motion for 12 h of
 * daytime) waits until gateways have had the time to reconnect and replay the
 * motion they kept (gateway_offline's 10 minutes): the first tick after the
 * restart raised it for every home with motion sensors, before anyone could
 * have told the hub. A home that really was still is alerted once that time
 * is up. Real hubs on one data dir, fake clock, readings over MQTT.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectClient, login, secretOf, startTestHub, type TestHub } from '../../helpers/hub.js';
import { FakeClock, listAlerts, MANUAL_TICKS, MINUTE, send, startAlertHub, type AlertHub } from './helpers.js';

const clock = new FakeClock(Date.parse('2025-03-10T07:30:00+08:00'));
let first: AlertHub;
let second: TestHub;
let token: string;
let restartedAt: number;

const stillness = async () => (await listAlerts(second, token)).filter((a) => a.rule === 'no_activity').map((a) => a.homeId as string);

beforeAll(async () => {
  first = await startAlertHub({ clock });
  // Both homes see movement at 07:30.
  await send(await first.connect('pir-0001'), 'wh-0001', 'pir-0001', { type: 'motion', location: 'kitchen' }, clock.now());
  await send(await first.connect('pir-0002'), 'wh-0002', 'pir-0002', { type: 'motion', location: 'hall' }, clock.now());
  for (const c of first.clients) c.end(true);
  await first.t.stop();
  restartedAt = clock.set(Date.parse('2025-03-10T19:40:00+08:00')); // the hub was down all day
  second = await startTestHub({ dataDir: first.t.dataDir, now: clock.now, config: MANUAL_TICKS });
  token = await login(second.hub, 'op-zhang', first.answer.users.find((u) => u.username === 'op-zhang')!.password);
});

afterAll(() => second?.destroy());

it('the first tick after the restart raises no no_activity', async () => {
  await second.hub.ctx.watchdog.tick(clock.set(restartedAt + 1000));
  expect(await stillness()).toEqual([]);
});

it('once gateways had the time to replay: the home whose 14:00 motion arrived is fine, the still one is alerted', async () => {
  const gw = await connectClient(second.mqttUrl, 'gw-0002', secretOf(first.answer, 'gw-0002'));
  await send(gw, 'wh-0002', 'pir-0002', { type: 'motion', location: 'hall' }, Date.parse('2025-03-10T14:00:00+08:00'));
  gw.end(true);
  await second.hub.ctx.watchdog.tick(clock.set(restartedAt + 9 * MINUTE));
  expect(await stillness()).toEqual([]);
  await second.hub.ctx.watchdog.tick(clock.set(restartedAt + 10 * MINUTE));
  expect(await stillness()).toEqual(['wh-0001']);
});
