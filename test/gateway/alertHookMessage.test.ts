/**
 * What the alert hook is told (SPEC §2 `alerts`): the hub's sentence for the
 * resident, so the home can say "the doctor will call" or "the ambulance is
 * coming" (both are `state: escalated`). Real in-process hub, real gateway,
 * real MQTT.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertHook } from '../../gateway/alertHook.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { buildGateway, type Gateway } from '../../gateway/gateway.js';
import type { GatewayContext } from '../../gateway/gatewayContext.js';
import { exampleDocument, secretOf, startTestHub, type TestHub } from '../helpers/hub.js';
import { LineClient, sleep, until, waitFor } from './helpers.js';

type Env = Record<string, string>;

describe('alert hook: the sentence for the resident', () => {
  const dir = mkdtempSync(join(tmpdir(), 'anxin-gw-hook-'));
  let hub: TestHub;
  let gateway: Gateway;
  const runs: Env[] = [];
  const operator = { username: 'op-test', role: 'operator' as const };

  beforeAll(async () => {
    hub = await startTestHub();
    const secret = secretOf(await hub.importDoc(exampleDocument()), 'gw-0001');
    const config = parseGatewayConfig({
      hub: hub.mqttUrl, homeId: 'wh-0001', username: 'gw-0001', password: secret, dataDir: dir,
      input: { port: 0, stdin: false }, uplink: { reconnectMinMs: 50, reconnectMaxMs: 200 }, alertHook: { command: 'true' }, logLevel: 'silent',
    });
    gateway = buildGateway(config, { log: pino({ level: 'silent' }), run: (purpose, _c, env) => void (purpose === 'alertHook' && runs.push(env)) });
    await gateway.start();
    await until('uplink', () => gateway.uplink.connected);
  });

  afterAll(async () => {
    await gateway?.stop();
    await hub?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tells "the doctor will call" from "the ambulance is coming", in Chinese and English, each once', async () => {
    const lines = await LineClient.open(gateway.inputPort());
    expect((await lines.send([{ device: 'fall-0001', type: 'fall', confidence: 0.95 }]))[0]!.ok).toBe(true);
    lines.close();
    const opened = await until('open', () => runs.find((e) => e.ANXIN_ALERT_STATE === 'open'));
    const alertId = opened.ANXIN_ALERT_ID!;
    expect(opened).toMatchObject({ ANXIN_ALERT_MESSAGE: expect.stringContaining('呼叫中心'), ANXIN_ALERT_MESSAGE_EN: 'The call center has been told' });

    const svc = hub.hub.ctx.alertService;
    expect((await svc.act(alertId, { kind: 'escalate', target: 'doctor' }, operator)).ok).toBe(true);
    const doctor = await until('doctor', () => runs.find((e) => e.ANXIN_ALERT_STATE === 'escalated'));
    expect((await svc.act(alertId, { kind: 'escalate', target: 'emergency' }, operator)).ok).toBe(true);
    await waitFor('ambulance', () => runs.filter((e) => e.ANXIN_ALERT_STATE === 'escalated').length, (n) => n === 2);
    const ambulance = runs.filter((e) => e.ANXIN_ALERT_STATE === 'escalated')[1]!;

    expect(doctor).toMatchObject({ ANXIN_ALERT_MESSAGE: expect.stringContaining('医生'), ANXIN_ALERT_MESSAGE_EN: expect.stringMatching(/doctor/i) });
    expect(ambulance).toMatchObject({ ANXIN_ALERT_MESSAGE: expect.stringContaining('120'), ANXIN_ALERT_MESSAGE_EN: expect.stringContaining('120') });
    expect(ambulance.ANXIN_ALERT_MESSAGE).not.toBe(doctor.ANXIN_ALERT_MESSAGE);
    expect([doctor.ANXIN_ALERT_ESCALATION_TARGET, ambulance.ANXIN_ALERT_ESCALATION_TARGET]).toEqual(['doctor', 'emergency']);
    expect(opened.ANXIN_ALERT_ESCALATION_TARGET).toBeUndefined();

    // A reconnect: the hub sends the unresolved alert again; the home is not told again.
    const said = runs.length;
    const repeated = gateway.alertHook.repeated;
    hub.hub.ctx.broker.forget('gw-0001');
    await waitFor('sent again', () => gateway.alertHook.repeated, (n) => n > repeated, 10_000);
    await sleep(200);
    expect(runs).toHaveLength(said);
  });

  it('passes the escalation target when a message carries one', () => {
    const envs: Env[] = [];
    const ctx = { config: gateway.ctx.config, log: pino({ level: 'silent' }), run: (_p: string, _c: unknown, env: Env) => void envs.push(env) } as unknown as GatewayContext;
    const hook = new AlertHook(ctx);
    const message = { 'zh-CN': '已呼叫120急救，救护车正在赶来', en: 'Emergency rescue (120) is on the way' };
    hook.handle({ alertId: 'a1', severity: 'critical', state: 'escalated', title: '跌倒', message, escalationTarget: 'emergency', ts: '2026-11-24T01:00:00.000Z' });
    hook.handle({ alertId: 'a2', severity: 'critical', state: 'open', title: '跌倒', ts: '2026-11-24T01:00:00.000Z' });
    expect(envs[0]).toMatchObject({ ANXIN_ALERT_ESCALATION_TARGET: 'emergency', ANXIN_ALERT_MESSAGE: message['zh-CN'], ANXIN_ALERT_MESSAGE_EN: message.en });
    expect(envs[1]).toMatchObject({ ANXIN_ALERT_MESSAGE: '', ANXIN_ALERT_MESSAGE_EN: '' });
    expect(envs[1]!.ANXIN_ALERT_ESCALATION_TARGET).toBeUndefined();
  });
});
