/**
 * A gateway or device provisioned but never heard from (never plugged in, wrong
 * secret, dead on arrival) leaves its home as unheard as one gone offline (SPEC
 * §4 `gateway_offline`, `device_offline`): silence counts from its enrolment, or
 * from the hub's start if later, and the alert says it never connected, so the
 * operator calls the installer rather than the resident. Real hubs on one data
 * dir, fake clock, hand-driven ticks, real MQTT clients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleDocument, login, publishAcked, startTestHub, type TestHub } from '../../helpers/hub.js';
import { api, FakeClock, listAlerts, MANUAL_TICKS, MINUTE, send, startAlertHub, waitFor, type AlertHub } from './helpers.js';

const clock = new FakeClock();
let h: AlertHub;
let restarted: TestHub | undefined;
const at = (hhmmss: string) => Date.parse(`2025-03-10T${hhmmss}+08:00`);

/** The unresolved alerts of `rule` in one home (optionally of one device), as the operator sees them. */
async function open(rule: string, homeId: string, deviceId?: string, t: TestHub = h.t, token = h.tokens['op-zhang']!) {
  return (await listAlerts(t, token, '?state=open,acknowledged,escalated'))
    .filter((a) => a.rule === rule && a.homeId === homeId && (deviceId === undefined || a.deviceId === deviceId));
}
const tick = (ms: number) => h.t.hub.ctx.watchdog.tick(clock.set(ms));

