/**
 * Real processes for the gateway's end-to-end tests: the gateway as a child
 * (`node --import tsx gateway/index.ts --config …`), a JSON-lines client for its
 * TCP input, a provisioned hub, and a read-only look into the hub's SQLite.
 */
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_PASSWORD, exampleDocument, secretOf, tempDataDir, type ImportAnswer } from '../helpers/hub.js';
import { freePort, httpJson, spawnHub, type HubProcess } from '../helpers/process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const OPERATOR = 'op-zhang';

export interface Provisioned {
  gatewaySecret: string;
  operatorPassword: string;
  adminToken: string;
}

/** Imports the SPEC §6 example home (gateway gw-0001) plus an operator into a running hub process. */
export async function provision(hub: HubProcess): Promise<Provisioned> {
  const { body: session } = await httpJson(`${hub.httpUrl}/api/v1/auth/login`, { body: { username: 'admin', password: ADMIN_PASSWORD } });
  const doc = exampleDocument();
  doc.users.push({ username: OPERATOR, role: 'operator', name: '张坐席' });
  const { status, body } = await httpJson(`${hub.httpUrl}/api/v1/import`, { token: session.token, body: doc });
  if (status !== 200) throw new Error(`import failed: ${status} ${JSON.stringify(body)}`);
  const answer = body as ImportAnswer;
  const operatorPassword = answer.users.find((u) => u.username === OPERATOR)!.password;
  return { gatewaySecret: secretOf(answer, 'gw-0001'), operatorPassword, adminToken: session.token as string };
}

/**
 * A hub child process on fixed free ports (so it can be restarted on them), provisioned
 * with the example home, and a data dir for a gateway. Dirs and processes are pushed
 * to the caller's lists for cleanup.
 */
export async function hubForGateway(dirs: string[], children: Array<{ child: ChildProcess }>) {
  const hubDir = tempDataDir();
  const gwDir = tempDataDir();
  dirs.push(hubDir, gwDir);
  const ports = { http: await freePort(), mqtt: await freePort() };
  const env = { ANXIN_DATA_DIR: hubDir, ANXIN_ADMIN_PASSWORD: ADMIN_PASSWORD };
  const hub = await spawnHub(env, ports);
  children.push(hub);
  const { gatewaySecret } = await provision(hub);
  return { hub, hubDir, gwDir, ports, env, gatewaySecret };
}

export function writeGatewayConfig(dir: string, config: Record<string, unknown>): string {
  const file = join(dir, 'gateway.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

export interface GatewayProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | string>;
  /** Resolves when a log line with this `msg` appears (after `from` characters of output). */
  waitForLog: (msg: string, timeoutMs?: number, from?: number) => Promise<Record<string, unknown>>;
}

export async function spawnGateway(configFile: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/index.ts', '--config', configFile], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const waitForLog = async (msg: string, timeoutMs = 30_000, from = 0) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      for (const line of out.slice(from).split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg === msg) return entry;
      }
      if (child.exitCode !== null) throw new Error(`gateway exited (${child.exitCode}) before "${msg}":\n${out}`);
      if (Date.now() > until) throw new Error(`no "${msg}" from the gateway in ${timeoutMs} ms:\n${out.slice(-4000)}`);
      await sleep(25);
    }
  };
  await waitForLog('gateway started');
  return { child, output: () => out, exited, waitForLog };
}

/** A connection to the gateway's JSON-lines input: each line gets one answer, in order. */
export class LineClient {
  private buffered = '';
  private readonly answers: Array<Record<string, unknown>> = [];

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        this.answers.push(JSON.parse(this.buffered.slice(0, nl)) as Record<string, unknown>);
        this.buffered = this.buffered.slice(nl + 1);
      }
    });
  }

  static open(port: number): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends lines (objects are JSON-encoded) and resolves with their answers. */
  async send(lines: Array<string | object>, timeoutMs = 30_000): Promise<Array<Record<string, unknown>>> {
    const want = this.answers.length + lines.length;
    this.socket.write(lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l)) + '\n').join(''));
    const until = Date.now() + timeoutMs;
    while (this.answers.length < want) {
      if (Date.now() > until) throw new Error(`${want - this.answers.length} answer(s) missing`);
      await sleep(5);
    }
    return this.answers.slice(want - lines.length, want);
  }

  close(): void {
    this.socket.end();
  }
}

export interface StoredRow {
  seq: number;
  device_id: string;
  reading_id: string;
  type: string;
  ts: number;
  received_at: number;
  vals: string;
}

/** The hub's readings, in the order it stored them (read-only, safe while the hub runs). */
export function hubReadings(hubDataDir: string, where = '1 = 1'): StoredRow[] {
  const db = new Database(join(hubDataDir, 'anxin.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(`SELECT seq, device_id, reading_id, type, ts, received_at, vals FROM readings WHERE ${where} ORDER BY seq`).all() as StoredRow[];
  } finally {
    db.close();
  }
}

export function hubReadingCount(hubDataDir: string): number {
  const db = new Database(join(hubDataDir, 'anxin.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** What the hub recorded of the gateway's retained `gateway/status`. */
export function hubGatewayStatus(hubDataDir: string, gatewayId = 'gw-0001'): { online: number | null; outbox_depth: number | null } | undefined {
  const db = new Database(join(hubDataDir, 'anxin.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT online, outbox_depth FROM client_status WHERE client_id = ?').get(gatewayId) as { online: number | null; outbox_depth: number | null } | undefined;
  } finally {
    db.close();
  }
}

export async function waitFor<T>(what: string, probe: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`);
    await sleep(everyMs);
  }
}

/** Waits until `probe` returns something (not undefined, null or false) and returns it. */
export async function until<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
  return (await waitFor(what, probe, (v) => v !== undefined && v !== null && v !== false, timeoutMs)) as T;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stops a child with SIGTERM and waits for it. */
export async function stopChild(p: { child: ChildProcess; exited: Promise<number | string> }): Promise<number | string> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  return p.exited;
}
