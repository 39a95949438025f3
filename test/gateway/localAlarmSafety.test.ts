/**
 * The local alarm where the hub will never hear of a fall or SOS (SPEC §8):
 * the gateway's clock not set (a box without RTC at 1970) or off, any refusal
 * by the hub, a disk that cannot store the reading, and a restart after a
 * crash with a fall still unacknowledged. Real hub, real gateway, real SQLite;
 * the crash is a child process killed with SIGKILL.
 */
import { Aedes } from 'aedes';
import type Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../gateway/config.js';
import { buildGateway, type Gateway } from '../../gateway/gateway.js';
import { exampleDocument, secretOf, startTestHub, type TestHub } from '../helpers/hub.js';
import { freePort } from '../helpers/process.js';
import { LineClient, sleep, spawnGateway, stopChild, until, waitFor, writeGatewayConfig, type GatewayProcess } from './helpers.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'anxin-gw-alarm-'));
  dirs.push(d);
  return d;
}
const children: GatewayProcess[] = [];

interface Ran { purpose: string; env: Record<string, string> }

function gatewayFor(hubUrl: string, password: string, opts: { now?: () => number; unackedSeconds?: number; dataDir?: string } = {}): { gateway: Gateway; ran: Ran[] } {
  const ran: Ran[] = [];
  const config = parseGatewayConfig({
    hub: hubUrl, homeId: 'wh-0001', username: 'gw-0001', password, dataDir: opts.dataDir ?? tempDir(),
    input: { port: 0, stdin: false },
    uplink: { reconnectMinMs: 50, reconnectMaxMs: 200 },
    localAlarm: { command: 'true', unackedSeconds: opts.unackedSeconds ?? 30 },
    logLevel: 'silent',
  });
  const gateway = buildGateway(config, { log: pino({ level: 'silent' }), now: opts.now, run: (purpose, _command, env) => ran.push({ purpose, env }) });
  return { gateway, ran };
}

const alarms = (ran: Ran[]) => ran.filter((r) => r.purpose === 'localAlarm').map((r) => ({ id: r.env.ANXIN_ALARM_ID, type: r.env.ANXIN_ALARM_TYPE, reason: r.env.ANXIN_ALARM_REASON }));

