/**
 * A replacement gateway that never connects (SPEC §4 `gateway_offline`, the
 * admin action "replace gateway"): the home's offline episode is judged by its
 * current gateway, so the new one's silence counts from its provisioning and is
 * reported as "never connected" (call the installer), even when the call center
 * had resolved the old gateway's alert; and the old gateway's forced disconnect
 * at the swap is not the home going offline. Real hub, fake clock, real MQTT
 * clients, the real API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishAcked } from '../../helpers/hub.js';
import { api, listAlerts, MINUTE, MONDAY_0900, startAlertHub, waitFor, type AlertHub } from './helpers.js';

let h: AlertHub;
const tick = (ms: number) => h.t.hub.ctx.watchdog.tick(h.clock.set(ms));
const unresolved = async (homeId: string) => (await listAlerts(h.t, h.tokens['op-zhang']!, '?state=open,acknowledged,escalated'))
  .filter((a) => a.rule === 'gateway_offline' && a.homeId === homeId);

beforeAll(async () => {
  h = await startAlertHub();
  // wh-0001's gateway was installed and worked, then died (its last will) at 09:00.
  const gw1 = await h.connect('gw-0001', {
    will: { topic: 'anxin/v1/homes/wh-0001/gateway/status', payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
  });
  await publishAcked(gw1, 'anxin/v1/homes/wh-0001/gateway/status', { online: true });
  gw1.stream.destroy();
  await waitFor(() => h.t.hub.ctx.directory.status('gw-0001')?.online === false, 'gw-0001 last will');
  // wh-0002's gateway is online and stays so until it is replaced.
  const gw2 = await h.connect('gw-0002');
  await publishAcked(gw2, 'anxin/v1/homes/wh-0002/gateway/status', { online: true });
});

afterAll(() => h?.close());

describe('a replacement gateway that never connects', () => {
  it('is reported even when the call center had resolved the old gateway\'s offline alert', async () => {
    await tick(MONDAY_0900 + 10 * MINUTE);
    const [old] = await unresolved('wh-0001');
    expect(old?.titles.en).toBe('Home gateway offline');
    // The operator books a technician and closes the alert; the technician swaps the gateway at 09:20.
    const resolved = await api(h.t, h.tokens['op-zhang']!, 'POST', `/api/v1/alerts/${old.id}/resolve`, { outcome: 'handled', note: '已预约技术员上门更换网关' });
    expect(resolved.status).toBe(200);
    h.clock.set(MONDAY_0900 + 20 * MINUTE);
    expect((await api(h.t, h.tokens.admin!, 'POST', '/api/v1/homes/wh-0001/gateway', { id: 'gw-0101' })).status).toBe(200);

    // Less than 10 minutes since the swap: nothing yet.
    await tick(MONDAY_0900 + 29 * MINUTE);
    expect(await unresolved('wh-0001')).toEqual([]);
    // The new gateway never comes (wrong secret typed in, no power): the home is unheard, reported once.
    await tick(MONDAY_0900 + 31 * MINUTE);
    await tick(MONDAY_0900 + 3 * 60 * MINUTE);
    const now = await unresolved('wh-0001');
    expect(now.map((a) => a.titles.en)).toEqual(['Home gateway never connected']);
  });

  it('is reported as never connected (call the installer) when the old gateway was online at the swap', async () => {
    h.clock.set(MONDAY_0900 + 3 * 60 * MINUTE);
    expect((await api(h.t, h.tokens.admin!, 'POST', '/api/v1/homes/wh-0002/gateway', { id: 'gw-0202' })).status).toBe(200);
    await waitFor(() => h.t.hub.ctx.directory.status('gw-0002')?.connected === false, 'gw-0002 signed out');
    // The old gateway's forced disconnect is not the home going offline.
    await tick(MONDAY_0900 + 3 * 60 * MINUTE + 9 * MINUTE);
    expect(await unresolved('wh-0002')).toEqual([]);
    await tick(MONDAY_0900 + 3 * 60 * MINUTE + 11 * MINUTE);
    const now = await unresolved('wh-0002');
    expect(now.map((a) => a.titles.en)).toEqual(['Home gateway never connected']);
  });

  it('is reported when the call center resolves the replaced gateway\'s alert only after the swap', async () => {
    // wh-0001's first replacement (gw-0101) never came: its alert is open. Swapped again at 3:20 with the alert still open.
    const [open] = await unresolved('wh-0001');
    expect(open?.titles.en).toBe('Home gateway never connected');
    h.clock.set(MONDAY_0900 + 3 * 60 * MINUTE + 20 * MINUTE);
    expect((await api(h.t, h.tokens.admin!, 'POST', '/api/v1/homes/wh-0001/gateway', { id: 'gw-0111' })).status).toBe(200);
    // The operator, told of the swap, closes the old gateway's alert at 3:25.
    h.clock.set(MONDAY_0900 + 3 * 60 * MINUTE + 25 * MINUTE);
    expect((await api(h.t, h.tokens['op-zhang']!, 'POST', `/api/v1/alerts/${open.id}/resolve`, { outcome: 'handled', note: '网关已更换' })).status).toBe(200);
    await tick(MONDAY_0900 + 3 * 60 * MINUTE + 29 * MINUTE);
    expect(await unresolved('wh-0001')).toEqual([]);
    // gw-0111 never connects either: that resolution was of gw-0101's silence, not of this one's.
    await tick(MONDAY_0900 + 3 * 60 * MINUTE + 31 * MINUTE);
    const now = await unresolved('wh-0001');
    expect(now.map((a) => a.titles.en)).toEqual(['Home gateway never connected']);
    expect(now[0]!.id).not.toBe(open.id);
  });
});
