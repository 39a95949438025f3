/**
 * Whatever reads the hub's stdout cannot stop it: when the reader goes away
 * (a log shipper restarting) before the hub has printed its start line, the
 * hub still comes up, serves, and shuts down cleanly on SIGTERM. It used to
 * die of the unhandled EPIPE of that line (pino's own lines already stop
 * quietly on EPIPE). A real hub process, a real pipe.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { ADMIN_PASSWORD, tempDataDir } from '../../helpers/hub.js';
import { freePort, httpJson } from '../../helpers/process.js';

const dataDir = tempDataDir();
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

it('comes up and serves with its stdout reader gone, and stops cleanly on SIGTERM', async () => {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
    cwd: process.cwd(),
    env: { ...process.env, ANXIN_DATA_DIR: dataDir, ANXIN_ADMIN_PASSWORD: ADMIN_PASSWORD, ANXIN_HTTP_PORT: String(port), ANXIN_MQTT_PORT: '0', ANXIN_HOST: '127.0.0.1', ANXIN_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  child.stdout!.destroy(); // gone before the hub writes a line
  let status = 0;
  for (let i = 0; i < 150 && status !== 200; i++) {
    // Ready, not only alive: /healthz answers while the hub is still starting, before it takes SIGTERM
    // (a loaded machine took longer than the wait below between the two).
    status = await httpJson(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0);
    if (status !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  expect(status).toBe(200);
  await new Promise((r) => setTimeout(r, 500)); // past the start line
  expect(child.exitCode).toBeNull();
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
});