/** A broker that takes the gateway's connection but never acknowledges a reading (a stuck hub). */
async function stuckHub(): Promise<{ url: string; close: () => Promise<void> }> {
  const broker = await Aedes.createBroker({ authorizePublish: (_c, p, cb) => void (p.topic.endsWith('/status') && cb(null)) });
  const server: Server = createServer(broker.handle);
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: async () => {
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let hub: TestHub;
let secret: string;

beforeAll(async () => {
  hub = await startTestHub();
  secret = secretOf(await hub.importDoc(exampleDocument()), 'gw-0001');
});

afterAll(async () => {
  for (const c of children) await stopChild(c);
  await hub?.destroy();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const stored = (deviceId: string, id: string) => hub.hub.ctx.db.prepare('SELECT ts, vals FROM readings WHERE device_id = ? AND reading_id = ?').get(deviceId, id) as
  { ts: number; vals: string } | undefined;

describe('gateway clock not set or wrong', () => {
  it('holds readings while the clock reads 1970, alarms at once for a fall, and sends them with their receive time once it is set', async () => {
    let skew = -(Date.now() - 45_000); // booted 45 s after the epoch, no RTC
    const { gateway, ran } = gatewayFor(hub.mqttUrl, secret, { now: () => Date.now() + skew });
    await gateway.start();
    const lines = await LineClient.open(gateway.inputPort());
    try {
      await until('uplink', () => gateway.uplink.connected);
      const sentAt = Date.now();
      const [fall, motion, own] = await lines.send([
        { device: 'fall-0001', type: 'fall', confidence: 0.9 },
        { device: 'pir-0001', type: 'motion' },
        // A reading with its own sound time is kept as is, not refused as "in the future" of 1970.
        { device: 'bp-0001', type: 'blood_pressure', systolic: 130, diastolic: 85, unit: 'mmHg', ts: sentAt - 60_000 },
      ]);
      expect([fall, motion, own].map((a) => a!.ok)).toEqual([true, true, true]);
      // Held, not sent with a 1970 stamp (which the hub would refuse and the outbox forget).
      expect(alarms(ran)).toEqual([{ id: fall!.id, type: 'fall', reason: 'clock_unset' }]);
      await until('own-time reading stored', () => stored('bp-0001', own!.id as string));
      await sleep(500);
      expect(stored('fall-0001', fall!.id as string)).toBeUndefined();
      expect(gateway.ctx.outbox.has('fall-0001', fall!.id as string)).toBe(true);
      expect(gateway.ctx.outbox.rejected).toBe(0);

      skew = 0; // NTP sets the clock
      const f = await until('fall stored', () => stored('fall-0001', fall!.id as string), 10_000);
      const m = await until('motion stored', () => stored('pir-0001', motion!.id as string), 10_000);
      // Stamped with when they came in, not when the clock was set.
      expect(Math.abs(f.ts - sentAt)).toBeLessThan(1000);
      expect(Math.abs(m.ts - sentAt)).toBeLessThan(1000);
      await waitFor('outbox empty', () => gateway.ctx.outbox.depth, (d) => d === 0);
      expect(gateway.ctx.outbox.rejected).toBe(0);
      expect(alarms(ran)).toHaveLength(1);
    } finally {
      lines.close();
      await gateway.stop();
    }
  });

  it('alarms when the hub refuses a fall or an SOS, whatever the code, and not for other readings', async () => {
    const { gateway, ran } = gatewayFor(hub.mqttUrl, secret, { now: () => Date.now() + 10 * 60_000 }); // 10 min fast
    await gateway.start();
    const lines = await LineClient.open(gateway.inputPort());
    try {
      await until('uplink', () => gateway.uplink.connected);
      const answers = await lines.send([
        { device: 'fall-0001', type: 'fall' }, // ts_future at the hub
        { device: 'sos-0001', type: 'sos' },
        { device: 'fall-9999', type: 'fall', ts: Date.now() }, // unknown_device at the hub
        { device: 'bp-9999', type: 'blood_pressure', systolic: 120, diastolic: 80, unit: 'mmHg', ts: Date.now() },
      ]);
      expect(answers.every((a) => a.ok)).toBe(true);
      await waitFor('refusals', () => gateway.ctx.outbox.rejected, (n) => n === 4);
      await waitFor('alarms', () => alarms(ran).length, (n) => n >= 3, 5000);
      expect(alarms(ran).sort((a, b) => a.id!.localeCompare(b.id!))).toEqual([
        { id: answers[0]!.id, type: 'fall', reason: 'refused' },
        { id: answers[2]!.id, type: 'fall', reason: 'refused' },
        { id: answers[1]!.id, type: 'sos', reason: 'refused' },
      ].sort((a, b) => (a.id as string).localeCompare(b.id as string)));
      await sleep(300);
      expect(alarms(ran)).toHaveLength(3); // the refused blood pressure is counted, not alarmed
    } finally {
      lines.close();
      await gateway.stop();
    }
  });
});

describe('disk cannot store a fall', () => {
  it('answers store_failed and raises the local alarm at once', async () => {
    // Connected to a hub that does not acknowledge yet, so the outbox keeps what it takes.
    const stuck = await stuckHub();
    const { gateway, ran } = gatewayFor(stuck.url, 'x');
    await gateway.start();
    const lines = await LineClient.open(gateway.inputPort());
    try {
      await until('uplink', () => gateway.uplink.connected);
      // The disk is full: SQLite may not grow the file by one more page (SQLITE_FULL, as on a full disk).
      const db = (gateway.ctx.outbox as unknown as { db: Database.Database }).db;
      db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
      let answer: Record<string, unknown> = { ok: true };
      for (let i = 0; i < 500 && answer.ok; i++) {
        [answer] = (await lines.send([{ device: 'pir-0001', type: 'motion', location: 'x'.repeat(60) }])) as [Record<string, unknown>];
      }
      expect(answer).toMatchObject({ ok: false, error: 'store_failed' });
      expect(alarms(ran)).toEqual([]); // not for motion
      const [fall] = await lines.send([{ device: 'fall-0001', type: 'fall', confidence: 0.9 }]);
      expect(fall).toMatchObject({ ok: false, error: 'store_failed' });
      expect(alarms(ran)).toEqual([{ id: fall!.id, type: 'fall', reason: 'store_failed' }]);
    } finally {
      lines.close();
      await gateway.stop();
      await stuck.close();
    }
  });
});

describe('restart with a fall still unacknowledged', () => {
  it('after a kill -9, alarms for the fall left in the outbox when the hub is unreachable', async () => {
    const stuck = await stuckHub();
    const dir = tempDir();
    const alarmFile = join(dir, 'alarms.log');
    const inputPort = await freePort();
    const config = writeGatewayConfig(dir, {
      hub: stuck.url, homeId: 'wh-0001', username: 'gw-0001', password: 'x', dataDir: dir,
      input: { port: inputPort, stdin: false }, uplink: { reconnectMinMs: 100, reconnectMaxMs: 1000 },
      localAlarm: { command: '/bin/sh', args: ['-c', `echo "$ANXIN_ALARM_ID $ANXIN_ALARM_REASON" >> '${alarmFile}'`], unackedSeconds: 30 },
    });
    let gateway = await spawnGateway(config);
    children.push(gateway);
    await gateway.waitForLog('connected to the hub');
    const lines = await LineClient.open(inputPort);
    const [fall] = await lines.send([{ device: 'fall-0001', type: 'fall' }]);
    lines.close();
    expect(fall!.ok).toBe(true);
    gateway.child.kill('SIGKILL'); // before the hub acknowledged it, before unackedSeconds
    await gateway.exited;
    expect(existsSync(alarmFile)).toBe(false);

    await stuck.close(); // the router lost power too: the hub is unreachable
    const started = Date.now();
    gateway = await spawnGateway(config);
    children.push(gateway);
    const line = await until('alarm file', () => existsSync(alarmFile) && readFileSync(alarmFile, 'utf8'), 10_000);
    expect(Date.now() - started).toBeLessThan(8000); // the grace, not unackedSeconds
    expect(line.trim()).toBe(`${fall!.id} hub_unreachable`);
    await sleep(2500);
    expect(readFileSync(alarmFile, 'utf8').trim().split('\n')).toHaveLength(1); // once per reading in a process
    expect(await stopChild(gateway)).toBe(0);
  }, 60_000);

  it('after a restart, alarms for a fall the connected hub does not acknowledge, and not for one it does', async () => {
    const stuck = await stuckHub();
    const dataDir = tempDir();
    // First life: the fall goes in while the hub is unreachable (alarmed then), and the gateway stops.
    let { gateway, ran } = gatewayFor(`mqtt://127.0.0.1:${await freePort()}`, 'x', { dataDir, unackedSeconds: 1 });
    await gateway.start();
    const lines = await LineClient.open(gateway.inputPort());
    const [fall] = await lines.send([{ device: 'fall-0001', type: 'fall' }]);
    lines.close();
    expect(alarms(ran)).toEqual([{ id: fall!.id, type: 'fall', reason: 'hub_unreachable' }]);
    await gateway.stop();

    try {
      // Second life: a stuck hub. The fall is still not with the hub: the home hears it once more.
      ({ gateway, ran } = gatewayFor(stuck.url, 'x', { dataDir, unackedSeconds: 1 }));
      await gateway.start();
      await until('uplink', () => gateway.uplink.connected);
      await sleep(300);
      expect(alarms(ran)).toEqual([]);
      await until('alarm', () => alarms(ran).length > 0, 5000);
      expect(alarms(ran)).toEqual([{ id: fall!.id, type: 'fall', reason: 'not_acknowledged' }]);
      await gateway.stop();
    } finally {
      await stuck.close();
    }

    // Third life: the real hub takes it; no alarm.
    ({ gateway, ran } = gatewayFor(hub.mqttUrl, secret, { dataDir, unackedSeconds: 1 }));
    await gateway.start();
    try {
      await until('fall stored', () => stored('fall-0001', fall!.id as string));
      await sleep(2500);
      expect(alarms(ran)).toEqual([]);
    } finally {
      await gateway.stop();
    }
  }, 60_000);
});
