/**
 * The CLI's user commands against the data directory of a running hub: a lost
 * password (the admin's too) is replaced and shown once, and a user who left
 * is disabled; either ends their sessions at once, and the last admin cannot
 * be disabled. The CLI never upgrades a store an older hub may be running on.
 * The real CLI process, a real hub, the real API.
 */
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MIGRATIONS } from '../../../server/store/migrations.js';
import { configure } from '../../../server/store/sqliteDb.js';
import { ADMIN_PASSWORD, exampleDocument, login, startTestHub, type TestHub } from '../../helpers/hub.js';

let t: TestHub;
let drLi: string;

function anxinIn(dataDir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'server/cli/anxin.ts', ...args], { cwd: process.cwd(), env: { ...process.env, ANXIN_DATA_DIR: dataDir } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? -1) : 0, stdout, stderr }));
  });
}
const anxin = (args: string[]) => anxinIn(t.dataDir, args);

const me = async (token: string) => (await t.hub.http.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } })).statusCode;

beforeAll(async () => {
  t = await startTestHub();
  const doc = exampleDocument();
  const answer = await t.importDoc({ ...doc, users: [...doc.users, { username: 'dr-wang', role: 'doctor', name: '王医生' }] });
  drLi = answer.users.find((u) => u.username === 'dr-li')!.password;
});

afterAll(() => t?.destroy());

it('reset-password prints a new password once; the old one and its sessions no longer work', async () => {
  const session = await login(t.hub, 'dr-li', drLi);
  const run = await anxin(['reset-password', 'dr-li']);
  expect(run.code).toBe(0);
  const { username, password } = JSON.parse(run.stdout) as { username: string; password: string };
  expect(username).toBe('dr-li');
  expect(await me(session)).toBe(401);
  await expect(login(t.hub, 'dr-li', drLi)).rejects.toThrow();
  expect(await me(await login(t.hub, 'dr-li', password))).toBe(200);
  drLi = password;
});

it('disable-user refuses a doctor who still has patients, saying how many and what to do', async () => {
  const busy = await anxin(['disable-user', 'dr-li']);
  expect(busy.code).toBe(1);
  expect(busy.stderr).toContain('anxin: dr-li is the family doctor of 1 resident(s) and has 0 open item(s) in their queue');
  expect(busy.stderr).toContain('POST /api/v1/doctors/dr-li/patients/move');
  // Their patient goes to another doctor (the admin page's "Move patients").
  const moved = await t.hub.http.inject({ method: 'POST', url: '/api/v1/doctors/dr-li/patients/move', headers: { authorization: `Bearer ${await t.adminToken()}` }, payload: { to: 'dr-wang' } });
  expect(moved.statusCode).toBe(200);
});

it('disable-user ends the sessions and refuses sign-in; enable-user lets them back', async () => {
  const session = await login(t.hub, 'dr-li', drLi);
  expect((await anxin(['disable-user', 'dr-li'])).code).toBe(0);
  expect(await me(session)).toBe(401);
  await expect(login(t.hub, 'dr-li', drLi)).rejects.toThrow();
  expect((await anxin(['enable-user', 'dr-li'])).code).toBe(0);
  expect(await me(await login(t.hub, 'dr-li', drLi))).toBe(200);
});

it('refuses to disable the last admin, and names an unknown user', async () => {
  const last = await anxin(['disable-user', 'admin']);
  expect([last.code, last.stderr]).toEqual([1, expect.stringContaining('last enabled admin')]);
  expect(await me(await login(t.hub, 'admin', ADMIN_PASSWORD))).toBe(200);
  const unknown = await anxin(['reset-password', 'nobody']);
  expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringContaining('no user nobody')]);
});

it('never upgrades a store of an older schema, which a hub of the older version may still be running on', async () => {
  // A store as an older version left it: the newest migration not applied yet.
  const dir = mkdtempSync(join(tmpdir(), 'anxin-cli-behind-'));
  try {
    const db = new Database(join(dir, 'anxin.sqlite'));
    configure(db, 'full');
    for (const [v, sql] of MIGRATIONS.slice(0, -1).entries()) {
      db.exec(sql);
      db.pragma(`user_version = ${v + 1}`);
    }
    db.close();
    const run = await anxinIn(dir, ['reset-password', 'admin']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`schema version ${MIGRATIONS.length - 1}, this version of Anxin needs ${MIGRATIONS.length}`);
    const after = new Database(join(dir, 'anxin.sqlite'), { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length - 1);
    after.close();
    // A new data directory is created as usual (the import into a store no hub has opened yet).
    const fresh = await anxinIn(join(dir, 'new'), ['disable-user', 'nobody']);
    expect([fresh.code, fresh.stderr]).toEqual([1, expect.stringContaining('no user nobody')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
