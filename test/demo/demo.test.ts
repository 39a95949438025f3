/**
 * `npm run demo` for real: the demo as a child process (hub child, import API,
 * in-process gateways, simulators), checked only through the hub's API with
 * the credentials it prints. A new user must see readings and alerts within
 * 60 s, and the demo must stop cleanly by itself.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
// Type-only: keeps the demo scripts under `tsc -p .` (tsconfig does not include scripts/); nothing runs.
import type { DemoOptions } from '../../scripts/demo.js';
import { freePort, httpJson } from '../helpers/process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'anxin-demo-test-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const options: Pick<DemoOptions, 'homes' | 'durationSeconds' | 'seed'> = { homes: 3, durationSeconds: 75, seed: 'demo-test' };

async function until<T>(what: string, deadline: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`not within the deadline: ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

it('shows readings of several residents, a bp_crisis and a fall alert within 60 s, then stops cleanly', async () => {
  const [http, mqtt] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [
    '--import', 'tsx', 'scripts/demo.ts', '--homes', String(options.homes), '--duration', String(options.durationSeconds),
    '--seed', options.seed, '--http-port', String(http), '--mqtt-port', String(mqtt), '--data-dir', dataDir, '--skip-build',
  ], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  try {
    // The moment the dashboard URL is printed is when a new user starts looking.
    await until(`the dashboard URL:\n${out}`, Date.now() + 40_000, () => (out.includes('Dashboard:') && out.includes('What happens') ? true : undefined));
    const shown = Date.now();
    expect(out).toContain(`Dashboard: http://127.0.0.1:${http}/`);
    const passwords = new Map([...out.matchAll(/│\s+(?:operator|supervisor|doctor|admin)\s+(\S+)\s+\S+\s+(\S+)/g)].map((m) => [m[1]!, m[2]!]));
    expect([...passwords.keys()].sort()).toEqual(['admin', 'dr-li', 'dr-sun', 'dr-zhao', 'op-chen', 'op-wang', 'sv-zhou']);

    const api = `http://127.0.0.1:${http}/api/v1`;
    const { status, body: session } = await httpJson(`${api}/auth/login`, { body: { username: 'op-wang', password: passwords.get('op-wang') } });
    expect(status).toBe(200);
    const token = session.token as string;
    const since = new Date(shown - 5000).toISOString();
    const { body: { residents } } = await httpJson(`${api}/residents`, { token });
    expect(residents.length).toBeGreaterThanOrEqual(3);

    const seen = await until('readings of 3 residents and bp_crisis + fall alerts', shown + 60_000, async () => {
      const { body: { alerts } } = await httpJson(`${api}/alerts`, { token });
      const rules = new Set((alerts as Array<{ rule: string; severity: string }>).filter((a) => a.severity === 'critical').map((a) => a.rule));
      let measured = 0;
      for (const r of residents as Array<{ id: string }>) {
        const { body } = await httpJson(`${api}/residents/${r.id}/readings?from=${encodeURIComponent(since)}`, { token });
        if ((body.readings as Array<{ type: string }>).some((x) => !['heartbeat', 'motion'].includes(x.type))) measured++;
      }
      return rules.has('bp_crisis') && rules.has('fall') && measured >= 3 ? { rules, measured, alerts } : undefined;
    });
    expect(Date.now() - shown).toBeLessThan(60_000);
    expect(seen.rules).toContain('bp_crisis');

    // Every home's gateway is connected to the hub with its own credentials.
    for (const home of ['wh-0001', 'wh-0002', 'wh-0003']) {
      const { body } = await httpJson(`${api}/homes/${home}`, { token });
      expect(body.gatewayStatus).toMatchObject({ online: true, connected: true });
    }
    // The admin password printed is the one the hub was started with.
    expect((await httpJson(`${api}/auth/login`, { body: { username: 'admin', password: passwords.get('admin') } })).status).toBe(200);

    expect(await exited).toBe(0);
    expect(out).toMatch(/stopped \(hub exit 0\)/);
    expect(readdirSync(join(dataDir, 'gateways')).sort()).toEqual(['gw-0001', 'gw-0002', 'gw-0003']);
    expect(existsSync(join(dataDir, 'hub', 'anxin.sqlite'))).toBe(true);
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
  }
}, 110_000);
