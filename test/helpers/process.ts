/** Runs the hub as a real child process (`server/index.ts`), for crash and shutdown tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * V8 flags `npm start` runs the hub with (package.json): a larger young
 * generation, so the garbage of each reading (parsed JSON, validation, the
 * batch's recorded statements) dies in fewer, cheaper scavenges (~9 % more
 * readings/s measured with `npm run bench -- alerts`). Benchmarks start their
 * other Node brokers with the same flags.
 */
export const NODE_FLAGS = ['--max-semi-space-size=32'];

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface HubProcess {
  child: ChildProcess;
  httpUrl: string;
  mqttUrl: string;
  output: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

export async function spawnHub(env: Record<string, string>, ports?: { http: number; mqtt: number }): Promise<HubProcess> {
  const http = ports?.http ?? (await freePort());
  const mqtt = ports?.mqtt ?? (await freePort());
  const child = spawn(process.execPath, [...NODE_FLAGS, '--import', 'tsx', 'server/index.ts'], {
    cwd: ROOT,
    env: { ...process.env, ANXIN_HTTP_PORT: String(http), ANXIN_MQTT_PORT: String(mqtt), ANXIN_HOST: '127.0.0.1', ANXIN_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const httpUrl = `http://127.0.0.1:${http}`;
  const until = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hub exited early:\n${out}`);
    try {
      const res = await fetch(`${httpUrl}/readyz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`hub not ready in 30 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, httpUrl, mqttUrl: `mqtt://127.0.0.1:${mqtt}`, output: () => out, exited };
}

export async function httpJson(url: string, opts: { method?: string; token?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(url, {
    method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
    headers: { ...(opts.token && { authorization: `Bearer ${opts.token}` }), ...(opts.body !== undefined && { 'content-type': 'application/json' }) },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  return { status: res.status, body: await res.json() };
}
