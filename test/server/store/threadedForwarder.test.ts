/**
 * The forwarder as the hub runs it, in its own thread (server/store/
 * threadedForwarder.ts, forwarderThread.ts), against a real `influxd`: the
 * thread's confirmations move the hub's cursor and metrics and save the
 * cursor through the group commit; its log lines reach the hub's logger; a
 * thread that dies is restarted and resumes from the hub's cursor, so every
 * reading lands in InfluxDB exactly once.
 */
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../../devices/validateReading.js';
import { HubMetrics } from '../../../server/metrics.js';
import { GroupCommit } from '../../../server/store/groupCommit.js';
import { openDatabase, type Db } from '../../../server/store/sqliteDb.js';
import { SqliteReadingStore } from '../../../server/store/sqliteReadingStore.js';
import { ThreadedForwarder } from '../../../server/store/threadedForwarder.js';
import { tempDataDir } from '../../helpers/hub.js';
import { influxQuery, startInflux, type InfluxServer } from '../../helpers/influx.js';

let influx: InfluxServer;
beforeAll(async () => {
  influx = await startInflux();
}, 60_000);
afterAll(async () => {
  await influx?.stop();
});

/** A logger whose lines the test reads (pino's JSON, one object per line). */
function capturedLog(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

interface Journal {
  db: Db;
  writer: GroupCommit;
  readings: SqliteReadingStore;
  append(n: number): Promise<void>;
  /** Stops the forwarder, then closes the store and removes it. */
  close(forwarder: ThreadedForwarder): Promise<void>;
}

function journal(): Journal {
  const dir = tempDataDir();
  const db = openDatabase(dir, 'normal');
  const writer = new GroupCommit(db, { thread: true });
  const readings = new SqliteReadingStore(db, writer);
  let next = 0;
  const base = Date.now() - 3600_000;
  return {
    db, writer, readings,
    async close(forwarder) {
      await forwarder.stop();
      await writer.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
    append(n) {
      const batch: Reading[] = Array.from({ length: n }, () => {
        next += 1;
        return { homeId: 'h-1', deviceId: 'bp-1', residentId: 'r-1', id: `r${next}`, type: 'blood_pressure', ts: base + next, receivedAt: base + next, values: { systolic: 100 + (next % 50), diastolic: 70 } };
      });
      return new Promise((resolve, reject) => readings.append(batch, (err) => (err ? reject(err) : resolve())));
    },
  };
}

async function countIn(database: string): Promise<{ count: number; ids: number }> {
  const [counts, rows] = await influxQuery(influx.url, database, 'SELECT count(reading_id) FROM "anxin_raw"."blood_pressure"; SELECT reading_id FROM "anxin_raw"."blood_pressure"');
  return { count: Number(counts?.[0]?.count ?? 0), ids: new Set((rows ?? []).map((r) => r.reading_id)).size };
}

async function metric(metrics: HubMetrics, name: string): Promise<number> {
  return (await metrics.registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(ok: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out: ${what}`);
    await sleep(25);
  }
}

describe('the forwarder thread', () => {
  it('forwards from its thread, saves the cursor through the group commit, and survives its own death', async () => {
    const j = journal();
    const { log, lines } = capturedLog();
    const metrics = new HubMetrics();
    const forwarder = new ThreadedForwarder({ db: j.db, writer: j.writer, influx: { influxUrl: influx.url, influxDb: 'thread_a' }, log, metrics, batchSize: 100, flushMs: 50 });
    j.readings.onJournaled((n) => forwarder.notify(n));
    try {
      forwarder.start();
      await j.append(250);
      expect(await forwarder.drained(15_000)).toBe(true);
      expect(forwarder.cursor).toBe(250);
      expect(await countIn('thread_a')).toEqual({ count: 250, ids: 250 });
      expect(await metric(metrics, 'anxin_influx_points_written_total')).toBe(250);
      expect(await metric(metrics, 'anxin_influx_lag_readings')).toBe(0);
      expect(forwarder.state()).toBe('forwarding');
      expect(await metric(metrics, 'anxin_influx_forwarder_up')).toBe(1);
      // The thread's own log line, through the hub's logger.
      expect(lines.some((l) => l.msg === 'time-series store ready; forwarding the journal' && l.level === 30)).toBe(true);
      await j.writer.drain();
      expect(j.db.prepare('SELECT seq FROM forward_cursors').get()).toEqual({ seq: 250 });

      // The thread dies (as from a crash in a client library); readings journaled meanwhile wait.
      await (forwarder as unknown as { worker: Worker }).worker.terminate();
      await j.append(150);
      await sleep(200);
      expect(forwarder.lag()).toBe(150);
      expect(forwarder.state()).toBe('down');
      expect(await metric(metrics, 'anxin_influx_forwarder_up')).toBe(0);
      expect(lines.some((l) => l.level === 50 && String(l.msg).includes('forwarder thread stopped'))).toBe(true);
      // Restarted after a second, from the hub's cursor: the 150 arrive, nothing twice.
      expect(await forwarder.drained(15_000)).toBe(true);
      expect(await countIn('thread_a')).toEqual({ count: 400, ids: 400 });
      expect(await metric(metrics, 'anxin_influx_points_written_total')).toBe(400);
      expect(forwarder.state()).toBe('forwarding');
    } finally {
      await j.close(forwarder);
    }
  }, 60_000);

  it('reads forwarding again once InfluxDB answers, even with nothing to write (set-up failed while it was down)', async () => {
    const j = journal();
    const { log } = capturedLog();
    await influx.kill();
    const forwarder = new ThreadedForwarder({ db: j.db, writer: j.writer, influx: { influxUrl: influx.url, influxDb: 'thread_c' }, log, flushMs: 50 });
    try {
      forwarder.start();
      await waitUntil(() => forwarder.state() === 'retrying', 'retrying while InfluxDB is down');
      await influx.restart();
      await waitUntil(() => forwarder.state() === 'forwarding', 'forwarding once InfluxDB is back', 15_000);
      expect(forwarder.lag()).toBe(0);
    } finally {
      await influx.restart().catch(() => {}); // running again whatever happened above
      await j.close(forwarder);
    }
  }, 60_000);

  it('stays starting, with the lag read at each scrape, while a hung InfluxDB has not answered its set-up', async () => {
    const j = journal();
    const { log } = capturedLog();
    const metrics = new HubMetrics();
    const pid = influx.pid()!;
    process.kill(pid, 'SIGSTOP'); // accepts connections, answers nothing: the set-up waits for the write timeout
    const forwarder = new ThreadedForwarder({ db: j.db, writer: j.writer, influx: { influxUrl: influx.url, influxDb: 'thread_hung' }, log, metrics, flushMs: 50 });
    j.readings.onJournaled((n) => forwarder.notify(n));
    try {
      forwarder.start();
      await forwarder.ready(); // the thread runs…
      await j.append(5);
      await sleep(1500);
      expect(forwarder.state()).toBe('starting'); // …but forwards nothing
      expect(await metric(metrics, 'anxin_influx_lag_readings')).toBe(5); // no forwarder event since: read at the scrape
      expect(await metric(metrics, 'anxin_influx_forwarder_up')).toBe(0);
      process.kill(pid, 'SIGCONT');
      await waitUntil(() => forwarder.state() === 'forwarding', 'forwarding once InfluxDB answers', 15_000);
      expect(await forwarder.drained(15_000)).toBe(true);
      expect(await metric(metrics, 'anxin_influx_lag_readings')).toBe(0);
      expect(await metric(metrics, 'anxin_influx_forwarder_up')).toBe(1);
    } finally {
      process.kill(pid, 'SIGCONT');
      await j.close(forwarder);
    }
  }, 60_000);

  it('reports an unreachable InfluxDB from the thread: a warning in the hub log, a counted error, the lag', async () => {
    const j = journal();
    const { log, lines } = capturedLog();
    const metrics = new HubMetrics();
    // A port nothing listens on (InfluxDB down).
    const forwarder = new ThreadedForwarder({ db: j.db, writer: j.writer, influx: { influxUrl: 'http://127.0.0.1:9', influxDb: 'thread_b' }, log, metrics, flushMs: 50 });
    j.readings.onJournaled((n) => forwarder.notify(n));
    try {
      await j.append(20);
      forwarder.start();
      await sleep(1500);
      const failed = lines.find((l) => l.msg === 'time-series write failed; the journal keeps the readings, retrying');
      expect(failed).toMatchObject({ level: 40, target: 'influx1 http://127.0.0.1:9 db=thread_b', failures: 1, lag: 20 });
      expect((failed?.err as { message?: string } | undefined)?.message).toMatch(/ECONNREFUSED/);
      expect(await metric(metrics, 'anxin_influx_write_errors_total')).toBeGreaterThanOrEqual(1);
      expect(await metric(metrics, 'anxin_influx_lag_readings')).toBe(20);
      expect(forwarder.cursor).toBe(0);
      expect(forwarder.state()).toBe('retrying');
      expect(await forwarder.drained(100)).toBe(false);
    } finally {
      await j.close(forwarder);
    }
  }, 30_000);
});
