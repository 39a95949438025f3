/**
 * The opt-in journal retention (server/store/journalRetention.ts, README
 * "Journal retention"), on a real hub with a fake clock and real MQTT
 * devices: heartbeats received more than ANXIN_HEARTBEAT_RETENTION_DAYS ago
 * are pruned in chunks while devices keep publishing; clinical readings and
 * each resident's newest heartbeat stay; every reading received more than
 * ANXIN_READING_RETENTION_DAYS ago goes but each resident's newest of a kind,
 * and a screen resuming from before a pruned reading's event is told to
 * reload. After a restart with retention off, the watchdog still knows a
 * device whose every row was pruned, and nothing is pruned.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, publishAcked, startTestHub, type TestHub } from '../../helpers/hub.js';
import {
  bp, FakeClock, listAlerts, MANUAL_TICKS, MINUTE, send, startAlertHub, StreamClient, telemetry, type AlertHub,
} from '../alerts/helpers.js';

const DAY = 24 * 60 * MINUTE;
const OLD_FALL_HEARTBEATS = 3000;

const clock = new FakeClock();
const T0 = clock.now();
let h: AlertHub;
let restarted: TestHub | undefined;
const devices: Record<string, MqttClient> = {};
/** Heartbeats a device published while the first pass ran. */
const live: string[] = [];

const hub = () => restarted ?? h.t;
const passwordOf = (username: string) => h.answer.users.find((u) => u.username === username)!.password;
const heartbeat = (id: string, ts: number) => ({ type: 'heartbeat', id, ts });
const idsOf = (sql: string, ...params: unknown[]) => (hub().hub.ctx.db.prepare(sql).pluck().all(...params) as string[]);
const rowCount = () => hub().hub.ctx.db.prepare('SELECT count(*) FROM readings').pluck().get() as number;

/** A resident's reading ids of one type, as their doctor's screen gets them (signed in on the hub's clock). */
async function readingIds(residentId: string, doctor: string, type: string): Promise<string[]> {
  const token = await login(hub().hub, doctor, passwordOf(doctor));
  const res = await hub().hub.http.inject({ method: 'GET', url: `/api/v1/residents/${residentId}/readings?type=${type}`, headers: { authorization: `Bearer ${token}` } });
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { readings: Array<{ id: string }> }).readings.map((r) => r.id);
}

async function metric(series: string): Promise<number | undefined> {
  const body = (await hub().hub.http.inject({ method: 'GET', url: '/metrics' })).body;
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  h = await startAlertHub({ clock, config: { heartbeatRetentionDays: 7, readingRetentionDays: 366 } });
  for (const id of ['fall-0001', 'bp-0001', 'sos-0001', 'pir-0001', 'sos-0002']) devices[id] = await h.connect(id);
  // Day 0: a fall sensor's backlog of heartbeats (arrays of 500), a cuff's heartbeats and
  // measurements, motion, and the only heartbeat ever of r-0002's pendant.
  for (let k = 0; k < OLD_FALL_HEARTBEATS; k += 500) {
    const batch = Array.from({ length: 500 }, (_, j) => heartbeat(`f-${k + j}`, T0 - (OLD_FALL_HEARTBEATS - k - j) * 1000));
    await publishAcked(devices['fall-0001']!, telemetry('wh-0001', 'fall-0001'), batch);
  }
  await send(devices['bp-0001']!, 'wh-0001', 'bp-0001', heartbeat('bp-hb-1', T0 - 2 * MINUTE), T0 - 2 * MINUTE);
  await send(devices['bp-0001']!, 'wh-0001', 'bp-0001', heartbeat('bp-hb-2', T0 - MINUTE), T0 - MINUTE);
  await send(devices['bp-0001']!, 'wh-0001', 'bp-0001', { id: 'bp-1', ...bp(122, 78) }, T0 - 30 * MINUTE);
  await send(devices['bp-0001']!, 'wh-0001', 'bp-0001', { id: 'bp-2', ...bp(124, 80) }, T0 - 20 * MINUTE);
  await send(devices['pir-0001']!, 'wh-0001', 'pir-0001', { type: 'motion', id: 'pir-1' }, T0);
  await send(devices['sos-0002']!, 'wh-0002', 'sos-0002', heartbeat('sos2-hb', T0), T0);
  await h.t.hub.ctx.watchdog.tick(clock.now()); // persists last-seen times, as the hub's timer does
}, 60_000);

