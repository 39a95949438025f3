/**
 * MQTT 5 devices and gateways, through real mqtt.js v5 clients against the
 * real hub: the same identity rules (with MQTT 5 reason codes), the same
 * durable PUBACK, the same refusals on `rejects`; and MQTT 3.1.1 alongside.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectClient, exampleDocument, login, publishAcked, secretOf, startTestHub, type ImportAnswer, type TestHub } from '../../helpers/hub.js';

const T = 'anxin/v1/homes/wh-0001/devices';
let t: TestHub;
let answer: ImportAnswer;
let doctorToken: string;
let bp: MqttClient;

async function readingIds(): Promise<string[]> {
  const res = await t.hub.http.inject({ url: '/api/v1/residents/r-0001/readings', headers: { authorization: `Bearer ${doctorToken}` } });
  expect(res.statusCode).toBe(200);
  return (res.json() as { readings: Array<{ id: string }> }).readings.map((r) => r.id);
}

beforeAll(async () => {
  t = await startTestHub();
  answer = await t.importDoc(exampleDocument());
  doctorToken = await login(t.hub, 'dr-li', answer.users.find((u) => u.username === 'dr-li')!.password);
  bp = await connectClient(t.mqttUrl, 'bp-0001', secretOf(answer, 'bp-0001'), { protocolVersion: 5 });
});

afterAll(async () => {
  bp?.end(true);
  await t?.destroy();
});

describe('MQTT 5', () => {
  it('signs a device in with its own secret and stores its QoS 1 reading before the PUBACK', async () => {
    const id = `v5-${Date.now()}`;
    await publishAcked(bp, `${T}/bp-0001/telemetry`, { id, ts: new Date().toISOString(), type: 'blood_pressure', systolic: 128, diastolic: 82, unit: 'mmHg' });
    expect(await readingIds()).toContain(id);
  });

  it('refuses a wrong secret with reason code 0x86 and a borrowed client id with 0x85', async () => {
    await expect(connectClient(t.mqttUrl, 'bp-0001', 'not-the-secret', { protocolVersion: 5 })).rejects.toMatchObject({ code: 0x86 });
    await expect(connectClient(t.mqttUrl, 'bp-0001', secretOf(answer, 'bp-0001'), { protocolVersion: 5, clientId: 'glu-0001' }))
      .rejects.toMatchObject({ code: 0x85 });
  });

  it('answers a refused reading on rejects and acknowledges it, keeping the device connected', async () => {
    const rejects = await collect(bp, `${T}/bp-0001/rejects`);
    await publishAcked(bp, `${T}/bp-0001/telemetry`, { id: 'v5-bad', ts: new Date().toISOString(), type: 'blood_pressure', systolic: 320, diastolic: 82, unit: 'mmHg' });
    const [refusal] = await rejects.next();
    expect(refusal!.body).toMatchObject({ id: 'v5-bad', error: 'out_of_range', field: 'systolic' });
    expect(bp.connected).toBe(true);
  });

  it('keeps the topic ACL: a device cannot subscribe to everything (SUBACK 0x87) nor publish as another', async () => {
    await expect(bp.subscribeAsync('#', { qos: 1 })).rejects.toThrow(/Not authorized/);
    const rejects = await collect(bp, `${T}/bp-0001/rejects`);
    const id = `v5-spoof-${Date.now()}`;
    await publishAcked(bp, `${T}/glu-0001/telemetry`, { id, ts: new Date().toISOString(), type: 'glucose', value: 6.1, unit: 'mmol/L', context: 'fasting' });
    const [refusal] = await rejects.next();
    expect(refusal!.body).toMatchObject({ error: 'topic_not_allowed' });
    expect(await readingIds()).not.toContain(id);
  });

  it('speaks MQTT 5 over WebSocket at /mqtt too', async () => {
    const ws = await connectClient(t.wsUrl, 'glu-0001', secretOf(answer, 'glu-0001'), { protocolVersion: 5 });
    try {
      const id = `v5-ws-${Date.now()}`;
      await publishAcked(ws, `${T}/glu-0001/telemetry`, { id, ts: new Date().toISOString(), type: 'glucose', value: 7.1, unit: 'mmol/L', context: 'fasting' });
      expect(await readingIds()).toContain(id);
    } finally {
      ws.end(true);
    }
    await expect(connectClient(t.wsUrl, 'glu-0001', 'wrong', { protocolVersion: 5 })).rejects.toMatchObject({ code: 0x86 });
  });

  it('serves MQTT 3.1.1 and 5 clients side by side', async () => {
    const v4 = await connectClient(t.mqttUrl, 'glu-0001', secretOf(answer, 'glu-0001'));
    try {
      const id = `v4-${Date.now()}`;
      await publishAcked(v4, `${T}/glu-0001/telemetry`, { id, ts: new Date().toISOString(), type: 'glucose', value: 6.1, unit: 'mmol/L', context: 'fasting' });
      expect(await readingIds()).toContain(id);
    } finally {
      v4.end(true);
    }
  });
});