beforeAll(async () => {
  h = await startAlertHub({ clock }); // the hub starts, and wh-0001 and wh-0002 are enrolled, at 09:00
  // wh-0001's gateway connects at 09:02 and is gone by its last will at once; wh-0002's never comes.
  clock.set(at('09:02:00'));
  const gw = await h.connect('gw-0001', {
    will: { topic: 'anxin/v1/homes/wh-0001/gateway/status', payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
  });
  await publishAcked(gw, 'anxin/v1/homes/wh-0001/gateway/status', { online: true });
  gw.stream.destroy();
  await waitFor(() => h.t.hub.ctx.directory.status('gw-0001')?.online === false, 'the last will recorded');
});

afterAll(async () => {
  await restarted?.destroy();
  if (!restarted) await h?.close();
});

describe('a gateway that never connected', () => {
  it('raises gateway_offline 10 minutes after its enrolment, saying it never connected', async () => {
    await tick(at('09:09:59'));
    expect(await open('gateway_offline', 'wh-0002')).toEqual([]);
    await tick(at('09:10:00'));
    const [a, ...more] = await open('gateway_offline', 'wh-0002');
    expect(more).toEqual([]);
    expect(a).toMatchObject({ severity: 'urgent', residentId: null, deviceId: null, state: 'open' });
    expect(a.titles).toEqual({ 'zh-CN': '家庭网关从未上线', en: 'Home gateway never connected' });
    const { alert } = (await api(h.t, h.tokens['op-zhang']!, 'GET', `/api/v1/alerts/${a.id}`)).body;
    expect(alert.explanation.en).toBe('Never connected since it was provisioned (03-10 09:00), so nothing from this home reaches us; '
      + 'call the installer to check its power, network and credentials');
    expect(alert.explanation['zh-CN']).toBe('自 03-10 09:00 登记以来从未连接，家中所有设备的消息都无法送达；请联系安装人员检查（电源、网络、密钥）');
  });

  it('a gateway that did connect once and went silent keeps the offline wording', async () => {
    expect(await open('gateway_offline', 'wh-0001')).toEqual([]);
    await tick(at('09:12:00'));
    const [a] = await open('gateway_offline', 'wh-0001');
    expect(a).toMatchObject({ severity: 'urgent', titles: { en: 'Home gateway offline' } });
  });

  it('its devices raise device_offline after 3 heartbeats, worded the same way', async () => {
    await tick(at('09:14:59'));
    expect(await open('device_offline', 'wh-0002', 'fall-0002')).toEqual([]);
    await tick(at('09:15:00'));
    const [fall] = await open('device_offline', 'wh-0002', 'fall-0002');
    expect(fall).toMatchObject({ severity: 'urgent', titles: { en: 'Fall sensor never connected' } });
    const { alert } = (await api(h.t, h.tokens['op-zhang']!, 'GET', `/api/v1/alerts/${fall.id}`)).body;
    expect(alert.explanation.en).toBe('Never connected since it was provisioned (03-10 09:00), so a fall or a call would go unheard; '
      + 'call the installer to check its power, network and credentials');
  });

  it('a home enrolled while the hub runs is silent from its enrolment, not from the hub start', async () => {
    clock.set(at('09:30:00'));
    await h.t.importDoc(exampleDocument('wh-0003', '0003'));
    await tick(at('09:31:00'));
    expect(await open('device_offline', 'wh-0003')).toEqual([]);
    await tick(at('09:39:59'));
    expect(await open('gateway_offline', 'wh-0003')).toEqual([]);
    await tick(at('09:40:00'));
    expect((await open('gateway_offline', 'wh-0003')).map((a) => a.titles.en)).toEqual(['Home gateway never connected']);
    await tick(at('09:45:00'));
    expect((await open('device_offline', 'wh-0003', 'fall-0003')).map((a) => a.titles.en)).toEqual(['Fall sensor never connected']);
  });

  it('connecting clears it like any gateway coming back: the urgent alert stays for the operator to close', async () => {
    clock.set(at('09:46:00'));
    const gw = await h.connect('gw-0002');
    await publishAcked(gw, 'anxin/v1/homes/wh-0002/gateway/status', { online: true });
    const [a] = await open('gateway_offline', 'wh-0002');
    // The connection's status event is recorded after the CONNACK: wait for its history entry.
    const detail = await waitFor(async () => {
      const body = (await api(h.t, h.tokens['op-zhang']!, 'GET', `/api/v1/alerts/${a.id}`)).body;
      return body.history.at(-1).action === 'condition.cleared' && body;
    }, 'gateway_offline condition cleared');
    expect(detail.history.at(-1)).toMatchObject({ actor: 'system', at: new Date(at('09:46:00')).toISOString() });
    expect(detail.alert).toMatchObject({ state: 'open', conditionCleared: true });
    // Its motion sensor heard through it: that info alert resolves itself.
    expect(await open('device_offline', 'wh-0002', 'pir-0002')).toHaveLength(1);
    await send(gw, 'wh-0002', 'pir-0002', { type: 'motion', location: 'hall' }, clock.now());
    expect(await open('device_offline', 'wh-0002', 'pir-0002')).toEqual([]);
    await tick(at('09:47:00'));
    expect(await open('gateway_offline', 'wh-0002')).toHaveLength(1);
  });
});

describe('a hub restart', () => {
  it('inside the window does not raise early: silence counts again from the restart', async () => {
    clock.set(at('09:50:00'));
    await h.t.importDoc({ homes: [{ ...exampleDocument('wh-0004', '0004').homes[0]!, devices: [] }] });
    for (const c of h.clients) c.end(true);
    await h.t.stop();
    const restartedAt = clock.set(at('09:56:00'));
    restarted = await startTestHub({ dataDir: h.t.dataDir, now: clock.now, config: MANUAL_TICKS });
    const token = await login(restarted.hub, 'op-zhang', h.answer.users.find((u) => u.username === 'op-zhang')!.password);
    const tickRestarted = (ms: number) => restarted!.hub.ctx.watchdog.tick(clock.set(ms));

    await tickRestarted(at('10:00:00')); // 10 minutes after its enrolment, 4 after the restart
    expect(await open('gateway_offline', 'wh-0004', undefined, restarted, token)).toEqual([]);
    await tickRestarted(restartedAt + 10 * MINUTE - 1000);
    expect(await open('gateway_offline', 'wh-0004', undefined, restarted, token)).toEqual([]);
    await tickRestarted(restartedAt + 10 * MINUTE);
    expect((await open('gateway_offline', 'wh-0004', undefined, restarted, token)).map((a) => a.titles.en)).toEqual(['Home gateway never connected']);
  });

  it('no_activity of a home enrolled after the start counts its 12 daytime hours from its enrolment', async () => {
    clock.set(at('10:30:00'));
    await restarted!.importDoc(exampleDocument('wh-0005', '0005'));
    await restarted!.hub.ctx.watchdog.tick(clock.set(at('21:58:00')));
    const token = await login(restarted!.hub, 'op-zhang', h.answer.users.find((u) => u.username === 'op-zhang')!.password);
    const still = (await listAlerts(restarted!, token)).filter((a) => a.rule === 'no_activity').map((a) => a.homeId);
    // wh-0001 has had no motion in the 12 daytime hours since the restart at 09:56; wh-0005 was enrolled at 10:30.
    expect(still).toContain('wh-0001');
    expect(still).not.toContain('wh-0005');
  });
});
