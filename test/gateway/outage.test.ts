/**
 * Store-and-forward end to end, with real processes (SPEC §8): simulator →
 * gateway (child) → hub (child). The hub goes away for 60 s while 1,000
 * readings are produced; after it comes back on the same data directory and
 * ports, every reading is stored exactly once, in the order it was produced.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, spawnHub, type HubProcess } from '../helpers/process.js';
import { hubGatewayStatus, hubReadingCount, hubReadings, LineClient, hubForGateway, sleep, spawnGateway, stopChild, waitFor, writeGatewayConfig, type GatewayProcess } from './helpers.js';

const OUTAGE_MS = 60_000;
const READINGS = 1000;

const dirs: string[] = [];
const children: Array<HubProcess | GatewayProcess> = [];
afterAll(async () => {
  for (const c of children) await stopChild(c);
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

describe('hub outage', () => {
  it(`stores all ${READINGS} readings produced during a ${OUTAGE_MS / 1000} s outage exactly once, in order`, async () => {
    const setup = await hubForGateway(dirs, children);
    const { hubDir, gwDir, ports, env, gatewaySecret } = setup;
    let hub = setup.hub;

    const inputPort = await freePort();
    const config = writeGatewayConfig(gwDir, {
      hub: hub.mqttUrl, homeId: 'wh-0001', username: 'gw-0001', password: 'set-by-the-environment',
      dataDir: gwDir, input: { port: inputPort, stdin: false },
      uplink: { reconnectMinMs: 100, reconnectMaxMs: 2000 },
      logLevel: 'info',
    });
    const gateway = await spawnGateway(config, { ANXIN_GATEWAY_PASSWORD: gatewaySecret });
    children.push(gateway);
    await gateway.waitForLog('connected to the hub');
    const lines = await LineClient.open(inputPort);

    // The hub goes away.
    expect(await stopChild(hub)).toBe(0);
    const outageStarted = Date.now();
    await gateway.waitForLog('lost the hub; retrying');

    // 1,000 readings spread over the outage, each answered only once it is on the gateway's disk.
    const t0 = Date.now() - 10 * 60_000;
    const ids: string[] = [];
    for (let i = 0; i < READINGS; i++) {
      const [a] = await lines.send([{ device: 'bp-0001', type: 'blood_pressure', ts: t0 + i * 100, systolic: 110 + (i % 50), diastolic: 70, pulse: 60 + (i % 30), unit: 'mmHg' }]);
      expect(a).toMatchObject({ ok: true });
      ids.push(a!.id as string);
      const due = outageStarted + ((i + 1) * (OUTAGE_MS - 2000)) / READINGS;
      if (due > Date.now()) await sleep(due - Date.now());
    }
    expect(new Set(ids).size).toBe(READINGS);
    await sleep(Math.max(0, outageStarted + OUTAGE_MS - Date.now()));

    // The hub comes back on the same data and ports; the gateway finds it and flushes.
    const fromLog = gateway.output().length;
    hub = await spawnHub(env, ports);
    children.push(hub);
    const hubBack = Date.now();
    await gateway.waitForLog('connected to the hub', 30_000, fromLog);
    await waitFor('all readings stored', () => hubReadingCount(hubDir), (n) => n >= READINGS, 60_000, 100);
    const flushedAt = Date.now();

    const rows = hubReadings(hubDir);
    expect(rows).toHaveLength(READINGS);
    expect(new Set(rows.map((r) => r.reading_id)).size).toBe(READINGS);
    expect(rows.map((r) => r.reading_id)).toEqual(ids);
    expect(rows.map((r) => r.ts)).toEqual(ids.map((_, i) => t0 + i * 100));

    const first = Math.min(...rows.map((r) => r.received_at));
    const last = Math.max(...rows.map((r) => r.received_at));
    const rate = Math.round(READINGS / Math.max(0.001, (last - first) / 1000));
    console.log(`[gateway outage] hub back → all ${READINGS} stored in ${flushedAt - hubBack} ms (reconnect backoff included); ` +
      `flush ${last - first} ms from first to last stored ≈ ${rate} readings/s`);

    // The retained status says the outbox is empty again (it is republished when the depth changes notably).
    await waitFor('status outboxDepth 0', () => hubGatewayStatus(hubDir)?.outbox_depth, (d) => d === 0, 10_000, 200);
    lines.close();
    expect(await stopChild(gateway)).toBe(0);
    expect(gateway.output()).toContain('"msg":"gateway stopped"');
  }, 150_000);
});
