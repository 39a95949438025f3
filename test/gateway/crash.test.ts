/**
 * The gateway killed with -9 in the middle of flushing its backlog, then
 * started again: nothing is lost, nothing is stored twice (real processes).
 */
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, spawnHub, type HubProcess } from '../helpers/process.js';
import { hubReadingCount, hubReadings, LineClient, hubForGateway, spawnGateway, stopChild, waitFor, writeGatewayConfig, type GatewayProcess } from './helpers.js';

const TOTAL = 5000;

const dirs: string[] = [];
const children: Array<HubProcess | GatewayProcess> = [];
afterAll(async () => {
  for (const c of children) await stopChild(c);
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

describe('gateway crash', () => {
  it('loses nothing and stores nothing twice when killed with -9 mid-flush', async () => {
    const setup = await hubForGateway(dirs, children);
    const { hubDir, gwDir, ports, env, gatewaySecret } = setup;
    let hub = setup.hub;
    const inputPort = await freePort();
    // Small batches, one in flight: the flush takes long enough to be interrupted.
    const config = writeGatewayConfig(gwDir, {
      hub: hub.mqttUrl, homeId: 'wh-0001', username: 'gw-0001', password: gatewaySecret,
      dataDir: gwDir, input: { port: inputPort, stdin: false },
      uplink: { batchSize: 10, maxInFlight: 1, reconnectMinMs: 100, reconnectMaxMs: 1000 },
    });
    let gateway = await spawnGateway(config);
    children.push(gateway);
    await gateway.waitForLog('connected to the hub');
    expect(await stopChild(hub)).toBe(0);

    // A backlog from two devices, interleaved, sent as fast as the gateway commits.
    const lines = await LineClient.open(inputPort);
    const t0 = Date.now() - 3600_000;
    const sent: Array<{ device: string; id: string; ts: number }> = [];
    for (let i = 0; i < TOTAL; i += 500) {
      const batch = Array.from({ length: 500 }, (_, j) => {
        const k = i + j;
        return k % 2 === 0
          ? { device: 'bp-0001', type: 'blood_pressure', ts: t0 + k, systolic: 120, diastolic: 80, unit: 'mmHg' }
          : { device: 'glu-0001', type: 'glucose', ts: t0 + k, value: 5.5, unit: 'mmol/L', context: 'fasting' };
      });
      const answers = await lines.send(batch);
      answers.forEach((a, j) => {
        expect(a).toMatchObject({ ok: true });
        sent.push({ device: batch[j]!.device, id: a.id as string, ts: batch[j]!.ts });
      });
    }
    lines.close();

    hub = await spawnHub(env, ports);
    children.push(hub);
    // Kill the gateway while the backlog is going out.
    await waitFor('flush under way', () => hubReadingCount(hubDir), (n) => n >= 1000, 30_000, 5);
    gateway.child.kill('SIGKILL');
    expect(await gateway.exited).toBe('SIGKILL');
    const atKill = hubReadingCount(hubDir);
    expect(atKill).toBeLessThan(TOTAL);

    gateway = await spawnGateway(config);
    children.push(gateway);
    await waitFor('all stored', () => hubReadingCount(hubDir), (n) => n >= TOTAL, 60_000, 100);
    await waitFor('outbox empty', () => outboxDepth(gwDir), (d) => d === 0, 10_000, 100);

    const rows = hubReadings(hubDir);
    expect(rows).toHaveLength(TOTAL);
    expect(new Set(rows.map((r) => `${r.device_id}/${r.reading_id}`)).size).toBe(TOTAL);
    for (const device of ['bp-0001', 'glu-0001']) {
      // Each device's readings were stored in the order they were produced.
      expect(rows.filter((r) => r.device_id === device).map((r) => r.reading_id)).toEqual(sent.filter((s) => s.device === device).map((s) => s.id));
    }
    const metrics = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    const duplicates = Number(/anxin_readings_duplicate_total (\d+)/.exec(metrics)?.[1] ?? 0);
    console.log(`[gateway crash] killed with ${atKill}/${TOTAL} stored; after restart all ${TOTAL} stored once; hub deduplicated ${duplicates} resent reading(s)`);
    expect(await stopChild(gateway)).toBe(0);
  }, 120_000);
});

function outboxDepth(dir: string): number {
  const db = new Database(join(dir, 'outbox.sqlite'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n;
  } finally {
    db.close();
  }
}
