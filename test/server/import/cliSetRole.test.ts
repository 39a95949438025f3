/**
 * `npm run anxin -- set-role USERNAME ROLE` against the data directory of a
 * running hub: the person's sessions end and they sign in with the new role;
 * the last admin keeps the role, a family doctor stays a doctor, and a bad
 * role or an unknown user is named. The real CLI process, a real hub.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { exampleDocument, login, startTestHub, type TestHub } from '../../helpers/hub.js';

let t: TestHub;
let opPassword: string;

function anxin(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'server/cli/anxin.ts', ...args], { cwd: process.cwd(), env: { ...process.env, ANXIN_DATA_DIR: t.dataDir } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? -1) : 0, stdout, stderr }));
  });
}

beforeAll(async () => {
  t = await startTestHub();
  const doc = exampleDocument();
  doc.users.push({ username: 'op-1', role: 'operator', name: '坐席一' });
  const answer = await t.importDoc(doc);
  opPassword = answer.users.find((u) => u.username === 'op-1')!.password;
});

afterAll(() => t?.destroy());

it('gives a user another role: their sessions end, and they sign in as a supervisor', async () => {
  const session = await login(t.hub, 'op-1', opPassword);
  const run = await anxin(['set-role', 'op-1', 'supervisor']);
  expect([run.code, run.stderr]).toEqual([0, expect.stringContaining('op-1 is now supervisor')]);
  expect((await t.hub.http.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${session}` } })).statusCode).toBe(401);
  const again = await t.hub.http.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'op-1', password: opPassword } });
  expect(again.json().user).toMatchObject({ username: 'op-1', role: 'supervisor' });
  expect(t.hub.ctx.db.prepare("SELECT actor, detail FROM audit WHERE action = 'user.role_changed'").all())
    .toEqual([{ actor: 'cli', detail: JSON.stringify({ from: 'operator', to: 'supervisor' }) }]);
});

it('refuses to demote the last admin or a family doctor, and names a bad role or user', async () => {
  const [admin, doctor, role, nobody] = await Promise.all([
    anxin(['set-role', 'admin', 'operator']),
    anxin(['set-role', 'dr-li', 'supervisor']),
    anxin(['set-role', 'op-1', 'boss']),
    anxin(['set-role', 'nobody', 'operator']),
  ]);
  expect([admin.code, admin.stderr]).toEqual([1, expect.stringContaining('admin is the last enabled admin')]);
  expect([doctor.code, doctor.stderr]).toEqual([1, expect.stringContaining('dr-li is the family doctor of 1 resident')]);
  expect([role.code, role.stderr]).toEqual([2, expect.stringContaining('boss is not a role; one of operator, supervisor, doctor, admin')]);
  expect([nobody.code, nobody.stderr]).toEqual([1, expect.stringContaining('no user nobody')]);
  expect(t.hub.ctx.users.record('admin')?.role).toBe('admin');
  expect(t.hub.ctx.users.record('dr-li')?.role).toBe('doctor');
});
