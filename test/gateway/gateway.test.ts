/**
 * The gateway composed in-process against a real in-process hub (real aedes,
 * SQLite, MQTT over TCP): answers to every kind of line, delivery and the
 * retained status, refusals dropped and counted, alert feedback, local alarms.
 */
import { Aedes } from 'aedes';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { PassThrough, type Readable } from 'node:stream';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandConfig } from '../../gateway/config.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { buildGateway, type Gateway } from '../../gateway/gateway.js';
import { exampleDocument, secretOf, startTestHub, type TestHub } from '../helpers/hub.js';
import { freePort } from '../helpers/process.js';
import { LineClient, sleep, until, waitFor } from './helpers.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'anxin-gw-'));
  dirs.push(d);
  return d;
}

interface Ran { purpose: string; command: CommandConfig; env: Record<string, string> }

function gatewayFor(hubUrl: string, password: string, extra: Record<string, unknown> = {}, stdin?: Readable): { gateway: Gateway; ran: Ran[] } {
  const ran: Ran[] = [];
  const config = parseGatewayConfig({
    hub: hubUrl, homeId: 'wh-0001', username: 'gw-0001', password, dataDir: tempDir(),
    input: { port: 0, stdin: false },
    uplink: { reconnectMinMs: 50, reconnectMaxMs: 200 },
    localAlarm: { command: 'true', unackedSeconds: 0.5 },
    alertHook: { command: 'true' },
    logLevel: 'silent',
    ...extra,
  });
  const gateway = buildGateway(config, { log: pino({ level: 'silent' }), stdin, run: (purpose, command, env) => ran.push({ purpose, command, env }) });
  return { gateway, ran };
}

const bp = (extra: object = {}) => ({ device: 'bp-0001', type: 'blood_pressure', systolic: 128, diastolic: 82, unit: 'mmHg', ...extra });

