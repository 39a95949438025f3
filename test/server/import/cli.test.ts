import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifySecret } from '../../../server/auth/secrets.js';
import { openDatabase } from '../../../server/store/sqliteDb.js';

const dir = mkdtempSync(join(tmpdir(), 'anxin-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run { code: number; stdout: string; stderr: string }

/** Runs the real CLI the way `npm run anxin --` does, against its own data directory. */
function anxin(args: string[], dataDir: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'server/cli/anxin.ts', ...args], {
      cwd: process.cwd(),
      env: { ...process.env, ANXIN_DATA_DIR: dataDir },
    }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

function writeDocument(name: string, doc: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return file;
}

describe('anxin import', () => {
  const dataDir = join(dir, 'data');
  const valid = writeDocument('valid.json', {
    homes: [{
      id: 'wh-0001', address: '威海市环翠区文化西路 1 号',
      residents: [{ id: 'r-0001', name: '王秀英' }],
      gateway: { id: 'gw-0001' },
      devices: [{ id: 'bp-0001', type: 'bp_cuff', resident: 'r-0001' }],
    }],
  });

  it('imports a valid document, prints the new secrets once, and nothing on a second run', async () => {
    const first = await anxin(['import', valid], dataDir);
    expect(first.code, first.stderr).toBe(0);
    const result = JSON.parse(first.stdout) as { credentials: Array<{ username: string; password: string; kind: string }> };
    expect(result.credentials.map((c) => [c.username, c.kind])).toEqual([['gw-0001', 'gateway'], ['bp-0001', 'device']]);
    expect(first.stderr).toMatch(/shown only this once/);
    expect(first.stderr).toMatch(/picks the change up within 5 seconds/);

    const db = openDatabase(dataDir, 'normal');
    try {
      const hash = db.prepare("SELECT secret_hash FROM mqtt_credentials WHERE username = 'bp-0001'").pluck().get() as string;
      expect(await verifySecret(result.credentials[1]!.password, hash)).toBe(true);
      expect(db.prepare("SELECT actor FROM audit WHERE action = 'import'").pluck().all()).toEqual(['cli']);
    } finally {
      db.close();
    }

    const second = await anxin(['import', valid], dataDir);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ credentials: [], users: [], unchanged: { homes: 1, residents: 1, devices: 1, gateways: 1 } });
    expect(second.stderr).not.toMatch(/shown only this once/);
  });

  it('refuses an invalid document with each problem on stderr by path, and exits 1', async () => {
    const invalid = writeDocument('invalid.json', {
      homes: [{ id: 'wh-0002', adress: 'x', devices: [{ id: 'bp-0002', type: 'thermometer' }] }],
    });
    const run = await anxin(['import', invalid], join(dir, 'refused'));
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr.split('\n');
    expect(lines).toContain('/homes/0/address: is required');
    expect(lines).toContain('/homes/0/adress: is not a known field');
    expect(lines.some((l) => l.startsWith('/homes/0/devices/0/type: must be one of'))).toBe(true);
  });

  it.each([
    ['a file that is not JSON', ['import', writeDocument('broken.json', '{"homes": [')], 1, /cannot read .*broken\.json/],
    ['a missing file', ['import', join(dir, 'absent.json')], 1, /cannot read/],
    ['an unknown command', ['export', 'x.json'], 2, /usage: npm run anxin -- COMMAND[\s\S]*import FILE[\s\S]*reset-password USERNAME/],
    ['no command', [], 2, /usage:/],
  ])('exits with a message for %s', async (_name, args, code, stderr) => {
    const run = await anxin(args, join(dir, 'other'));
    expect(run.code).toBe(code);
    expect(run.stderr).toMatch(stderr);
  });
});
