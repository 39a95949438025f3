/**
 * The disk under the store fills while devices send readings. A reading that
 * cannot be written gets no PUBACK (the sender keeps it and retries), and
 * nothing acknowledged is lost; the
 * monitoring center must hear it from the hub (`/readyz` 503, a metric), not
 * from a resident whose fall raised nothing; the log must say so in a few
 * lines, not one per reading (it would fill the same disk); and once space is
 * freed the hub writes again by itself. A real hub process with its data
 * directory on a real 64 MB tmpfs filled by a real file, real MQTT clients.
 * Mounting needs root, which the test set-up is (the machine's package
 * installs need it too): without it the test fails saying so.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { exampleDocument } from '../../helpers/hub.js';
import { httpJson, spawnHub, type HubProcess } from '../../helpers/process.js';

const ADMIN = 'disk-full-admin-password';
const TOPIC = 'anxin/v1/homes/wh-0001/devices/bp-0001/telemetry';
let mountPoint: string;
let dataDir: string;
let hub: HubProcess;
let device: MqttClient;
const acked = new Set<string>();

async function readyz(): Promise<{ status: number; body: { checks: Record<string, unknown> } }> {
  const res = await fetch(`${hub.httpUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as { checks: Record<string, unknown> } };
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${hub.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function until(what: string, ok: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let sent = 0;
/** As the gateway's outbox does: a reading whose publish failed (connection closed before its PUBACK) is sent again. */
function send(id = `r-${sent++}`, ts = Date.now()): string {
  device.publish(TOPIC, JSON.stringify({ type: 'blood_pressure', id, ts, systolic: 128, diastolic: 82, pulse: 70, unit: 'mmHg' }), { qos: 1 }, (err) => {
    if (!err) acked.add(id);
    else setTimeout(() => send(id, ts), 300);
  });
  return id;
}

beforeAll(async () => {
  mountPoint = mkdtempSync(join(tmpdir(), 'anxin-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mountPoint], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`this test mounts a 64 MB tmpfs to fill it, which needs root (CAP_SYS_ADMIN): ${(err as Error).message}`, { cause: err });
  }
  dataDir = join(mountPoint, 'data');
  mkdirSync(dataDir);
  hub = await spawnHub({ ANXIN_DATA_DIR: dataDir, ANXIN_ADMIN_PASSWORD: ADMIN });
  const { body: s } = await httpJson(`${hub.httpUrl}/api/v1/auth/login`, { body: { username: 'admin', password: ADMIN } });
  const { status, body } = await httpJson(`${hub.httpUrl}/api/v1/import`, { token: s.token as string, body: exampleDocument() });
  expect(status).toBe(200);
  const secret = (body.credentials as Array<{ username: string; password: string }>).find((c) => c.username === 'bp-0001')!.password;
  // As a gateway retries: reconnects, and resends what was not acknowledged.
  device = mqtt.connect(hub.mqttUrl, { clientId: 'bp-0001', username: 'bp-0001', password: secret, reconnectPeriod: 300, protocolVersion: 4 });
  await new Promise((resolve) => device.once('connect', resolve));
}, 60_000);

afterAll(async () => {
  device?.end(true);
  if (hub && hub.child.exitCode === null) {
    hub.child.kill('SIGKILL');
    await hub.exited;
  }
  try {
    execFileSync('umount', [mountPoint], { stdio: 'pipe' });
  } finally {
    rmSync(mountPoint, { recursive: true, force: true });
  }
});

it('says the store is failing, logs it in a few lines, loses nothing and recovers by itself', async () => {
  send();
  await until('the first reading acknowledged', async () => acked.size === 1, 5000);
  expect((await readyz()).status).toBe(200);

  // Fill the file system to the last block.
  const filler = join(mountPoint, 'filler');
  const fd = openSync(filler, 'w');
  for (const size of [1 << 20, 4096, 512]) {
    try {
      for (;;) writeSync(fd, Buffer.alloc(size));
    } catch {
      // ENOSPC: next, smaller pieces
    }
  }
  closeSync(fd);
  const logBefore = hub.output().length;

  // Readings keep coming (20 a second) for 6 s. (SQLite may still fit some in space its files already
  // have, a WAL the checkpointer emptied: those commit, are acknowledged, and say the store writes.)
  const timer = setInterval(() => send(), 50);
  try {
    let failing: { checks: Record<string, unknown> } | undefined;
    await until('/readyz 503 with the store failing', async () => {
      const r = await readyz();
      if (r.status === 503 && r.body.checks.store === 'failing') failing = r.body;
      return failing !== undefined;
    }, 4000);
    expect(failing!.checks.storeFailing).toMatchObject({ error: expect.stringMatching(/full/) });
    expect(await metric('anxin_store_write_failures_total{kind="store"}')).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 5000));
  } finally {
    clearInterval(timer);
  }
  // About a hundred publishes, each failing (with its reconnects' status events): a few lines say so,
  // at most two of each kind (the first of a window, then one counting the rest).
  const lines = hub.output().slice(logBefore).split('\n').filter((l) => /store write failed|status event not recorded|reading not acknowledged/.test(l));
  expect(sent).toBeGreaterThan(80);
  expect(lines.length).toBeGreaterThan(0);
  expect(lines.length).toBeLessThanOrEqual(6);

  // Space comes back: the hub writes again without a restart, and the device's resent readings are acknowledged.
  unlinkSync(filler);
  await until('/readyz 200 again', async () => (await readyz()).status === 200, 10_000);
  expect(await metric('anxin_store_failing')).toBe(0);
  const last = send();
  await until('every reading acknowledged after the space came back', async () => acked.has(last) && acked.size === sent, 15_000);

  // Nothing acknowledged is lost: every reading is in the file once.
  hub.child.kill('SIGKILL');
  await hub.exited;
  const db = new Database(join(dataDir, 'anxin.sqlite'), { readonly: true });
  try {
    const stored = db.prepare("SELECT reading_id FROM readings WHERE device_id = 'bp-0001'").pluck().all() as string[];
    expect(new Set(stored).size).toBe(stored.length);
    for (const id of acked) expect(stored).toContain(id);
  } finally {
    db.close();
  }
}, 90_000);