afterAll(async () => {
  for (const c of Object.values(devices)) c.end(true);
  if (restarted) await restarted.destroy();
  else await h?.close();
});

describe('journal retention', () => {
  it('prunes heartbeats received more than 7 days ago in chunks while devices keep publishing; keeps clinical readings and each resident\'s newest heartbeat', async () => {
    const T1 = clock.set(T0 + 8 * DAY);
    await send(devices['sos-0001']!, 'wh-0001', 'sos-0001', heartbeat('sos-hb-now', T1), T1);

    // A device keeps publishing through the whole pass, each reading waiting for its PUBACK.
    let passing = true;
    let ackedDuringPass = 0;
    const publishing = (async () => {
      while (passing || live.length < 20) {
        live.push(await send(devices['pir-0001']!, 'wh-0001', 'pir-0001', heartbeat(`live-${live.length}`, T1), T1));
        if (passing) ackedDuringPass += 1;
      }
    })();
    const results = await h.t.hub.retention.pass().finally(() => (passing = false));
    await publishing;
    expect(ackedDuringPass).toBeGreaterThanOrEqual(3);

    const oldRows = OLD_FALL_HEARTBEATS + 2 + 2 + 1 + 1; // every row of day 0
    expect(results).toEqual([
      expect.objectContaining({ policy: 'heartbeat', judged: oldRows, pruned: OLD_FALL_HEARTBEATS + 2, waitingForInflux: false }),
      expect.objectContaining({ policy: 'readings', judged: 0, pruned: 0 }),
    ]);
    expect(results[0]!.chunks).toBe(7); // 500 rows a chunk, the last stopping at the first recent row
    // Every reading published during the pass was acknowledged (above) and stored.
    expect(idsOf("SELECT reading_id FROM readings WHERE reading_id LIKE 'live-%' ORDER BY seq")).toEqual(live);

    expect(idsOf("SELECT reading_id FROM readings WHERE device_id = 'fall-0001'")).toEqual([]);
    expect(await readingIds('r-0001', 'dr-li', 'heartbeat')).toEqual(['sos-hb-now']);
    expect(await readingIds('r-0001', 'dr-li', 'blood_pressure')).toEqual(['bp-1', 'bp-2']);
    expect(idsOf("SELECT reading_id FROM readings WHERE type = 'motion'")).toEqual(['pir-1']);
    // r-0002's pendant has not been heard since: its newest heartbeat stays.
    expect(await readingIds('r-0002', 'dr-wang', 'heartbeat')).toEqual(['sos2-hb']);
    expect(await metric('anxin_journal_rows_pruned_total{policy="heartbeat"}')).toBe(OLD_FALL_HEARTBEATS + 2);
    expect(await metric('anxin_journal_retention_behind_seconds{policy="heartbeat"}')).toBe(0);

    // The next pass reads no row the walk has judged before.
    expect(await h.t.hub.retention.pass()).toEqual([
      expect.objectContaining({ policy: 'heartbeat', judged: 0, pruned: 0 }),
      expect.objectContaining({ policy: 'readings', judged: 0, pruned: 0 }),
    ]);
  });

  it('acknowledges a resent kept heartbeat as a duplicate, and stores again one already pruned (the opt-in trade-off)', async () => {
    const now = clock.now();
    await send(devices['sos-0001']!, 'wh-0001', 'sos-0001', heartbeat('sos-hb-now', now), now);
    await send(devices['fall-0001']!, 'wh-0001', 'fall-0001', heartbeat('f-10', T0 - (OLD_FALL_HEARTBEATS - 10) * 1000), T0 - (OLD_FALL_HEARTBEATS - 10) * 1000);
    expect(idsOf("SELECT reading_id FROM readings WHERE reading_id IN ('sos-hb-now', 'f-10') ORDER BY seq")).toEqual(['sos-hb-now', 'f-10']);
    expect(await metric('anxin_readings_duplicate_total')).toBe(1);
  });

  it('prunes every reading received more than 366 days ago but each resident\'s newest of a kind, and tells a screen resuming from before to reload', async () => {
    const bp1StreamSeq = h.t.hub.ctx.db.prepare("SELECT stream_seq FROM readings WHERE reading_id = 'bp-1'").pluck().get() as number;
    expect(bp1StreamSeq).toBeGreaterThan(0);
    const T2 = clock.set(T0 + 367 * DAY);
    await send(devices['pir-0001']!, 'wh-0001', 'pir-0001', heartbeat('fresh', T2), T2);

    const [heartbeats, readings] = await h.t.hub.retention.pass();
    // Day 8's heartbeats but r-0001's newest (sos-hb-now): the live ones and f-10; and day 0's bp-1 and motion.
    expect(heartbeats).toMatchObject({ policy: 'heartbeat', judged: 1 + live.length + 1, pruned: live.length + 1 });
    expect(readings).toMatchObject({ policy: 'readings', pruned: 2 });
    expect(await readingIds('r-0001', 'dr-li', 'blood_pressure')).toEqual(['bp-2']);
    expect(await readingIds('r-0001', 'dr-li', 'heartbeat')).toEqual(['sos-hb-now']);
    expect(await readingIds('r-0002', 'dr-wang', 'heartbeat')).toEqual(['sos2-hb']);
    expect(idsOf("SELECT reading_id FROM readings WHERE device_id IN ('fall-0001', 'pir-0001') ORDER BY seq")).toEqual(['fresh']);

    // bp-1 was a `reading` event of the live stream: a screen that has not seen it must reload its lists.
    const stream = await StreamClient.open(h.t, await login(h.t.hub, 'op-zhang', passwordOf('op-zhang')));
    await stream.next((m) => m.type === 'hello');
    stream.send({ resume: bp1StreamSeq - 1 });
    expect(await stream.next((m) => m.type === 'resync' || m.type === 'resumed', 'resync')).toMatchObject({ type: 'resync', oldestSeq: bp1StreamSeq + 1 });
    stream.close();
  });

  it('after a restart with retention off, the watchdog still knows a device whose every row was pruned, and nothing is pruned', async () => {
    await h.t.hub.ctx.watchdog.tick(clock.now());
    for (const c of Object.values(devices)) c.end(true);
    await h.t.stop();
    const startedAt = clock.advance(MINUTE);
    restarted = await startTestHub({ dataDir: h.t.dataDir, now: clock.now, config: MANUAL_TICKS });
    expect(idsOf("SELECT reading_id FROM readings WHERE device_id = 'fall-0001'")).toEqual([]);

    // Silence counts from the restart (3 heartbeats of 5 min): the sensor is offline, not "never connected".
    await restarted.hub.ctx.watchdog.tick(clock.set(startedAt + 15 * MINUTE));
    const token = await login(restarted.hub, 'op-zhang', passwordOf('op-zhang'));
    const offline = (await listAlerts(restarted, token)).filter((a) => a.rule === 'device_offline' && a.deviceId === 'fall-0001');
    expect(offline.map((a) => [a.severity, a.titles.en])).toEqual([['urgent', 'Fall sensor offline']]);

    const rows = rowCount();
    clock.advance(400 * DAY);
    expect(restarted.hub.retention.enabled).toBe(false);
    expect(await restarted.hub.retention.pass()).toEqual([]);
    expect(rowCount()).toBe(rows);
    expect(await metric('anxin_journal_rows_pruned_total{policy="heartbeat"}')).toBeUndefined();
  });
});