describe('gateway (in-process, real hub)', () => {
  let hub: TestHub;
  let secret: string;
  let gateway: Gateway;
  let ran: Ran[];
  let lines: LineClient;

  beforeAll(async () => {
    hub = await startTestHub();
    secret = secretOf(await hub.importDoc(exampleDocument()), 'gw-0001');
    ({ gateway, ran } = gatewayFor(hub.mqttUrl, secret));
    await gateway.start();
    await until('uplink', () => gateway.uplink.connected);
    lines = await LineClient.open(gateway.inputPort());
  });

  afterAll(async () => {
    lines?.close();
    await gateway?.stop();
    await hub?.destroy();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  const stored = (id: string) => hub.hub.ctx.db.prepare('SELECT device_id, type, ts, vals FROM readings WHERE reading_id = ?').get(id) as
    { device_id: string; type: string; ts: number; vals: string } | undefined;

  it('answers every line, in order, and refuses garbage without stopping', async () => {
    const answers = await lines.send([
      bp(),
      'not json',
      '[1,2]',
      { type: 'blood_pressure', systolic: 120, diastolic: 80, unit: 'mmHg' },
      bp({ device: 'BP 1' }),
      bp({ systolic: 320 }),
      bp({ unit: 'psi' }),
      bp({ id: 'fixed-1', ts: '2020-01-01T00:00:00+08:00' }),
      { device: 'bp-0001', characteristic: '2A35', hex: '00FF07FF07FF07' },
      { device: 'bp-0001', characteristic: '2A19', hex: '64' },
      { device: 'bp-0001', characteristic: '2A35', hex: 'zz' },
      { device: 'bp-0001', characteristic: '2A35' },
      `{"device":"bp-0001","type":"motion","location":"${'x'.repeat(20_000)}"}`,
      bp({ id: 'fixed-2' }),
      bp({ id: 'fixed-2' }),
    ]);
    expect(answers[0]).toMatchObject({ ok: true, id: expect.stringMatching(/^bp-0001-[0-9a-z]{8}-\d+$/) });
    expect(answers.slice(1).map((a) => a.ok ? (a.duplicate ? 'duplicate' : 'ok') : a.error)).toEqual([
      'invalid_json', 'not_object', 'missing_field', 'invalid_field', 'out_of_range', 'unknown_unit', 'ts_too_old',
      'special_value', 'unsupported_characteristic', 'invalid_hex', 'missing_field', 'line_too_long', 'ok', 'duplicate',
    ]);
    expect(answers[5]).toMatchObject({ field: 'systolic', detail: expect.stringContaining('40–300') });
    // And it still works.
    expect((await lines.send([bp()]))[0]!.ok).toBe(true);
    expect(gateway.intake.stats.refused).toBe(12);
  });

  it('delivers to the hub, empties the outbox, and reports its depth in the retained status', async () => {
    const [a] = await lines.send([bp({ ts: Date.now() - 1000 })]);
    await until('stored', () => stored(a!.id as string));
    await waitFor('outbox empty', () => gateway.ctx.outbox.depth, (d) => d === 0);
    const status = hub.hub.ctx.db.prepare("SELECT online, outbox_depth, version FROM client_status WHERE client_id = 'gw-0001'").get();
    expect(status).toMatchObject({ online: 1, version: '0.1.0' });
  });

  it('decodes a raw Blood Pressure Measurement and keeps a sound device clock, replaces a wrong one', async () => {
    const t = new Date(Date.now() - 60_000 + 8 * 3600_000); // the cuff's local time, UTC+8
    const stamp = (y: number) => [y & 0xff, y >> 8, t.getUTCMonth() + 1, t.getUTCDate(), t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds()];
    const frame = (y: number) => Buffer.from([0x06, 0x8a, 0x00, 0x55, 0x00, 0x67, 0x00, ...stamp(y), 0x48, 0x00]).toString('hex').toUpperCase();
    const [good, reset] = await lines.send([
      { device: 'bp-0001', characteristic: '2A35', hex: frame(t.getUTCFullYear()) },
      { device: 'bp-0001', characteristic: '0x2a35', hex: frame(2000) },
    ]);
    const g = await until('stored', () => stored(good!.id as string));
    const r = await until('stored', () => stored(reset!.id as string));
    expect(g.type).toBe('blood_pressure');
    expect(JSON.parse(g.vals)).toEqual({ systolic: 138, diastolic: 85, map: 103, pulse: 72 });
    expect(Math.abs(g.ts - (Date.now() - 60_000))).toBeLessThan(10_000);
    expect(JSON.parse(r.vals)).toMatchObject({ systolic: 138, clockUnreliable: true });
  });

  it('drops and counts a reading the hub refuses', async () => {
    const before = gateway.ctx.outbox.rejected;
    // Valid on its own, but a glucose meter reading for a cuff, and a device that is not in this home.
    await lines.send([bp({ device: 'bp-0001', type: 'glucose', value: 6.1, unit: 'mmol/L', systolic: undefined }), bp({ device: 'bp-9999' })]);
    await waitFor('rejects', () => gateway.ctx.outbox.rejected, (n) => n === before + 2);
    await waitFor('outbox empty', () => gateway.ctx.outbox.depth, (d) => d === 0);
  });

  it('backs off to the longest wait when the hub refuses its secret', async () => {
    const logged: string[] = [];
    const config = parseGatewayConfig({
      hub: hub.mqttUrl, homeId: 'wh-0001', username: 'gw-0001', password: 'wrong-secret', dataDir: tempDir(),
      input: { port: 0, stdin: false }, uplink: { reconnectMinMs: 10, reconnectMaxMs: 60_000 },
    });
    const wrong = buildGateway(config, { log: pino({ level: 'debug' }, { write: (l: string) => void logged.push(l) }), random: () => 0.5 });
    await wrong.start();
    try {
      const retry = await until('retry', () => logged.map((l) => JSON.parse(l) as { msg: string; retryInMs?: number }).find((l) => l.msg === 'hub not reachable; retrying'));
      expect(logged.some((l) => l.includes('hub refused the gateway credentials'))).toBe(true);
      expect(retry.retryInMs).toBe(30_000); // half of the 60 s cap, not 10 ms
    } finally {
      await wrong.stop();
    }
  });

  it('passes the hub\'s alert feedback to the hook', async () => {
    const [fall] = await lines.send([{ device: 'fall-0001', type: 'fall', confidence: 0.9 }]);
    expect(fall!.ok).toBe(true);
    const hook = await until('alert hook', () => ran.find((r) => r.purpose === 'alertHook'));
    expect(hook.env).toMatchObject({ ANXIN_ALERT_SEVERITY: 'critical', ANXIN_ALERT_STATE: 'open', ANXIN_ALERT_TITLE: expect.any(String) });
    // Connected and acknowledged: no local alarm.
    await sleep(700);
    expect(ran.filter((r) => r.purpose === 'localAlarm')).toEqual([]);
  });

  it('after an outage, the hook hears the change it missed, once; a reconnect repeats nothing', async () => {
    const fall = ran.find((r) => r.purpose === 'alertHook' && r.env.ANXIN_ALERT_SEVERITY === 'critical')!.env.ANXIN_ALERT_ID!;
    // The gateway is down (its hook with it) while the call center sends an ambulance.
    await gateway.stop();
    const escalated = await hub.hub.ctx.alertService.act(fall, { kind: 'escalate', target: 'emergency' }, { username: 'op-test', role: 'operator' });
    expect(escalated.ok).toBe(true);
    ({ gateway, ran } = gatewayFor(hub.mqttUrl, secret));
    await gateway.start();
    const told = await until('the missed change', () => ran.find((r) => r.purpose === 'alertHook' && r.env.ANXIN_ALERT_ID === fall));
    expect(told.env).toMatchObject({ ANXIN_ALERT_STATE: 'escalated', ANXIN_ALERT_SEVERITY: 'critical' });
    await sleep(300);
    const hookRuns = ran.filter((r) => r.purpose === 'alertHook').length; // one per unresolved alert of the home
    expect(ran.filter((r) => r.purpose === 'alertHook' && r.env.ANXIN_ALERT_ID === fall)).toHaveLength(1);

    // The hub drops the connection; the gateway reconnects and is sent every unresolved alert again.
    const repeated = gateway.alertHook.repeated;
    hub.hub.ctx.broker.forget('gw-0001');
    await waitFor('alerts sent again after the reconnect', () => gateway.alertHook.repeated, (n) => n === repeated + hookRuns);
    await sleep(200);
    expect(ran.filter((r) => r.purpose === 'alertHook')).toHaveLength(hookRuns);
  });
});

describe('local alarm', () => {
  it('fires once per fall or SOS while the hub is unreachable, never for other readings', async () => {
    const { gateway, ran } = gatewayFor(`mqtt://127.0.0.1:${await freePort()}`, 'whatever');
    await gateway.start();
    const sosTs = new Date(Date.now() - 3600_000).toISOString();
    const lines = await LineClient.open(gateway.inputPort());
    try {
      const answers = await lines.send([
        { device: 'fall-0001', type: 'fall', id: 'f-1' },
        { device: 'fall-0001', type: 'fall', id: 'f-1' },
        { device: 'sos-0001', type: 'sos', ts: sosTs },
        { device: 'pir-0001', type: 'motion' },
      ]);
      expect(answers.every((a) => a.ok)).toBe(true);
      const alarms = ran.filter((r) => r.purpose === 'localAlarm');
      expect(alarms.map((a) => [a.env.ANXIN_ALARM_DEVICE, a.env.ANXIN_ALARM_TYPE])).toEqual([['fall-0001', 'fall'], ['sos-0001', 'sos']]);
      expect(alarms[1]!.env.ANXIN_ALARM_TS).toBe(sosTs);
      expect(gateway.ctx.outbox.depth).toBe(3);
    } finally {
      lines.close();
      await gateway.stop();
    }
  });

  it('fires when a connected hub does not acknowledge a fall in time', async () => {
    // A broker that accepts the gateway but never acknowledges a publish.
    const broker = await Aedes.createBroker({ authorizePublish: (_c, p, cb) => void (p.topic.endsWith('/status') && cb(null)) });
    const server: Server = createServer(broker.handle);
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    const { gateway, ran } = gatewayFor(`mqtt://127.0.0.1:${port}`, 'x');
    await gateway.start();
    const lines = await LineClient.open(gateway.inputPort());
    try {
      await until('uplink', () => gateway.uplink.connected);
      await lines.send([{ device: 'fall-0001', type: 'fall' }]);
      expect(ran.filter((r) => r.purpose === 'localAlarm')).toEqual([]);
      const alarm = await until('alarm', () => ran.find((r) => r.purpose === 'localAlarm'), 3000);
      expect(alarm.env).toMatchObject({ ANXIN_ALARM_TYPE: 'fall', ANXIN_ALARM_REASON: 'not_acknowledged' });
    } finally {
      lines.close();
      await gateway.stop();
      await new Promise<void>((r) => broker.close(() => r()));
      server.close();
    }
  });
});

describe('stdin input', () => {
  it('takes JSON lines from stdin like the TCP port, answering in the log', async () => {
    const stdin = new PassThrough();
    const { gateway } = gatewayFor(`mqtt://127.0.0.1:${await freePort()}`, 'x', { input: { port: 0, stdin: true } }, stdin);
    await gateway.start();
    try {
      stdin.write('{"device":"pir-0001","type":"motion","id":"m-1"}\nnot json\n{"device":"pir-0001","type":"heartbeat","battery":55}');
      stdin.end();
      await waitFor('stdin lines', () => gateway.intake.stats, (st) => st.accepted === 2 && st.refused === 1, 3000);
      expect(gateway.ctx.outbox.has('pir-0001', 'm-1')).toBe(true);
      expect(gateway.ctx.outbox.depth).toBe(2);
    } finally {
      await gateway.stop();
    }
  });
});
