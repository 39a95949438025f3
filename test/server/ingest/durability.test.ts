/**
 * "Acknowledged means durable": a reading whose PUBACK arrived survives a
 * kill -9 of the hub process; dedupe keys survive a restart; SIGTERM shuts
 * down cleanly.
 */
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, connectClient, exampleDocument, publishAcked, secretOf, startTestHub, tempDataDir } from '../../helpers/hub.js';
import { httpJson, spawnHub } from '../../helpers/process.js';

const T = 'anxin/v1/homes/wh-0001/devices';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('durability', () => {
  it('keeps every PUBACKed reading when the hub is killed with -9', async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const env = { ANXIN_DATA_DIR: dataDir, ANXIN_ADMIN_PASSWORD: ADMIN_PASSWORD };
    const hub = await spawnHub(env);
    const { body: session } = await httpJson(`${hub.httpUrl}/api/v1/auth/login`, { body: { username: 'admin', password: ADMIN_PASSWORD } });
    const { status, body: answer } = await httpJson(`${hub.httpUrl}/api/v1/import`, { token: session.token, body: exampleDocument() });
    expect(status).toBe(200);
    const client = await connectClient(hub.mqttUrl, 'bp-0001', secretOf(answer, 'bp-0001'), { reconnectPeriod: 0 });
    client.on('error', () => {});

    // Many publishes in flight at once; kill the hub the moment the 300th PUBACK arrives.
    const acked: string[] = [];
    let killed = false;
    const sent = Array.from({ length: 2000 }, (_, i) => `k-${i}`);
    await new Promise<void>((resolve) => {
      for (const id of sent) {
        client.publish(`${T}/bp-0001/telemetry`, JSON.stringify({ type: 'blood_pressure', id, ts: Date.now(), systolic: 130, diastolic: 80, unit: 'mmHg' }), { qos: 1 }, (err) => {
          if (err || killed) return;
          acked.push(id);
          if (acked.length === 300) {
            killed = true;
            hub.child.kill('SIGKILL');
            resolve();
          }
        });
      }
    });
    expect(await hub.exited).toBe('SIGKILL');
    client.end(true);

    const db = new Database(join(dataDir, 'anxin.sqlite'), { readonly: true });
    const stored = new Set((db.prepare("SELECT reading_id FROM readings WHERE device_id = 'bp-0001'").all() as Array<{ reading_id: string }>).map((r) => r.reading_id));
    db.close();
    const lost = acked.filter((id) => !stored.has(id));
    expect(acked).toHaveLength(300);
    expect(lost).toEqual([]);

    // And the hub starts again on the same file, and shuts down on SIGTERM to the end of its sequence
    // (the store's threads do not hold the process open: it once exited half-way, also with code 0).
    const again = await spawnHub({ ...env, ANXIN_LOG_LEVEL: 'info' });
    const { status: ready } = await httpJson(`${again.httpUrl}/readyz`);
    expect(ready).toBe(200);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    expect(again.output()).toContain('"msg":"hub stopping"');
    expect(again.output()).toContain('"msg":"hub stopped"');
  });

  it('remembers dedupe keys across a restart', async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const first = await startTestHub({ dataDir });
    const answer = await first.importDoc(exampleDocument());
    const reading = { type: 'blood_pressure', id: 'once', ts: Date.now(), systolic: 150, diastolic: 95, unit: 'mmHg' };
    let c = await connectClient(first.mqttUrl, 'bp-0001', secretOf(answer, 'bp-0001'));
    await publishAcked(c, `${T}/bp-0001/telemetry`, reading);
    c.end(true);
    await first.stop();

    const second = await startTestHub({ dataDir });
    c = await connectClient(second.mqttUrl, 'bp-0001', secretOf(answer, 'bp-0001'));
    await publishAcked(c, `${T}/bp-0001/telemetry`, reading);
    c.end(true);
    expect(second.hub.ctx.db.prepare("SELECT count(*) AS n FROM readings WHERE reading_id = 'once'").get()).toEqual({ n: 1 });
    expect((await second.hub.http.inject({ url: '/metrics' })).body).toMatch(/anxin_readings_duplicate_total 1/);
    await second.stop();
  });
});
