/** Health, readiness, metrics, OpenAPI, and device/gateway status from MQTT. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, exampleDocument, publishAcked, secretOf, startTestHub, type ImportAnswer, type TestHub } from '../../helpers/hub.js';

let t: TestHub;
let answer: ImportAnswer;
let operator: string;

beforeAll(async () => {
  t = await startTestHub();
  const doc = exampleDocument();
  doc.users.push({ username: 'op-1', role: 'operator', name: '坐席' });
  answer = await t.importDoc(doc);
  const op = answer.users.find((u) => u.username === 'op-1')!;
  const res = await t.hub.http.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'op-1', password: op.password } });
  operator = res.json().token;
});
afterAll(() => t?.destroy());

async function device(id: string) {
  const res = await t.hub.http.inject({ url: `/api/v1/devices/${id}`, headers: { authorization: `Bearer ${operator}` } });
  return res.json() as { status: { online: boolean | null; battery: number | null; connected: boolean; statusAt: string | null; disconnectedAt: string | null } | null };
}

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`condition not met in ${ms} ms: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('operations', () => {
  it('answers /healthz and /readyz without a session', async () => {
    expect((await t.hub.http.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await t.hub.http.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', checks: { store: 'ok', broker: 'ok' } });
  });

  it('exposes the metrics an operator of the hub needs', async () => {
    const body = (await t.hub.http.inject({ url: '/metrics' })).body;
    for (const name of ['anxin_mqtt_connected_clients', 'anxin_readings_accepted_total', 'anxin_readings_refused_total', 'anxin_ingest_latency_seconds', 'anxin_store_commit_seconds', 'anxin_process_resident_memory_bytes']) {
      expect(body).toContain(`# HELP ${name}`);
    }
  });

  it('serves an OpenAPI document listing the routes, and its explorer', async () => {
    const doc = (await t.hub.http.inject({ url: '/api/docs/json' })).json() as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of ['/api/v1/auth/login', '/api/v1/import', '/api/v1/residents/{id}/readings', '/api/v1/devices/{id}/secret', '/api/v1/refusals']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    const ui = await t.hub.http.inject({ url: '/api/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toMatch(/swagger/i);
  });
});

describe('device and gateway status', () => {
  it('records retained status, connection, and the last will when a device drops', async () => {
    const topic = 'anxin/v1/homes/wh-0001/devices/fall-0001/status';
    const c = await connectClient(t.mqttUrl, 'fall-0001', secretOf(answer, 'fall-0001'), {
      will: { topic, payload: Buffer.from(JSON.stringify({ online: false })), qos: 1, retain: true },
    });
    await new Promise<void>((resolve, reject) => c.publish(topic, JSON.stringify({ online: true, battery: 76, firmware: '1.2.0' }), { qos: 1, retain: true }, (e) => (e ? reject(e) : resolve())));
    const online = await until(() => device('fall-0001'), (d) => d.status?.online === true);
    expect(online.status).toMatchObject({ online: true, battery: 76, connected: true });

    // An unclean drop: the broker publishes the will.
    (c as unknown as { stream: { destroy(): void } }).stream.destroy();
    const offline = await until(() => device('fall-0001'), (d) => d.status?.online === false && d.status.connected === false);
    expect(offline.status!.battery).toBe(76);
    expect(offline.status!.disconnectedAt).not.toBeNull();
    c.end(true);
  });

  it('records the gateway status with its outbox depth, and refuses a malformed status', async () => {
    const gw = await connectClient(t.mqttUrl, 'gw-0001', secretOf(answer, 'gw-0001'));
    await publishAcked(gw, 'anxin/v1/homes/wh-0001/gateway/status', { online: true, outboxDepth: 12, version: '0.1.0' });
    const home = await until(
      async () => (await t.hub.http.inject({ url: '/api/v1/homes/wh-0001', headers: { authorization: `Bearer ${operator}` } })).json(),
      (h) => h.gatewayStatus?.outboxDepth === 12,
    );
    expect(home.gatewayStatus).toMatchObject({ online: true, version: '0.1.0', connected: true });
    const rejects: string[] = [];
    await gw.subscribeAsync('anxin/v1/homes/wh-0001/gateway/rejects');
    gw.on('message', (_t, p) => rejects.push(JSON.parse(p.toString()).error));
    await publishAcked(gw, 'anxin/v1/homes/wh-0001/gateway/status', { online: 'yes' });
    await until(async () => rejects, (r) => r.length > 0);
    expect(rejects).toEqual(['invalid_field']);
    gw.end(true);
  });
});
