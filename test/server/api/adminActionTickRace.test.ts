/**
 * An admin action (retire / move a device) and the watchdog's tick in one
 * group commit: jobs queued in one turn of the event loop run in one
 * transaction, in order, so a tick queued right after an action (the hub
 * ticks every second) must already see the new directory. Else it raises
 * device_offline again for a device just retired (an alert that can never
 * clear), or at the home a moved device has left. Real hub, fake clock, the
 * hub's own DirectoryActions and watchdog.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryActions } from '../../../server/import/directoryActions.js';
import { listAlerts, MINUTE, MONDAY_0900, startAlertHub, type AlertHub } from '../alerts/helpers.js';

let h: AlertHub;
let actions: DirectoryActions;
const unresolved = async (deviceId: string) => (await listAlerts(h.t, h.tokens['op-zhang']!, '?state=open,acknowledged,escalated'))
  .filter((a) => a.rule === 'device_offline' && a.deviceId === deviceId);

beforeAll(async () => {
  h = await startAlertHub();
  const ctx = h.t.hub.ctx;
  actions = new DirectoryActions({
    writer: ctx.writer, directory: ctx.directory, engine: ctx.engine, alerts: ctx.alerts, users: ctx.users,
    closeSession: (u) => ctx.broker.forget(u), log: ctx.log, now: ctx.now,
  });
  // Nothing heard from wh-0001's fall sensor and cuff: both offline (never connected) by 09:20.
  await ctx.watchdog.tick(h.clock.set(MONDAY_0900 + 20 * MINUTE));
  expect(await unresolved('fall-0001')).toHaveLength(1);
  expect(await unresolved('bp-0001')).toHaveLength(1);
});

afterAll(() => h?.close());

describe('an admin action committed together with a watchdog tick', () => {
  it('retiring a device leaves no device_offline alert of it', async () => {
    const now = h.clock.set(MONDAY_0900 + 21 * MINUTE);
    const [retired] = await Promise.all([actions.retireDevice('fall-0001', 'admin'), h.t.hub.ctx.watchdog.tick(now)]);
    expect(retired.ok).toBe(true);
    await h.t.hub.ctx.watchdog.tick(h.clock.set(MONDAY_0900 + 22 * MINUTE));
    expect(await unresolved('fall-0001')).toEqual([]);
  });

  it('moving a device raises nothing more at the home it left', async () => {
    const now = h.clock.set(MONDAY_0900 + 23 * MINUTE);
    const [moved] = await Promise.all([actions.moveDevice('bp-0001', { homeId: 'wh-0002' }, 'admin'), h.t.hub.ctx.watchdog.tick(now)]);
    expect(moved.ok).toBe(true);
    await h.t.hub.ctx.watchdog.tick(h.clock.set(MONDAY_0900 + 24 * MINUTE));
    expect((await unresolved('bp-0001')).filter((a) => a.homeId === 'wh-0001')).toEqual([]);
  });

  it('an action whose transaction rolls back leaves the watched directory as it was', async () => {
    const { writer, directory } = h.t.hub.ctx;
    // As an action's job does: write, reload the cache in the job; then something fails and all is undone.
    await expect(writer.run((db) => {
      db.prepare('DELETE FROM devices WHERE id = ?').run('glu-0001');
      directory.reloadCache();
      throw new Error('disk full');
    })).rejects.toThrow('disk full');
    expect(directory.allDevices().has('glu-0001')).toBe(true);
    // The next change, whatever its counter, is seen too.
    expect((await actions.retireDevice('glu-0001', 'admin')).ok).toBe(true);
    expect(directory.allDevices().has('glu-0001')).toBe(false);
  });
});
