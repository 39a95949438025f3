/**
 * The first start creates `admin` and shows its generated password once
 * (SPEC §7): also after a first start that failed (the port taken), and when
 * the CLI enrolled doctors into the data directory before the hub ever ran.
 * Before, both left a store with no usable admin and nothing printed. Real
 * hubs on real data directories, the real CLI.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { login, startTestHub, tempDataDir, type TestHub } from '../../helpers/hub.js';

const dirs: string[] = [];
const hubs: TestHub[] = [];
afterAll(async () => {
  for (const h of hubs) await h.stop();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const fresh = () => {
  const d = tempDataDir();
  dirs.push(d);
  return d;
};

/** The first start without ANXIN_ADMIN_PASSWORD. */
async function firstStart(dataDir: string, httpPort = 0): Promise<TestHub> {
  const t = await startTestHub({ dataDir, config: { adminPassword: undefined, httpPort } });
  hubs.push(t);
  return t;
}

it('a first start that fails on a taken port creates no admin; the next start creates it and shows its password', async () => {
  const dataDir = fresh();
  const busy: Server = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  try {
    await expect(firstStart(dataDir, (busy.address() as { port: number }).port)).rejects.toThrow(/EADDRINUSE/);
  } finally {
    await new Promise((r) => busy.close(r));
  }
  const t = await firstStart(dataDir);
  expect(t.hub.generatedAdminPassword).toEqual(expect.any(String));
  expect(await login(t.hub, 'admin', t.hub.generatedAdminPassword!)).toEqual(expect.any(String));
  await t.stop();
  // Shown once: a later start has nothing to show.
  expect((await firstStart(dataDir)).hub.generatedAdminPassword).toBeNull();
});

it('doctors enrolled by the CLI before the first start do not stop it creating admin', async () => {
  const dataDir = fresh();
  const doc = join(dataDir, '..', `${dataDir.split('/').pop()}-doc.json`);
  writeFileSync(doc, JSON.stringify({ homes: [], users: [{ username: 'dr-li', role: 'doctor', name: '李医生' }] }));
  const code = await new Promise<number>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'server/cli/anxin.ts', 'import', doc], { cwd: process.cwd(), env: { ...process.env, ANXIN_DATA_DIR: dataDir } },
      (err) => resolve(err ? Number(err.code ?? -1) : 0));
  });
  rmSync(doc);
  expect(code).toBe(0);
  const t = await firstStart(dataDir);
  expect(t.hub.generatedAdminPassword).toEqual(expect.any(String));
  const roles = t.hub.ctx.db.prepare('SELECT username, role FROM users ORDER BY username').all();
  expect(roles).toEqual([{ username: 'admin', role: 'admin' }, { username: 'dr-li', role: 'doctor' }]);
});
